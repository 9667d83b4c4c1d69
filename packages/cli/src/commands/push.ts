/**
 * `tensorswap push <cid> --peer <multiaddr>`: ask a peer to fetch a DAG from this repo
 * (spec/tensorswap.md §8 "Push"). Starts a node without listen addresses, sends the request,
 * serves the receiver's wants until it answers. Exit 1 with the peer's reason when it refuses.
 * `--json`: `{"cid", "peer", "blocks", "bytes", "blocksAlreadyThere", "seconds"}` (`bytes`: what
 * moved; `seconds`: the round trip).
 */
import { createTensorSwap } from 'tensorswap'
import { openRepo, resolveRepoPath } from '@tensorswap/blockstore'
import { parseCid } from '../args.js'
import { UsageError } from '../errors.js'
import { formatBytes, info, printResult, type GlobalOptions } from '../output.js'

/** Options of `push`. */
export interface PushCommandOptions extends GlobalOptions {
  /** The receiver's multiaddr, ending in `/p2p/<id>`. */
  peer: string
}

/** Run `push`. @throws PushRefusedError (exit 1) with the receiver's reason; UsageError for a bad CID or peer */
export async function push (cidText: string, opts: PushCommandOptions): Promise<void> {
  const root = parseCid(cidText)
  if (!opts.peer.includes('/p2p/')) throw new UsageError(`--peer ${opts.peer}: the multiaddr must end in /p2p/<peer id>`)
  const repo = await openRepo(resolveRepoPath(opts.repo))
  const node = await createTensorSwap({ repo, listen: [] }).catch(async (err) => { await repo.close(); throw err })
  try {
    await node.start()
    const r = await node.push(root, {
      peer: opts.peer,
      onProgress: (evt) => { info(opts, `offering ${evt.detail.blocks} blocks (${formatBytes(evt.detail.bytes)})`) }
    })
    printResult(opts, {
      cid: root.toString(),
      peer: r.peer,
      blocks: r.blocks,
      bytes: r.bytes,
      blocksAlreadyThere: r.blocksAlreadyThere,
      seconds: r.seconds
    }, [`pushed ${root.toString()} to ${r.peer}: ${r.blocks} blocks (${formatBytes(r.bytes)}) moved, ${r.blocksAlreadyThere} already there, ${r.seconds.toFixed(2)} s`])
  } finally {
    await node.stop()
    await repo.close()
  }
}

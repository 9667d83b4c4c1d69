/**
 * `tensorswap push <cid> --peer <multiaddr>`: ask a peer to fetch a DAG from this repo
 * (spec/tensorswap.md §8 "Push"). Without a daemon it starts a node without listen addresses,
 * sends the request, serves the receiver's wants until it answers; through the daemon, the
 * daemon's node does. Exit 1 with the peer's reason when it refuses.
 * `--json`: `{"cid", "peer", "blocks", "bytes", "blocksAlreadyThere", "seconds"}` (`bytes`: what
 * moved; `seconds`: the round trip).
 */
import { multiaddr } from '@multiformats/multiaddr'
import { parseCid, parsePeerAddr } from '../args.js'
import { PUSH_PROGRESS_POLL_MS } from '../constants.js'
import { defineCommand } from '../command.js'
import { formatBytes, printResult } from '../output.js'

/** Options of `push`. */
export interface PushCommandOptions {
  cid: string
  /** The receiver's multiaddr, ending in `/p2p/<id>`. */
  peer: string
}

/** `push`'s result (`--json`). */
export interface PushCommandResult { cid: string, peer: string, blocks: number, bytes: number, blocksAlreadyThere: number, seconds: number }

/** `push`. @throws PushRefusedError (exit 1) with the receiver's reason; UsageError for a bad CID or peer */
export const pushCommand = defineCommand<PushCommandOptions, PushCommandResult>({
  name: 'push',
  options: { cid: 'string', peer: 'string' },
  // as before the execute/render split: the repo is created if missing (a fresh node asking)
  create: true,
  validate: (o) => { parseCid(o.cid); parsePeerAddr(o.peer) },
  localNode: () => ({ listen: [] }),
  async execute (ctx, o) {
    const root = parseCid(o.cid)
    const node = ctx.node
    if (node == null) throw new Error('push: no node') // localNode always starts one
    const bar = ctx.bar('push', ' | peers {peers}', { peers: 1 })
    // progress: the block bytes the exchange sends the receiver (its ledger entry), as they go
    const receiver = multiaddr(o.peer).getComponents().findLast(c => c.name === 'p2p')?.value ?? ''
    const sent = (): number => node.exchange.stats().ledger[receiver]?.bytesSent ?? 0
    const sentBefore = sent()
    const poll = setInterval(() => { bar.update(sent() - sentBefore) }, PUSH_PROGRESS_POLL_MS)
    const r = await node.push(root, {
      peer: o.peer,
      signal: ctx.signal,
      onProgress: (evt) => {
        bar.setTotal(evt.detail.bytes)
        bar.log(`offering ${evt.detail.blocks} blocks (${formatBytes(evt.detail.bytes)})`)
      }
    }).finally(() => { clearInterval(poll); bar.stop() })
    return { cid: root.toString(), peer: r.peer, blocks: r.blocks, bytes: r.bytes, blocksAlreadyThere: r.blocksAlreadyThere, seconds: r.seconds }
  },
  render (r, opts) {
    printResult(opts, r, [`pushed ${r.cid} to ${r.peer}: ${r.blocks} blocks (${formatBytes(r.bytes)}) moved, ${r.blocksAlreadyThere} already there, ${r.seconds.toFixed(2)} s`])
  }
})

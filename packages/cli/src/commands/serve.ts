/**
 * `tensorswap serve`: run a node until SIGINT/SIGTERM. Prints `peer <id>` and one
 * `listening <multiaddr>/p2p/<id>` line per address (with `--json`: one JSON object
 * `{peerId, addrs}`), then serves blocks over Bitswap, `/tensorswap/1.0.0` and GraphSync.
 */
import { createTensorSwap } from 'tensorswap'
import { openRepo, resolveRepoPath } from '@tensorswap/blockstore'
import { info, printResult, type GlobalOptions } from '../output.js'

/** Options of `serve`. */
export interface ServeOptions extends GlobalOptions {
  /** Listen multiaddrs (repeatable); default: the repo config's. */
  listen?: string[]
}

/** Run `serve`; resolves after a signal stopped the node. */
export async function serve (opts: ServeOptions): Promise<void> {
  const repo = await openRepo(resolveRepoPath(opts.repo))
  const node = await createTensorSwap({ repo, listen: opts.listen != null && opts.listen.length > 0 ? opts.listen : undefined })
    .catch(async (err) => { await repo.close(); throw err })
  try {
    await node.start()
    const addrs = node.getMultiaddrs().map(a => a.toString())
    printResult(opts, { peerId: node.peerId.toString(), addrs }, [
      `peer ${node.peerId.toString()}`,
      ...addrs.map(a => `listening ${a}`)
    ])
    await new Promise<void>((resolve) => {
      const stop = (sig: string): void => { info(opts, `received ${sig}, stopping`); resolve() }
      process.once('SIGINT', () => { stop('SIGINT') })
      process.once('SIGTERM', () => { stop('SIGTERM') })
    })
  } finally {
    await node.stop()
    await repo.close()
  }
}

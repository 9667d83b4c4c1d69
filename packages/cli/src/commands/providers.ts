/**
 * `tensorswap providers <cid> [--bootstrap MA] [--json]`: search the DHT (and ask connected
 * peers) for providers of a CID and print one line per provider: `<peer id> <source> <addr,...>`
 * (`source`: `dht` | `connected`). With `--json`: `{ cid, providers: [{ peerId, addrs, source }], searchedMs }`.
 * Exit 1 with `NoProvidersError` when none was found.
 */
import { createTensorSwap } from 'tensorswap'
import { openRepo, resolveRepoPath } from '@tensorswap/blockstore'
import { parseCid } from '../args.js'
import { UsageError } from '../errors.js'
import { printResult, type GlobalOptions } from '../output.js'
import { canDiscover, routingInit, type RoutingFlags } from '../routing.js'

/** Options of `providers`. */
export interface ProvidersOptions extends GlobalOptions, RoutingFlags {}

/** Run `providers`. */
export async function providers (cidText: string, opts: ProvidersOptions): Promise<void> {
  const cid = parseCid(cidText)
  routingInit(opts) // a bad flag is a usage error before the repo is opened
  const repo = await openRepo(resolveRepoPath(opts.repo))
  try {
    const routing = routingInit(opts, repo.config.bootstrap)
    if (!canDiscover(routing)) throw new UsageError('providers needs --bootstrap MULTIADDR (or "bootstrap" in the repo config) or --mdns')
    const node = await createTensorSwap({ repo, listen: [], routing })
    try {
      await node.start()
      // providers are listed as the DHT names them, not dialled; connected peers are probed
      const result = await node.findProviders(cid, { dial: false, probeConnected: 'always' })
      printResult(opts, { cid: cid.toString(), providers: result.providers, searchedMs: Math.round(result.searchedMs) },
        result.providers.map(p => `${p.peerId} ${p.source} ${p.addrs.join(',')}`))
    } finally {
      await node.stop()
    }
  } finally {
    await repo.close()
  }
}

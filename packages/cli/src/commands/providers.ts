/**
 * `tensorswap providers <cid> [--bootstrap MA] [--json]`: search the DHT (and ask connected
 * peers) for providers of a CID and print one line per provider: `<peer id> <source> <addr,...>`
 * (`source`: `dht` | `connected`). With `--json`: `{ cid, providers: [{ peerId, addrs, source }], searchedMs }`.
 * Exit 1 with `NoProvidersError` when none was found. Through the daemon, its DHT and
 * connections are used.
 */
import type { FindProvidersResult } from 'tensorswap'
import { parseCid } from '../args.js'
import { defineCommand } from '../command.js'
import { UsageError } from '../errors.js'
import { printResult } from '../output.js'
import { canDiscover, daemonRouting, routingInit, type RoutingFlags } from '../routing.js'

/** Options of `providers`. */
export interface ProvidersOptions extends RoutingFlags { cid: string }

/** `providers`'s result (`--json`). */
export interface ProvidersResult { cid: string, providers: FindProvidersResult['providers'], searchedMs: number }

const NEEDS = 'providers needs --bootstrap MULTIADDR (or "bootstrap" in the repo config) or --mdns'

/** `providers`. @throws UsageError (bad CID or flag, nobody to ask); NoProvidersError */
export const providersCommand = defineCommand<ProvidersOptions, ProvidersResult>({
  name: 'providers',
  options: { cid: 'string', bootstrap: 'string[]', mdns: 'boolean', dhtMode: 'string', findTimeout: 'string' },
  // as before the execute/render split: the repo is created if missing (a fresh node asking)
  create: true,
  validate: (o) => { parseCid(o.cid); routingInit(o) },
  localNode: (o, repo) => {
    const routing = routingInit(o, repo.config.bootstrap)
    if (!canDiscover(routing)) throw new UsageError(NEEDS)
    return { listen: [], routing }
  },
  async execute (ctx, o) {
    const cid = parseCid(o.cid)
    const node = ctx.node
    if (node == null) throw new UsageError(NEEDS)
    const timeoutMs = routingInit(o).findProvidersTimeoutMs
    if (ctx.daemon && !await daemonRouting(node, o, ctx.log, ctx.signal)) throw new UsageError(`${NEEDS}: the daemon has no bootstrap peers, mDNS or connections`)
    // providers are listed as the DHT names them, not dialled; connected peers are probed
    const result = await node.findProviders(cid, { dial: false, probeConnected: 'always', signal: ctx.signal, ...(timeoutMs != null ? { timeoutMs } : {}) })
    return { cid: cid.toString(), providers: result.providers, searchedMs: Math.round(result.searchedMs) }
  },
  render (r, opts) {
    printResult(opts, r, r.providers.map(p => `${p.peerId} ${p.source} ${p.addrs.join(',')}`))
  }
})

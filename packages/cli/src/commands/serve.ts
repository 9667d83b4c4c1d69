/**
 * `tensorswap serve`: run a node until SIGINT/SIGTERM. Prints `peer <id>` and one
 * `listening <multiaddr>/p2p/<id>` line per address and a `dht <mode> /ipfs/kad/1.0.0` line
 * (with `--json`: one JSON object `{peerId, addrs, bulkLane, dht: {mode, protocol, bootstrap}}`),
 * then serves blocks over Bitswap, `/tensorswap/1.0.0` and GraphSync, and provides the recorded
 * roots on the DHT (spec/tensorswap.md section 9).
 * Blocks for TensorSwap peers go on a bulk lane (spec/tensorswap.md section 7), printed as
 * `bulk-lane <multiaddr>` lines. It is the repo's daemon: an `api <socket>` line, and the local API
 * (spec/api.md) runs every other command on this repo while it serves.
 */
import { createTensorSwap, DHT_PROTOCOL, parsePushAccept, statusSource } from 'tensorswap'
import { resolveRepoPath, type Repo } from '@tensorswap/blockstore'
import { openCliRepo } from '../repo.js'
import { DaemonRunningError, UsageError } from '../errors.js'
import { findDaemon } from '../api/client.js'
import { startApiServer, type ApiServer } from '../api/server.js'
import { cliVersion } from '../version.js'
import { listenError } from '../args.js'
import { TransferLog } from '../serve-log.js'
import { info, printResult, type GlobalOptions } from '../output.js'
import { routingInit, type RoutingFlags } from '../routing.js'
import { limitsInit, type LimitFlags } from '../limits.js'

/** How often `serve` reads the ledger for its transfer lines, ms. */
const TRANSFER_POLL_MS = 250
/** A peer idle this long ends its transfer (one `served` line), ms. */
const TRANSFER_IDLE_MS = 1000

/** Options of `serve`. */
export interface ServeOptions extends GlobalOptions, RoutingFlags, LimitFlags {
  /** Listen multiaddrs (repeatable); default: the repo config's. */
  listen?: string[]
  /** `--no-graphsync` (hidden, for interop tests): `false` = Bitswap only. @default true */
  graphsync?: boolean
  /** `HOST:PORT` for the trustless HTTP gateway and `/metrics`; off when absent. */
  gateway?: string
  /** Let the gateway fetch blocks it lacks from connected peers. */
  gatewayFetch?: boolean
  /** `--no-bulk-lane`: `false` = blocks only on libp2p streams. @default true */
  bulkLane?: boolean
  /** `--bulk-listen` multiaddrs (repeatable); default: port 0 on the libp2p listen hosts. */
  bulkListen?: string[]
  /** `--accept-push` peer ids, or `any` (repeatable): whose pushes are fetched (spec/tensorswap.md §8). */
  acceptPush?: string[]
  /** `--max-push-bytes`: largest announced DAG of a push, bytes. */
  maxPushBytes?: string
  /** `--wire-compression off|auto`: compress blocks for TensorSwap peers where it pays (spec/tensorswap.md §12). @default 'auto' */
  wireCompression?: 'off' | 'auto'
}

/**
 * The push policy of `serve`: `--accept-push any` or peer ids, `--max-push-bytes`.
 * @throws {UsageError} for a peer id that does not parse or a size that is not a positive integer
 */
export function pushInit (opts: ServeOptions): { accept: 'any' | string[], maxDagBytes?: number } {
  let accept: 'any' | string[]
  try {
    accept = parsePushAccept(opts.acceptPush ?? [])
  } catch (err: any) {
    throw new UsageError(`--accept-push ${String(err.message)}`)
  }
  let maxDagBytes: number | undefined
  if (opts.maxPushBytes != null) {
    maxDagBytes = Number(opts.maxPushBytes)
    if (!/^\d+$/.test(opts.maxPushBytes) || !Number.isSafeInteger(maxDagBytes)) throw new UsageError(`--max-push-bytes ${JSON.stringify(opts.maxPushBytes)}: expected a number of bytes`)
  }
  return { accept, ...(maxDagBytes != null ? { maxDagBytes } : {}) }
}

/**
 * Parse `HOST:PORT` (`[::1]:8080` for IPv6).
 * @throws {UsageError} when it is not one
 */
export function parseHostPort (text: string): { host: string, port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text)
  const port = Number(m?.[3])
  if (m == null || port > 65535) throw new UsageError(`--gateway ${JSON.stringify(text)}: expected HOST:PORT`)
  return { host: m[1] ?? m[2], port }
}

/**
 * Open the repo for `serve`, or say which daemon serves it already (its pid and API address).
 * A stale `api` file (its daemon killed with -9) is removed on the way.
 * @throws {DaemonRunningError} a live daemon serves the repo (or holds its lock while starting)
 */
async function openServeRepo (opts: ServeOptions): Promise<Repo> {
  const path = resolveRepoPath(opts.repo)
  const running = (api: { pid: number, address: string }): DaemonRunningError =>
    new DaemonRunningError(`a daemon already serves ${path}: pid ${api.pid}, api ${api.address}`)
  const api = await findDaemon(path, (line) => { info(opts, line) })
  if (api != null) throw running(api)
  try {
    return await openCliRepo(opts, true)
  } catch (err) {
    if ((err as Error).name !== 'RepoLockedError') throw err
    const now = await findDaemon(path)
    if (now != null) throw running(now)
    throw err
  }
}

/** Run `serve`; resolves after a signal stopped the node. */
export async function serve (opts: ServeOptions): Promise<void> {
  const gatewayAt = opts.gateway != null ? parseHostPort(opts.gateway) : undefined
  const push = pushInit(opts)
  routingInit(opts) // a bad flag is a usage error before the repo is opened
  limitsInit(opts)
  const repo = await openServeRepo(opts)
  const node = await createTensorSwap({
    repo,
    routing: routingInit(opts, repo.config.bootstrap),
    listen: opts.listen != null && opts.listen.length > 0 ? opts.listen : undefined,
    graphsync: opts.graphsync !== false,
    // the repo config's acceptPush adds to --accept-push
    push: repo.config.acceptPush != null ? pushInit({ ...opts, acceptPush: [...(opts.acceptPush ?? []), ...repo.config.acceptPush] }) : push,
    limits: limitsInit(opts, repo.config),
    exchange: {
      ...(opts.bulkLane === false ? { bulkLane: false } : opts.bulkListen != null ? { bulkLane: { listen: opts.bulkListen } } : {}),
      ...(opts.wireCompression != null ? { wireCompression: opts.wireCompression } : {})
    }
  })
    .catch(async (err) => { await repo.close(); throw listenError(err) })
  let api: ApiServer | undefined
  try {
    await node.start()
    let gateway: { url: string, close(): Promise<void> } | undefined
    let unbindMetrics = (): void => {}
    if (gatewayAt != null) {
      const { createGatewayServer, createMetrics, bindExchangeMetrics } = await import('@tensorswap/gateway')
      const metrics = createMetrics()
      unbindMetrics = bindExchangeMetrics(metrics, node.exchange)
      const server = createGatewayServer({
        blockstore: repo.blockstore,
        metrics,
        // the status page at / and /api/v0/status (loopback clients only, read-only)
        status: statusSource(node),
        ...(opts.gatewayFetch === true
          ? {
              fetchMissing: async (cid, { signal }) => {
                const bytes = await node.exchange.want(cid, { signal }) // verified against cid
                await repo.blockstore.put(cid, bytes, { signal })
              }
            }
          : {})
      })
      const { url } = await server.listen(gatewayAt.host, gatewayAt.port)
      gateway = { url, close: async () => { await server.close() } }
    }
    // the local API: every command on this repo runs here while the daemon runs (spec/api.md)
    api = await startApiServer({ repo, node, version: cliVersion(), onRequest: (line) => { info(opts, line) } })
    const addrs = node.getMultiaddrs().map(a => a.toString())
    const bulkLane = node.exchange.network.laneAddresses()
    const dht = node.libp2p.services.dht != null
      ? { mode: node.libp2p.services.dht.getMode(), protocol: DHT_PROTOCOL, bootstrap: node.routing?.config.bootstrap.length ?? 0 }
      : undefined
    printResult(opts, { peerId: node.peerId.toString(), addrs, bulkLane, gateway: gateway?.url, dht, api: api.api.address }, [
      `peer ${node.peerId.toString()}`,
      ...addrs.map(a => `listening ${a}`),
      ...bulkLane.map(a => `bulk-lane ${a}`),
      ...(gateway != null ? [`gateway ${gateway.url}`] : []),
      ...(dht != null ? [`dht ${dht.mode} ${dht.protocol} (${dht.bootstrap} bootstrap peers)`] : []),
      `api ${api.api.address}`
    ])
    // a line per peer connecting/leaving and per transfer served (stderr; --quiet silences)
    const onConnect = (evt: CustomEvent<{ toString(): string }>): void => { info(opts, `peer connected ${evt.detail.toString()}`) }
    const onDisconnect = (evt: CustomEvent<{ toString(): string }>): void => { info(opts, `peer disconnected ${evt.detail.toString()}`) }
    node.libp2p.addEventListener('peer:connect', onConnect)
    node.libp2p.addEventListener('peer:disconnect', onDisconnect)
    const transfers = new TransferLog(TRANSFER_IDLE_MS)
    const poll = setInterval(() => {
      for (const line of transfers.update(node.exchange.stats().ledger, Date.now())) info(opts, line)
    }, TRANSFER_POLL_MS)
    await new Promise<void>((resolve) => {
      const stop = (sig: string): void => { info(opts, `received ${sig}, stopping`); resolve() }
      process.once('SIGINT', () => { stop('SIGINT') })
      process.once('SIGTERM', () => { stop('SIGTERM') })
    })
    clearInterval(poll)
    node.libp2p.removeEventListener('peer:connect', onConnect)
    node.libp2p.removeEventListener('peer:disconnect', onDisconnect)
    unbindMetrics()
    await gateway?.close()
  } finally {
    await api?.close()
    await node.stop()
    await repo.close()
  }
}

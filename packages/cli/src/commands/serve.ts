/**
 * `tensorswap serve`: run a node until SIGINT/SIGTERM. Prints `peer <id>` and one
 * `listening <multiaddr>/p2p/<id>` line per address (with `--json`: one JSON object
 * `{peerId, addrs, bulkLane}`), then serves blocks over Bitswap, `/tensorswap/1.0.0` and GraphSync.
 * Blocks for TensorSwap peers go on a bulk lane (spec/tensorswap.md section 7), printed as
 * `bulk-lane <multiaddr>` lines.
 */
import { createTensorSwap } from 'tensorswap'
import { openRepo, resolveRepoPath } from '@tensorswap/blockstore'
import { UsageError } from '../errors.js'
import { info, printResult, type GlobalOptions } from '../output.js'

/** Options of `serve`. */
export interface ServeOptions extends GlobalOptions {
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

/** Run `serve`; resolves after a signal stopped the node. */
export async function serve (opts: ServeOptions): Promise<void> {
  const gatewayAt = opts.gateway != null ? parseHostPort(opts.gateway) : undefined
  const repo = await openRepo(resolveRepoPath(opts.repo))
  const node = await createTensorSwap({
    repo,
    listen: opts.listen != null && opts.listen.length > 0 ? opts.listen : undefined,
    graphsync: opts.graphsync !== false,
    exchange: opts.bulkLane === false ? { bulkLane: false } : opts.bulkListen != null ? { bulkLane: { listen: opts.bulkListen } } : {}
  })
    .catch(async (err) => { await repo.close(); throw err })
  try {
    await node.start()
    let gateway: { url: string, close(): Promise<void> } | undefined
    let unbindMetrics = (): void => {}
    if (gatewayAt != null) {
      const { createGatewayServer, createMetrics, bindExchangeMetrics } = await import('../gateway/index.js')
      const metrics = createMetrics()
      unbindMetrics = bindExchangeMetrics(metrics, node.exchange)
      const server = createGatewayServer({
        blockstore: repo.blockstore,
        metrics,
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
    const addrs = node.getMultiaddrs().map(a => a.toString())
    const bulkLane = node.exchange.network.laneAddresses()
    printResult(opts, { peerId: node.peerId.toString(), addrs, bulkLane, gateway: gateway?.url }, [
      `peer ${node.peerId.toString()}`,
      ...addrs.map(a => `listening ${a}`),
      ...bulkLane.map(a => `bulk-lane ${a}`),
      ...(gateway != null ? [`gateway ${gateway.url}`] : [])
    ])
    await new Promise<void>((resolve) => {
      const stop = (sig: string): void => { info(opts, `received ${sig}, stopping`); resolve() }
      process.once('SIGINT', () => { stop('SIGINT') })
      process.once('SIGTERM', () => { stop('SIGTERM') })
    })
    unbindMetrics()
    await gateway?.close()
  } finally {
    await node.stop()
    await repo.close()
  }
}

/**
 * What a running node tells the gateway's status endpoint (`StatusSource` of
 * `@tensorswap/gateway`, spec/gateway.md "Status"), assembled in one place for `tensorswap
 * serve` and library users: peer id and addresses, `peers()`, `transfers()`, the throughput
 * history, the provided-roots record and the bandwidth limits. The gateway sits above this
 * package, so the shape is structural.
 *
 * @module
 */

import { ProvidedRoots } from './routing/roots.js'
import type { PeerInfo } from './health/peers.js'
import type { ThroughputPoint } from './health/throughput.js'
import type { TensorSwapNode } from './tensorswap.js'
import type { TransferInfo } from './transfers.js'
import type { CID } from 'multiformats/cid'

/** The node side of the gateway's `StatusSource`. */
export interface NodeStatusSource {
  peerId: string
  addrs: () => string[]
  peers: () => PeerInfo[]
  transfers: () => TransferInfo[]
  throughput: () => ThroughputPoint[]
  roots: (options: { signal?: AbortSignal }) => Promise<CID[]>
  limits: () => Record<string, number | undefined>
}

/**
 * The status source of `node` (pass it as `status` to `createGatewayServer`).
 *
 * @example
 * ```ts
 * const gateway = createGatewayServer({ blockstore: node.repo.blockstore, status: statusSource(node) })
 * ```
 */
export function statusSource (node: TensorSwapNode): NodeStatusSource {
  const provided = new ProvidedRoots(node.repo.datastore)
  return {
    peerId: node.peerId.toString(),
    addrs: () => node.getMultiaddrs().map(String),
    peers: () => node.peers(),
    transfers: () => node.transfers(),
    throughput: () => node.health.history(),
    roots: async (options) => (await provided.list(options)).map(r => r.root),
    limits: () => ({ ...node.bandwidth.limits })
  }
}

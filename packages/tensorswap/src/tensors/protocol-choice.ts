/**
 * Which protocol `tensors()` uses with a peer (spec/graphsync.md "Bitswap fallback").
 *
 * After a dial, identify may or may not have completed. When the peer store already lists the
 * peer's protocols, they decide: GraphSync if `/ipfs/graphsync/2.0.0` is among them, Bitswap
 * otherwise. When they are not known yet, GraphSync is tried; a stream open refused by
 * multistream-select (`UnsupportedProtocolError`) before anything was fetched switches to
 * Bitswap. This costs no extra round trip in either case: waiting for identify would cost one,
 * and the failed negotiation is the same round trip the GraphSync request would have made.
 *
 * @module
 */
import { PROTOCOL_ID } from '@tensorswap/graphsync'
import type { Libp2p, PeerId } from '@libp2p/interface'

/** What {@link graphSyncSupport} knows about a peer. */
export type GraphSyncSupport = 'yes' | 'no' | 'unknown'

/**
 * Whether `peer` speaks GraphSync 2.0.0 according to the peer store (filled by identify).
 *
 * @returns `'unknown'` when the peer store has no protocols for the peer yet, or only ones our
 *   own streams negotiated (identify has not answered: no `AgentVersion`/`ProtocolVersion` metadata)
 * @throws the peer store's errors other than `NotFoundError`
 */
export async function graphSyncSupport (libp2p: Pick<Libp2p, 'peerStore'>, peer: PeerId): Promise<GraphSyncSupport> {
  let protocols: string[]
  let metadata: Map<string, Uint8Array>
  try {
    ({ protocols, metadata } = await libp2p.peerStore.get(peer))
  } catch (err: any) {
    if (err?.name === 'NotFoundError') return 'unknown'
    throw err
  }
  // the list is the remote's own only once identify answered (it stores the remote's agent or
  // protocol version with it); before that it holds what our own streams negotiated (a ping
  // of libp2p's connection monitor), and 'no' then sent a GraphSync fetch to Bitswap, where a
  // GraphSync-only peer left it waiting (test/graphsync/tensors.test.ts, ~1 run in 18 under load)
  if (protocols.length === 0 || !(metadata?.has('AgentVersion') === true || metadata?.has('ProtocolVersion') === true)) return 'unknown'
  return protocols.includes(PROTOCOL_ID) ? 'yes' : 'no'
}

/** Whether `err` says the remote refused to negotiate the protocol (multistream-select `na`). */
export function isUnsupportedProtocol (err: unknown): boolean {
  return (err as { name?: string } | undefined)?.name === 'UnsupportedProtocolError'
}

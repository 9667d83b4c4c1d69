/**
 * `node.peers()`: one record per connected peer, joining what the node knows about it from
 * libp2p (addresses, direction), the health monitor (ping RTT, success rate, score,
 * throughput), the exchange (negotiated protocol, debt ledger bytes both ways) and how the
 * peer was found (spec/tensorswap.md §10 "Peer health").
 *
 * @module
 */

import type { HealthMonitor } from './monitor.js'
import type { HealthStats } from './score.js'
import type { Throughput } from './throughput.js'
import type { Exchange } from '../exchange.js'
import type { ProviderSource } from '../routing/router.js'
import type { Libp2p } from '@libp2p/interface'

/** How a connected peer came to be known: a routing source, or who opened the connection. */
export type PeerOrigin = ProviderSource | 'inbound' | 'outbound'

/** One connected peer, as {@link describePeers} reports it (units in the names). */
export interface PeerInfo {
  peerId: string
  /** Remote addresses of its open connections. */
  addrs: string[]
  /** Exchange protocol negotiated with it (`/tensorswap/1.0.0`, `/ipfs/bitswap/1.2.0`, ...), if any. */
  protocol?: string
  /**
   * How it was found: `given`, `dht`, `connected` (a fetch's provider search), else who
   * dialled: `inbound` (it dialled us) or `outbound`.
   */
  source: PeerOrigin
  /** Ping health: RTT EWMA (ms), success rate, score in (0, 1], failures. */
  health?: Omit<HealthStats, 'peer'>
  /** Block bytes sent to it (debt ledger, this node's whole history with the peer). */
  bytesSent: number
  /** Block bytes received from it (debt ledger). */
  bytesReceived: number
  blocksSent: number
  blocksReceived: number
  /** Wire bytes per second both ways over the last few seconds (`DEFAULT_THROUGHPUT_WINDOW_MS`). */
  throughput: Throughput
}

/** Cumulative wire bytes per peer from the exchange's counters (all protocols, the bulk lane included). */
export function wireTotals (exchange: Exchange, libp2p: Libp2p): Map<string, { sent: number, received: number }> {
  const out = new Map<string, { sent: number, received: number }>()
  const wire = exchange.network.stats()
  for (const conn of libp2p.getConnections()) {
    const key = conn.remotePeer.toString()
    if (out.has(key)) continue
    let sent = 0
    let received = 0
    for (const w of wire.get(key)?.values() ?? []) {
      sent += w.bytesSent
      received += w.bytesReceived
    }
    out.set(key, { sent, received })
  }
  return out
}

/**
 * Describe the connected peers.
 *
 * @param sources - how peers were found by this node's fetches (peer id -> source)
 */
export function describePeers (libp2p: Libp2p, exchange: Exchange, monitor: HealthMonitor | undefined, sources: ReadonlyMap<string, ProviderSource>): PeerInfo[] {
  const byPeer = new Map<string, PeerInfo>()
  for (const conn of libp2p.getConnections()) {
    const key = conn.remotePeer.toString()
    let info = byPeer.get(key)
    if (info == null) {
      const ledger = exchange.ledger.get(key)
      const health = monitor?.stats(key)
      const protocol = exchange.network.protocolOf(conn.remotePeer)
      let h: PeerInfo['health']
      if (health != null) {
        const { peer: _, ...rest } = health
        h = rest
      }
      info = {
        peerId: key,
        addrs: [],
        ...(protocol != null ? { protocol } : {}),
        source: sources.get(key) ?? (conn.direction === 'inbound' ? 'inbound' : 'outbound'),
        ...(h != null ? { health: h } : {}),
        bytesSent: ledger.bytesSent,
        bytesReceived: ledger.bytesReceived,
        blocksSent: ledger.blocksSent,
        blocksReceived: ledger.blocksReceived,
        throughput: monitor?.rate(key) ?? { sentBytesPerSecond: 0, receivedBytesPerSecond: 0 }
      }
      byPeer.set(key, info)
    }
    const addr = conn.remoteAddr.toString()
    if (!info.addrs.includes(addr)) info.addrs.push(addr)
  }
  return [...byPeer.values()].sort((a, b) => a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0)
}

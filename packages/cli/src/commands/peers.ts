/**
 * `tensorswap peers`: the daemon's connected peers, one line each: peer id, address, health,
 * block bytes sent and received (this node's ledger), latency and throughput as the peer
 * selector measures them. Without a daemon there are none (`online: false`). `--json`:
 * `{online, peers: [{peerId, addrs, direction, health, bytesSent, bytesReceived, blocksSent,
 * blocksReceived, latencyMs, bytesPerSecond, failures, penaltyScore}]}`.
 */
import { defineCommand } from '../command.js'
import { formatBytes, printResult } from '../output.js'

/**
 * A peer's health: `banned` (in the penalty box), `penalised` (offences scored, not banned),
 * `failing` (wants timed out at it), else `ok`.
 */
export type PeerHealth = 'ok' | 'failing' | 'penalised' | 'banned'

/** One connected peer. */
export interface PeerInfo {
  peerId: string
  /** Remote addresses of its connections. */
  addrs: string[]
  direction: 'inbound' | 'outbound'
  health: PeerHealth
  /** Block bytes sent to it / received from it (the ledger: every run of this repo). */
  bytesSent: number
  bytesReceived: number
  blocksSent: number
  blocksReceived: number
  /** EWMA latency, ms (0 before the first block). */
  latencyMs: number
  /** EWMA delivery throughput, bytes/s (0 before the first block). */
  bytesPerSecond: number
  /** Wants that timed out at it. */
  failures: number
  /** Decayed penalty score (0: none). */
  penaltyScore: number
}

/** `peers`'s result (`--json`). */
export interface PeersResult { online: boolean, peers: PeerInfo[] }

/** `peers`. */
export const peersCommand = defineCommand<Record<string, never>, PeersResult>({
  name: 'peers',
  options: {},
  async execute (ctx) {
    const node = ctx.node
    if (node == null) return { online: false, peers: [] }
    const stats = node.exchange.stats()
    const byPeer = new Map<string, PeerInfo>()
    for (const conn of node.libp2p.getConnections()) {
      const id = conn.remotePeer.toString()
      const known = byPeer.get(id)
      if (known != null) { known.addrs.push(conn.remoteAddr.toString()); continue }
      const ledger = stats.ledger[id]
      const sel = stats.peers[id]
      const penalty = stats.penalties[id]
      const banned = penalty?.bannedUntilMs != null && penalty.bannedUntilMs > Date.now()
      const failures = sel?.failures ?? 0
      byPeer.set(id, {
        peerId: id,
        addrs: [conn.remoteAddr.toString()],
        direction: conn.direction,
        health: banned ? 'banned' : (penalty?.score ?? 0) > 0 ? 'penalised' : failures > 0 ? 'failing' : 'ok',
        bytesSent: ledger?.bytesSent ?? 0,
        bytesReceived: ledger?.bytesReceived ?? 0,
        blocksSent: ledger?.blocksSent ?? 0,
        blocksReceived: ledger?.blocksReceived ?? 0,
        latencyMs: Math.round(sel?.latencyMs ?? 0),
        bytesPerSecond: Math.round((sel?.throughput ?? 0) * 1000),
        failures,
        penaltyScore: penalty?.score ?? 0
      })
    }
    return { online: true, peers: [...byPeer.values()].sort((a, b) => a.peerId.localeCompare(b.peerId)) }
  },
  render (r, opts) {
    printResult(opts, r, r.peers.map(p => `${p.peerId} ${p.addrs[0] ?? '-'} ${p.health} sent ${formatBytes(p.bytesSent)} received ${formatBytes(p.bytesReceived)}`))
  }
})

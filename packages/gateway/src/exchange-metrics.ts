/**
 * Feed a running exchange's statistics into the Prometheus metrics of {@link exchangeMetrics}:
 * wire bytes per protocol (counters advanced by the delta since the last sample), wants in
 * flight, peers, banned peers and ledger totals (gauges).
 */
import { exchangeMetrics } from './metrics.js'
import type { Exchange } from 'tensorswap'
import type { Registry } from 'prom-client'

/**
 * Sample `exchange.stats()` every `intervalMs` (default 1000 ms) into `registry`.
 *
 * @returns a function that stops sampling
 */
export function bindExchangeMetrics (registry: Registry, exchange: Pick<Exchange, 'stats'>, intervalMs = 1000): () => void {
  const m = exchangeMetrics(registry)
  const last = new Map<string, { sent: number, received: number }>()
  let lastBlocks = 0
  const sample = (): void => {
    const stats = exchange.stats()
    const totals = new Map<string, { sent: number, received: number }>()
    for (const byProtocol of Object.values(stats.wire)) {
      for (const [protocol, w] of Object.entries(byProtocol)) {
        const t = totals.get(protocol) ?? { sent: 0, received: 0 }
        t.sent += w.bytesSent
        t.received += w.bytesReceived
        totals.set(protocol, t)
      }
    }
    for (const [protocol, t] of totals) {
      const prev = last.get(protocol) ?? { sent: 0, received: 0 }
      // per-peer wire stats vanish when a peer disconnects: never count backwards
      if (t.sent > prev.sent) m.bytesSent.inc({ protocol }, t.sent - prev.sent)
      if (t.received > prev.received) m.bytesReceived.inc({ protocol }, t.received - prev.received)
      last.set(protocol, { sent: Math.max(t.sent, prev.sent), received: Math.max(t.received, prev.received) })
    }
    if (stats.blocksReceived > lastBlocks) m.blocksFetched.inc({ protocol: 'all' }, stats.blocksReceived - lastBlocks)
    lastBlocks = Math.max(lastBlocks, stats.blocksReceived)
    m.wantsInFlight.set(stats.wantlistSize)
    m.peers.set(Object.keys(stats.peers).length)
    m.peersBanned.set(Object.values(stats.penalties).filter(p => p.bannedUntilMs != null).length)
    let sent = 0
    let received = 0
    for (const e of Object.values(stats.ledger)) { sent += e.bytesSent; received += e.bytesReceived }
    m.ledgerBytesSent.set(sent)
    m.ledgerBytesReceived.set(received)
  }
  sample()
  const timer = setInterval(sample, intervalMs)
  timer.unref()
  return () => { clearInterval(timer); sample() }
}

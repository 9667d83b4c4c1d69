/**
 * Throughput from cumulative byte counters, as a pure state machine (time is an input in ms):
 * the driver samples each peer's wire bytes sent and received (the exchange's counters) every
 * `DEFAULT_THROUGHPUT_SAMPLE_INTERVAL_MS`; a peer's rate is the bytes moved over the last
 * `windowMs` of samples; the node-wide rate of each sample interval is kept in a bounded history
 * (the status page's plot).
 *
 * @module
 */

import { DEFAULT_THROUGHPUT_HISTORY, DEFAULT_THROUGHPUT_WINDOW_MS } from '../constants.js'

/** Cumulative byte counters of one peer at one time. */
export interface ByteTotals {
  /** Bytes sent to the peer so far. */
  sent: number
  /** Bytes received from the peer so far. */
  received: number
}

/** A rate both ways, bytes per second. */
export interface Throughput {
  sentBytesPerSecond: number
  receivedBytesPerSecond: number
}

/** One point of the node-wide history. */
export interface ThroughputPoint extends Throughput {
  /** End of the interval, epoch ms. */
  atMs: number
}

/** Options of {@link ThroughputMeter}. */
export interface ThroughputMeterInit {
  /** Rates are taken over this window, ms (> 0). @default {@link DEFAULT_THROUGHPUT_WINDOW_MS} */
  windowMs?: number
  /** Node-wide points kept (>= 1). @default {@link DEFAULT_THROUGHPUT_HISTORY} */
  history?: number
}

interface Sample extends ByteTotals { atMs: number }

/** Per-peer and node-wide throughput from sampled totals. */
export class ThroughputMeter {
  readonly #windowMs: number
  readonly #historySize: number
  readonly #samples = new Map<string, Sample[]>()
  readonly #history: ThroughputPoint[] = []
  #lastNode?: Sample

  /**
   * @param init - see {@link ThroughputMeterInit}
   * @throws RangeError - `windowMs` not > 0 or `history` below 1
   */
  constructor (init: ThroughputMeterInit = {}) {
    this.#windowMs = init.windowMs ?? DEFAULT_THROUGHPUT_WINDOW_MS
    this.#historySize = init.history ?? DEFAULT_THROUGHPUT_HISTORY
    if (!(this.#windowMs > 0)) throw new RangeError(`ThroughputMeter: windowMs must be > 0, got ${this.#windowMs}`)
    if (!(Number.isInteger(this.#historySize) && this.#historySize >= 1)) throw new RangeError(`ThroughputMeter: history must be >= 1, got ${this.#historySize}`)
  }

  /**
   * Record every peer's totals at `nowMs`. Peers absent from `totals` are forgotten (their
   * counters left with them); the node-wide point is the sum of all totals' growth since the
   * previous sample (a peer that left does not make it negative).
   */
  sample (nowMs: number, totals: ReadonlyMap<string, ByteTotals>): void {
    let sent = 0
    let received = 0
    let grownSent = 0
    let grownReceived = 0
    for (const [peer, t] of totals) {
      let list = this.#samples.get(peer)
      if (list == null) {
        list = []
        this.#samples.set(peer, list)
      }
      const prev = list.at(-1)
      if (prev != null) {
        grownSent += Math.max(0, t.sent - prev.sent)
        grownReceived += Math.max(0, t.received - prev.received)
      }
      list.push({ atMs: nowMs, sent: t.sent, received: t.received })
      // keep one sample at or before the window's start, so the window is covered whole
      while (list.length > 2 && nowMs - list[1].atMs >= this.#windowMs) list.shift()
      sent += t.sent
      received += t.received
    }
    for (const peer of [...this.#samples.keys()]) if (!totals.has(peer)) this.#samples.delete(peer)
    const last = this.#lastNode
    if (last != null && nowMs > last.atMs) {
      const s = (nowMs - last.atMs) / 1000
      this.#history.push({ atMs: nowMs, sentBytesPerSecond: grownSent / s, receivedBytesPerSecond: grownReceived / s })
      if (this.#history.length > this.#historySize) this.#history.shift()
    }
    this.#lastNode = { atMs: nowMs, sent, received }
  }

  /** `peer`'s rate over the window (0 both ways with fewer than two samples). */
  rate (peer: string): Throughput {
    const list = this.#samples.get(peer)
    if (list == null || list.length < 2) return { sentBytesPerSecond: 0, receivedBytesPerSecond: 0 }
    const a = list[0]
    const b = list[list.length - 1]
    const s = Math.max(1, b.atMs - a.atMs) / 1000
    return { sentBytesPerSecond: Math.max(0, b.sent - a.sent) / s, receivedBytesPerSecond: Math.max(0, b.received - a.received) / s }
  }

  /** The node-wide points, oldest first (a copy). */
  history (): ThroughputPoint[] {
    return this.#history.map(p => ({ ...p }))
  }
}

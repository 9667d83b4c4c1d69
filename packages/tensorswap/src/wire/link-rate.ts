/**
 * The rate of one peer's data channel, measured over busy periods (spec/tensorswap.md §12).
 *
 * A single write says little about the link: a socket buffer (Linux autotunes it to megabytes)
 * and a qdisc queue swallow a write at once while they have room, then one write waits for the
 * bytes queued before it. Measured per write (bytes / time to drain, decayed), a 12.5 MB/s link
 * read 10-44 MB/s (bench/README.md "Wire compression and push"): the time between writes, when
 * the sender prepared the next message while the buffers drained, was nobody's.
 *
 * Here the writes are grouped into **busy periods**: a write that starts within `gapMs` of the
 * previous one's drain continues the period (the buffers, which hold far more than `gapMs` of a
 * link slow enough to compress for, kept the link busy meanwhile); a longer gap closes it. The
 * rate is the period's bytes / elapsed (first start to last drain), which converges to the
 * link's as the period lasts: once the buffers are full the sender can go no faster than they
 * drain. Closed periods of at least `minPeriodMs` are folded into decayed sums (`decay` per
 * period); the estimate is (sums + the open period) bytes / ms.
 *
 * A slow sender is not a slow link: a sender that spends its time preparing messages (reading
 * the store, hashing, on loopback) writes few bytes per ms too, but its writes never wait. So
 * the estimate also keeps the share of the elapsed time the writes spent waiting for their
 * drain, and gives a rate only while that share is at least `minBlockedShare` (the link, or the
 * receiver behind it, is what holds the sender back). Measured: 0.68-0.95 on a 100 Mbit/s
 * link, 0.17-0.32 on loopback.
 *
 * Pure state: every time is an input (any monotonic clock in ms).
 *
 * @module
 */

import { LINK_BUSY_GAP_MS, LINK_MIN_BLOCKED_SHARE, LINK_MIN_PERIOD_MS, LINK_PERIOD_DECAY } from '../constants.js'

/** Options of {@link LinkRateEstimator}; defaults in `constants.ts`. */
export interface LinkRateInit {
  /** A write starting more than this after the previous one drained opens a new period, ms. @default {@link LINK_BUSY_GAP_MS} */
  gapMs?: number
  /** Periods shorter than this do not count, and no rate is given until this much busy time, ms. @default {@link LINK_MIN_PERIOD_MS} */
  minPeriodMs?: number
  /** Weight the past periods keep at each closed period (0..1). @default {@link LINK_PERIOD_DECAY} */
  decay?: number
  /** Share of the busy time the writes must spend waiting for their drain for a rate to be given (0..1). @default {@link LINK_MIN_BLOCKED_SHARE} */
  minBlockedShare?: number
}

/** Rate of a link from its writes, over busy periods; see the module comment. */
export class LinkRateEstimator {
  readonly #gapMs: number
  readonly #minPeriodMs: number
  readonly #decay: number
  readonly #minBlockedShare: number
  /** Decayed sums of the closed periods: bytes, elapsed ms, ms the writes waited. */
  #pastBytes = 0
  #pastMs = 0
  #pastBlockedMs = 0
  /** The open period: start, end of its last write, bytes, ms waited. */
  #start = 0
  #end = -Infinity
  #bytes = 0
  #blockedMs = 0
  #writes = 0
  #periods = 0

  /** @param init - see {@link LinkRateInit} */
  constructor (init: LinkRateInit = {}) {
    this.#gapMs = init.gapMs ?? LINK_BUSY_GAP_MS
    this.#minPeriodMs = init.minPeriodMs ?? LINK_MIN_PERIOD_MS
    this.#decay = init.decay ?? LINK_PERIOD_DECAY
    this.#minBlockedShare = init.minBlockedShare ?? LINK_MIN_BLOCKED_SHARE
  }

  /**
   * One write of `bytes` started at `startMs` (when its bytes were ready and the previous write
   * had drained) and drained at `endMs`.
   *
   * @param bytes - encoded bytes written
   * @param startMs - start of the write, ms (monotonic)
   * @param endMs - its drain, ms (at least `startMs`)
   * @param ownMs - time this thread spent on its own work while the write waited (compressing:
   *   the drain could not be seen meanwhile), ms; not counted as waiting for the link
   */
  record (bytes: number, startMs: number, endMs: number, ownMs = 0): void {
    if (startMs - this.#end > this.#gapMs) {
      this.#close()
      this.#start = startMs
    }
    this.#bytes += bytes
    this.#blockedMs += Math.max(0, endMs - startMs - ownMs)
    this.#end = Math.max(this.#end, endMs)
    this.#writes++
  }

  #close (): void {
    const ms = this.#end - this.#start
    if (this.#bytes > 0 && ms >= this.#minPeriodMs) {
      this.#pastBytes = this.#pastBytes * this.#decay + this.#bytes
      this.#pastMs = this.#pastMs * this.#decay + ms
      this.#pastBlockedMs = this.#pastBlockedMs * this.#decay + this.#blockedMs
      this.#periods++
    }
    this.#bytes = 0
    this.#blockedMs = 0
  }

  /** Writes recorded. */
  get writes (): number { return this.#writes }

  /** Busy periods that counted (closed, at least `minPeriodMs`), besides the open one. */
  get periods (): number { return this.#periods }

  /** Bytes, elapsed ms and waited ms of the closed periods (decayed) and the open one (if long enough). */
  #sums (): { bytes: number, ms: number, blockedMs: number } {
    const openMs = this.#end - this.#start
    const open = this.#bytes > 0 && openMs >= this.#minPeriodMs
    return {
      bytes: this.#pastBytes + (open ? this.#bytes : 0),
      ms: this.#pastMs + (open ? openMs : 0),
      blockedMs: this.#pastBlockedMs + (open ? this.#blockedMs : 0)
    }
  }

  /**
   * Share of the busy time the writes spent waiting for their drain (0..1); `undefined` until
   * `minPeriodMs` of busy time was measured.
   */
  get blockedShare (): number | undefined {
    const { ms, blockedMs } = this.#sums()
    return ms < this.#minPeriodMs ? undefined : Math.min(1, blockedMs / ms)
  }

  /**
   * The link rate, bytes/ms: bytes / elapsed of the busy periods; `undefined` until
   * `minPeriodMs` of busy time was measured, and while the writes waited for less than
   * `minBlockedShare` of it (the sender, not the link, sets the pace).
   */
  get bytesPerMs (): number | undefined {
    const { bytes, ms, blockedMs } = this.#sums()
    if (ms < this.#minPeriodMs || blockedMs < ms * this.#minBlockedShare) return undefined
    return bytes / ms
  }
}

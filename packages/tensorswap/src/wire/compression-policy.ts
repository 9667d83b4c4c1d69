/**
 * When to compress (spec/tensorswap.md §12): pure state (time is an input) that the network
 * feeds with what it measures, and asks before each batch of blocks it sends.
 *
 * - **Link rate** per peer, from the data channel's writes, over busy periods (writes following
 *   each other within a few ms): bytes / elapsed, decayed over periods, given only while the
 *   writes spend a good share of the time waiting for their drain ({@link LinkRateEstimator}).
 *   Per-write drain times read 10-44 MB/s on a 12.5 MB/s link (socket buffers swallow writes).
 * - **Compressor speed**: raw bytes per ms of the compressor's own work (planes and zstd, timed
 *   around the synchronous calls, so never its wait for a thread), sums decayed per MiB
 *   compressed, starting from a conservative prior that weighs as 1 MiB; back to the prior
 *   when not refreshed for a while.
 * - **Decision**, per block, from the ratio the sample analysis predicts: sending it compressed
 *   takes `max(compressTime / share, ratio × bytes / rate)` per block (the compressor may take
 *   at most `share` of the time), plain takes `bytes / rate`; compress when that saves at least
 *   `1 - maxRatio` of the time. With no measured rate yet, or a link faster than
 *   `share × maxRatio × compressor speed`, blocks go plain without being looked at, so a fast
 *   link (loopback) costs nothing.
 * - **CPU contention**: while this process's main thread waits for a CPU more than
 *   `maxCpuWaitShare` of its runnable time (`cpuWait`, from `/proc/self/schedstat`), blocks go
 *   plain: compressing trades CPU for link time, and an oversubscribed machine has no CPU to
 *   trade (six leechers and a seeder on 2 cores).
 *
 * @module
 */

import { COMPRESS_MAX_CPU_WAIT_SHARE, COMPRESS_PRIOR_WEIGHT_BYTES, COMPRESS_SPEED_DECAY, COMPRESS_SPEED_MAX_AGE_MS, COMPRESSION_MAX_RATIO, COMPRESSOR_TIME_SHARE, DEFAULT_PRIOR_COMPRESS_BYTES_PER_MS } from '../constants.js'
import { LinkRateEstimator, type LinkRateInit } from './link-rate.js'

const MIB = 1024 * 1024

/** Options of {@link CompressionPolicy}; defaults in `constants.ts`. */
export interface CompressionPolicyInit {
  /** Compressor speed before one is measured, raw bytes/ms. @default {@link DEFAULT_PRIOR_COMPRESS_BYTES_PER_MS} */
  priorCompressBytesPerMs?: number
  /** Share of the time per byte the compressor may take. @default {@link COMPRESSOR_TIME_SHARE} */
  compressorShare?: number
  /** Compress only when it saves at least `1 - maxRatio` of the time (and of the bytes). @default {@link COMPRESSION_MAX_RATIO} */
  maxRatio?: number
  /** Link-rate measurement (busy periods). */
  link?: LinkRateInit
  /**
   * The main thread's run-queue wait share now (0..1; `undefined`: unknown), e.g.
   * `CpuWait.share` (`wire/cpu-wait.ts`). @default none: contention is not considered
   */
  cpuWait?: (nowMs: number) => number | undefined
  /** Blocks go plain while `cpuWait` is above this. @default {@link COMPRESS_MAX_CPU_WAIT_SHARE} */
  maxCpuWaitShare?: number
}

/** What the policy knows of one peer's link. */
export interface LinkEstimate {
  /** Estimated rate of the data channel, bytes/ms (undefined until enough busy time). */
  bytesPerMs?: number
  /** Writes measured. */
  writes: number
  /** Busy periods closed and counted (besides the open one). */
  periods: number
  /** Share of the busy time the writes waited for their drain (undefined until measured). */
  blockedShare?: number
}

/**
 * Per-peer link rates and the compressor's speed; decides per block. See the module comment.
 */
export class CompressionPolicy {
  readonly #links = new Map<string, LinkRateEstimator>()
  readonly #share: number
  readonly #maxRatio: number
  readonly #linkInit: LinkRateInit
  /** Decayed sums of the compressor's raw bytes and own work (ms). */
  #compressBytes = 0
  #compressMs = 0
  #compressBytesPerMs: number
  #compressMeasured = false
  #compressMeasuredAtMs = 0
  readonly #prior: number
  readonly #cpuWait: ((nowMs: number) => number | undefined) | undefined
  readonly #maxCpuWait: number

  /** @param init - see {@link CompressionPolicyInit} */
  constructor (init: CompressionPolicyInit = {}) {
    this.#prior = init.priorCompressBytesPerMs ?? DEFAULT_PRIOR_COMPRESS_BYTES_PER_MS
    this.#compressBytesPerMs = this.#prior
    this.#share = init.compressorShare ?? COMPRESSOR_TIME_SHARE
    this.#maxRatio = init.maxRatio ?? COMPRESSION_MAX_RATIO
    this.#linkInit = init.link ?? {}
    this.#cpuWait = init.cpuWait
    this.#maxCpuWait = init.maxCpuWaitShare ?? COMPRESS_MAX_CPU_WAIT_SHARE
  }

  /** The compressor speed in use, raw bytes/ms (the prior until a block was compressed). */
  get compressBytesPerMs (): number { return this.#compressBytesPerMs }

  /**
   * A write of `bytes` on `peer`'s data channel started at `startMs` (its bytes ready, the
   * previous write drained) and drained at `endMs`.
   *
   * @param bytes - encoded bytes written
   * @param startMs - start of the write, ms (the clock of {@link worthTrying})
   * @param endMs - its drain, ms
   * @param ownMs - this thread's own work (compressing) while the write waited, ms
   */
  recordWrite (peer: string, bytes: number, startMs: number, endMs: number, ownMs = 0): void {
    let l = this.#links.get(peer)
    if (l == null) {
      l = new LinkRateEstimator(this.#linkInit)
      this.#links.set(peer, l)
    }
    l.record(bytes, startMs, endMs, ownMs)
  }

  /**
   * The compressor spent `workMs` of its own work (planes and zstd, not waiting) on `rawBytes`.
   *
   * @param nowMs - when (any monotonic clock in ms, the same as {@link worthTrying}'s) @default performance.now()
   */
  recordCompress (rawBytes: number, workMs: number, nowMs = performance.now()): void {
    if (rawBytes <= 0) return
    if (!this.#compressMeasured) {
      // the prior counts as one batch, so a first small (slow per byte) block does not rule
      this.#compressBytes = COMPRESS_PRIOR_WEIGHT_BYTES
      this.#compressMs = COMPRESS_PRIOR_WEIGHT_BYTES / this.#prior
    }
    const keep = COMPRESS_SPEED_DECAY ** (rawBytes / MIB)
    this.#compressBytes = this.#compressBytes * keep + rawBytes
    this.#compressMs = this.#compressMs * keep + Math.max(workMs, 0.01)
    this.#compressBytesPerMs = this.#compressBytes / this.#compressMs
    this.#compressMeasured = true
    this.#compressMeasuredAtMs = nowMs
  }

  /** Forget a compressor speed measured over {@link COMPRESS_SPEED_MAX_AGE_MS} ago (back to the prior). */
  #age (nowMs: number): void {
    if (this.#compressMeasured && nowMs - this.#compressMeasuredAtMs >= COMPRESS_SPEED_MAX_AGE_MS) {
      this.#compressMeasured = false
      this.#compressBytesPerMs = this.#prior
    }
  }

  /** The link estimate of `peer`. */
  link (peer: string): LinkEstimate {
    const l = this.#links.get(peer)
    if (l == null) return { writes: 0, periods: 0 }
    return { writes: l.writes, periods: l.periods, bytesPerMs: l.bytesPerMs, blockedShare: l.blockedShare }
  }

  /**
   * Whether blocks to `peer` are worth looking at: a rate is known, the link is slower than
   * the compressor can keep up with (`share × speed`), and the CPU is not oversubscribed
   * ({@link contended}). Cheap; asked once per batch.
   *
   * @param nowMs - when (as {@link recordCompress}'s clock) @default performance.now()
   */
  worthTrying (peer: string, nowMs = performance.now()): boolean {
    this.#age(nowMs)
    const rate = this.link(peer).bytesPerMs
    return rate != null && this.#saves(rate, 0) && !this.contended(nowMs)
  }

  /** Whether the main thread waits for a CPU more than `maxCpuWaitShare` of its runnable time now (false when unknown). */
  contended (nowMs = performance.now()): boolean {
    const wait = this.#cpuWait?.(nowMs)
    return wait != null && wait > this.#maxCpuWait
  }

  /**
   * Whether a block whose analysis predicts `ratio` is to be compressed for `peer`.
   *
   * @param ratio - predicted compressed / raw size (0..1)
   */
  shouldCompress (peer: string, ratio: number): boolean {
    if (ratio > this.#maxRatio) return false
    const rate = this.link(peer).bytesPerMs
    return rate != null && this.#saves(rate, ratio)
  }

  /** Per raw byte: compressed time `max(1/(share·C), ratio/R)` against plain `1/R`, at least `1 - maxRatio` saved. */
  #saves (rate: number, ratio: number): boolean {
    const plain = 1 / rate
    const compressed = Math.max(1 / (this.#share * this.#compressBytesPerMs), ratio / rate)
    return compressed <= plain * this.#maxRatio
  }

  /** Forget `peer` (disconnected). */
  forget (peer: string): void {
    this.#links.delete(peer)
  }
}

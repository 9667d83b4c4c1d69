/**
 * When to compress (spec/tensorswap.md §12): pure state (time is an input) that the network
 * feeds with what it measures, and asks before each batch of blocks it sends.
 *
 * - **Link rate** per peer, from the data channel's writes: (decayed sum of bytes written) /
 *   (decayed sum of the time each write took to drain). A write a socket buffer swallowed at
 *   once adds bytes but almost no time, so once the buffer is full the link's pace dominates.
 * - **Compressor speed**: raw bytes per ms of the blocks it compressed (analysis, planes,
 *   zstd), EWMA; a conservative prior until the first block.
 * - **Decision**, per block, from the ratio the sample analysis predicts: sending it compressed
 *   takes `max(compressTime / share, ratio × bytes / rate)` per block (the compressor runs on
 *   the thread pool beside the sends, and may take at most `share` of the time), plain takes
 *   `bytes / rate`; compress when that saves at least `1 - maxRatio` of the time. With no
 *   measured rate yet, or a link faster than `share × compressor speed`, blocks go plain
 *   without being looked at, so a fast link (loopback) costs nothing.
 *
 * @module
 */

import { COMPRESS_SPEED_ALPHA, COMPRESS_SPEED_MAX_AGE_MS, COMPRESSION_MAX_RATIO, COMPRESSOR_TIME_SHARE, DEFAULT_PRIOR_COMPRESS_BYTES_PER_MS, LINK_RATE_DECAY, MIN_RATE_WRITE_BYTES, MIN_RATE_WRITES } from '../constants.js'

/** Options of {@link CompressionPolicy}; defaults in `constants.ts`. */
export interface CompressionPolicyInit {
  /** Compressor speed before one is measured, raw bytes/ms. @default {@link DEFAULT_PRIOR_COMPRESS_BYTES_PER_MS} */
  priorCompressBytesPerMs?: number
  /** Share of the time per byte the compressor may take. @default {@link COMPRESSOR_TIME_SHARE} */
  compressorShare?: number
  /** Compress only when it saves at least `1 - maxRatio` of the time (and of the bytes). @default {@link COMPRESSION_MAX_RATIO} */
  maxRatio?: number
  /** Weight the link rate keeps at each write. @default {@link LINK_RATE_DECAY} */
  rateDecay?: number
  /** Writes shorter than this are not measured, bytes. @default {@link MIN_RATE_WRITE_BYTES} */
  minWriteBytes?: number
  /** Writes measured before the rate is trusted. @default {@link MIN_RATE_WRITES} */
  minWrites?: number
}

/** What the policy knows of one peer's link. */
export interface LinkEstimate {
  /** Estimated rate of the data channel, bytes/ms (undefined until enough writes). */
  bytesPerMs?: number
  /** Writes measured. */
  writes: number
}

interface Link { bytes: number, ms: number, writes: number }

/**
 * Per-peer link rates and the compressor's speed; decides per block. See the module comment.
 */
export class CompressionPolicy {
  readonly #links = new Map<string, Link>()
  readonly #share: number
  readonly #maxRatio: number
  readonly #decay: number
  readonly #minWriteBytes: number
  readonly #minWrites: number
  #compressBytesPerMs: number
  #compressMeasured = false
  #compressMeasuredAtMs = 0
  readonly #prior: number

  /** @param init - see {@link CompressionPolicyInit} */
  constructor (init: CompressionPolicyInit = {}) {
    this.#prior = init.priorCompressBytesPerMs ?? DEFAULT_PRIOR_COMPRESS_BYTES_PER_MS
    this.#compressBytesPerMs = this.#prior
    this.#share = init.compressorShare ?? COMPRESSOR_TIME_SHARE
    this.#maxRatio = init.maxRatio ?? COMPRESSION_MAX_RATIO
    this.#decay = init.rateDecay ?? LINK_RATE_DECAY
    this.#minWriteBytes = init.minWriteBytes ?? MIN_RATE_WRITE_BYTES
    this.#minWrites = init.minWrites ?? MIN_RATE_WRITES
  }

  /** The compressor speed in use, raw bytes/ms (the prior until a block was compressed). */
  get compressBytesPerMs (): number { return this.#compressBytesPerMs }

  /**
   * A write of `bytes` on `peer`'s data channel took `ms` to drain.
   *
   * @param bytes - encoded bytes written
   * @param ms - from the write's start to its drain
   */
  recordWrite (peer: string, bytes: number, ms: number): void {
    if (bytes < this.#minWriteBytes) return
    const l = this.#links.get(peer) ?? { bytes: 0, ms: 0, writes: 0 }
    l.bytes = l.bytes * this.#decay + bytes
    // a write is never instantaneous: 0.05 ms keeps a swallowed write from meaning an infinite rate
    l.ms = l.ms * this.#decay + Math.max(ms, 0.05)
    l.writes++
    this.#links.set(peer, l)
  }

  /**
   * The compressor took `ms` for `rawBytes` (analysis, planes and zstd of one batch).
   *
   * @param nowMs - when (any monotonic clock in ms, the same as {@link worthTrying}'s) @default performance.now()
   */
  recordCompress (rawBytes: number, ms: number, nowMs = performance.now()): void {
    if (rawBytes <= 0) return
    const speed = rawBytes / Math.max(ms, 0.01)
    this.#compressBytesPerMs = this.#compressMeasured ? this.#compressBytesPerMs * (1 - COMPRESS_SPEED_ALPHA) + speed * COMPRESS_SPEED_ALPHA : speed
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
    if (l == null) return { writes: 0 }
    return { writes: l.writes, bytesPerMs: l.writes >= this.#minWrites ? l.bytes / l.ms : undefined }
  }

  /**
   * Whether blocks to `peer` are worth looking at: a rate is known and the link is slower than
   * the compressor can keep up with (`share × speed`). Cheap; asked once per batch.
   *
   * @param nowMs - when (as {@link recordCompress}'s clock) @default performance.now()
   */
  worthTrying (peer: string, nowMs = performance.now()): boolean {
    this.#age(nowMs)
    const rate = this.link(peer).bytesPerMs
    return rate != null && this.#saves(rate, 0)
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

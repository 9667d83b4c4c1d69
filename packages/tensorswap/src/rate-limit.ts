/**
 * Token buckets: the one module for them (spec/tensorswap.md §3 "Limits" and §11 "Bandwidth
 * limits").
 *
 * 1. Messages per peer, for the exchange's inbound want-lists. Pure (time is an input, no timers): a bucket holds up to `burst` tokens and refills at
 * `ratePerSecond` tokens per second; {@link PeerRateLimiter.take} spends one token (or `cost`)
 * and says whether the peer was within its rate. A clock that goes backwards refills nothing.
 * The exchange asks it once per inbound message carrying a want-list; over the rate the
 * want-list is dropped and the peer gets the small `rateLimited` penalty.
 *
 * 2. Bytes per second, node-wide and per peer, both ways: {@link ByteBucket} (pure, may go into
 * debt: a message larger than the burst is let through and the next waits until the debt is
 * paid, so the long-run rate holds whatever the message size) and {@link BandwidthLimiter}, the
 * `BandwidthPacer` (`@tensorswap/transport`) the exchange's engine send path (streams and bulk
 * lanes alike), its readers and GraphSync's responder and reader await. {@link parseRate}
 * reads `--max-upload-rate` style values.
 *
 * @module
 */

import { DEFAULT_INBOUND_MESSAGE_BURST, DEFAULT_INBOUND_MESSAGES_PER_SECOND, DEFAULT_RATE_LIMIT_BURST_MS, MAX_IDLE_RATE_BUCKETS, MIN_RATE_LIMIT_BURST_BYTES } from './constants.js'
import { InvalidRateLimitError } from './errors.js'
import type { BandwidthPacer } from '@tensorswap/transport'
import type { AbortOptions } from '@libp2p/interface'

/** Slack on token comparisons, tokens (floating-point error of fractional refills). */
const TOKEN_EPSILON = 1e-9

/** Options of {@link PeerRateLimiter}. */
export interface RateLimitInit {
  /** Tokens added per second, per peer (> 0). @default {@link DEFAULT_INBOUND_MESSAGES_PER_SECOND} */
  ratePerSecond?: number
  /** Most tokens a bucket holds: the largest burst allowed after idling (>= 1). @default {@link DEFAULT_INBOUND_MESSAGE_BURST} */
  burst?: number
}

/** One token bucket: `tokens` at time `atMs`. */
export interface Bucket {
  tokens: number
  atMs: number
}

/**
 * The bucket refilled to `nowMs` (never past `burst`; a `nowMs` before `atMs` refills nothing).
 *
 * @param ratePerSecond - tokens per second
 */
export function refill (bucket: Bucket, nowMs: number, ratePerSecond: number, burst: number): Bucket {
  const elapsed = Math.max(0, nowMs - bucket.atMs)
  return { tokens: Math.min(burst, bucket.tokens + elapsed * ratePerSecond / 1000), atMs: Math.max(bucket.atMs, nowMs) }
}

/** Token buckets keyed by peer id string; a peer seen for the first time starts with a full bucket. */
export class PeerRateLimiter {
  /** Tokens per second per peer. */
  readonly ratePerSecond: number
  /** Bucket capacity. */
  readonly burst: number
  readonly #buckets = new Map<string, Bucket>()

  /**
   * @param init - see {@link RateLimitInit}
   * @throws RangeError when `ratePerSecond` is not a positive finite number or `burst` is below 1
   */
  constructor (init: RateLimitInit = {}) {
    this.ratePerSecond = init.ratePerSecond ?? DEFAULT_INBOUND_MESSAGES_PER_SECOND
    this.burst = init.burst ?? DEFAULT_INBOUND_MESSAGE_BURST
    if (!Number.isFinite(this.ratePerSecond) || this.ratePerSecond <= 0) throw new RangeError(`PeerRateLimiter: ratePerSecond must be > 0, got ${this.ratePerSecond}`)
    if (!Number.isFinite(this.burst) || this.burst < 1) throw new RangeError(`PeerRateLimiter: burst must be >= 1, got ${this.burst}`)
  }

  /**
   * Spend `cost` tokens of `peer`'s bucket at `nowMs` (ms, any monotonic-ish clock). Returns
   * false, spending nothing, when the bucket holds fewer than `cost` tokens.
   */
  take (peer: string, nowMs: number, cost = 1): boolean {
    const b = refill(this.#buckets.get(peer) ?? { tokens: this.burst, atMs: nowMs }, nowMs, this.ratePerSecond, this.burst)
    // refills are fractional: allow for floating-point error so a sender at exactly the rate
    // (1000/rate ms apart) is never refused for 0.9999999 of a token
    const ok = b.tokens + TOKEN_EPSILON >= cost
    if (ok) b.tokens = Math.max(0, b.tokens - cost)
    this.#buckets.set(peer, b)
    return ok
  }

  /** Tokens `peer` has at `nowMs` (tests, observability). */
  tokens (peer: string, nowMs: number): number {
    const b = this.#buckets.get(peer)
    return b == null ? this.burst : refill(b, nowMs, this.ratePerSecond, this.burst).tokens
  }

  /** Forget `peer` (it disconnected): the map holds connected peers only. */
  forget (peer: string): void {
    this.#buckets.delete(peer)
  }

  /** Peers with a bucket. */
  get size (): number {
    return this.#buckets.size
  }
}

/**
 * A byte token bucket that may go into debt (pure; time is an input in ms). It holds up to
 * `burst` bytes of credit, refilled at `bytesPerSecond`; {@link reserve} takes `bytes` at once
 * (possibly below zero) and says how long the caller must wait before moving them: the time
 * to pay back any debt. Bytes released by time T are therefore at most
 * `burst + bytesPerSecond x T` whatever the sizes asked for.
 */
export class ByteBucket {
  /** Refill rate, bytes per second. */
  readonly bytesPerSecond: number
  /** Most credit held, bytes. */
  readonly burst: number
  #tokens: number
  #atMs: number

  /**
   * @param bytesPerSecond - > 0
   * @param burst - >= 1 byte; the bucket starts full
   * @throws InvalidRateLimitError - a rate or burst that is not a positive finite number
   */
  constructor (bytesPerSecond: number, burst: number, nowMs = 0) {
    if (!(Number.isFinite(bytesPerSecond) && bytesPerSecond > 0)) throw new InvalidRateLimitError(`rate must be a positive number of bytes per second, got ${bytesPerSecond}`)
    if (!(Number.isFinite(burst) && burst >= 1)) throw new InvalidRateLimitError(`burst must be at least 1 byte, got ${burst}`)
    this.bytesPerSecond = bytesPerSecond
    this.burst = burst
    this.#tokens = burst
    this.#atMs = nowMs
  }

  /** Credit at `nowMs`, bytes (negative: debt). A clock that goes backwards refills nothing. */
  tokens (nowMs: number): number {
    const elapsed = Math.max(0, nowMs - this.#atMs)
    return Math.min(this.burst, this.#tokens + elapsed * this.bytesPerSecond / 1000)
  }

  /**
   * Take `bytes` at `nowMs`.
   *
   * @returns ms to wait before moving them (0 when the credit covered them)
   */
  reserve (bytes: number, nowMs: number): number {
    this.#tokens = this.tokens(nowMs) - Math.max(0, bytes)
    this.#atMs = Math.max(this.#atMs, nowMs)
    return this.#tokens >= -TOKEN_EPSILON ? 0 : -this.#tokens * 1000 / this.bytesPerSecond
  }

  /** Whether the bucket is full at `nowMs` (then it is as good as a new one). */
  full (nowMs: number): boolean {
    return this.tokens(nowMs) >= this.burst
  }
}

/** Bandwidth limits, bytes per second; an absent limit is no limit. */
export interface BandwidthLimits {
  /** Node-wide upload limit (blocks served over Bitswap, `/tensorswap/1.0.0`, bulk lanes, GraphSync). */
  maxUploadRate?: number
  /** Node-wide download limit (frames carrying blocks, read from every peer). */
  maxDownloadRate?: number
  /** Upload limit to each peer. */
  maxUploadRatePerPeer?: number
  /** Download limit from each peer. */
  maxDownloadRatePerPeer?: number
  /**
   * Burst, in ms at the rate: the credit an idle bucket saves up (at least
   * {@link MIN_RATE_LIMIT_BURST_BYTES}). @default {@link DEFAULT_RATE_LIMIT_BURST_MS}
   */
  burstMs?: number
}

/** What a {@link BandwidthLimiter} did (a snapshot). */
export interface BandwidthStats {
  /** Bytes paced, and total ms callers were held, per direction. */
  upload: { bytes: number, waitedMs: number }
  download: { bytes: number, waitedMs: number }
}

/** The limit names as the CLI and config spell them, for error messages. */
const LIMIT_NAMES: Record<keyof Omit<BandwidthLimits, 'burstMs'>, string> = {
  maxUploadRate: 'max-upload-rate',
  maxDownloadRate: 'max-download-rate',
  maxUploadRatePerPeer: 'max-upload-rate-per-peer',
  maxDownloadRatePerPeer: 'max-download-rate-per-peer'
}

/**
 * Check a {@link BandwidthLimits}: every limit given is a finite number >= 1 byte/s.
 *
 * @throws InvalidRateLimitError - naming the limit (0, negative, NaN, Infinity, a string)
 */
export function validateBandwidthLimits (limits: BandwidthLimits): BandwidthLimits {
  for (const [key, name] of Object.entries(LIMIT_NAMES) as Array<[keyof typeof LIMIT_NAMES, string]>) {
    const v = limits[key]
    if (v === undefined) continue
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 1) throw new InvalidRateLimitError(`${name}: expected a rate of at least 1 byte/s, got ${JSON.stringify(v)}`, name)
  }
  if (limits.burstMs !== undefined && !(typeof limits.burstMs === 'number' && Number.isFinite(limits.burstMs) && limits.burstMs > 0)) {
    throw new InvalidRateLimitError(`burstMs: expected a positive number of ms, got ${JSON.stringify(limits.burstMs)}`, 'burstMs')
  }
  return limits
}

const RATE_UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, ki: 1024, mi: 1024 ** 2, gi: 1024 ** 3 }

/**
 * Parse a rate in bytes per second: a number with an optional unit, `k`/`M`/`G` (10^3, 10^6,
 * 10^9) or `Ki`/`Mi`/`Gi` (2^10, 2^20, 2^30), an optional `B` and `/s` (`2500000`, `2.5M`,
 * `10MiB/s`). The result is rounded down to whole bytes.
 *
 * @param name - the option, for the error message (e.g. `max-upload-rate`)
 * @throws InvalidRateLimitError - not a rate, or below 1 byte/s (0, negative)
 */
export function parseRate (text: string, name = 'rate'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(k|m|g|ki|mi|gi)?(?:b)?(?:\/s)?\s*$/i.exec(text)
  const value = m == null ? NaN : Math.floor(Number(m[1]) * RATE_UNITS[(m[2] ?? '').toLowerCase()])
  if (!(Number.isFinite(value) && value >= 1)) {
    throw new InvalidRateLimitError(`${name} ${JSON.stringify(text)}: expected a rate of at least 1 byte/s (e.g. 2500000, 2.5M, 10MiB/s)`, name)
  }
  return value
}

/** Sleep `ms`, or reject with `signal.reason` when it aborts first. */
async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  if (ms <= 0) return
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(timer); reject(signal?.reason) }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** The buckets of one direction: node-wide and per peer. */
class Direction {
  readonly node?: ByteBucket
  readonly #perPeerRate?: number
  readonly #burstMs: number
  readonly #peers = new Map<string, ByteBucket>()
  bytes = 0
  waitedMs = 0

  constructor (nodeRate: number | undefined, perPeerRate: number | undefined, burstMs: number, nowMs: number) {
    this.#burstMs = burstMs
    this.#perPeerRate = perPeerRate
    if (nodeRate !== undefined) this.node = new ByteBucket(nodeRate, burstOf(nodeRate, burstMs), nowMs)
  }

  get limited (): boolean { return this.node != null || this.#perPeerRate != null }

  /** Reserve on both buckets; the wait is the longer of the two. */
  reserve (peer: string, bytes: number, nowMs: number): number {
    let wait = this.node?.reserve(bytes, nowMs) ?? 0
    if (this.#perPeerRate !== undefined) {
      let b = this.#peers.get(peer)
      if (b == null) {
        if (this.#peers.size >= MAX_IDLE_RATE_BUCKETS) {
          // a full bucket is as good as a new one: forget those, so the map holds active peers only
          for (const [k, v] of this.#peers) if (v.full(nowMs)) this.#peers.delete(k)
        }
        b = new ByteBucket(this.#perPeerRate, burstOf(this.#perPeerRate, this.#burstMs), nowMs)
        this.#peers.set(peer, b)
      }
      wait = Math.max(wait, b.reserve(bytes, nowMs))
    }
    this.bytes += bytes
    this.waitedMs += wait
    return wait
  }
}

function burstOf (rate: number, burstMs: number): number {
  return Math.max(MIN_RATE_LIMIT_BURST_BYTES, rate * burstMs / 1000)
}

/**
 * Node-wide and per-peer byte rate limits both ways (the `BandwidthPacer` of
 * `@tensorswap/transport`). Each call reserves the bytes on the node's bucket and the peer's,
 * then waits for the longer debt; with no limit in a direction it resolves at once.
 *
 * @example
 * ```ts
 * const limiter = new BandwidthLimiter({ maxUploadRate: parseRate('2M') })
 * await limiter.upload(peer, message.byteLength, { signal })   // then write
 * ```
 */
export class BandwidthLimiter implements BandwidthPacer {
  /** The limits, validated. */
  readonly limits: Readonly<BandwidthLimits>
  readonly #up: Direction
  readonly #down: Direction
  readonly #now: () => number

  /**
   * @param limits - see {@link BandwidthLimits}
   * @param now - clock in ms (tests). @default `performance.now`
   * @throws InvalidRateLimitError - a limit that is not a finite number >= 1
   */
  constructor (limits: BandwidthLimits = {}, now: () => number = () => performance.now()) {
    this.limits = { ...validateBandwidthLimits(limits) }
    this.#now = now
    const burstMs = limits.burstMs ?? DEFAULT_RATE_LIMIT_BURST_MS
    const t = now()
    this.#up = new Direction(limits.maxUploadRate, limits.maxUploadRatePerPeer, burstMs, t)
    this.#down = new Direction(limits.maxDownloadRate, limits.maxDownloadRatePerPeer, burstMs, t)
  }

  /** Whether any limit is set. */
  get limited (): boolean { return this.#up.limited || this.#down.limited }

  /** Reserve `bytes` of upload to `peer` and wait until they may be written. */
  async upload (peer: string, bytes: number, options: AbortOptions = {}): Promise<void> {
    if (!this.#up.limited) return
    await sleep(this.#up.reserve(peer, bytes, this.#now()), options.signal)
  }

  /** Account `bytes` read from `peer` and wait until the next read may start. */
  async download (peer: string, bytes: number, options: AbortOptions = {}): Promise<void> {
    if (!this.#down.limited) return
    await sleep(this.#down.reserve(peer, bytes, this.#now()), options.signal)
  }

  /** Bytes paced and time held, per direction. */
  stats (): BandwidthStats {
    return { upload: { bytes: this.#up.bytes, waitedMs: this.#up.waitedMs }, download: { bytes: this.#down.bytes, waitedMs: this.#down.waitedMs } }
  }
}

/**
 * Token buckets per peer, for the exchange's inbound messages (spec/tensorswap.md §3 "Limits").
 *
 * Pure (time is an input, no timers): a bucket holds up to `burst` tokens and refills at
 * `ratePerSecond` tokens per second; {@link PeerRateLimiter.take} spends one token (or `cost`)
 * and says whether the peer was within its rate. A clock that goes backwards refills nothing.
 * The exchange asks it once per inbound message carrying a want-list; over the rate the
 * want-list is dropped and the peer gets the small `rateLimited` penalty.
 *
 * @module
 */

import { DEFAULT_INBOUND_MESSAGE_BURST, DEFAULT_INBOUND_MESSAGES_PER_SECOND } from './constants.js'

/** Options of {@link PeerRateLimiter}. */
/** Slack on token comparisons, tokens (floating-point error of fractional refills). */
const TOKEN_EPSILON = 1e-9

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

/**
 * Peer penalties for bad input. Pure (time is an input): each offence adds points, points
 * decay with a half-life, and a peer at the threshold is banned (the driver disconnects it
 * and ignores its streams) for a while. Weights: spec/tensorswap.md "Penalties".
 *
 * @module
 */

import { DEFAULT_BAN_MS, DEFAULT_PENALTY_THRESHOLD, PENALTY_HALF_LIFE_MS } from './constants.js'

/** What a peer did wrong, with its weight in points. */
export const PENALTY = {
  /** A frame or message over the size cap: ban at once. */
  oversized: 100,
  /** A message that does not decode (protobuf, enum, CID, prefix). */
  malformed: 50,
  /** A block we did not ask for (and did not finish recently); also what a hash mismatch looks like. */
  unrequestedBlock: 10,
  /** A block whose hash function we cannot verify. */
  unverifiableBlock: 5,
  /**
   * Per exchange stream refused over the per-peer limit (`DEFAULT_MAX_INBOUND_STREAMS_PER_PEER`):
   * a peer that overshoots once is not banned, one that keeps opening streams is (eleven in a row: scores decay).
   */
  tooManyStreams: 10,
  /**
   * Per want-list message of which entries were dropped: more than the per-message cap (the
   * message is truncated, as boxo does) or past the per-peer cap. One large want-list is
   * honest (boxo clients send them); a peer flooding eleven of them in a row is banned (scores decay).
   */
  wantOverflow: 10,
  /**
   * A response it did not read within the send deadline: a slot of the engine was held for
   * nothing. Repeat offenders (a peer that asks and never reads) are banned after a few.
   */
  slowReader: 25,
  /**
   * Per want-list message dropped for exceeding the peer's message rate
   * (`DEFAULT_INBOUND_MESSAGES_PER_SECOND`, burst `DEFAULT_INBOUND_MESSAGE_BURST`): small, a burst
   * is not an attack; a flood of 100 excess messages within a half-life is banned.
   */
  rateLimited: 1,
  /**
   * A push refused because the pusher is not accepted or announced a DAG over the limit
   * (spec/tensorswap.md §8): an honest pusher asks once; one retrying ten times within a
   * half-life is banned.
   */
  pushRefused: 10
} as const

/** An offence name. */
export type Offence = keyof typeof PENALTY

/** Options of {@link PenaltyBox}. */
export interface PenaltyBoxInit {
  /** @default {@link DEFAULT_PENALTY_THRESHOLD} */
  threshold?: number
  /** @default {@link DEFAULT_BAN_MS} */
  banMs?: number
  /** @default {@link PENALTY_HALF_LIFE_MS} */
  halfLifeMs?: number
}

/**
 * Penalty scores per peer id string.
 */
export class PenaltyBox {
  readonly #scores = new Map<string, { points: number, atMs: number }>()
  readonly #bans = new Map<string, number>()
  readonly #threshold: number
  readonly #banMs: number
  readonly #halfLifeMs: number

  /** @param init - see {@link PenaltyBoxInit} */
  constructor (init: PenaltyBoxInit = {}) {
    this.#threshold = init.threshold ?? DEFAULT_PENALTY_THRESHOLD
    this.#banMs = init.banMs ?? DEFAULT_BAN_MS
    this.#halfLifeMs = init.halfLifeMs ?? PENALTY_HALF_LIFE_MS
  }

  /** Current (decayed) score of `peer`. */
  score (peer: string, nowMs: number): number {
    const s = this.#scores.get(peer)
    if (s == null) return 0
    return s.points * Math.pow(0.5, Math.max(0, nowMs - s.atMs) / this.#halfLifeMs)
  }

  /**
   * Add `count` offences of kind `offence`.
   *
   * @returns `true` when this pushed the peer over the threshold (the caller disconnects it)
   */
  penalize (peer: string, offence: Offence, nowMs: number, count = 1): boolean {
    const points = this.score(peer, nowMs) + PENALTY[offence] * count
    this.#scores.set(peer, { points, atMs: nowMs })
    if (this.#scores.size > 10_000) {
      // bound memory: drop scores that have decayed to nothing
      for (const [p] of this.#scores) if (this.score(p, nowMs) < 1) this.#scores.delete(p)
    }
    if (points >= this.#threshold && !this.isBanned(peer, nowMs)) {
      this.#bans.set(peer, nowMs + this.#banMs)
      this.#scores.delete(peer)
      return true
    }
    return false
  }

  /**
   * Every peer with a score or a ban at `nowMs` (for statistics): its decayed score and, when
   * banned, the time (ms, same clock as `nowMs`) the ban ends.
   */
  snapshot (nowMs: number): Record<string, { score: number, bannedUntilMs?: number }> {
    const out: Record<string, { score: number, bannedUntilMs?: number }> = {}
    for (const peer of this.#scores.keys()) out[peer] = { score: this.score(peer, nowMs) }
    for (const [peer, until] of this.#bans) {
      if (until > nowMs) out[peer] = { score: this.score(peer, nowMs), bannedUntilMs: until }
    }
    return out
  }

  /** Whether `peer` is banned at `nowMs`. */
  isBanned (peer: string, nowMs: number): boolean {
    const until = this.#bans.get(peer)
    if (until == null) return false
    if (nowMs >= until) {
      this.#bans.delete(peer)
      return false
    }
    return true
  }
}

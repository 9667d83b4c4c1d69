/**
 * Peer health as a pure state machine (no timers, no I/O; time is an input in ms):
 * spec/tensorswap.md §10 "Peer health". Seeds: AptosNet's health checker (a ping every
 * interval; N consecutive failures disconnect the peer) and NeuroShard's peer score (RTT and
 * reliability folded into one number the scheduler weighs).
 *
 * Per peer it keeps an EWMA of ping round-trip times, an EWMA success rate of ping outcomes
 * (1 for an answer, 0 for a failure; a new peer starts at 1), the consecutive failures and
 * when it was last pinged. The *score* in (0, 1] is
 * `successRate * 1 / (1 + rttMs / rttReferenceMs)`; the peer selector divides its cost
 * estimate by it (never by less than `MIN_HEALTH_FACTOR`), so a sick peer gets fewer wants.
 *
 * The driver (`monitor.ts`) asks {@link PeerHealth.due} which peers to ping, reports each
 * outcome and carries out the `disconnect` verdict.
 *
 * @module
 */

import {
  DEFAULT_HEALTH_MAX_FAILURES,
  DEFAULT_HEALTH_PING_INTERVAL_MS,
  DEFAULT_HEALTH_RTT_ALPHA,
  DEFAULT_HEALTH_RTT_REFERENCE_MS,
  DEFAULT_HEALTH_SUCCESS_ALPHA
} from '../constants.js'

/** Options of {@link PeerHealth}; every default is in `constants.ts`. */
export interface PeerHealthInit {
  /** Ping each peer this often, ms (> 0). @default {@link DEFAULT_HEALTH_PING_INTERVAL_MS} */
  pingIntervalMs?: number
  /** Disconnect after this many failures in a row (>= 1). @default {@link DEFAULT_HEALTH_MAX_FAILURES} */
  maxFailures?: number
  /** EWMA weight of the newest RTT, 0..1. @default {@link DEFAULT_HEALTH_RTT_ALPHA} */
  rttAlpha?: number
  /** EWMA weight of the newest outcome in the success rate, 0..1. @default {@link DEFAULT_HEALTH_SUCCESS_ALPHA} */
  successAlpha?: number
  /** RTT at which the latency factor of the score is 1/2, ms (> 0). @default {@link DEFAULT_HEALTH_RTT_REFERENCE_MS} */
  rttReferenceMs?: number
}

/** What is known about one peer's health (a snapshot; units in the names). */
export interface HealthStats {
  peer: string
  /** EWMA of ping RTTs, ms; `undefined` before the first answer. */
  rttMs?: number
  /** EWMA of ping outcomes, 0..1 (1 before any ping). */
  successRate: number
  /** `successRate / (1 + rttMs / rttReferenceMs)`, in (0, 1]. */
  score: number
  /** Failures since the last answer. */
  consecutiveFailures: number
  /** Pings answered. */
  successes: number
  /** Pings failed (timed out, stream refused or reset). */
  failures: number
  /** When the last ping was started, ms; `undefined` before the first. */
  lastPingMs?: number
  /** When the peer was added, ms. */
  sinceMs: number
  /** The peer does not speak `/ipfs/ping/1.0.0`: not pinged, its score stays 1. */
  unsupported: boolean
}

/** What the driver must do after an outcome. */
export type HealthVerdict = 'ok' | 'disconnect'

interface State extends HealthStats {
  /** A ping is in flight (not asked again until it ends). */
  pinging: boolean
}

/** Validated numbers of {@link PeerHealthInit}. */
function check (name: string, v: number, ok: boolean): number {
  if (!ok || !Number.isFinite(v)) throw new RangeError(`PeerHealth: ${name} out of range: ${v}`)
  return v
}

/**
 * Health state of connected peers. See the module comment.
 */
export class PeerHealth {
  readonly #peers = new Map<string, State>()
  /** Ping interval, ms. */
  readonly pingIntervalMs: number
  /** Consecutive failures that disconnect a peer. */
  readonly maxFailures: number
  readonly #rttAlpha: number
  readonly #successAlpha: number
  readonly #rttReferenceMs: number

  /**
   * @param init - see {@link PeerHealthInit}
   * @throws RangeError - a number out of its range
   */
  constructor (init: PeerHealthInit = {}) {
    const interval = init.pingIntervalMs ?? DEFAULT_HEALTH_PING_INTERVAL_MS
    this.pingIntervalMs = check('pingIntervalMs', interval, interval > 0)
    const max = init.maxFailures ?? DEFAULT_HEALTH_MAX_FAILURES
    this.maxFailures = check('maxFailures', max, Number.isInteger(max) && max >= 1)
    const ra = init.rttAlpha ?? DEFAULT_HEALTH_RTT_ALPHA
    this.#rttAlpha = check('rttAlpha', ra, ra > 0 && ra <= 1)
    const sa = init.successAlpha ?? DEFAULT_HEALTH_SUCCESS_ALPHA
    this.#successAlpha = check('successAlpha', sa, sa > 0 && sa <= 1)
    const ref = init.rttReferenceMs ?? DEFAULT_HEALTH_RTT_REFERENCE_MS
    this.#rttReferenceMs = check('rttReferenceMs', ref, ref > 0)
  }

  /** Start tracking `peer` (a no-op when tracked). Its first ping is due one interval later. */
  addPeer (peer: string, nowMs: number): void {
    if (this.#peers.has(peer)) return
    this.#peers.set(peer, { peer, successRate: 1, score: 1, consecutiveFailures: 0, successes: 0, failures: 0, sinceMs: nowMs, unsupported: false, pinging: false })
  }

  /** Forget `peer` (disconnected). */
  removePeer (peer: string): void {
    this.#peers.delete(peer)
  }

  /** Whether `peer` is tracked. */
  has (peer: string): boolean {
    return this.#peers.has(peer)
  }

  /** Tracked peers. */
  peers (): string[] {
    return [...this.#peers.keys()]
  }

  /**
   * Peers to ping now: tracked, speaking ping, no ping in flight, and last pinged (or added)
   * at least one interval ago. Each returned peer is marked as being pinged at `nowMs`; the
   * driver must report {@link onSuccess}, {@link onFailure} or {@link onUnsupported} for it.
   */
  due (nowMs: number): string[] {
    const out: string[] = []
    for (const s of this.#peers.values()) {
      if (s.unsupported || s.pinging) continue
      if (nowMs - (s.lastPingMs ?? s.sinceMs) < this.pingIntervalMs) continue
      s.pinging = true
      s.lastPingMs = nowMs
      out.push(s.peer)
    }
    return out
  }

  /** `peer` answered a ping after `rttMs` (ms, >= 0). */
  onSuccess (peer: string, rttMs: number): HealthVerdict {
    const s = this.#peers.get(peer)
    if (s == null) return 'ok'
    s.pinging = false
    const rtt = Math.max(0, Number.isFinite(rttMs) ? rttMs : 0)
    s.rttMs = s.rttMs == null ? rtt : (1 - this.#rttAlpha) * s.rttMs + this.#rttAlpha * rtt
    s.successRate = (1 - this.#successAlpha) * s.successRate + this.#successAlpha
    s.consecutiveFailures = 0
    s.successes++
    this.#rescore(s)
    return 'ok'
  }

  /**
   * A ping of `peer` failed (timeout, reset, refused stream).
   *
   * @returns `'disconnect'` once {@link maxFailures} failures came in a row, else `'ok'`
   */
  onFailure (peer: string): HealthVerdict {
    const s = this.#peers.get(peer)
    if (s == null) return 'ok'
    s.pinging = false
    s.successRate = (1 - this.#successAlpha) * s.successRate
    s.consecutiveFailures++
    s.failures++
    this.#rescore(s)
    return s.consecutiveFailures >= this.maxFailures ? 'disconnect' : 'ok'
  }

  /** `peer` does not speak the ping protocol: it is not pinged again and keeps score 1. */
  onUnsupported (peer: string): void {
    const s = this.#peers.get(peer)
    if (s == null) return
    s.pinging = false
    s.unsupported = true
  }

  /** The peer's score in (0, 1] (1 for an unknown peer). */
  score (peer: string): number {
    return this.#peers.get(peer)?.score ?? 1
  }

  /** Snapshot of one peer, or `undefined` when not tracked. */
  stats (peer: string): HealthStats | undefined {
    const s = this.#peers.get(peer)
    if (s == null) return undefined
    const { pinging: _, ...stats } = s
    return stats
  }

  #rescore (s: State): void {
    const latency = s.rttMs == null ? 1 : 1 / (1 + s.rttMs / this.#rttReferenceMs)
    // never exactly 0: a score is a divisor's factor, and 0 would make a peer unusable
    s.score = Math.max(Number.MIN_VALUE, s.successRate * latency)
  }

  /** Check internal consistency; throws `Error` naming the broken invariant (tests only). */
  assertInvariants (): void {
    for (const s of this.#peers.values()) {
      if (!(s.successRate >= 0 && s.successRate <= 1)) throw new Error(`peer ${s.peer}: successRate ${s.successRate}`)
      if (!(s.score > 0 && s.score <= 1)) throw new Error(`peer ${s.peer}: score ${s.score}`)
      if (s.consecutiveFailures > s.failures) throw new Error(`peer ${s.peer}: consecutive failures above failures`)
      if (s.consecutiveFailures > 0 && s.successes > 0 && s.successRate === 1) throw new Error(`peer ${s.peer}: failed but rate 1`)
      if (s.rttMs != null && !(s.rttMs >= 0)) throw new Error(`peer ${s.peer}: rtt ${s.rttMs}`)
    }
  }
}

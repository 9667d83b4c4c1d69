/**
 * Peer selection for want-blocks: which connected peer should we ask for a block?
 *
 * Pure bookkeeping (no I/O, no timers; time is an input in ms). Per peer it keeps an EWMA of
 * round-trip latency and of delivery throughput, the bytes and wants we have outstanding
 * there, and when we last heard from it; per block it keeps what peers told us
 * (HAVE / DONT_HAVE, Bitswap 1.2.0 block presences).
 *
 * `pick` estimates when each candidate would finish the block,
 * `latency + (bytesInFlight + blockBytes) / throughput`, and takes the earliest; a peer that
 * said HAVE counts at face value, one we know nothing about at twice the estimate, one that
 * said DONT_HAVE is never asked; a peer that has not delivered a block yet counts at twice its
 * estimate again (its figures are the priors, and a promise is not a delivery). Only blocks of
 * at least `MIN_THROUGHPUT_SAMPLE_BYTES` are throughput samples (a small one measures the
 * round trip). Because outstanding bytes enter the estimate, a DAG spreads
 * over several peers in proportion to their measured speed. The per-peer caps bound how deep
 * the pipeline to one peer gets; the byte cap follows the peer's throughput
 * ({@link PeerSelectorInit.peerQueueMs}), so a slow or shared peer holds a short queue.
 *
 * @module
 */

import { DEFAULT_EWMA_ALPHA, DEFAULT_MAX_PEER_BYTES_IN_FLIGHT, DEFAULT_MAX_PEER_WANTS_IN_FLIGHT, DEFAULT_MIN_PEER_BYTES_IN_FLIGHT, DEFAULT_PEER_QUEUE_MS, DEFAULT_PEER_REFILL_FRACTION, DEFAULT_PRIOR_LATENCY_MS, DEFAULT_PRIOR_THROUGHPUT_BYTES_PER_MS, MIN_DELIVERY_SAMPLES, MIN_HEALTH_FACTOR, MIN_THROUGHPUT_INTERVAL_MS, MIN_THROUGHPUT_SAMPLE_BYTES } from './constants.js'
import type { PresenceType } from './wire/codec.js'

/** Options of {@link PeerSelector}. */
export interface PeerSelectorInit {
  /** EWMA weight of the newest sample, 0..1. @default {@link DEFAULT_EWMA_ALPHA} */
  alpha?: number
  /** Bytes per ms assumed before the first sample. @default {@link DEFAULT_PRIOR_THROUGHPUT_BYTES_PER_MS} */
  priorThroughput?: number
  /** Round-trip ms assumed before the first sample. @default {@link DEFAULT_PRIOR_LATENCY_MS} */
  priorLatencyMs?: number
  /** Most estimated bytes outstanding at one peer. @default {@link DEFAULT_MAX_PEER_BYTES_IN_FLIGHT} */
  maxPeerBytesInFlight?: number
  /** Most wants outstanding at one peer. @default {@link DEFAULT_MAX_PEER_WANTS_IN_FLIGHT} */
  maxPeerWantsInFlight?: number
  /**
   * Adaptive per-peer cap: at most `throughput x peerQueueMs` bytes outstanding at a peer
   * (clamped to `minPeerBytesInFlight .. maxPeerBytesInFlight`), ms; `Infinity` turns it off
   * (the fixed `maxPeerBytesInFlight`). @default {@link DEFAULT_PEER_QUEUE_MS}
   */
  peerQueueMs?: number
  /** Floor of the adaptive cap, bytes. @default {@link DEFAULT_MIN_PEER_BYTES_IN_FLIGHT} */
  minPeerBytesInFlight?: number
  /**
   * Refill hysteresis, 0..1 (`f`): in each round ({@link PeerSelector.startRound}) a peer with
   * wants outstanding takes new ones only when it runs low (less than `f` of its byte cap and of
   * its want cap outstanding), or when `f` of both caps is free and the wants waiting add up to
   * `f` of either cap; then up to its caps. 0 turns it off. @default {@link DEFAULT_PEER_REFILL_FRACTION}
   */
  refillFraction?: number
}

/** What the selector knows about one peer (a snapshot; units in the field names). */
export interface PeerStats {
  peer: string
  /** Peer speaks Bitswap 1.2.0 semantics (answers want-have, sends DONT_HAVE). */
  supportsHave: boolean
  latencyMs: number
  /** Delivery throughput, bytes per ms. */
  throughput: number
  bytesInFlight: number
  wantsInFlight: number
  /** Last time we received anything from the peer, ms; the connect time before that. */
  lastHeardMs: number
  /** Block deliveries measured. */
  samples: number
  /**
   * How long a want-block takes to be answered by this peer, ms: an EWMA of want sent to block
   * received over deliveries of at least `MIN_THROUGHPUT_SAMPLE_BYTES` (queueing at the peer and
   * transfer included); `NaN` before the first. What a working peer takes, against which a silent one is judged
   * ({@link PeerSelector.fastestDeliveryMs}).
   */
  deliveryMs: number
  /** Wants that timed out at this peer. */
  failures: number
  /**
   * Bytes read from the peer's exchange streams and bulk lane so far, frames still being
   * assembled included (so a block in transit shows before it is whole).
   */
  bytesArrived: number
}

interface PeerState extends PeerStats {
  /** Arrival time of the previous block, ms (start of the next throughput interval). */
  lastBlockMs: number
  /** Start of the throughput interval being accumulated, ms, and the sample blocks' bytes delivered in it. */
  sampleStartMs: number
  sampleBytes: number
  /** Deliveries that were throughput samples (at least `MIN_THROUGHPUT_SAMPLE_BYTES`). */
  throughputSamples: number
  /** Deliveries counted in `deliveryMs`. */
  deliverySamples: number
  /** It sent a block that matched no want while unproven: its bytes in transit earn no patience ({@link PeerSelector.forfeitArrivals}). */
  arrivalsForfeited: boolean
  /** The round ({@link PeerSelector.startRound}) `refilling` was decided in. */
  round: number
  /** In that round, the peer takes new wants (up to its caps). */
  refilling: boolean
  /** Its connection is gone and what it sent is still being read ({@link PeerSelector.setDeparting}): no new wants. */
  departing: boolean
}

/** Which peers may be asked. */
export interface PickOptions {
  /** Never ask these (they said DONT_HAVE or timed out for this block). */
  exclude?: ReadonlySet<string>
  /** Ask only these (on equal cost, the first in this order); `undefined` means any connected peer. */
  allowed?: ReadonlySet<string>
}

/**
 * Chooses the peer to ask for each block and learns from what happens. See the module
 * comment for the model. Peer ids are strings (`peerId.toString()`); blocks are keys from
 * `blockKey(cid)`.
 */
export class PeerSelector {
  readonly #peers = new Map<string, PeerState>()
  readonly #presence = new Map<string, Map<string, PresenceType>>()
  /** Health scores in (0, 1] by peer (`src/health/`); a peer without one counts as 1. */
  readonly #health = new Map<string, number>()
  readonly #alpha: number
  readonly #priorThroughput: number
  readonly #priorLatencyMs: number
  /** Most estimated bytes outstanding at one peer (see {@link PeerSelectorInit.maxPeerBytesInFlight}). */
  readonly maxPeerBytesInFlight: number
  /** Most wants outstanding at one peer (see {@link PeerSelectorInit.maxPeerWantsInFlight}). */
  readonly maxPeerWantsInFlight: number
  readonly #peerQueueMs: number
  readonly #minPeerBytesInFlight: number
  readonly #refillFraction: number
  #round = 0
  /** Estimated bytes and count of the wants waiting to be sent in this round ({@link startRound}). */
  #waitingBytes = Infinity
  #waitingWants = Infinity

  /** @param init - see {@link PeerSelectorInit} */
  constructor (init: PeerSelectorInit = {}) {
    this.#alpha = init.alpha ?? DEFAULT_EWMA_ALPHA
    this.#priorThroughput = init.priorThroughput ?? DEFAULT_PRIOR_THROUGHPUT_BYTES_PER_MS
    this.#priorLatencyMs = init.priorLatencyMs ?? DEFAULT_PRIOR_LATENCY_MS
    this.maxPeerBytesInFlight = init.maxPeerBytesInFlight ?? DEFAULT_MAX_PEER_BYTES_IN_FLIGHT
    this.maxPeerWantsInFlight = init.maxPeerWantsInFlight ?? DEFAULT_MAX_PEER_WANTS_IN_FLIGHT
    this.#peerQueueMs = init.peerQueueMs ?? DEFAULT_PEER_QUEUE_MS
    this.#minPeerBytesInFlight = Math.min(init.minPeerBytesInFlight ?? DEFAULT_MIN_PEER_BYTES_IN_FLIGHT, this.maxPeerBytesInFlight)
    this.#refillFraction = Math.min(1, Math.max(0, init.refillFraction ?? DEFAULT_PEER_REFILL_FRACTION))
  }

  /**
   * Start a round of picks (the want-list calls it once per flush, with the wants waiting to be
   * sent): each peer's refill decision ({@link PeerSelectorInit.refillFraction}) is taken afresh
   * at its first {@link canAccept} of the round and holds for the rest of it, so a busy peer is
   * topped up in batches (one want-list message each) rather than with a want or two each time
   * a block was stored or a few blocks arrived.
   *
   * @param waitingBytes - estimated bytes of the wants waiting to be sent (all peers)
   * @param waitingWants - their number
   */
  startRound (waitingBytes = Infinity, waitingWants = Infinity): void {
    this.#round++
    this.#waitingBytes = waitingBytes
    this.#waitingWants = waitingWants
  }

  /**
   * The bytes of want-blocks `peer` may have outstanding now: its measured throughput times
   * {@link PeerSelectorInit.peerQueueMs}, clamped to the floor and `maxPeerBytesInFlight`
   * (0 for an untracked peer).
   */
  peerByteCap (peer: string): number {
    const s = this.#peers.get(peer)
    if (s == null) return 0
    if (!Number.isFinite(this.#peerQueueMs)) return this.maxPeerBytesInFlight
    return Math.min(this.maxPeerBytesInFlight, Math.max(this.#minPeerBytesInFlight, s.throughput * this.#peerQueueMs))
  }

  /**
   * Start tracking a connected peer (no-op when known, except that `supportsHave` upgrades).
   *
   * @param peer - peer id string
   * @param supportsHave - it speaks Bitswap 1.2.0 or `/tensorswap/1.0.0`
   * @param nowMs - current time, ms
   */
  addPeer (peer: string, supportsHave: boolean, nowMs: number): void {
    const known = this.#peers.get(peer)
    if (known != null) {
      known.supportsHave ||= supportsHave
      return
    }
    this.#peers.set(peer, {
      peer, supportsHave, latencyMs: this.#priorLatencyMs, throughput: this.#priorThroughput,
      bytesInFlight: 0, wantsInFlight: 0, lastHeardMs: nowMs, lastBlockMs: nowMs, sampleStartMs: nowMs, sampleBytes: 0, samples: 0, deliveryMs: NaN, failures: 0, throughputSamples: 0, deliverySamples: 0, bytesArrived: 0, arrivalsForfeited: false, round: -1, refilling: true, departing: false
    })
  }

  /**
   * Forget a peer (disconnected) and what it told us. Callers release its wants first.
   *
   * @param peer - peer id string
   */
  removePeer (peer: string): void {
    this.#peers.delete(peer)
    this.#health.delete(peer)
    for (const [key, map] of this.#presence) {
      map.delete(peer)
      if (map.size === 0) this.#presence.delete(key)
    }
  }

  /**
   * `peer`'s connection is gone but blocks it sent before are still arriving (its bulk lane and
   * buffered frames are being read to their end): it keeps the wants in flight at it, so a block already on the wire
   * is not asked of another peer too, and is no longer eligible for new ones. Ends with
   * {@link removePeer}.
   */
  setDeparting (peer: string): void {
    const s = this.#peers.get(peer)
    if (s != null) s.departing = true
  }

  /** Whether `peer` is tracked (connected and speaking an exchange protocol). */
  has (peer: string): boolean {
    return this.#peers.has(peer)
  }

  /** Tracked peer ids. */
  peers (): string[] {
    return [...this.#peers.keys()]
  }

  /** Snapshot of one peer, or `undefined` when not tracked. */
  stats (peer: string): PeerStats | undefined {
    const s = this.#peers.get(peer)
    if (s == null) return undefined
    const { lastBlockMs: _, sampleStartMs: _s, sampleBytes: _b, throughputSamples: __, arrivalsForfeited: ___, deliverySamples: ____, round: _____, refilling: ______, ...stats } = s
    return stats
  }

  /** Whether `peer` answers want-have / sends DONT_HAVE. */
  supportsHave (peer: string): boolean {
    return this.#peers.get(peer)?.supportsHave ?? false
  }

  /**
   * Record a HAVE / DONT_HAVE from `peer` about block `key` (ignored for untracked peers).
   */
  setPresence (key: string, peer: string, type: PresenceType): void {
    if (!this.#peers.has(peer)) return
    let map = this.#presence.get(key)
    if (map == null) {
      map = new Map()
      this.#presence.set(key, map)
    }
    map.set(peer, type)
  }

  /** What `peer` said about block `key`, if anything. */
  presence (key: string, peer: string): PresenceType | undefined {
    return this.#presence.get(key)?.get(peer)
  }

  /** Drop per-block knowledge once the block is fetched or no longer wanted. */
  forget (key: string): void {
    this.#presence.delete(key)
  }

  /** Number of blocks we hold presence knowledge for (bounded by the want-list). */
  get knownBlocks (): number {
    return this.#presence.size
  }

  /**
   * Peers that could be asked for `key`: tracked, not departing, allowed, not excluded, not
   * DONT_HAVE; in `allowed`'s order when it is given, else in the order they were tracked.
   * Ignores load.
   */
  eligible (key: string, options: PickOptions = {}): string[] {
    const out: string[] = []
    for (const peer of options.allowed ?? this.#peers.keys()) {
      const s = this.#peers.get(peer)
      if (s == null || s.departing) continue
      if (options.exclude?.has(peer) === true) continue
      if (this.presence(key, peer) === 'dont-have') continue
      out.push(peer)
    }
    return out
  }

  /**
   * Whether `peer` can take one more want of `bytes` (estimated) under the per-peer caps and,
   * when it has wants outstanding, the round's refill decision ({@link startRound}, taken at
   * the peer's first check of the round with `f` = {@link PeerSelectorInit.refillFraction}):
   * the peer runs low (less than `f` of its byte cap and of its want cap outstanding), or `f`
   * of both caps is free and the wants waiting make a batch of `f` of either cap.
   */
  canAccept (peer: string, bytes: number): boolean {
    const s = this.#peers.get(peer)
    if (s == null) return false
    if (s.wantsInFlight >= this.maxPeerWantsInFlight) return false
    if (s.bytesInFlight === 0) return true
    const cap = this.peerByteCap(peer)
    if (s.round !== this.#round) {
      s.round = this.#round
      const f = this.#refillFraction
      const maxWants = this.maxPeerWantsInFlight
      const low = s.bytesInFlight < f * cap && s.wantsInFlight < f * maxWants
      const room = cap - s.bytesInFlight >= f * cap && maxWants - s.wantsInFlight >= f * maxWants
      const batch = this.#waitingBytes >= f * cap || this.#waitingWants >= f * maxWants
      s.refilling = low || (room && batch)
    }
    return s.refilling && s.bytesInFlight + bytes <= cap
  }

  /**
   * Estimated ms until `peer` would deliver a block of `bytes` asked now, adjusted for what it
   * told us about `key` (HAVE: as is; nothing: doubled) and for whether it ever delivered
   * (not yet: doubled).
   */
  cost (peer: string, key: string, bytes: number): number {
    const s = this.#peers.get(peer)
    if (s == null) return Infinity
    // a sick peer (health score < 1, src/health/) looks slower by 1/score, at most 1/MIN_HEALTH_FACTOR
    const eta = (s.latencyMs + (s.bytesInFlight + bytes) / Math.max(s.throughput, 1e-6)) / Math.max(MIN_HEALTH_FACTOR, this.#health.get(peer) ?? 1)
    const unproven = s.samples === 0 ? 2 : 1
    return (this.presence(key, peer) === 'have' ? eta : eta * 2) * unproven
  }

  /**
   * Whether `peer` is *doubtful*: it never delivered a block and a want timed out there (or it
   * sent a block whose bytes did not match). Doubtful peers are asked only for blocks no other
   * eligible peer can be asked for ({@link pick}), so a provider that says HAVE and then sends
   * nothing (test/hostile/attacks.test.ts) stops getting the overflow of the peers that deliver.
   */
  doubtful (peer: string): boolean {
    const s = this.#peers.get(peer)
    return s != null && s.samples === 0 && s.failures > 0
  }

  /**
   * The best peer to ask for block `key` of about `bytes`, among eligible peers with room;
   * {@link doubtful} peers only when every eligible peer is doubtful.
   * Ties go to the first peer in `allowed` (a fetch's given peers, in the order given: the
   * user's first `--peer`), or without `allowed` to the peer tracked first ({@link addPeer}
   * order: the first to connect and speak an exchange protocol); deterministic either way. The
   * given peers are dialled at once, so the first to connect is a race. Not to the smaller peer id: that tie decided where the
   * first block of every fetch went (all peers are at their priors then), and an attacker can
   * grind a key for a small id (`12D3KooW1...`) to be asked first; a provider given with
   * `--peer` that said nothing held the root for the unproven-peer timeout.
   *
   * @returns a peer id, or `undefined` when every eligible peer is at its cap (or none is eligible)
   */
  pick (key: string, bytes: number, options: PickOptions = {}): string | undefined {
    let best: string | undefined
    let bestCost = Infinity
    const eligible = this.eligible(key, options)
    const trusted = eligible.some(p => !this.doubtful(p))
    for (const peer of eligible) {
      if (trusted && this.doubtful(peer)) continue
      if (!this.canAccept(peer, bytes)) continue
      const c = this.cost(peer, key, bytes)
      if (c < bestCost) {
        best = peer
        bestCost = c
      }
    }
    return best
  }

  /** A want of `bytes` (estimated) was sent to `peer`. */
  onSent (peer: string, bytes: number, nowMs: number): void {
    const s = this.#peers.get(peer)
    if (s == null) return
    if (s.wantsInFlight === 0) {
      // idle since: the next interval starts now (a partial sample before the pause is dropped)
      s.lastBlockMs = nowMs
      s.sampleBytes = 0
    }
    s.bytesInFlight += bytes
    s.wantsInFlight++
  }

  /** A want of `estimatedBytes` at `peer` ended without a block (cancel, DONT_HAVE, timeout). */
  onReleased (peer: string, estimatedBytes: number): void {
    const s = this.#peers.get(peer)
    if (s == null) return
    s.bytesInFlight = Math.max(0, s.bytesInFlight - estimatedBytes)
    s.wantsInFlight = Math.max(0, s.wantsInFlight - 1)
    if (s.wantsInFlight === 0) s.bytesInFlight = 0
  }

  /**
   * `peer` delivered a block of `bytes` that we had asked it for at `sentAtMs` (estimated
   * `estimatedBytes`). Updates throughput (bytes over the time since the previous delivery or
   * the send, whichever is later; only for a block of at least `MIN_THROUGHPUT_SAMPLE_BYTES`)
   * and, when it was the only want outstanding, latency. Every delivery counts in `samples`.
   */
  onBlock (peer: string, bytes: number, estimatedBytes: number, sentAtMs: number, nowMs: number): void {
    const s = this.#peers.get(peer)
    if (s == null) return
    const alone = s.wantsInFlight === 1
    this.onReleased(peer, estimatedBytes)
    const a = this.#alpha
    if (bytes >= MIN_THROUGHPUT_SAMPLE_BYTES) {
      // bytes over at least MIN_THROUGHPUT_INTERVAL_MS: blocks that arrive together (one message
      // of 4, or a burst a busy peer sends after a pause) are one sample over the time they took,
      // not a few ms each (which read a 2 MB/s share of a seeder as hundreds of MB/s)
      if (s.sampleBytes === 0) s.sampleStartMs = Math.max(s.lastBlockMs, sentAtMs)
      s.sampleBytes += bytes
      const interval = nowMs - s.sampleStartMs
      // ...or when nothing else is outstanding there (one block at a time: its own interval)
      if (interval >= MIN_THROUGHPUT_INTERVAL_MS || (s.wantsInFlight === 0 && interval > 0)) {
        const sample = s.sampleBytes / interval
        s.throughput = s.throughputSamples === 0 ? sample : (1 - a) * s.throughput + a * sample
        s.throughputSamples++
        s.sampleBytes = 0
        s.sampleStartMs = nowMs
      }
    }
    if (alone) s.latencyMs = (1 - a) * s.latencyMs + a * Math.max(0, nowMs - sentAtMs)
    if (bytes >= MIN_THROUGHPUT_SAMPLE_BYTES) {
      // a small block's time is a round trip, not what a real block takes
      const delivery = Math.max(0, nowMs - sentAtMs)
      s.deliveryMs = Number.isNaN(s.deliveryMs) ? delivery : (1 - a) * s.deliveryMs + a * delivery
      s.deliverySamples++
    }
    s.samples++
    s.lastBlockMs = nowMs
    s.lastHeardMs = nowMs
  }

  /** A presence answer from `peer` that we asked for at `sentAtMs` (a pure round trip). */
  onPresence (peer: string, sentAtMs: number | undefined, nowMs: number): void {
    const s = this.#peers.get(peer)
    if (s == null) return
    s.lastHeardMs = nowMs
    if (sentAtMs != null) s.latencyMs = (1 - this.#alpha) * s.latencyMs + this.#alpha * Math.max(0, nowMs - sentAtMs)
  }

  /**
   * `bytes` were read from `peer`'s exchange stream or bulk lane (part of a frame, not yet a
   * message): counted in {@link PeerStats.bytesArrived}, which the want-list's unproven-peer
   * timeout reads (a first block in transit is not given up).
   */
  onBytes (peer: string, bytes: number): void {
    const s = this.#peers.get(peer)
    if (s != null) s.bytesArrived += bytes
  }

  /**
   * {@link PeerStats.bytesArrived} of `peer` without copying its stats: 0 when untracked or
   * after {@link forfeitArrivals}.
   */
  bytesArrived (peer: string): number {
    const s = this.#peers.get(peer)
    return s == null || s.arrivalsForfeited ? 0 : s.bytesArrived
  }

  /**
   * `peer` sent bytes that are no block we asked it for: from now on what arrives from it no
   * longer counts as a block in transit ({@link bytesArrived} reads 0), so a liar that streams
   * junk cannot hold wants past the unproven-peer timeout with it.
   */
  forfeitArrivals (peer: string): void {
    const s = this.#peers.get(peer)
    if (s != null) s.arrivalsForfeited = true
  }

  /**
   * The {@link PeerStats.deliveryMs} of the peer that answers want-blocks fastest, ms; undefined
   * while no peer delivered a block. The want-list gives up sooner on an unproven peer when a
   * proven one answers fast (spec/tensorswap.md §9). Only peers with `MIN_DELIVERY_SAMPLES`
   * deliveries of at least `MIN_THROUGHPUT_SAMPLE_BYTES` count: the first blocks of a fetch
   * arrive before the queues at a busy peer build up, and would make every other peer look slow.
   */
  fastestDeliveryMs (): number | undefined {
    let best: number | undefined
    for (const s of this.#peers.values()) {
      if (s.deliverySamples >= MIN_DELIVERY_SAMPLES && (best == null || s.deliveryMs < best)) best = s.deliveryMs
    }
    return best
  }

  /** Anything arrived from `peer` (keeps its wants from timing out). */
  onHeard (peer: string, nowMs: number): void {
    const s = this.#peers.get(peer)
    if (s != null) s.lastHeardMs = Math.max(s.lastHeardMs, nowMs)
  }

  /**
   * The health score of a tracked `peer` (src/health/: ping RTT and success rate), in (0, 1]:
   * its {@link cost} is divided by `max(score, MIN_HEALTH_FACTOR)`, so a sick peer gets fewer
   * wants. Ignored for untracked peers; forgotten with the peer.
   *
   * @throws RangeError - `score` not in (0, 1]
   */
  setHealth (peer: string, score: number): void {
    if (!(score > 0 && score <= 1)) throw new RangeError(`PeerSelector.setHealth: score must be in (0, 1], got ${score}`)
    if (this.#peers.has(peer)) this.#health.set(peer, score)
  }

  /** The health score of `peer` given by {@link setHealth} (1 when none was). */
  health (peer: string): number {
    return this.#health.get(peer) ?? 1
  }

  /** A want timed out at `peer`: halve its throughput estimate (multiplicative decrease). */
  onFailure (peer: string): void {
    const s = this.#peers.get(peer)
    if (s == null) return
    s.failures++
    s.throughput /= 2
  }

  /**
   * Check internal consistency; throws `Error` naming the broken invariant (tests only).
   */
  assertInvariants (): void {
    for (const s of this.#peers.values()) {
      if (!(s.bytesInFlight >= 0) || !(s.wantsInFlight >= 0)) throw new Error(`peer ${s.peer}: negative in-flight`)
      if (s.wantsInFlight === 0 && s.bytesInFlight !== 0) throw new Error(`peer ${s.peer}: bytes in flight without wants`)
      if (!(s.throughput > 0) || !Number.isFinite(s.throughput)) throw new Error(`peer ${s.peer}: throughput ${s.throughput}`)
      if (!(s.latencyMs >= 0) || !Number.isFinite(s.latencyMs)) throw new Error(`peer ${s.peer}: latency ${s.latencyMs}`)
    }
    for (const peer of this.#health.keys()) if (!this.#peers.has(peer)) throw new Error(`health of unknown peer ${peer}`)
    for (const [key, map] of this.#presence) {
      if (map.size === 0) throw new Error(`presence ${key}: empty map kept`)
      for (const peer of map.keys()) if (!this.#peers.has(peer)) throw new Error(`presence ${key}: unknown peer ${peer}`)
    }
  }
}

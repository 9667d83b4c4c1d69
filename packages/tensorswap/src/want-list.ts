/**
 * The node's want-list: one list across all sessions, and the decisions of which want goes
 * to which peer when.
 *
 * A pure state machine (no sockets, no timers; time is an input in ms). Calls change state
 * and queue outgoing entries; {@link WantListManager.flush} assigns pending wants to peers
 * and returns the effects for the driver to carry out (`send` entries to a peer, report a
 * block `unavailable`). Bitswap spec behaviour (specs.ipfs.tech/bitswap-protocol, 1.2.0
 * interaction pattern): want-block entries with `sendDontHave` to 1.2.0 peers, a `Cancel`
 * to a peer we asked once the block came from elsewhere or is no longer wanted.
 *
 * Design:
 * - A want is keyed by the block's multihash; sessions share it (refcounted by session id),
 *   its priority is the highest of theirs.
 * - Pending wants are assigned in priority order (a heap) to the peer the {@link PeerSelector}
 *   picks, while the estimated bytes in flight stay under a global cap (and per peer, under
 *   the selector's caps): a deep pipeline with bounded memory.
 * - A want fails over (another peer is asked, nothing already received is lost) on DONT_HAVE,
 *   on a timeout (cancel sent, since we do not know whether the peer got the want), and on
 *   disconnect, and at once when the peer it is outstanding at sends a block that hashes to no
 *   want but has the want's CID prefix (and size, when known) and no other want at that peer
 *   does: a corrupt copy (its bytes did not match). When every candidate said no, the want is
 *   reported `unavailable` with each peer's reason (DONT_HAVE, timed out, bytes did not match)
 *   and retried after a delay or when a new peer connects.
 * - {@link WantListManager.retrySession} re-sends a session's wants to every candidate again
 *   (a stalled fetch after its redial, spec/tensorswap.md section 4 "Progress deadline").
 * - Swarm sessions ({@link WantListManager.openSession}, spec/tensorswap.md §9 "Swarm
 *   sessions"): the session's wants go only to its peer set, which grows while it runs
 *   ({@link WantListManager.addSessionPeer}). With `broadcast`, each want is first sent as a
 *   want-have to every session peer (as Bitswap sessions do) and given as a want-block only to a
 *   peer that said HAVE (after `haveWaitMs` with no HAVE from anyone, also to peers that did not answer); a want whose
 *   HAVE peers are all at their caps waits without holding up lower-priority wants that other
 *   peers can serve. A peer that answers a want-block with DONT_HAVE is sent a cancel and a
 *   want-have instead, so it says HAVE (rather than pushing the block) once it gets the block.
 * - Once a block arrives (or nobody wants it any more), every other peer asked for it (want-have
 *   or want-block) is sent a cancel.
 *
 * @module
 */

import { DEFAULT_ESTIMATED_BLOCK_BYTES, DEFAULT_HAVE_WAIT_MS, DEFAULT_MAX_BYTES_IN_FLIGHT, DEFAULT_PEER_IDLE_TIMEOUT_MS, DEFAULT_UNAVAILABLE_RETRY_MS, DEFAULT_UNPROVEN_DELIVERY_FACTOR, DEFAULT_UNPROVEN_MIN_BYTES_PER_SECOND, DEFAULT_UNPROVEN_PEER_MAX_TIMEOUT_MS, DEFAULT_UNPROVEN_PEER_MIN_TIMEOUT_MS, DEFAULT_UNPROVEN_PEER_TIMEOUT_MS, DEFAULT_WANT_TIMEOUT_MS } from './constants.js'
import { blockKey } from './wire/block-key.js'
import type { PeerSelector } from './peer-selector.js'
import type { PresenceType, WantEntry } from './wire/codec.js'
import type { CID } from 'multiformats/cid'

/** Options of {@link WantListManager}. */
export interface WantListInit {
  /** Most estimated bytes of want-blocks outstanding over all peers. @default {@link DEFAULT_MAX_BYTES_IN_FLIGHT} */
  maxBytesInFlight?: number
  /** Size assumed for a block without a size hint, bytes. @default {@link DEFAULT_ESTIMATED_BLOCK_BYTES} */
  estimatedBlockBytes?: number
  /** A want times out at a peer silent for this long, ms. @default {@link DEFAULT_PEER_IDLE_TIMEOUT_MS} */
  peerIdleTimeoutMs?: number
  /** A want times out at a peer after this long regardless, ms. @default {@link DEFAULT_WANT_TIMEOUT_MS} */
  wantTimeoutMs?: number
  /** A want times out at a peer that never delivered a block after this long, when another peer could be asked, ms. @default {@link DEFAULT_UNPROVEN_PEER_TIMEOUT_MS} */
  unprovenPeerTimeoutMs?: number
  /** Once a proven peer's delivery time is known, the unproven-peer timeout is this many times the fastest one's (within `unprovenPeerMinTimeoutMs .. unprovenPeerMaxTimeoutMs`). @default {@link DEFAULT_UNPROVEN_DELIVERY_FACTOR} */
  unprovenDeliveryFactor?: number
  /** Ceiling of that scaled timeout, ms. @default {@link DEFAULT_UNPROVEN_PEER_MAX_TIMEOUT_MS} */
  unprovenPeerMaxTimeoutMs?: number
  /** Floor of that scaled timeout, ms. @default {@link DEFAULT_UNPROVEN_PEER_MIN_TIMEOUT_MS} */
  unprovenPeerMinTimeoutMs?: number
  /** Past the unproven-peer timeout, an unproven peer keeps a want while its bytes arrive at least this fast since the want was sent, bytes/s. @default {@link DEFAULT_UNPROVEN_MIN_BYTES_PER_SECOND} */
  unprovenMinBytesPerSecond?: number
  /** An unavailable want is retried after this long, ms. @default {@link DEFAULT_UNAVAILABLE_RETRY_MS} */
  unavailableRetryMs?: number
  /** How many recently finished keys to remember, so late duplicates are not called unrequested. @default 4096 */
  recentKeys?: number
  /** In a broadcast session, how long a want waits for a HAVE before silent peers are asked too, ms. @default {@link DEFAULT_HAVE_WAIT_MS} */
  haveWaitMs?: number
}

/**
 * A want-block given up at a peer by {@link WantListManager.tick}: `why` is the rule that fired
 * (`idle`: the peer silent for the idle timeout; `want`: the want older than the want timeout;
 * `unproven`: a peer that never delivered, past the unproven-peer timeout); `waitedMs` since it was sent.
 */
export interface WantTimeout { cid: CID, peer: string, why: 'idle' | 'want' | 'unproven', waitedMs: number }

/** A snapshot of a {@link WantListManager} for logs ({@link WantListManager.summary}); bytes are estimates. */
export interface WantListSummary {
  wants: number
  states: Record<WantState, number>
  bytesInFlight: number
  maxBytesInFlight: number
  /** Heap entries (stale ones included). */
  queued: number
  peers: Record<string, { wantsInFlight: number, bytesInFlight: number, byteCap: number, blocks: number, failures: number }>
}

/** Options of {@link WantListManager.openSession}. */
export interface SwarmSessionOptions {
  /** Send each want as a want-have to every session peer first; want-blocks only to HAVE peers. @default true */
  broadcast?: boolean
}

/** Per-session options of a want. */
export interface WantOptions {
  /** Wire priority, higher first (int32). @default 1 */
  priority?: number
  /** Expected block size in bytes (from a manifest or a dag-pb Tsize), for in-flight accounting. */
  sizeHint?: number
  /** Ask only these peers (peer id strings); absent means any connected peer (or, in a swarm session, its peers). */
  peers?: Iterable<string>
  /** Current time, ms: starts a broadcast want's have-wait ({@link WantListInit.haveWaitMs}). @default the first flush's time */
  nowMs?: number
}

/** Why a peer was given up for one want. */
export type TriedReason = 'dont-have' | 'timeout' | 'mismatch'

/** What the driver must do. */
export type WantEffect =
  | { type: 'send', peer: string, entries: WantEntry[] }
  /**
   * No candidate peer can serve the want: `reasons` says why for each peer tried;
   * `definitive` when every one answered (DONT_HAVE, or sent bytes that did not match), none
   * merely timed out.
   */
  | { type: 'unavailable', cid: CID, key: string, reasons: Array<{ peer: string, reason: TriedReason }>, definitive: boolean }

/** The state of one want. */
export type WantState = 'pending' | 'inflight' | 'unavailable'

interface Want {
  key: string
  cid: CID
  /** session id -> that session's options */
  sessions: Map<number, { priority: number, peers?: Set<string> }>
  priority: number
  seq: number
  estBytes: number
  /** `estBytes` is the block's size from a hint (a manifest, a dag-pb `Tsize`), not a guess. */
  hasSizeHint: boolean
  state: WantState
  /** Bumped whenever the want is (re)queued, to invalidate stale heap entries. */
  version: number
  peer?: string
  sentAtMs?: number
  /** The peer's {@link PeerStats.bytesArrived} when the want-block was sent to it. */
  bytesArrivedAtSend?: number
  /** Peers that said DONT_HAVE, timed out or sent a corrupt copy for this want. */
  tried: Set<string>
  /** Why each peer in `tried` is there. */
  why: Map<string, TriedReason>
  unavailableAtMs?: number
  /** Peers that may hold a want entry of ours for this block (want-have or want-block): cancelled when it is done. */
  asked: Set<string>
  /** When the want was made, ms (the have-wait of broadcast sessions starts here). */
  createdMs?: number
  /** Counted in the manager's pending totals (queued to be sent). */
  counted: boolean
}

interface HeapItem { key: string, priority: number, seq: number, version: number }

/** True when `a` should be served before `b`. */
function before (a: HeapItem, b: HeapItem): boolean {
  return a.priority !== b.priority ? a.priority > b.priority : a.seq < b.seq
}

/** A binary heap ordered by priority (desc) then sequence (asc). */
class Heap {
  readonly items: HeapItem[] = []
  push (item: HeapItem): void {
    const a = this.items
    a.push(item)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(a[i] as HeapItem, a[p] as HeapItem)) break
      ;[a[i], a[p]] = [a[p] as HeapItem, a[i] as HeapItem]
      i = p
    }
  }

  peek (): HeapItem | undefined { return this.items[0] }

  pop (): HeapItem | undefined {
    const a = this.items
    const top = a[0]
    const last = a.pop()
    if (a.length > 0 && last != null) {
      a[0] = last
      let i = 0
      while (true) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && before(a[l] as HeapItem, a[m] as HeapItem)) m = l
        if (r < a.length && before(a[r] as HeapItem, a[m] as HeapItem)) m = r
        if (m === i) break
        ;[a[i], a[m]] = [a[m] as HeapItem, a[i] as HeapItem]
        i = m
      }
    }
    return top
  }

  get size (): number { return this.items.length }
}

/** Result of {@link WantListManager.blockReceived}. */
export interface BlockReceivedResult {
  /** The block is on our want-list (deliver it); otherwise it was not requested. */
  wanted: boolean
  /** Not wanted, but finished or cancelled recently: a benign late duplicate. */
  recent: boolean
  /** Sessions that wanted the block. */
  sessions: number[]
  /** The CID as wanted (its codec may differ from the sender's prefix; same multihash). */
  cid?: CID
  /**
   * Not wanted, and taken for a corrupt copy of this want (its bytes did not match): the only
   * want in flight at the sender with the block's CID prefix (and size, when known). The want
   * was failed over to other peers.
   */
  mismatch?: CID
  /**
   * Not wanted, not a late duplicate, from a peer that never delivered a block: every other
   * want in flight there was failed over too; how many.
   */
  moved?: number
}

/**
 * One want-list per node. See the module comment. Peer ids are strings; the selector passed
 * in is shared with the driver (it also feeds presence and delivery facts into it).
 */
export class WantListManager {
  readonly #selector: PeerSelector
  readonly #wants = new Map<string, Want>()
  readonly #heap = new Heap()
  readonly #outbox = new Map<string, WantEntry[]>()
  readonly #unavailable: WantEffect[] = []
  readonly #recent = new Map<string, true>()
  readonly #maxBytesInFlight: number
  readonly #estimatedBlockBytes: number
  readonly #peerIdleTimeoutMs: number
  readonly #wantTimeoutMs: number
  readonly #unprovenPeerTimeoutMs: number
  readonly #unprovenMinBytesPerSecond: number
  readonly #unprovenDeliveryFactor: number
  readonly #unprovenPeerMinTimeoutMs: number
  readonly #unprovenPeerMaxTimeoutMs: number
  readonly #unavailableRetryMs: number
  readonly #recentKeys: number
  readonly #haveWaitMs: number
  /** Swarm sessions: their live peer sets. */
  readonly #swarms = new Map<number, { peers: Set<string>, broadcast: boolean }>()
  /** Per peer: wants of ours it may hold (an entry in some want's `asked`). */
  readonly #askedCount = new Map<string, number>()
  #bytesInFlight = 0
  #seq = 0
  /** Wants waiting to be sent (state `pending`) and their estimated bytes: the selector's batch test. */
  #pendingWants = 0
  #pendingBytes = 0

  /**
   * @param selector - the peer selector (peers are added/removed through this manager)
   * @param init - see {@link WantListInit}
   */
  constructor (selector: PeerSelector, init: WantListInit = {}) {
    this.#selector = selector
    this.#maxBytesInFlight = init.maxBytesInFlight ?? DEFAULT_MAX_BYTES_IN_FLIGHT
    this.#estimatedBlockBytes = init.estimatedBlockBytes ?? DEFAULT_ESTIMATED_BLOCK_BYTES
    this.#peerIdleTimeoutMs = init.peerIdleTimeoutMs ?? DEFAULT_PEER_IDLE_TIMEOUT_MS
    this.#wantTimeoutMs = init.wantTimeoutMs ?? DEFAULT_WANT_TIMEOUT_MS
    this.#unprovenPeerTimeoutMs = init.unprovenPeerTimeoutMs ?? DEFAULT_UNPROVEN_PEER_TIMEOUT_MS
    this.#unprovenMinBytesPerSecond = init.unprovenMinBytesPerSecond ?? DEFAULT_UNPROVEN_MIN_BYTES_PER_SECOND
    this.#unprovenDeliveryFactor = init.unprovenDeliveryFactor ?? DEFAULT_UNPROVEN_DELIVERY_FACTOR
    this.#unprovenPeerMinTimeoutMs = Math.min(init.unprovenPeerMinTimeoutMs ?? DEFAULT_UNPROVEN_PEER_MIN_TIMEOUT_MS, this.#unprovenPeerTimeoutMs)
    this.#unprovenPeerMaxTimeoutMs = Math.max(init.unprovenPeerMaxTimeoutMs ?? DEFAULT_UNPROVEN_PEER_MAX_TIMEOUT_MS, this.#unprovenPeerTimeoutMs)
    this.#unavailableRetryMs = init.unavailableRetryMs ?? DEFAULT_UNAVAILABLE_RETRY_MS
    this.#recentKeys = init.recentKeys ?? 4096
    this.#haveWaitMs = init.haveWaitMs ?? DEFAULT_HAVE_WAIT_MS
  }

  /**
   * Make `session` a swarm session: its wants (those made without `peers`) go only to the
   * peers added with {@link addSessionPeer}; until one is added they wait. See the module comment.
   */
  openSession (session: number, options: SwarmSessionOptions = {}): void {
    this.#swarms.set(session, { peers: new Set(), broadcast: options.broadcast ?? true })
  }

  /** Forget a swarm session's peer set (after {@link cancelSession}). */
  closeSession (session: number): void {
    this.#swarms.delete(session)
  }

  /** The peers of swarm session `session` (empty for other sessions). */
  sessionPeers (session: number): string[] {
    return [...(this.#swarms.get(session)?.peers ?? [])]
  }

  /**
   * `peer` joins swarm session `session` (found on the DHT, answered HAVE for the root, given):
   * the session's wants may go to it from the next {@link flush}; with `broadcast`, it is sent a
   * want-have for each of them. No-op for an unknown session or a known peer.
   */
  addSessionPeer (session: number, peer: string): void {
    const swarm = this.#swarms.get(session)
    if (swarm == null || swarm.peers.has(peer)) return
    swarm.peers.add(peer)
    for (const w of this.#wants.values()) {
      if (!w.sessions.has(session)) continue
      if (w.state === 'unavailable') this.#enqueue(w)
      if (swarm.broadcast) this.#broadcastHave(w)
    }
  }

  /** Number of distinct blocks wanted. */
  get size (): number { return this.#wants.size }

  /** Estimated bytes of want-blocks outstanding. */
  get bytesInFlight (): number { return this.#bytesInFlight }

  /** State of the want for `cid`, or `undefined` when not wanted. */
  state (cid: CID): WantState | undefined {
    return this.#wants.get(blockKey(cid))?.state
  }

  /** The peer a want is outstanding at, if in flight. */
  peerOf (cid: CID): string | undefined {
    return this.#wants.get(blockKey(cid))?.peer
  }

  /** All wanted CIDs with their state and priority (for stats and `wantlist` commands). */
  entries (): Array<{ cid: CID, state: WantState, priority: number, peer?: string }> {
    return [...this.#wants.values()].map(w => ({ cid: w.cid, state: w.state, priority: w.priority, peer: w.peer }))
  }

  /**
   * Add `cid` to the want-list for `session` (idempotent per session; a second session adds a
   * reference). Takes effect at the next {@link flush}.
   */
  want (cid: CID, session: number, options: WantOptions = {}): void {
    const key = blockKey(cid)
    let w = this.#wants.get(key)
    const priority = options.priority ?? 1
    const peers = options.peers == null ? undefined : new Set(options.peers)
    if (w == null) {
      w = {
        key, cid, sessions: new Map(), priority, seq: this.#seq++, estBytes: options.sizeHint ?? this.#estimatedBlockBytes, hasSizeHint: options.sizeHint != null,
        state: 'pending', version: 0, tried: new Set(), why: new Map(), asked: new Set(), createdMs: options.nowMs, counted: false
      }
      this.#wants.set(key, w)
      this.#recent.delete(key)
      w.sessions.set(session, { priority, peers })
      this.#enqueue(w)
      this.#broadcastHave(w)
      return
    }
    w.sessions.set(session, { priority, peers })
    this.#broadcastHave(w)
    if (priority > w.priority) {
      w.priority = priority
      if (w.state === 'pending') this.#enqueue(w)
    }
    if (w.state === 'unavailable') {
      // a new asker: try every candidate again
      this.#clearTried(w)
      this.#enqueue(w)
    }
  }

  /**
   * Re-send every want of `session` as if new: the peers that failed it may be asked again
   * (a want in flight is cancelled there and asked afresh). For a stalled fetch after it
   * redialled its peers. Takes effect at the next {@link flush}.
   */
  retrySession (session: number): void {
    for (const w of this.#wants.values()) {
      if (!w.sessions.has(session)) continue
      if (w.state === 'inflight' && w.peer != null) {
        this.#queueCancel(w.peer, w.cid)
        this.#unask(w, w.peer)
        this.#release(w)
      }
      this.#clearTried(w)
      this.#enqueue(w)
    }
  }

  /**
   * Drop `session`'s reference to `cid`. When no session wants it any more, the want is removed
   * and a cancel queued for the peer it was outstanding at.
   */
  cancel (cid: CID, session: number): void {
    const key = blockKey(cid)
    const w = this.#wants.get(key)
    if (w == null || !w.sessions.delete(session)) return
    if (w.sessions.size > 0) {
      w.priority = Math.max(...[...w.sessions.values()].map(s => s.priority))
      return
    }
    if (w.state === 'inflight' && w.peer != null) this.#release(w)
    this.#cancelAsked(w)
    this.#remove(w)
  }

  /**
   * Drop every want of `session` (a session ended or was aborted).
   */
  cancelSession (session: number): void {
    for (const w of [...this.#wants.values()]) {
      if (w.sessions.has(session)) this.cancel(w.cid, session)
    }
  }

  /**
   * A block arrived from `peer` (its CID computed from its bytes). If wanted, the want is
   * finished: the peer we asked is credited (or, when another peer delivered, sent a cancel).
   *
   * @param cid - the CID computed from the received bytes
   * @param peer - the sender
   * @param bytes - the block's length
   * @param nowMs - current time
   */
  blockReceived (cid: CID, peer: string, bytes: number, nowMs: number): BlockReceivedResult {
    const key = blockKey(cid)
    const w = this.#wants.get(key)
    // unrequested blocks do not count as "heard": a peer cannot keep wants alive with junk
    if (w == null) {
      const recent = this.#recent.has(key)
      const corrupt = recent ? undefined : this.#corruptCopyOf(cid, peer, bytes)
      if (corrupt != null) {
        this.#release(corrupt)
        this.#selector.onFailure(peer)
        this.#tried(corrupt, peer, 'mismatch')
        this.#enqueue(corrupt)
      }
      let moved = 0
      if (!recent) {
        // junk: what else arrives from this peer is no block in transit; a peer that never
        // delivered and sends junk loses every want it holds now (an honest one sends neither)
        this.#selector.forfeitArrivals(peer)
        if ((this.#selector.stats(peer)?.samples ?? 1) === 0) moved = this.#failPeerWants(peer, 'mismatch')
      }
      return { wanted: false, recent, sessions: [], ...(corrupt != null ? { mismatch: corrupt.cid } : {}), ...(moved > 0 ? { moved } : {}) }
    }
    this.#selector.onHeard(peer, nowMs)
    if (w.state === 'inflight' && w.peer != null) {
      if (w.peer === peer) {
        this.#selector.onBlock(peer, bytes, w.estBytes, w.sentAtMs ?? nowMs, nowMs)
        this.#bytesInFlight -= w.estBytes
        w.peer = undefined
        w.sentAtMs = undefined
      } else {
        this.#release(w)
      }
    }
    // the sender's entry is gone with the block; every other peer asked gets a cancel
    this.#unask(w, peer)
    this.#cancelAsked(w)
    const sessions = [...w.sessions.keys()]
    this.#remove(w)
    return { wanted: true, recent: false, sessions, cid: w.cid }
  }

  /**
   * A HAVE or DONT_HAVE from `peer`. A DONT_HAVE for a want outstanding there fails it over.
   */
  presence (cid: CID, peer: string, type: PresenceType, nowMs: number): void {
    const key = blockKey(cid)
    const w = this.#wants.get(key)
    this.#selector.onPresence(peer, w?.peer === peer ? w.sentAtMs : undefined, nowMs)
    if (w == null) return
    this.#selector.setPresence(key, peer, type)
    if (type === 'dont-have') {
      this.#tried(w, peer, 'dont-have')
      if (w.state === 'inflight' && w.peer === peer) {
        this.#release(w)
        this.#enqueue(w)
        if (this.#isBroadcast(w) && this.#selector.has(peer)) {
          // it keeps our want-block until it gets the block, then pushes it: ask it to say HAVE instead
          this.#queueCancel(peer, w.cid)
          this.#queue(peer, { cid: w.cid, priority: w.priority, cancel: false, wantType: 'have', sendDontHave: true })
        }
      }
    } else {
      // a HAVE after a DONT_HAVE (the peer got the block since): it may be asked again
      if (w.why.get(peer) === 'dont-have') {
        w.tried.delete(peer)
        w.why.delete(peer)
      }
      if (w.state === 'unavailable') this.#enqueue(w)
    }
  }

  /**
   * A peer speaking an exchange protocol connected (or upgraded its protocol). Parked and
   * unavailable wants become pending again: the new peer may have them.
   */
  peerConnected (peer: string, supportsHave: boolean, nowMs: number): void {
    const isNew = !this.#selector.has(peer)
    this.#selector.addPeer(peer, supportsHave, nowMs)
    if (!isNew) return
    for (const w of this.#wants.values()) {
      if (w.state === 'unavailable') this.#enqueue(w)
      // a swarm session peer added before it was connected hears our wants now
      this.#broadcastHave(w)
    }
  }

  /**
   * A peer's connection is gone while blocks it sent are still being read (its bulk lane and
   * buffered frames are read to their end before {@link peerDisconnected}): it takes no new wants, and those in flight at it
   * stay there, so a block already on the wire is not fetched twice (a provider killed mid-fetch
   * delivered what its socket held after its libp2p connection closed, and the moved wants
   * came again from the survivors).
   */
  peerDeparting (peer: string): void {
    this.#selector.setDeparting(peer)
  }

  /**
   * A peer disconnected: its outstanding wants go back to pending (asked elsewhere at the next
   * flush), and what it told us is forgotten.
   */
  peerDisconnected (peer: string): void {
    for (const w of this.#wants.values()) {
      if (w.state === 'inflight' && w.peer === peer) {
        this.#release(w)
        this.#enqueue(w)
      }
      w.tried.delete(peer)
      w.why.delete(peer)
      w.asked.delete(peer)
    }
    this.#askedCount.delete(peer)
    this.#outbox.delete(peer)
    this.#selector.removePeer(peer)
  }

  /**
   * Time passes: time out wants at silent or slow peers (cancel sent, peer penalised in the
   * selector, want re-queued) and retry unavailable wants whose delay is over.
   *
   * @returns the wants timed out now, for the log
   */
  tick (nowMs: number): WantTimeout[] {
    const timeouts: WantTimeout[] = []
    for (const w of this.#wants.values()) {
      if (w.state === 'inflight' && w.peer != null && w.sentAtMs != null) {
        const heard = this.#selector.stats(w.peer)?.lastHeardMs ?? w.sentAtMs
        const idle = nowMs - Math.max(w.sentAtMs, heard)
        const why = idle > this.#peerIdleTimeoutMs ? 'idle' : nowMs - w.sentAtMs > this.#wantTimeoutMs ? 'want' : this.#unprovenTimedOut(w, nowMs) ? 'unproven' : undefined
        if (why != null) {
          const peer = w.peer
          timeouts.push({ cid: w.cid, peer, why, waitedMs: nowMs - w.sentAtMs })
          this.#selector.onFailure(peer)
          this.#giveUp(w, peer, 'timeout')
        }
      } else if (w.state === 'unavailable' && w.unavailableAtMs != null && nowMs - w.unavailableAtMs >= this.#unavailableRetryMs) {
        this.#clearTried(w)
        this.#enqueue(w)
      }
    }
    return timeouts
  }

  /**
   * Assign pending wants to peers (priority order, within the in-flight caps) and return all
   * queued effects: one `send` per peer with its new wants and cancels, and an `unavailable`
   * per want no candidate can serve.
   */
  flush (nowMs: number): WantEffect[] {
    this.#schedule(nowMs)
    const effects: WantEffect[] = this.#unavailable.splice(0)
    for (const [peer, entries] of this.#outbox) {
      if (entries.length > 0) effects.push({ type: 'send', peer, entries })
    }
    this.#outbox.clear()
    return effects
  }

  #schedule (nowMs: number): void {
    // each flush is one round of picks: a busy peer is topped up in batches (the selector's refill hysteresis)
    this.#selector.startRound(this.#pendingBytes, this.#pendingWants)
    const parked: Want[] = []
    while (this.#heap.size > 0) {
      const top = this.#heap.peek() as HeapItem
      const w = this.#wants.get(top.key)
      if (w == null || w.state !== 'pending' || w.version !== top.version) {
        this.#heap.pop()
        continue
      }
      if (this.#bytesInFlight > 0 && this.#bytesInFlight + w.estBytes > this.#maxBytesInFlight) break
      const allowed = this.#allowed(w)
      const candidates = this.#selector.eligible(w.key, { exclude: w.tried, allowed })
      if (candidates.length === 0) {
        this.#heap.pop()
        const anyPeer = this.#selector.peers().some(p => allowed == null || allowed.has(p))
        if (anyPeer) {
          // every candidate said no or timed out
          this.#uncount(w)
          w.state = 'unavailable'
          w.unavailableAtMs = nowMs
          const reasons = [...w.why].map(([peer, reason]) => ({ peer, reason }))
          const definitive = reasons.length > 0 && reasons.every(r => r.reason !== 'timeout')
          this.#unavailable.push({ type: 'unavailable', cid: w.cid, key: w.key, reasons, definitive })
        } else {
          // no peer to ask yet: stay pending, retried when one connects
          parked.push(w)
        }
        continue
      }
      let pickFrom = allowed
      const broadcast = this.#isBroadcast(w)
      if (broadcast) {
        w.createdMs ??= nowMs
        // only peers that said HAVE (or cannot say it); peers that did not answer only once the
        // have-wait is over and still nobody said HAVE (in a swarm, a leecher that has not
        // answered yet most likely lacks the block: asking it sat the want out for the
        // unproven-peer timeout while the seeder had it)
        let ready = candidates.filter(p => !this.#selector.supportsHave(p) || this.#selector.presence(w.key, p) === 'have')
        if (ready.length === 0 && nowMs - w.createdMs >= this.#haveWaitMs) ready = candidates
        if (ready.length === 0) {
          this.#heap.pop()
          parked.push(w)
          // peers not asked yet (at their want-have cap when the want was made) are asked now
          this.#broadcastHave(w)
          continue
        }
        pickFrom = new Set(ready)
      }
      const peer = this.#selector.pick(w.key, w.estBytes, { exclude: w.tried, allowed: pickFrom })
      if (peer == null) {
        // all candidates are at their per-peer cap: keep priority order, except that in a
        // broadcast session another want may have HAVE peers with room
        if (!broadcast) break
        this.#heap.pop()
        parked.push(w)
        continue
      }
      this.#heap.pop()
      this.#uncount(w)
      w.state = 'inflight'
      w.peer = peer
      w.sentAtMs = nowMs
      w.bytesArrivedAtSend = this.#selector.bytesArrived(peer)
      this.#ask(w, peer)
      this.#bytesInFlight += w.estBytes
      this.#selector.onSent(peer, w.estBytes, nowMs)
      this.#queue(peer, {
        cid: w.cid,
        priority: w.priority,
        cancel: false,
        wantType: 'block',
        sendDontHave: this.#selector.supportsHave(peer)
      })
    }
    for (const w of parked) this.#heap.push({ key: w.key, priority: w.priority, seq: w.seq, version: w.version })
  }

  /**
   * Whether `w` (in flight) sits at a peer that never delivered a block for longer than the
   * unproven-peer timeout while another peer could be asked for it (its HAVEs do not count:
   * a peer cannot hold wants with promises). A peer whose bytes have been arriving since the
   * want was sent at {@link DEFAULT_UNPROVEN_MIN_BYTES_PER_SECOND} or more keeps it: its first
   * frame is in transit (a 4 MiB message takes over a second on a third of 100 Mbit/s), and
   * asking another peer would fetch the block twice.
   */
  #unprovenTimedOut (w: Want, nowMs: number): boolean {
    if (w.peer == null || w.sentAtMs == null) return false
    const elapsed = nowMs - w.sentAtMs
    if (elapsed <= this.#unprovenPeerMinTimeoutMs) return false
    if ((this.#selector.stats(w.peer)?.samples ?? 1) > 0) return false
    // only for wants at unproven peers: this walks the peers
    if (elapsed <= this.unprovenTimeoutMs()) return false
    const arrived = this.#selector.bytesArrived(w.peer) - (w.bytesArrivedAtSend ?? 0)
    if (arrived > 0 && arrived * 1000 >= this.#unprovenMinBytesPerSecond * elapsed) return false
    const exclude = new Set(w.tried).add(w.peer)
    return this.#selector.eligible(w.key, { exclude, allowed: this.#allowed(w) }).length > 0
  }

  /**
   * The unproven-peer timeout now, ms: `unprovenPeerTimeoutMs` until a proven peer's delivery
   * time is known, then `unprovenDeliveryFactor` times the fastest one's
   * (`PeerSelector.fastestDeliveryMs`) within `unprovenPeerMinTimeoutMs .. unprovenPeerMaxTimeoutMs`:
   * shorter next to a fast seeder (a silent liar loses its wants in a few hundred ms on
   * loopback), longer where every peer is slow (leechers sharing 100 Mbit/s links take seconds
   * for a first block, and asking another after 1 s fetched it twice).
   */
  unprovenTimeoutMs (): number {
    const fastest = this.#selector.fastestDeliveryMs()
    if (fastest == null) return this.#unprovenPeerTimeoutMs
    return Math.min(this.#unprovenPeerMaxTimeoutMs, Math.max(this.#unprovenPeerMinTimeoutMs, this.#unprovenDeliveryFactor * fastest))
  }

  #tried (w: Want, peer: string, reason: TriedReason): void {
    w.tried.add(peer)
    w.why.set(peer, reason)
  }

  /** Fail over every want in flight at `peer` (see {@link #giveUp}); one failure for the peer. Returns how many. */
  #failPeerWants (peer: string, reason: TriedReason): number {
    let n = 0
    for (const w of this.#wants.values()) {
      if (w.state !== 'inflight' || w.peer !== peer) continue
      this.#giveUp(w, peer, reason)
      n++
    }
    if (n > 0) this.#selector.onFailure(peer)
    return n
  }

  /** Take `w` (in flight at `peer`) back: a cancel queued for the peer, tried there with `reason`, pending again. */
  #giveUp (w: Want, peer: string, reason: TriedReason): void {
    this.#queueCancel(peer, w.cid)
    this.#unask(w, peer)
    this.#release(w)
    this.#tried(w, peer, reason)
    this.#enqueue(w)
  }

  #clearTried (w: Want): void {
    w.tried.clear()
    w.why.clear()
  }

  /**
   * The want a block that matched no want is a corrupt copy of: the only want in flight at
   * `peer` whose CID has the block's prefix (version, codec, hash function, digest length)
   * and, when it has a size hint, the block's size. Undefined when none or several do.
   */
  #corruptCopyOf (cid: CID, peer: string, bytes: number): Want | undefined {
    let found: Want | undefined
    for (const w of this.#wants.values()) {
      if (w.state !== 'inflight' || w.peer !== peer) continue
      if (w.cid.version !== cid.version || w.cid.code !== cid.code || w.cid.multihash.code !== cid.multihash.code || w.cid.multihash.digest.byteLength !== cid.multihash.digest.byteLength) continue
      if (w.hasSizeHint && w.estBytes !== bytes) continue
      if (found != null) return undefined
      found = w
    }
    return found
  }

  #allowed (w: Want): Set<string> | undefined {
    let union: Set<string> | undefined
    for (const [id, s] of w.sessions) {
      const peers = s.peers ?? this.#swarms.get(id)?.peers
      if (peers == null) return undefined
      union ??= new Set()
      for (const p of peers) union.add(p)
    }
    return union
  }

  /** Whether some session of `w` is a broadcast swarm session (and none is open to any peer). */
  #isBroadcast (w: Want): boolean {
    let any = false
    for (const [id, s] of w.sessions) {
      if (s.peers != null) continue
      const swarm = this.#swarms.get(id)
      if (swarm == null) return false
      any ||= swarm.broadcast
    }
    return any
  }

  /** Queue a want-have for `w` to every session peer not asked yet that can answer one (at most half the remote's want-list cap each). */
  #broadcastHave (w: Want): void {
    if (!this.#isBroadcast(w) || w.state === 'unavailable') return
    const peers = this.#allowed(w)
    if (peers == null) return
    for (const p of peers) {
      if (w.asked.has(p) || w.peer === p || !this.#selector.supportsHave(p) || this.#selector.presence(w.key, p) != null) continue
      if ((this.#askedCount.get(p) ?? 0) >= this.#selector.maxPeerWantsInFlight) continue
      this.#ask(w, p)
      this.#queue(p, { cid: w.cid, priority: w.priority, cancel: false, wantType: 'have', sendDontHave: true })
    }
  }

  #ask (w: Want, peer: string): void {
    if (w.asked.has(peer)) return
    w.asked.add(peer)
    this.#askedCount.set(peer, (this.#askedCount.get(peer) ?? 0) + 1)
  }

  #unask (w: Want, peer: string): void {
    if (!w.asked.delete(peer)) return
    const n = (this.#askedCount.get(peer) ?? 1) - 1
    if (n <= 0) this.#askedCount.delete(peer)
    else this.#askedCount.set(peer, n)
  }

  /** Cancel `w` at every peer still asked (connected ones; the entry dies with a disconnect). */
  #cancelAsked (w: Want): void {
    for (const p of [...w.asked]) {
      if (this.#selector.has(p)) this.#queueCancel(p, w.cid)
      this.#unask(w, p)
    }
  }

  #enqueue (w: Want): void {
    if (!w.counted) {
      w.counted = true
      this.#pendingWants++
      this.#pendingBytes += w.estBytes
    }
    w.state = 'pending'
    w.peer = undefined
    w.sentAtMs = undefined
    w.unavailableAtMs = undefined
    w.version++
    this.#heap.push({ key: w.key, priority: w.priority, seq: w.seq, version: w.version })
  }

  /** Return an in-flight want's bytes to the budgets (the want keeps its state for the caller to set). */
  #release (w: Want): void {
    if (w.state !== 'inflight' || w.peer == null) return
    this.#selector.onReleased(w.peer, w.estBytes)
    this.#bytesInFlight -= w.estBytes
    w.peer = undefined
    w.sentAtMs = undefined
  }

  /** `w` leaves the pending totals (sent, unavailable or removed). */
  #uncount (w: Want): void {
    if (!w.counted) return
    w.counted = false
    this.#pendingWants--
    this.#pendingBytes -= w.estBytes
  }

  #remove (w: Want): void {
    this.#uncount(w)
    this.#wants.delete(w.key)
    this.#selector.forget(w.key)
    this.#recent.set(w.key, true)
    if (this.#recent.size > this.#recentKeys) {
      const oldest = this.#recent.keys().next().value
      if (oldest != null) this.#recent.delete(oldest)
    }
    // compact the heap when stale entries dominate
    if (this.#heap.size > 1024 && this.#heap.size > 4 * this.#wants.size) {
      const live = this.#heap.items.filter(i => this.#wants.get(i.key)?.version === i.version && this.#wants.get(i.key)?.state === 'pending')
      this.#heap.items.length = 0
      for (const i of live) this.#heap.push(i)
    }
  }

  #queueCancel (peer: string, cid: CID): void {
    this.#queue(peer, { cid, priority: 0, cancel: true, wantType: 'block', sendDontHave: false })
  }

  #queue (peer: string, entry: WantEntry): void {
    let list = this.#outbox.get(peer)
    if (list == null) {
      list = []
      this.#outbox.set(peer, list)
    }
    // a cancel after an unsent want for the same CID annuls both
    if (entry.cancel) {
      const i = list.findIndex(e => !e.cancel && e.cid.equals(entry.cid))
      if (i >= 0) {
        list.splice(i, 1)
        return
      }
    }
    list.push(entry)
  }

  /**
   * What the manager holds, for a diagnostic log line (a stalled session logs it before it
   * recovers): wants by state, bytes in flight against the cap, and per selector peer its
   * wants and bytes in flight, its byte cap and its blocks delivered.
   */
  summary (): WantListSummary {
    const states: Record<WantState, number> = { pending: 0, inflight: 0, unavailable: 0 }
    for (const w of this.#wants.values()) states[w.state]++
    const peers: WantListSummary['peers'] = {}
    for (const peer of this.#selector.peers()) {
      const st = this.#selector.stats(peer)
      if (st == null) continue
      peers[peer] = { wantsInFlight: st.wantsInFlight, bytesInFlight: st.bytesInFlight, byteCap: this.#selector.peerByteCap(peer), blocks: st.samples, failures: st.failures }
    }
    return { wants: this.#wants.size, states, bytesInFlight: this.#bytesInFlight, maxBytesInFlight: this.#maxBytesInFlight, queued: this.#heap.size, peers }
  }

  /**
   * Check internal consistency; throws `Error` naming the broken invariant (tests only).
   */
  assertInvariants (): void {
    let bytes = 0
    const perPeer = new Map<string, { bytes: number, wants: number }>()
    const live = new Set<string>()
    const asked = new Map<string, number>()
    for (const i of this.#heap.items) {
      const w = this.#wants.get(i.key)
      if (w != null && w.state === 'pending' && w.version === i.version) live.add(i.key)
    }
    for (const w of this.#wants.values()) {
      if (w.sessions.size === 0) throw new Error(`want ${w.key}: no sessions`)
      if (w.state === 'inflight') {
        if (w.peer == null || w.sentAtMs == null) throw new Error(`want ${w.key}: in flight without peer`)
        if (!this.#selector.has(w.peer)) throw new Error(`want ${w.key}: in flight at unknown peer ${w.peer}`)
        if (w.tried.has(w.peer)) throw new Error(`want ${w.key}: in flight at a peer that already failed it`)
        bytes += w.estBytes
        const p = perPeer.get(w.peer) ?? { bytes: 0, wants: 0 }
        p.bytes += w.estBytes
        p.wants++
        perPeer.set(w.peer, p)
      } else if (w.peer != null) {
        throw new Error(`want ${w.key}: ${w.state} but has peer`)
      }
      if (w.state === 'pending' && !live.has(w.key)) throw new Error(`want ${w.key}: pending but not queued`)
      if (w.state === 'inflight' && w.peer != null && !w.asked.has(w.peer)) throw new Error(`want ${w.key}: in flight at ${w.peer} but not recorded as asked there`)
      for (const p of w.asked) asked.set(p, (asked.get(p) ?? 0) + 1)
    }
    for (const [p, n] of asked) if (this.#askedCount.get(p) !== n) throw new Error(`peer ${p}: asked count ${this.#askedCount.get(p)} != ${n}`)
    for (const p of this.#askedCount.keys()) if (!asked.has(p)) throw new Error(`peer ${p}: asked count kept for no want`)
    if (bytes !== this.#bytesInFlight) throw new Error(`bytesInFlight ${this.#bytesInFlight} != sum ${bytes}`)
    let pendingWants = 0
    let pendingBytes = 0
    for (const w of this.#wants.values()) {
      if (w.counted !== (w.state === 'pending')) throw new Error(`want ${w.key}: ${w.state} but ${w.counted ? '' : 'not '}counted as pending`)
      if (w.counted) { pendingWants++; pendingBytes += w.estBytes }
    }
    if (pendingWants !== this.#pendingWants || pendingBytes !== this.#pendingBytes) throw new Error(`pending ${this.#pendingWants}/${this.#pendingBytes} != sum ${pendingWants}/${pendingBytes}`)
    for (const peer of this.#selector.peers()) {
      const s = this.#selector.stats(peer)
      const p = perPeer.get(peer) ?? { bytes: 0, wants: 0 }
      if (s == null || s.bytesInFlight !== p.bytes || s.wantsInFlight !== p.wants) {
        throw new Error(`peer ${peer}: selector in-flight ${s?.bytesInFlight}/${s?.wantsInFlight} != want-list ${p.bytes}/${p.wants}`)
      }
    }
    if (this.#recent.size > this.#recentKeys) throw new Error('recent keys over capacity')
    this.#selector.assertInvariants()
  }
}

/**
 * The pure core of a {@link Session}: the DAG walk and the window, with every effect left to
 * the driver (`session.ts`), as the {@link WantListManager} is for the node's want-list.
 *
 * No I/O, no promises, no timers. The driver feeds in what happened and carries out what the
 * core returns:
 *
 * - {@link SessionCore.next} hands out the next block in walk order while the window has room
 *   (reserving its share). The driver checks the blockstore: a block that is there is reported
 *   with {@link SessionCore.local} (its children are walked next), any other is turned into a
 *   network want with {@link SessionCore.want}, which gives it its wire priority.
 * - {@link SessionCore.arrived}: the bytes of a wanted block came (verified) and are being
 *   stored; its children are walked next. The block keeps its window share until
 *   {@link SessionCore.stored}: the window bounds every block byte the session holds (asked,
 *   received and waiting, being written).
 * - {@link SessionCore.failed}: a want or a put failed; the session is over.
 * - {@link SessionCore.progress} and {@link SessionCore.tick}: the progress deadline (time is
 *   an input, ms). While blocks are wanted from the network and none arrived for
 *   `progressTimeoutMs`, `tick` returns `recover` once (the driver redials and re-sends its
 *   wants; the deadline starts again), then `stalled` (the session is over; the driver fails it
 *   with `FetchStalledError`). Time spent with nothing wanted (only local reads or puts) does
 *   not count (spec/tensorswap.md section 4, "Progress deadline").
 * - {@link SessionCore.candidates}: how many of the session's candidate peers are connected
 *   (speaking an exchange protocol) now. When that falls to 0 (the last one disconnected, or
 *   none connected at the start), the driver need not wait for the deadline: `tick` returns
 *   `redial` while blocks are wanted, the first time after `redialBackoffMs` and then after
 *   waits that double up to `maxRedialBackoffMs`, each drawn at random between half and all
 *   of its bound (jitter), at most `promptRedials` times; a candidate connecting again ends
 *   them (a later loss starts a new count). Redials do not move the progress deadline, which
 *   still bounds the whole; {@link SessionCore.nextWakeMs} says when the next one is due.
 *
 * Effects ({@link SessionEffect}): `progress` per block stored or found locally, `done` once
 * when the walk is complete and nothing is outstanding, `failed` once on the first failure,
 * `recover` and `stalled` from the progress deadline, `redial` after the candidates were lost.
 *
 * Order: depth-first, children in the order the children function gives them; the children of
 * a block are handed out before the siblings of that block not yet handed out, so with a
 * window of one block the walk is exactly DFS pre-order. A CID is handed out at most once per
 * session (a DAG that links a block twice fetches it once). Earlier wants get higher wire
 * priority ({@link SESSION_ROOT_PRIORITY} counting down, floored at int32 min); with
 * `priorityJitter` (swarm sessions) each want after the root is lowered by a random number of
 * positions below that bound.
 *
 * Window: a block is handed out while fewer than `maxWantsAhead` are outstanding and the
 * estimated bytes outstanding are 0 or under `maxBytesAhead` (so one block larger than the
 * bound is still fetched, alone); a block's estimate is its size hint, else
 * `estimatedBlockBytes`.
 *
 * @module
 */

import { DEFAULT_ESTIMATED_BLOCK_BYTES, DEFAULT_FETCH_PROGRESS_TIMEOUT_MS, DEFAULT_FETCH_PROMPT_REDIALS, DEFAULT_FETCH_REDIAL_BACKOFF_MS, DEFAULT_FETCH_REDIAL_MAX_BACKOFF_MS, DEFAULT_MAX_BYTES_IN_FLIGHT, DEFAULT_MAX_WANTS_AHEAD, SESSION_ROOT_PRIORITY } from './constants.js'
import { blockKey } from './wire/block-key.js'
import type { BlockProgressDetail } from '@tensorswap/blockstore'
import type { CID } from 'multiformats/cid'

/** A child link with an optional size hint in bytes. */
export interface Child {
  cid: CID
  /** Expected block size, bytes (a dag-pb `Tsize` of a raw leaf, a manifest chunk size). */
  sizeHint?: number
}

/** What a finished session did. */
export interface SessionResult {
  /** Blocks fetched from peers and stored. */
  blocksFetched: number
  bytesFetched: number
  /** Blocks found already in the blockstore. */
  blocksLocal: number
  /** Bytes of local blocks that were read to follow their links (raw leaves are not read). */
  bytesLocalRead: number
}

/** Options of {@link SessionCore}. */
export interface SessionCoreInit {
  /** Most blocks handed out and not yet stored (or found local). @default {@link DEFAULT_MAX_WANTS_AHEAD} */
  maxWantsAhead?: number
  /** Most estimated bytes handed out and not yet stored, bytes. @default {@link DEFAULT_MAX_BYTES_IN_FLIGHT} */
  maxBytesAhead?: number
  /** Estimate for a block without a size hint, bytes. @default {@link DEFAULT_ESTIMATED_BLOCK_BYTES} */
  estimatedBlockBytes?: number
  /** Wire priority of the first want; later ones count down. @default {@link SESSION_ROOT_PRIORITY} */
  rootPriority?: number
  /**
   * The progress deadline: no block arrived for this long while blocks are wanted, ms
   * (`Infinity` turns it off). @default {@link DEFAULT_FETCH_PROGRESS_TIMEOUT_MS}
   */
  progressTimeoutMs?: number
  /** When the session started, ms (the deadline's first start). @default 0 */
  startMs?: number
  /** How many times `recover` is returned before `stalled`. @default 1 */
  recoveries?: number
  /**
   * Lower each want's priority by a random 0..this-1 positions (swarm sessions:
   * `DEFAULT_SWARM_PRIORITY_JITTER`), so peers fetching together ask for different blocks
   * first. @default 0 (priorities strictly decreasing)
   */
  priorityJitter?: number
  /** Uniform [0, 1) source for the jitter (priorities and redial waits). @default Math.random */
  random?: () => number
  /** Bound of the wait before the first prompt redial after the candidates were lost, ms. @default {@link DEFAULT_FETCH_REDIAL_BACKOFF_MS} */
  redialBackoffMs?: number
  /** Bound of the longest wait between prompt redials, ms. @default {@link DEFAULT_FETCH_REDIAL_MAX_BACKOFF_MS} */
  maxRedialBackoffMs?: number
  /** Most prompt redials per loss of the candidates (0 turns them off). @default {@link DEFAULT_FETCH_PROMPT_REDIALS} */
  promptRedials?: number
}

/** A block handed out by {@link SessionCore.next}: look for it locally, else want it. */
export interface SessionVisit {
  cid: CID
  /** `blockKey(cid)`: what every other call names the block by. */
  key: string
  /** Expected size, bytes, when the parent said. */
  sizeHint?: number
  /** Its share of the byte window, bytes (the size hint, else the estimate). */
  estBytes: number
}

/** A block to ask the network for (from {@link SessionCore.want}). */
export interface SessionWant extends SessionVisit {
  /** Wire priority (int32, higher first); strictly decreasing in the order wants are made. */
  priority: number
}

/** What the driver must do or report. */
export type SessionEffect =
  /** Report a block stored (`from: 'network'`) or found in the blockstore (`from: 'local'`). */
  | { type: 'progress', detail: BlockProgressDetail }
  /** The walk is complete and every block is stored: the session succeeded (emitted once). */
  | { type: 'done', result: SessionResult }
  /** The first failure: the session is over; the driver cancels what is outstanding and rethrows `error`. */
  | { type: 'failed', cid: CID, error: unknown }
  /**
   * The progress deadline passed (nothing arrived for `idleMs` while `waiting` blocks were
   * wanted): redial the peers and re-send the wants (`attempt` counts from 1); the deadline
   * starts again.
   */
  | { type: 'recover', attempt: number, idleMs: number, waiting: number }
  /**
   * The progress deadline passed again after every recovery: the session is over; the driver
   * cancels what is outstanding and fails with `FetchStalledError`. `idleMs` is the time since
   * the last block arrived, ms; `waiting` the blocks still wanted.
   */
  | { type: 'stalled', idleMs: number, waiting: number }
  /**
   * No candidate peer has been connected for `lostMs` while `waiting` blocks are wanted: dial
   * the given peers that are not connected (once each: the core spaces the attempts) and
   * re-send the wants. `attempt` counts from 1 per loss; the progress deadline is not moved.
   */
  | { type: 'redial', attempt: number, lostMs: number, waiting: number }

/** Where a handed-out block is. */
type Stage = 'visiting' | 'wanted' | 'storing'

interface Active {
  visit: SessionVisit
  stage: Stage
  /** Received bytes and sender, once arrived. */
  bytes?: number
  peer?: string
}

/**
 * The walk and window of one session. See the module comment. Create one per fetch.
 *
 * Methods throw `Error` (a driver bug, never input-dependent) when named blocks are not in the
 * stage the call needs.
 */
export class SessionCore {
  readonly #maxWantsAhead: number
  readonly #maxBytesAhead: number
  readonly #estimatedBlockBytes: number
  readonly #rootPriority: number
  /** DFS stack of child lists with cursors. */
  readonly #stack: Array<{ items: Child[], i: number }> = []
  /** Keys ever pushed (each is handed out at most once). */
  readonly #seen = new Set<string>()
  readonly #active = new Map<string, Active>()
  readonly #result: SessionResult = { blocksFetched: 0, bytesFetched: 0, blocksLocal: 0, bytesLocalRead: 0 }
  #bytesAhead = 0
  #wantsMade = 0
  readonly #progressTimeoutMs: number
  readonly #recoveries: number
  /** Last progress (a block arrived, was stored or found local), ms. */
  #lastProgressMs: number
  /** Start of the current deadline (the last progress, a recovery, or the end of a wait on nothing), ms. */
  #deadlineStartMs: number
  #recovered = 0
  readonly #priorityJitter: number
  readonly #random: () => number
  readonly #redialBackoffMs: number
  readonly #maxRedialBackoffMs: number
  readonly #promptRedials: number
  /** Since when no candidate is connected, ms; `undefined` while one is (or none was reported). */
  #lostAtMs: number | undefined
  /** When the next prompt redial is due, ms; `undefined` when none is. */
  #redialAtMs: number | undefined
  /** Prompt redials made since the candidates were lost. */
  #redials = 0
  #state: 'running' | 'done' | 'failed' = 'running'

  /**
   * @param root - the DAG root, the first block handed out
   * @param init - see {@link SessionCoreInit}
   */
  constructor (root: CID, init: SessionCoreInit = {}) {
    this.#maxWantsAhead = Math.max(1, init.maxWantsAhead ?? DEFAULT_MAX_WANTS_AHEAD)
    this.#maxBytesAhead = init.maxBytesAhead ?? DEFAULT_MAX_BYTES_IN_FLIGHT
    this.#estimatedBlockBytes = init.estimatedBlockBytes ?? DEFAULT_ESTIMATED_BLOCK_BYTES
    this.#rootPriority = init.rootPriority ?? SESSION_ROOT_PRIORITY
    this.#progressTimeoutMs = init.progressTimeoutMs ?? DEFAULT_FETCH_PROGRESS_TIMEOUT_MS
    this.#recoveries = init.recoveries ?? 1
    this.#priorityJitter = Math.max(0, Math.floor(init.priorityJitter ?? 0))
    this.#random = init.random ?? Math.random
    this.#redialBackoffMs = Math.max(0, init.redialBackoffMs ?? DEFAULT_FETCH_REDIAL_BACKOFF_MS)
    this.#maxRedialBackoffMs = Math.max(this.#redialBackoffMs, init.maxRedialBackoffMs ?? DEFAULT_FETCH_REDIAL_MAX_BACKOFF_MS)
    this.#promptRedials = Math.max(0, Math.floor(init.promptRedials ?? DEFAULT_FETCH_PROMPT_REDIALS))
    this.#lastProgressMs = this.#deadlineStartMs = init.startMs ?? 0
    this.#push([{ cid: root }])
  }

  /** `running` until `done` (success) or `failed`. */
  get state (): 'running' | 'done' | 'failed' { return this.#state }

  /** Blocks handed out and not yet stored or found local. */
  get outstanding (): number { return this.#active.size }

  /** Estimated bytes of the blocks handed out and not yet stored, bytes. */
  get bytesAhead (): number { return this.#bytesAhead }

  /** Counts so far (a copy; final once `state` is `done`). */
  get result (): SessionResult { return { ...this.#result } }

  /** Whether the window has room for another block. */
  get hasRoom (): boolean {
    return this.#active.size < this.#maxWantsAhead && (this.#bytesAhead === 0 || this.#bytesAhead < this.#maxBytesAhead)
  }

  /**
   * The next block in walk order, its window share reserved; `undefined` when the window is
   * full, nothing is left to hand out now, or the session is over.
   */
  next (): SessionVisit | undefined {
    if (this.#state !== 'running' || !this.hasRoom) return undefined
    while (this.#stack.length > 0) {
      const top = this.#stack[this.#stack.length - 1] as { items: Child[], i: number }
      if (top.i >= top.items.length) {
        this.#stack.pop()
        continue
      }
      const child = top.items[top.i++] as Child
      const visit: SessionVisit = { cid: child.cid, key: blockKey(child.cid), sizeHint: child.sizeHint, estBytes: child.sizeHint ?? this.#estimatedBlockBytes }
      this.#active.set(visit.key, { visit, stage: 'visiting' })
      this.#bytesAhead += visit.estBytes
      return visit
    }
    return undefined
  }

  /**
   * The visited block `key` is in the blockstore: its share is released and its `children`
   * (empty for a raw leaf, which is not read) are walked next.
   *
   * @param bytesRead - bytes read to find its links; absent when it was not read
   */
  local (key: string, children: Child[], bytesRead?: number): SessionEffect[] {
    const a = this.#take(key, 'visiting')
    this.#result.blocksLocal++
    if (bytesRead != null) this.#result.bytesLocalRead += bytesRead
    this.#push(children)
    const effects: SessionEffect[] = [{ type: 'progress', detail: { cid: a.visit.cid, bytes: bytesRead ?? a.visit.sizeHint ?? 0, from: 'local' } }]
    return this.#maybeDone(effects)
  }

  /** The visited block `key` is not local: ask the network, at the returned priority. */
  want (key: string): SessionWant {
    const a = this.#get(key, 'visiting')
    a.stage = 'wanted'
    const jitter = this.#priorityJitter > 1 && this.#wantsMade > 0 ? Math.floor(this.#random() * this.#priorityJitter) : 0
    const priority = Math.max(-(2 ** 31), this.#rootPriority - this.#wantsMade++ - jitter)
    return { ...a.visit, priority }
  }

  /**
   * The wanted block `key` arrived from `peer` (`bytes` long, verified) and is being stored;
   * its `children` are walked next. It holds its window share until {@link stored}.
   */
  arrived (key: string, children: Child[], bytes: number, peer?: string): SessionEffect[] {
    const a = this.#get(key, 'wanted')
    a.stage = 'storing'
    a.bytes = bytes
    a.peer = peer
    this.#push(children)
    return []
  }

  /**
   * The arrived block `key` is stored: its share is released. After a failure, a block
   * already released by {@link failed} reports nothing.
   */
  stored (key: string): SessionEffect[] {
    if (this.#state === 'failed' && !this.#active.has(key)) return []
    const a = this.#take(key, 'storing')
    const bytes = a.bytes ?? 0
    this.#result.blocksFetched++
    this.#result.bytesFetched += bytes
    const detail: BlockProgressDetail = { cid: a.visit.cid, bytes, from: 'network' }
    if (a.peer != null) detail.peer = a.peer
    return this.#maybeDone([{ type: 'progress', detail }])
  }

  /**
   * The want or the put of `key` failed with `error`: the session is over (later calls for
   * other blocks still release their shares, and report nothing).
   */
  failed (key: string, error: unknown): SessionEffect[] {
    const a = this.#active.get(key)
    if (a != null) this.#take(key, a.stage)
    if (this.#state !== 'running') return []
    this.#state = 'failed'
    return [{ type: 'failed', cid: a?.visit.cid ?? this.#unknown(key), error }]
  }

  /**
   * Something made progress at `nowMs` (a block arrived from a peer, was stored, or was found
   * local): the progress deadline starts again, and a later stall may recover again.
   */
  progress (nowMs: number): void {
    this.#lastProgressMs = Math.max(this.#lastProgressMs, nowMs)
    this.#deadlineStartMs = Math.max(this.#deadlineStartMs, nowMs)
    this.#recovered = 0
  }

  /**
   * `connected` of the session's candidate peers speak an exchange protocol with us at `nowMs`
   * (the driver reports every change, and the count at the start). A fall to 0 schedules prompt
   * redials (see the module comment); a rise above 0 ends them.
   */
  candidates (connected: number, nowMs: number): void {
    if (connected > 0) {
      this.#lostAtMs = this.#redialAtMs = undefined
      this.#redials = 0
      return
    }
    if (this.#lostAtMs != null) return
    this.#lostAtMs = nowMs
    this.#redials = 0
    this.#redialAtMs = this.#promptRedials > 0 ? nowMs + this.#redialWait(0) : undefined
  }

  /**
   * When the next prompt redial is due, ms (the driver ticks then); `undefined` when none is
   * scheduled. The progress deadline is ticked on the driver's own interval.
   */
  get nextWakeMs (): number | undefined {
    return this.#state === 'running' ? this.#redialAtMs : undefined
  }

  /** The wait before prompt redial `n + 1`, ms: its bound doubles from `redialBackoffMs`, jittered into [bound / 2, bound). */
  #redialWait (n: number): number {
    const bound = Math.min(this.#maxRedialBackoffMs, this.#redialBackoffMs * 2 ** Math.min(n, 30))
    return bound / 2 + this.#random() * bound / 2
  }

  /** Blocks wanted from the network and not yet arrived. */
  get waiting (): number {
    let n = 0
    for (const a of this.#active.values()) if (a.stage === 'wanted') n++
    return n
  }

  /**
   * Time passes: check the progress deadline and the prompt redials (see the module comment).
   * Returns `recover` (redial, re-want) or, after every recovery, `stalled` (the session is then
   * failed); `redial` when one is due while no candidate is connected; nothing while the session
   * is not running, nothing is wanted, or nothing is due.
   */
  tick (nowMs: number): SessionEffect[] {
    if (this.#state !== 'running') return []
    const waiting = this.waiting
    if (waiting === 0) {
      // waiting on the disk or on local reads is not a stall (a due redial waits for a want)
      this.#deadlineStartMs = nowMs
      return []
    }
    if (nowMs - this.#deadlineStartMs < this.#progressTimeoutMs) {
      if (this.#redialAtMs == null || nowMs < this.#redialAtMs) return []
      this.#redials++
      this.#redialAtMs = this.#redials < this.#promptRedials ? nowMs + this.#redialWait(this.#redials) : undefined
      return [{ type: 'redial', attempt: this.#redials, lostMs: nowMs - (this.#lostAtMs ?? nowMs), waiting }]
    }
    const idleMs = nowMs - this.#lastProgressMs
    if (this.#recovered < this.#recoveries) {
      this.#recovered++
      this.#deadlineStartMs = nowMs
      return [{ type: 'recover', attempt: this.#recovered, idleMs, waiting }]
    }
    this.#state = 'failed'
    return [{ type: 'stalled', idleMs, waiting }]
  }

  #unknown (key: string): never {
    throw new Error(`session core: block ${key} was not handed out`)
  }

  #push (items: Child[]): void {
    const fresh = items.filter(it => {
      const k = blockKey(it.cid)
      if (this.#seen.has(k)) return false
      this.#seen.add(k)
      return true
    })
    if (fresh.length > 0) this.#stack.push({ items: fresh, i: 0 })
  }

  #get (key: string, stage: Stage): Active {
    const a = this.#active.get(key)
    if (a == null) this.#unknown(key)
    if (a.stage !== stage) throw new Error(`session core: block ${key} is ${a.stage}, not ${stage}`)
    return a
  }

  #take (key: string, stage: Stage): Active {
    const a = this.#get(key, stage)
    this.#active.delete(key)
    this.#bytesAhead -= a.visit.estBytes
    return a
  }

  #maybeDone (effects: SessionEffect[]): SessionEffect[] {
    if (this.#state !== 'running') return this.#state === 'failed' ? [] : effects
    if (this.#active.size === 0 && this.#stack.every(f => f.i >= f.items.length)) {
      this.#state = 'done'
      this.#stack.length = 0
      effects.push({ type: 'done', result: this.result })
    }
    return effects
  }

  /**
   * Check internal consistency; throws `Error` naming the broken invariant (tests only).
   */
  assertInvariants (): void {
    let bytes = 0
    let largest = 0
    for (const [key, a] of this.#active) {
      if (a.visit.key !== key) throw new Error(`active ${key} filed under the wrong key`)
      if (!this.#seen.has(key)) throw new Error(`active ${key} never pushed`)
      if ((a.stage === 'storing') !== (a.bytes != null)) throw new Error(`active ${key}: ${a.stage} with bytes ${a.bytes}`)
      bytes += a.visit.estBytes
      largest = Math.max(largest, a.visit.estBytes)
    }
    if (bytes !== this.#bytesAhead) throw new Error(`bytesAhead ${this.#bytesAhead} != sum ${bytes}`)
    if (this.#active.size > this.#maxWantsAhead) throw new Error(`${this.#active.size} outstanding over ${this.#maxWantsAhead}`)
    // a block is handed out only while the bytes ahead are 0 or under the bound
    if (this.#active.size > 1 && bytes - largest >= this.#maxBytesAhead) throw new Error(`bytesAhead ${bytes} past the bound ${this.#maxBytesAhead} by more than one block`)
    for (const f of this.#stack) if (f.i < 0 || f.i > f.items.length) throw new Error('stack cursor out of range')
    if (this.#state === 'done' && (this.#active.size > 0 || this.#stack.length > 0)) throw new Error('done with work left')
    if (this.#result.blocksFetched + this.#result.blocksLocal + this.#active.size > this.#seen.size) throw new Error('more blocks accounted than pushed')
    if (this.#redialAtMs != null && this.#lostAtMs == null) throw new Error('a redial is due with a candidate connected')
    if (this.#redials > this.#promptRedials) throw new Error(`${this.#redials} redials over ${this.#promptRedials}`)
  }
}

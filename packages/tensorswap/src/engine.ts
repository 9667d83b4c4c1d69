/**
 * The serving side: what remote peers want from us, and in which order we answer.
 *
 * A pure state machine (no I/O; blockstore reads and stream writes belong to the driver).
 * Per peer it keeps that peer's want-list (Bitswap spec "Decision Engine": a ledger of
 * wants per peer, served by priority) capped at `maxWantlistSize` entries; entries past the
 * cap are refused and counted so the driver can penalise the peer (js-ipfs-bitswap's
 * unbounded want-list was a memory DoS).
 *
 * Serving: {@link Engine.nextBatch} returns a *presence batch* (a peer's queued want-haves, at
 * most `presencesPerBatch`, one in progress per peer, never behind its blocks) when some peer has
 * one to give, else a *block batch*: the next peer in round-robin order that has want-blocks
 * queued and fewer than `batchesPerPeer` block batches in progress, with at most
 * `blocksPerBatch` of them (about one 4 MiB message).
 * The driver reads the blocks, writes the message, waits for the stream to drain, then calls
 * {@link Engine.batchDone}. With the default of 2 batches per peer the driver reads a peer's
 * next batch while the previous one is being written (it writes them in the order handed out,
 * each after the previous one drained), so the data channel does not idle during reads. That
 * is the back-pressure: a slow reader holds at most `batchesPerPeer` messages of ours (one
 * being written, one read and waiting), never a queue of them.
 *
 * @module
 */

import { DEFAULT_ENGINE_BATCHES_PER_PEER, DEFAULT_ENGINE_BATCH_MS, DEFAULT_ENGINE_BLOCKS_PER_BATCH, DEFAULT_ENGINE_PRESENCES_PER_BATCH, DEFAULT_ENGINE_SENT_MEMORY, DEFAULT_ENGINE_SENT_WINDOW_MS, DEFAULT_ESTIMATED_BLOCK_BYTES, DEFAULT_MAX_SIZE_REPLACE_HAVE_WITH_BLOCK, DEFAULT_MAX_WANTLIST_SIZE, ENGINE_FIRST_SINGLE_WRITES } from './constants.js'
import { blockKey } from './wire/block-key.js'
import type { Wantlist, WantType } from './wire/codec.js'
import type { CID } from 'multiformats/cid'

/** Options of {@link Engine}. */
export interface EngineInit {
  /** Most want-list entries kept per peer. @default {@link DEFAULT_MAX_WANTLIST_SIZE} */
  maxWantlistSize?: number
  /** Most want-block tasks per batch. @default {@link DEFAULT_ENGINE_BLOCKS_PER_BATCH} */
  blocksPerBatch?: number
  /** Most want-have tasks per batch. @default {@link DEFAULT_ENGINE_PRESENCES_PER_BATCH} */
  presencesPerBatch?: number
  /**
   * Most batches of one peer in progress at once (1: a peer's next batch is handed out only
   * once its previous one is done). @default {@link DEFAULT_ENGINE_BATCHES_PER_PEER}
   */
  batchesPerPeer?: number
  /**
   * A want-have for a stored block of at most this many bytes is answered with the block
   * (Bitswap 1.2.0 MAY; boxo `WithWantHaveReplaceSize`); 0 turns it off.
   * @default {@link DEFAULT_MAX_SIZE_REPLACE_HAVE_WITH_BLOCK}
   */
  maxSizeReplaceHaveWithBlock?: number
  /** Sends of a block older than this no longer count against it (see the module comment), ms. @default {@link DEFAULT_ENGINE_SENT_WINDOW_MS} */
  sentWindowMs?: number
  /** Most blocks whose recent sends are remembered (the oldest are forgotten first). @default {@link DEFAULT_ENGINE_SENT_MEMORY} */
  sentMemory?: number
}

/** Options of {@link Engine.nextBatch}. */
export interface NextBatchOptions {
  /**
   * Most batches of one peer in progress for this call, at most `batchesPerPeer` (the driver
   * passes 1 when its serving slots are scarce, so that peers that do not read cannot hold more
   * of them with their second batches than before). @default `batchesPerPeer`
   */
  maxPerPeer?: number
  /** Most want-blocks in the batch for `peer` (at least 1; at most `blocksPerBatch`), e.g. {@link blocksForLink}. @default `blocksPerBatch` */
  maxBlocks?: (peer: string) => number
  /** Now, ms (any monotonic clock, the same on every call). @default `performance.now()` */
  nowMs?: number
  /** Only a presence batch (or none): the driver's serving slots, which bound block batches, are full. @default false */
  presencesOnly?: boolean
}

/**
 * How many want-blocks one batch for a peer should carry: about `batchMs` of its data channel's
 * measured rate, in blocks of `blockBytes`, between 1 and `max`. With no rate: 1 for the first
 * {@link ENGINE_FIRST_SINGLE_WRITES} writes to the peer (the first blocks of a fetch arrive one
 * by one, not as the tail of a 4 MiB message on a shared link, and a slow link is measured by
 * them), then `max` (a link too fast to hold our writes back, such as loopback, never gives a
 * rate: a 10 MB push over loopback at one block per batch took twice as long).
 *
 * @param link - what the peer's data channel measured: rate (bytes/ms) and the writes recorded
 *   (`LinkEstimate` of the compression policy); `bytesPerMs` is `undefined` until measured
 * @param max - the engine's `blocksPerBatch`
 * @param batchMs - link time one batch should take, ms. @default {@link DEFAULT_ENGINE_BATCH_MS}
 * @param blockBytes - the peer's typical block size, bytes (the driver passes the mean of what it
 *   sent that peer: a DAG of 35 KB blocks gets as many per batch as the cap allows). @default {@link DEFAULT_ESTIMATED_BLOCK_BYTES}
 */
export function blocksForLink (link: { bytesPerMs?: number, writes?: number } | undefined, max: number, batchMs = DEFAULT_ENGINE_BATCH_MS, blockBytes = DEFAULT_ESTIMATED_BLOCK_BYTES): number {
  const rate = link?.bytesPerMs
  if (rate == null || !Number.isFinite(rate) || rate <= 0) return (link?.writes ?? 0) < ENGINE_FIRST_SINGLE_WRITES ? 1 : max
  return Math.max(1, Math.min(max, Math.floor(rate * batchMs / blockBytes)))
}

/** One thing to answer for a peer. */
export interface EngineTask {
  key: string
  cid: CID
  priority: number
  wantType: WantType
  sendDontHave: boolean
}

/** A batch of tasks for one peer (see {@link Engine.nextBatch}). */
export interface EngineBatch {
  /** Names the batch in {@link Engine.batchDone}; increasing in the order batches are handed out. */
  id: number
  peer: string
  /** A presence batch (want-haves only; it does not wait for the peer's block batches) or a block batch (want-blocks only). */
  presences: boolean
  tasks: EngineTask[]
}

/** How the driver answered one task. */
export type TaskOutcome =
  /** The block was sent: the want is fulfilled and removed. */
  | 'block'
  /**
   * HAVE was sent for a want-have: removed, unless the peer upgraded it to a want-block while
   * the batch was in progress (then it is queued again and the next batch sends the block).
   */
  | 'have'
  /** We lack the block (DONT_HAVE sent, or nothing when not asked for): the want stays, served if the block arrives later. */
  | 'missing'
  /** We decline to serve it (strategy): the want is removed. */
  | 'declined'

/** Result of {@link Engine.messageReceived}. */
export interface MessageResult {
  /** Entries refused because the peer's want-list was at its cap. */
  overflow: number
  /** New or updated wants now queued. */
  queued: number
}

interface PeerWant extends EngineTask {
  seq: number
  /** What the batch in progress answers for it (set while `active`). */
  activeType?: WantType
  /** Waiting to be served (false: answered 'missing', or handed out in a batch). */
  queued: boolean
  /** Handed out in a batch in progress. */
  active: boolean
  /** The id of that batch (set while `active`). */
  batch?: number
}

interface PeerLedger {
  wants: Map<string, PeerWant>
  /** Wants queued (both types), and of them want-haves. */
  queued: number
  queuedHaves: number
  /** Ids of the peer's block batches in progress (at most `batchesPerPeer`). */
  batches: Set<number>
  /** Id of its presence batch in progress (at most one, besides the block batches). */
  presenceBatch?: number
}

/**
 * Per-peer want-lists and fair batching. See the module comment. Peer ids are strings.
 */
export class Engine {
  readonly #peers = new Map<string, PeerLedger>()
  /** Round-robin order of peers. */
  #order: string[] = []
  #cursor = 0
  /** Round-robin position of the presence batches. */
  #presenceCursor = 0
  #seq = 0
  #batchSeq = 0
  readonly #maxWantlistSize: number
  readonly #blocksPerBatch: number
  readonly #presencesPerBatch: number
  readonly #batchesPerPeer: number
  readonly #sentWindowMs: number
  readonly #sentMemory: number
  /** Block key -> sends handed out within the window and the last one's time (ms); oldest first. */
  readonly #sent = new Map<string, { count: number, atMs: number }>()
  /** See {@link EngineInit.maxSizeReplaceHaveWithBlock}, bytes. */
  readonly maxSizeReplaceHaveWithBlock: number

  /** @param init - see {@link EngineInit} */
  constructor (init: EngineInit = {}) {
    this.#maxWantlistSize = init.maxWantlistSize ?? DEFAULT_MAX_WANTLIST_SIZE
    this.#blocksPerBatch = init.blocksPerBatch ?? DEFAULT_ENGINE_BLOCKS_PER_BATCH
    this.#presencesPerBatch = init.presencesPerBatch ?? DEFAULT_ENGINE_PRESENCES_PER_BATCH
    this.#batchesPerPeer = Math.max(1, init.batchesPerPeer ?? DEFAULT_ENGINE_BATCHES_PER_PEER)
    this.maxSizeReplaceHaveWithBlock = init.maxSizeReplaceHaveWithBlock ?? DEFAULT_MAX_SIZE_REPLACE_HAVE_WITH_BLOCK
    this.#sentWindowMs = init.sentWindowMs ?? DEFAULT_ENGINE_SENT_WINDOW_MS
    this.#sentMemory = Math.max(1, init.sentMemory ?? DEFAULT_ENGINE_SENT_MEMORY)
  }

  /** How often the block `key` was handed out to be sent (to any peer) within the window before `nowMs`. */
  recentSends (key: string, nowMs: number = performance.now()): number {
    const e = this.#sent.get(key)
    return e == null || nowMs - e.atMs > this.#sentWindowMs ? 0 : e.count
  }

  #noteSent (key: string, nowMs: number): void {
    const count = this.recentSends(key, nowMs) + 1
    this.#sent.delete(key)
    this.#sent.set(key, { count, atMs: nowMs })
    if (this.#sent.size > this.#sentMemory) this.#sent.delete(this.#sent.keys().next().value as string)
  }

  #unnoteSent (key: string): void {
    const e = this.#sent.get(key)
    if (e != null && e.count > 0) e.count--
  }

  /**
   * How to answer a want-have for a block we hold (spec/tensorswap.md §4): with the block
   * itself when it is small (at most {@link EngineInit.maxSizeReplaceHaveWithBlock} bytes),
   * saving the asker a round trip; otherwise with HAVE. The driver reports the answer as
   * outcome `'block'` or `'have'`.
   *
   * @param blockBytes - the block's size in bytes, `undefined` when the store cannot tell
   *   without reading the block (then HAVE)
   */
  answerHave (blockBytes: number | undefined): 'block' | 'have' {
    return blockBytes != null && blockBytes <= this.maxSizeReplaceHaveWithBlock ? 'block' : 'have'
  }

  #ledger (peer: string): PeerLedger {
    let l = this.#peers.get(peer)
    if (l == null) {
      l = { wants: new Map(), queued: 0, queuedHaves: 0, batches: new Set() }
      this.#peers.set(peer, l)
      this.#order.push(peer)
    }
    return l
  }

  /**
   * Apply a peer's want-list message: a full list replaces its wants; entries add, update or
   * (with `cancel`) remove wants. Entries beyond the per-peer cap are refused.
   *
   * @param peer - the sender
   * @param wantlist - the decoded want-list
   */
  messageReceived (peer: string, wantlist: Wantlist): MessageResult {
    const l = this.#ledger(peer)
    const result: MessageResult = { overflow: 0, queued: 0 }
    if (wantlist.full) {
      const keep = new Set(wantlist.entries.filter(e => !e.cancel).map(e => blockKey(e.cid)))
      for (const w of [...l.wants.values()]) {
        if (!keep.has(w.key)) this.#delete(l, w)
      }
    }
    for (const e of wantlist.entries) {
      const key = blockKey(e.cid)
      const existing = l.wants.get(key)
      if (e.cancel) {
        if (existing != null) this.#delete(l, existing)
        continue
      }
      if (existing != null) {
        // an update: a want-block supersedes a want-have, never the reverse (as boxo)
        existing.priority = e.priority
        // (while a HAVE for it is being sent, the upgrade is kept: batchDone queues it again)
        if (e.wantType === 'block' && existing.wantType === 'have') {
          if (existing.queued) l.queuedHaves--
          existing.wantType = 'block'
        }
        existing.sendDontHave = e.sendDontHave
        if (!existing.active) this.#enqueue(l, existing)
        result.queued++
        continue
      }
      if (l.wants.size >= this.#maxWantlistSize) {
        result.overflow++
        continue
      }
      const w: PeerWant = { key, cid: e.cid, priority: e.priority, wantType: e.wantType, sendDontHave: e.sendDontHave, seq: this.#seq++, queued: false, active: false }
      l.wants.set(key, w)
      this.#enqueue(l, w)
      result.queued++
    }
    return result
  }

  /**
   * A block became available locally: peers whose wants for it were answered 'missing' get
   * them queued again.
   *
   * @returns the peers with newly queued work
   */
  blockAdded (cid: CID): string[] {
    const key = blockKey(cid)
    const peers: string[] = []
    for (const [peer, l] of this.#peers) {
      const w = l.wants.get(key)
      if (w != null && !w.queued && !w.active) {
        this.#enqueue(l, w)
        peers.push(peer)
      }
    }
    return peers
  }

  /** Forget a disconnected peer's want-list. */
  peerDisconnected (peer: string): void {
    if (!this.#peers.delete(peer)) return
    const i = this.#order.indexOf(peer)
    this.#order.splice(i, 1)
    if (this.#cursor > i) this.#cursor--
    if (this.#cursor >= this.#order.length) this.#cursor = 0
    if (this.#presenceCursor > i) this.#presenceCursor--
    if (this.#presenceCursor >= this.#order.length) this.#presenceCursor = 0
  }

  /** Whether some peer has queued work and room for another batch in progress. */
  hasWork (): boolean {
    for (const l of this.#peers.values()) {
      if (l.queuedHaves > 0 && l.presenceBatch == null) return true
      if (l.queued - l.queuedHaves > 0 && l.batches.size < this.#batchesPerPeer) return true
    }
    return false
  }

  /** Number of wants held for `peer` (queued or not). */
  wantlistSize (peer: string): number {
    return this.#peers.get(peer)?.wants.size ?? 0
  }

  /** The CIDs `peer` wants from us. */
  wantlist (peer: string): CID[] {
    return [...(this.#peers.get(peer)?.wants.values() ?? [])].map(w => w.cid)
  }

  /**
   * The next batch, presences first: a peer with queued want-haves and no presence batch in
   * progress gets one (want-haves only, by priority, then arrival), whatever its block batches
   * are doing, so HAVE and DONT_HAVE answers never wait behind blocks that are still being
   * written (a swarm learns who has what from them). Otherwise a block batch: round robin over
   * peers with queued want-blocks and no block batch in progress, then (when none) over those
   * with fewer than `maxPerPeer` in progress, so a peer waiting for its first batch always goes
   * before another's second; within the peer, want-blocks sent fewest times recently first,
   * then highest priority, then arrival order (see the module comment). A batch is in progress
   * until {@link batchDone}; {@link EngineBatch.presences} tells the two kinds apart.
   *
   * @param options - see {@link NextBatchOptions} (a number: `maxPerPeer`)
   * @returns a batch, or `undefined` when no peer is ready
   */
  nextBatch (options: NextBatchOptions | number = {}): EngineBatch | undefined {
    const o: NextBatchOptions = typeof options === 'number' ? { maxPerPeer: options } : options
    const n = this.#order.length
    const byPriority = (a: PeerWant, b: PeerWant): number => a.priority !== b.priority ? b.priority - a.priority : a.seq - b.seq
    for (let i = 0; i < n; i++) {
      const idx = (this.#presenceCursor + i) % n
      const peer = this.#order[idx] as string
      const l = this.#peers.get(peer) as PeerLedger
      if (l.queuedHaves === 0 || l.presenceBatch != null) continue
      this.#presenceCursor = (idx + 1) % n
      const haves: PeerWant[] = []
      for (const w of l.wants.values()) if (w.queued && w.wantType === 'have') haves.push(w)
      haves.sort(byPriority)
      const id = this.#batchSeq++
      l.presenceBatch = id
      return { id, peer, presences: true, tasks: this.#handOut(l, haves.slice(0, this.#presencesPerBatch), id, 0) }
    }
    if (o.presencesOnly === true) return undefined
    const max = Math.min(o.maxPerPeer ?? this.#batchesPerPeer, this.#batchesPerPeer)
    for (let i = 0; i < 2 * n; i++) {
      // first pass: peers with nothing in progress; second: those with room for another
      const limit = i < n ? 1 : max
      if (i === n && max <= 1) break
      const idx = (this.#cursor + i) % n
      const peer = this.#order[idx] as string
      const l = this.#peers.get(peer) as PeerLedger
      if (l.batches.size >= limit || l.queued - l.queuedHaves === 0) continue
      this.#cursor = (idx + 1) % n
      const now = o.nowMs ?? performance.now()
      const blocks: Array<{ w: PeerWant, sends: number }> = []
      for (const w of l.wants.values()) if (w.queued && w.wantType === 'block') blocks.push({ w, sends: this.recentSends(w.key, now) })
      blocks.sort((a, b) => a.sends !== b.sends ? a.sends - b.sends : byPriority(a.w, b.w))
      const maxBlocks = Math.max(1, Math.min(this.#blocksPerBatch, o.maxBlocks?.(peer) ?? this.#blocksPerBatch))
      // the message keeps priority order (a fetcher walking the DAG gets its earliest wants first)
      const picked = blocks.slice(0, maxBlocks).map(b => b.w).sort(byPriority)
      const id = this.#batchSeq++
      l.batches.add(id)
      return { id, peer, presences: false, tasks: this.#handOut(l, picked, id, now) }
    }
    return undefined
  }

  /** Mark `wants` of `l` active in batch `id` (want-blocks count as sent at `nowMs`) and return them as tasks. */
  #handOut (l: PeerLedger, wants: PeerWant[], id: number, nowMs: number): EngineTask[] {
    const tasks: EngineTask[] = []
    for (const w of wants) {
      this.#dequeue(l, w)
      w.active = true
      w.activeType = w.wantType
      w.batch = id
      if (w.wantType === 'block') this.#noteSent(w.key, nowMs)
      tasks.push({ key: w.key, cid: w.cid, priority: w.priority, wantType: w.wantType, sendDontHave: w.sendDontHave })
    }
    return tasks
  }

  /**
   * The driver finished a batch (message written and drained, or failed). A batch of a peer
   * that disconnected since (or one already done) is ignored.
   *
   * @param batch - the batch, as {@link nextBatch} returned it
   * @param outcomes - how each task was answered, by task key; tasks left out are re-queued
   *   (e.g. the write failed before they were sent)
   */
  batchDone (batch: EngineBatch, outcomes: ReadonlyMap<string, TaskOutcome>): void {
    const l = this.#peers.get(batch.peer)
    if (l == null) return
    if (l.presenceBatch === batch.id) l.presenceBatch = undefined
    else if (!l.batches.delete(batch.id)) return
    for (const task of batch.tasks) {
      const w = l.wants.get(task.key)
      // cancelled meanwhile (and maybe wanted again: then a new want, not this batch's)
      if (w == null || !w.active || w.batch !== batch.id) continue
      w.active = false
      w.batch = undefined
      const outcome = outcomes.get(w.key)
      // a want-block handed out but not sent does not count as a send
      if (w.activeType === 'block' && outcome !== 'block') this.#unnoteSent(w.key)
      const upgraded = w.activeType === 'have' && w.wantType === 'block'
      w.activeType = undefined
      if (outcome === 'have' && upgraded) {
        // the peer sent want-block while we answered its want-have (boxo clients do): the
        // HAVE does not fulfil the want-block, serve it next
        this.#enqueue(l, w)
      } else if (outcome === 'block' || outcome === 'have' || outcome === 'declined') {
        this.#delete(l, w)
      } else if (outcome === 'missing') {
        // stays on the peer's list, not queued, until blockAdded
      } else {
        this.#enqueue(l, w)
      }
    }
  }

  #enqueue (l: PeerLedger, w: PeerWant): void {
    if (w.queued) return
    w.queued = true
    l.queued++
    if (w.wantType === 'have') l.queuedHaves++
  }

  #dequeue (l: PeerLedger, w: PeerWant): void {
    if (!w.queued) return
    w.queued = false
    l.queued--
    if (w.wantType === 'have') l.queuedHaves--
  }

  #delete (l: PeerLedger, w: PeerWant): void {
    this.#dequeue(l, w)
    l.wants.delete(w.key)
  }

  /**
   * Check internal consistency; throws `Error` naming the broken invariant (tests only).
   */
  assertInvariants (): void {
    if (this.#order.length !== this.#peers.size) throw new Error('round-robin order out of sync')
    if (this.#order.length > 0 && (this.#cursor < 0 || this.#cursor >= this.#order.length)) throw new Error(`cursor ${this.#cursor} out of range`)
    for (const [peer, l] of this.#peers) {
      if (!this.#order.includes(peer)) throw new Error(`peer ${peer} missing from round robin`)
      if (l.wants.size > this.#maxWantlistSize) throw new Error(`peer ${peer}: ${l.wants.size} wants over cap`)
      if (l.batches.size > this.#batchesPerPeer) throw new Error(`peer ${peer}: ${l.batches.size} batches in progress over ${this.#batchesPerPeer}`)
      let queued = 0
      let queuedHaves = 0
      for (const w of l.wants.values()) {
        if (w.queued && w.active) throw new Error(`peer ${peer}: want ${w.key} both queued and active`)
        if (w.queued) queued++
        if (w.active && (w.batch == null || !(l.batches.has(w.batch) || l.presenceBatch === w.batch))) throw new Error(`peer ${peer}: active want ${w.key} outside a batch in progress`)
        if (w.queued && w.wantType === 'have') queuedHaves++
      }
      if (queued !== l.queued) throw new Error(`peer ${peer}: queued count ${l.queued} != ${queued}`)
      if (queuedHaves !== l.queuedHaves) throw new Error(`peer ${peer}: queued want-have count ${l.queuedHaves} != ${queuedHaves}`)
    }
  }
}

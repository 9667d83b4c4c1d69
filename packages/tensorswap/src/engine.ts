/**
 * The serving side: what remote peers want from us, and in which order we answer.
 *
 * A pure state machine (no I/O; blockstore reads and stream writes belong to the driver).
 * Per peer it keeps that peer's want-list (Bitswap spec "Decision Engine": a ledger of
 * wants per peer, served by priority) capped at `maxWantlistSize` entries; entries past the
 * cap are refused and counted so the driver can penalise the peer (js-ipfs-bitswap's
 * unbounded want-list was a memory DoS).
 *
 * Serving: {@link Engine.nextBatch} returns the next peer in round-robin order that has work
 * and fewer than `batchesPerPeer` batches in progress, with its highest-priority tasks (at most
 * `blocksPerBatch` want-blocks and `presencesPerBatch` want-haves: about one 4 MiB message).
 * The driver reads the blocks, writes the message, waits for the stream to drain, then calls
 * {@link Engine.batchDone}. With the default of 2 batches per peer the driver reads a peer's
 * next batch while the previous one is being written (it writes them in the order handed out,
 * each after the previous one drained), so the data channel does not idle during reads. That
 * is the back-pressure: a slow reader holds at most `batchesPerPeer` messages of ours (one
 * being written, one read and waiting), never a queue of them.
 *
 * @module
 */

import { DEFAULT_ENGINE_BATCHES_PER_PEER, DEFAULT_ENGINE_BLOCKS_PER_BATCH, DEFAULT_ENGINE_PRESENCES_PER_BATCH, DEFAULT_MAX_SIZE_REPLACE_HAVE_WITH_BLOCK, DEFAULT_MAX_WANTLIST_SIZE } from './constants.js'
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
  queued: number
  /** Ids of the peer's batches in progress (at most `batchesPerPeer`). */
  batches: Set<number>
}

/**
 * Per-peer want-lists and fair batching. See the module comment. Peer ids are strings.
 */
export class Engine {
  readonly #peers = new Map<string, PeerLedger>()
  /** Round-robin order of peers. */
  #order: string[] = []
  #cursor = 0
  #seq = 0
  #batchSeq = 0
  readonly #maxWantlistSize: number
  readonly #blocksPerBatch: number
  readonly #presencesPerBatch: number
  readonly #batchesPerPeer: number
  /** See {@link EngineInit.maxSizeReplaceHaveWithBlock}, bytes. */
  readonly maxSizeReplaceHaveWithBlock: number

  /** @param init - see {@link EngineInit} */
  constructor (init: EngineInit = {}) {
    this.#maxWantlistSize = init.maxWantlistSize ?? DEFAULT_MAX_WANTLIST_SIZE
    this.#blocksPerBatch = init.blocksPerBatch ?? DEFAULT_ENGINE_BLOCKS_PER_BATCH
    this.#presencesPerBatch = init.presencesPerBatch ?? DEFAULT_ENGINE_PRESENCES_PER_BATCH
    this.#batchesPerPeer = Math.max(1, init.batchesPerPeer ?? DEFAULT_ENGINE_BATCHES_PER_PEER)
    this.maxSizeReplaceHaveWithBlock = init.maxSizeReplaceHaveWithBlock ?? DEFAULT_MAX_SIZE_REPLACE_HAVE_WITH_BLOCK
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
      l = { wants: new Map(), queued: 0, batches: new Set() }
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
        if (e.wantType === 'block') existing.wantType = 'block'
        existing.sendDontHave = e.sendDontHave
        if (!existing.queued && !existing.active) {
          existing.queued = true
          l.queued++
        }
        result.queued++
        continue
      }
      if (l.wants.size >= this.#maxWantlistSize) {
        result.overflow++
        continue
      }
      l.wants.set(key, { key, cid: e.cid, priority: e.priority, wantType: e.wantType, sendDontHave: e.sendDontHave, seq: this.#seq++, queued: true, active: false })
      l.queued++
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
        w.queued = true
        l.queued++
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
  }

  /** Whether some peer has queued work and room for another batch in progress. */
  hasWork (): boolean {
    for (const l of this.#peers.values()) if (l.queued > 0 && l.batches.size < this.#batchesPerPeer) return true
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
   * The next batch: round robin over peers with queued work and no batch in progress, then
   * (when none) over those with fewer than `maxPerPeer` batches in progress, so a peer waiting
   * for its first batch always goes before another's second; within the peer, highest priority
   * first (then arrival order). The batch is in progress until {@link batchDone}.
   *
   * @param maxPerPeer - most batches of one peer in progress for this call, at most
   *   `batchesPerPeer` (the driver passes 1 when its serving slots are scarce, so that peers
   *   that do not read cannot hold more of them with their second batches than before)
   * @returns a batch, or `undefined` when no peer is ready
   */
  nextBatch (maxPerPeer = this.#batchesPerPeer): EngineBatch | undefined {
    const max = Math.min(maxPerPeer, this.#batchesPerPeer)
    const n = this.#order.length
    for (let i = 0; i < 2 * n; i++) {
      // first pass: peers with nothing in progress; second: those with room for another
      const limit = i < n ? 1 : max
      if (i === n && max <= 1) break
      const idx = (this.#cursor + i) % n
      const peer = this.#order[idx] as string
      const l = this.#peers.get(peer) as PeerLedger
      if (l.batches.size >= limit || l.queued === 0) continue
      this.#cursor = (idx + 1) % n
      const queued = [...l.wants.values()].filter(w => w.queued)
      queued.sort((a, b) => a.priority !== b.priority ? b.priority - a.priority : a.seq - b.seq)
      let blocks = this.#blocksPerBatch
      let haves = this.#presencesPerBatch
      const id = this.#batchSeq++
      const tasks: EngineTask[] = []
      for (const w of queued) {
        if (w.wantType === 'block') {
          if (blocks === 0) continue
          blocks--
        } else {
          if (haves === 0) continue
          haves--
        }
        w.queued = false
        w.active = true
        w.activeType = w.wantType
        w.batch = id
        l.queued--
        tasks.push({ key: w.key, cid: w.cid, priority: w.priority, wantType: w.wantType, sendDontHave: w.sendDontHave })
        if (blocks === 0 && haves === 0) break
      }
      l.batches.add(id)
      return { id, peer, tasks }
    }
    return undefined
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
    if (l == null || !l.batches.delete(batch.id)) return
    for (const task of batch.tasks) {
      const w = l.wants.get(task.key)
      // cancelled meanwhile (and maybe wanted again: then a new want, not this batch's)
      if (w == null || !w.active || w.batch !== batch.id) continue
      w.active = false
      w.batch = undefined
      const outcome = outcomes.get(w.key)
      const upgraded = w.activeType === 'have' && w.wantType === 'block'
      w.activeType = undefined
      if (outcome === 'have' && upgraded) {
        // the peer sent want-block while we answered its want-have (boxo clients do): the
        // HAVE does not fulfil the want-block, serve it next
        w.queued = true
        l.queued++
      } else if (outcome === 'block' || outcome === 'have' || outcome === 'declined') {
        this.#delete(l, w)
      } else if (outcome === 'missing') {
        // stays on the peer's list, not queued, until blockAdded
      } else {
        w.queued = true
        l.queued++
      }
    }
  }

  #delete (l: PeerLedger, w: PeerWant): void {
    if (w.queued) l.queued--
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
      for (const w of l.wants.values()) {
        if (w.queued && w.active) throw new Error(`peer ${peer}: want ${w.key} both queued and active`)
        if (w.queued) queued++
        if (w.active && (w.batch == null || !l.batches.has(w.batch))) throw new Error(`peer ${peer}: active want ${w.key} outside a batch in progress`)
      }
      if (queued !== l.queued) throw new Error(`peer ${peer}: queued count ${l.queued} != ${queued}`)
    }
  }
}

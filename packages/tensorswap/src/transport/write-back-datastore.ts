/**
 * A write-back cache in front of the repo's datastore, for libp2p's own state (the peer store,
 * kad-dht's records and provider entries).
 *
 * Why: libp2p writes its peer store on every stream it opens or accepts (`Connection.newStream`
 * and `onIncomingStream` merge the protocol into the peer's record, and wait for it), on every
 * identify and on every routing-table change: each a leveldb get, a protobuf decode and encode
 * and a leveldb put. Six leechers of one swarm did ~140 such writes each, and leveldb with the
 * peer store were 5–8 % of their CPU (bench/README.md, "Stop 33"). Here reads of a record already
 * read or written are served from memory, and writes reach leveldb in one batch per
 * `flushIntervalMs` (and on {@link WriteBackDatastore.close}), not one at a time.
 *
 * What is given up: a process killed with SIGKILL loses at most the last `flushIntervalMs` of
 * libp2p's updates (peer addresses and protocols, which libp2p learns again on the next
 * connection). Nothing the fetch depends on lives here: the block index, pins, the ledger and
 * the provided roots are written by our own code straight to the repo's datastore.
 *
 * Consistency: reads see every write made through this cache (pending or flushed); a query
 * first flushes what is pending, then reads the backing store. Keys written to the backing
 * store by someone else are seen unless the cache already holds that key; the node gives libp2p
 * this cache and writes its own keys (other prefixes) directly, so the two never overlap.
 *
 * @module
 */
import { logger } from '@libp2p/logger'
import { BaseDatastore } from 'datastore-core'
import { NotFoundError } from 'interface-store'
import { DEFAULT_WRITE_BACK_FLUSH_INTERVAL_MS, DEFAULT_WRITE_BACK_MAX_ENTRIES } from './constants.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Batch, Datastore, Key, KeyQuery, Pair, Query } from 'interface-datastore'

const log = logger('tensorswap:transport:write-back-datastore')

/** Options of {@link WriteBackDatastore}. */
export interface WriteBackDatastoreInit {
  /** Pending writes are flushed this long after the first of them, ms. Default {@link DEFAULT_WRITE_BACK_FLUSH_INTERVAL_MS}. */
  flushIntervalMs?: number
  /** Clean records kept in memory at most. Default {@link DEFAULT_WRITE_BACK_MAX_ENTRIES}. */
  maxEntries?: number
}

/** A pending delete, kept in the cache so reads see it before it is flushed. */
const DELETED = null

/**
 * A {@link Datastore} that caches records in memory and writes them to `backing` in batches.
 * Not for data that must be durable when the call returns (see the module comment).
 *
 * Errors: `get` of a missing key throws the backing store's `NotFoundError` (`.name`
 * `'NotFoundError'`, as libp2p expects); a failed flush keeps its writes pending (a later
 * flush retries them) and {@link flush}/{@link close} reject with the backing store's error,
 * while a timed flush only logs it.
 */
export class WriteBackDatastore extends BaseDatastore {
  readonly #backing: Datastore
  readonly #flushIntervalMs: number
  readonly #maxEntries: number
  /** key string → value, or {@link DELETED}; insertion order = least recently used first. */
  readonly #entries = new Map<string, Uint8Array | typeof DELETED>()
  /** key string → Key, for the records written or deleted and not yet flushed. */
  readonly #dirty = new Map<string, Key>()
  #timer?: ReturnType<typeof setTimeout>
  #flushing: Promise<void> = Promise.resolve()
  #closed = false

  constructor (backing: Datastore, init: WriteBackDatastoreInit = {}) {
    super()
    this.#backing = backing
    this.#flushIntervalMs = init.flushIntervalMs ?? DEFAULT_WRITE_BACK_FLUSH_INTERVAL_MS
    this.#maxEntries = init.maxEntries ?? DEFAULT_WRITE_BACK_MAX_ENTRIES
  }

  /** Writes not yet in the backing store. */
  get pending (): number {
    return this.#dirty.size
  }

  override put (key: Key, val: Uint8Array): Key {
    this.#write(key, val)
    return key
  }

  override async get (key: Key, options?: AbortOptions): Promise<Uint8Array> {
    const k = key.toString()
    const cached = this.#entries.get(k)
    if (cached !== undefined) {
      if (cached === DELETED) throw new NotFoundError(`${k} not found`)
      this.#store(k, cached)
      return cached
    }
    const value = await this.#backing.get(key, options)
    // a write or delete that came in while the backing store was read wins
    if (!this.#entries.has(k)) this.#store(k, value)
    return value
  }

  override async has (key: Key, options?: AbortOptions): Promise<boolean> {
    const cached = this.#entries.get(key.toString())
    if (cached !== undefined) return cached !== DELETED
    return await this.#backing.has(key, options)
  }

  override delete (key: Key): void {
    this.#write(key, DELETED)
  }

  override batch (): Batch {
    const ops: Array<[Key, Uint8Array | typeof DELETED]> = []
    return {
      put: (key, value) => { ops.push([key, value]) },
      delete: (key) => { ops.push([key, DELETED]) },
      commit: () => { for (const [key, value] of ops) this.#write(key, value) }
    }
  }

  override async * query (q: Query, options?: AbortOptions): AsyncGenerator<Pair> {
    await this.flush()
    yield * this.#backing.query(q, options)
  }

  override async * queryKeys (q: KeyQuery, options?: AbortOptions): AsyncGenerator<Key> {
    await this.flush()
    yield * this.#backing.queryKeys(q, options)
  }

  /**
   * Write every pending record to the backing store now, in one batch.
   *
   * @throws the backing store's error (the writes stay pending)
   */
  async flush (): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    // one flush at a time: a second waits for the first, then writes what is left
    const next = this.#flushing.catch(() => {}).then(async () => { await this.#flushNow() })
    this.#flushing = next
    await next
  }

  /**
   * Flush what is pending and schedule no more timed flushes: a write made after it stays
   * pending until the next {@link flush} or `close`. Call it after libp2p has stopped and
   * before the backing store closes.
   *
   * @throws the backing store's error from the last flush
   */
  async close (): Promise<void> {
    this.#closed = true
    await this.flush()
  }

  async #flushNow (): Promise<void> {
    if (this.#dirty.size === 0) return
    const writes = [...this.#dirty.entries()]
    this.#dirty.clear()
    const batch = this.#backing.batch()
    const deleted: string[] = []
    for (const [k, key] of writes) {
      const value = this.#entries.get(k) ?? DELETED
      if (value === DELETED) {
        batch.delete(key)
        deleted.push(k)
      } else {
        batch.put(key, value)
      }
    }
    try {
      await batch.commit()
    } catch (err) {
      // keep them pending unless written again meanwhile (then the newer write is pending)
      for (const [k, key] of writes) if (!this.#dirty.has(k)) this.#dirty.set(k, key)
      throw err
    }
    // flushed deletes need no tombstone unless deleted again meanwhile
    for (const k of deleted) {
      if (!this.#dirty.has(k) && this.#entries.get(k) === DELETED) this.#entries.delete(k)
    }
    this.#evict()
  }

  #write (key: Key, value: Uint8Array | typeof DELETED): void {
    const k = key.toString()
    this.#dirty.set(k, key)
    this.#store(k, value)
    if (this.#timer == null && !this.#closed) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        this.flush().catch((err) => { log.error('flushing %d libp2p records failed, kept for the next flush - %e', this.#dirty.size, err) })
      }, this.#flushIntervalMs)
      this.#timer.unref?.()
    }
  }

  /** Keep `value` for `k` as the most recently used record, then bound the cache. */
  #store (k: string, value: Uint8Array | typeof DELETED): void {
    this.#entries.delete(k)
    this.#entries.set(k, value)
    this.#evict()
  }

  /** Drop the least recently used clean records over the limit (pending ones stay). */
  #evict (): void {
    if (this.#entries.size <= this.#maxEntries) return
    for (const k of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries) break
      if (!this.#dirty.has(k)) this.#entries.delete(k)
    }
  }
}

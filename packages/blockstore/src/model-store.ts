/**
 * The model-shaped blockstore of a repo: raw leaves of a UnixFS file are written with positional
 * writes into a *data file* laid out as the file itself, every other block (dag-pb nodes,
 * manifests, DAG-CBOR, leaves with no known place) is appended to one *small-block log*, and an
 * index in the repo's leveldb maps each block (by multihash) to `(data file, offset, length)`.
 *
 * Durability by construction: a block is written (`pwrite`) and becomes readable in this process
 * at once, but it enters the index on disk only in a *commit*: the data files and the log touched
 * since the last commit are `fdatasync`ed, then one leveldb batch (written with `sync`) records
 * their blocks. So a kill -9 (or power loss) at any point loses at most the blocks written since
 * the last commit, which a resumed fetch asks for again; bytes of a data file that no index entry
 * covers (a preallocated tail, a partial output file, a torn write) never count as blocks.
 *
 * Reads: blocks of the log are always re-hashed (they are small); blocks of a data file are
 * trusted while the file's size and mtime are what the store recorded at its last commit (or the
 * store wrote it in this process) and re-hashed on any doubt, so a file truncated, rewritten or
 * deleted under the store yields `NotFoundError` (a peer gets DONT_HAVE), never wrong bytes.
 *
 * Sources: Kubo's filestore (index entries pointing into files the node does not own, checked on
 * read); BitTorrent clients' positional piece writes into the output file.
 *
 * @module
 */

import { constants as fsc } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { logger } from '@libp2p/logger'
import { BaseBlockstore } from 'blockstore-core/base'
import { NotFoundError, OpenFailedError, PutFailedError } from 'interface-store'
import { base32upper } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { varint } from 'multiformats'
import { CODEC_RAW, WRITE_QUEUE_BYTES, WRITE_RUN_BYTES, WRITE_RUN_PARTS, DEFAULT_STORE_BATCH_BLOCKS, DEFAULT_STORE_BATCH_BYTES, DEFAULT_STORE_BATCH_MS, DEFAULT_STORE_OPEN_FILES, DEFAULT_STORE_RECHECK_MS, HASH_IDENTITY, STORE_FORMAT_VERSION } from './constants.js'
import { base32Key } from './block-key.js'
import { StoreFormatError } from './errors.js'
import { verifyBlock } from './verify.js'
import type { AbortOptions } from '@libp2p/interface'
import type { InputPair, Pair } from 'interface-blockstore'

/**
 * The part of a leveldb (`level`'s `Level<string, Uint8Array>`, the repo's datastore) the store
 * uses: its keys start with `/store/`, apart from the datastore's own.
 */
export interface StoreDb {
  get: (key: string) => Promise<Uint8Array | undefined>
  put: (key: string, value: Uint8Array, options?: { sync?: boolean }) => Promise<void>
  batch: (ops: Array<{ type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }>, options?: { sync?: boolean }) => Promise<void>
  iterator: (options: { gte: string, lt: string }) => AsyncIterable<[string, Uint8Array]>
}

const log = logger('tensorswap:blockstore:store')

/** leveldb key prefixes of the store (the rest of the datastore uses other prefixes). */
const BLOCK_PREFIX = '/store/block/'
const FILE_PREFIX = '/store/file/'
const VERSION_KEY = '/store/version'
/** File id of the small-block log. */
const LOG_FILE = 0
/** Name of the small-block log under the store directory. */
export const SMALL_LOG_FILE = 'small.log'
/** Directory of the data files the store owns, under the store directory. */
export const DATA_DIR = 'data'

/**
 * A data file: `key` names it across restarts (the same key is the same file), `path` (absolute)
 * puts it outside the store, in a file the store does not own (an output file of `get -o`, the
 * source of `add --no-copy`); without `path` the store owns it (`<store>/data/<id>.dat`).
 */
export interface DataFileRef {
  /** Stable name, e.g. `<root CID>/<path in the DAG>`. */
  key: string
  /** Absolute path of a file the store does not own; absent: a file inside the store. */
  path?: string
}

/**
 * Where a block's bytes go: `offset` bytes into data file `file`. `offset` may be a function of
 * the block's length in bytes (a manifest knows a tensor's last chunk ends at the tensor's end).
 */
export interface Placement {
  file: DataFileRef
  /** Bytes from the start of the data file, or a function of the block length giving it. */
  offset: number | ((length: number) => number)
  /**
   * The bytes are already there (`add --no-copy`: the source file itself): record the place,
   * write nothing. Only for a file outside the store (`file.path`) the caller has just read the
   * block from.
   */
  present?: boolean
}

/** `put` options of {@link ModelStore}: an optional {@link Placement} for the block. */
export interface PlaceOptions extends AbortOptions {
  /**
   * Write the block at this place (a raw leaf of a UnixFS file: the file and the leaf's offset
   * in it). Ignored when the block is stored already or the range is taken by another block
   * (then the block goes to the small-block log). Absent: a hint learned from a parent
   * ({@link PlacementHints}), else the small-block log.
   */
  placement?: Placement
}

/**
 * A source of placements learned from blocks as they pass through the store: for each non-raw
 * block put or read, `learn` returns the places of the blocks it links to (a UnixFS file node
 * gives its leaves' offsets, a manifest its tensors' chunks). Registered with
 * {@link ModelStore.addHints}; the model package's `modelPlacement` is the one TensorSwap uses.
 */
export interface PlacementHints {
  /** Places of blocks `cid` (already verified, `bytes`) tells about; may return nothing. */
  learn: (cid: CID, bytes: Uint8Array) => Iterable<{ cid: CID, placement: Placement }> | undefined
}

/** Options of {@link ModelStore}. */
export interface ModelStoreInit {
  /** Commit once this many bytes were written since the last commit. @default {@link DEFAULT_STORE_BATCH_BYTES} */
  batchBytes?: number
  /** Commit once this many blocks were written since the last commit. @default {@link DEFAULT_STORE_BATCH_BLOCKS} */
  batchBlocks?: number
  /** Commit this long (ms) after the first uncommitted write at the latest. @default {@link DEFAULT_STORE_BATCH_MS} */
  batchMs?: number
  /** `fdatasync` before each commit (off only for tests of the ordering itself). @default true */
  sync?: boolean
}

/** Where a block is. */
export interface BlockLocation {
  /** Data file id (0: the small-block log). */
  file: number
  /** Bytes from the start of the file. */
  offset: number
  /** Block length, bytes. */
  length: number
}

/** What the store records about a data file (JSON in leveldb). */
interface FileRecord {
  key: string
  /** Absolute path when the store does not own the file. */
  external?: string
  /** Size and mtime (ns, decimal) at the last commit: what a read trusts. */
  size?: number
  mtimeNs?: string
}

interface FileState {
  id: number
  record: FileRecord
  /** Absolute path on disk. */
  file: string
  handle?: fs.FileHandle
  /** Whether `handle` was opened for writing. */
  writable: boolean
  /** Opening or creating the handle (one at a time). */
  opening?: Promise<fs.FileHandle>
  /** Commits syncing this file right now (its handle is not closed meanwhile). */
  syncing: number
  /** Block writes queued for this file's next combined write ({@link ModelStore} `#write`). */
  queued: QueuedWrite[]
  /** Bytes in `queued`. */
  queuedBytes: number
  /** Combined writes to this file under way (its handle is not closed meanwhile). */
  writing: number
  /** Reads of this file under way, from taking its handle to the last byte (its handle is not closed meanwhile). */
  reading: number
  /** Written since the last commit. */
  dirty: boolean
  /** Written by this process: reads trust what we wrote. */
  ours: boolean
  /** Size/mtime check: 'unchecked' until the first read, 'ok' when they match the record, 'doubt' otherwise. */
  trust: 'unchecked' | 'ok' | 'doubt'
  checkedAt: number
  /** Size and mtime seen at the last check (a change forgets `verified`). */
  seen?: string
  /** Blocks of this file re-hashed since `seen` (a file in doubt hashes each block once). */
  verified: Set<string>
  /** Sorted, non-overlapping [start, end) ranges of the blocks indexed in this file. */
  ranges: Array<[number, number]>
}

/** One block waiting in a file's write queue: written with its neighbours by one `pwritev`. */
interface QueuedWrite {
  offset: number
  bytes: Uint8Array
  resolve: () => void
  reject: (err: unknown) => void
}

/** What {@link ModelStore.readStored} found for a block. */
export type StoredRead =
  | { state: 'ok', bytes: Uint8Array }
  /** The bytes are not there any more (the file is gone or shorter than the entry). */
  | { state: 'missing', why: string }
  /** Bytes read (to be checked by the caller). */
  | { state: 'read', bytes: Uint8Array }

/**
 * The repo's blockstore (interface-blockstore v7), model-shaped: see the module doc. `put` takes
 * {@link PlaceOptions}; everything else is the plain interface. Keyed by multihash (CIDv0 and
 * CIDv1 of one block are stored once; `getAll` yields CIDv1 `raw`).
 *
 * `put` resolves once the bytes are written (readable by this process); {@link flush} (and
 * `close`) resolves once everything put before it is durable and indexed.
 *
 * Errors: `get` of a missing (or no longer intact) block throws interface-store's
 * `NotFoundError`; a failed write or commit throws `PutFailedError` naming the file (an ENOSPC
 * included; the store stays consistent and takes writes again once space is freed);
 * `open` of a store of another format throws `StoreFormatError`.
 */
export class ModelStore extends BaseBlockstore {
  /** Absolute path of the store directory. */
  readonly path: string
  readonly #db: StoreDb
  readonly #init: Required<ModelStoreInit>
  readonly #index = new Map<string, BlockLocation>()
  readonly #pending = new Map<string, BlockLocation>()
  readonly #tombstones = new Set<string>()
  readonly #files = new Map<number, FileState>()
  readonly #fileByKey = new Map<string, number>()
  readonly #newFiles = new Set<number>()
  /** Files to re-stat at the next commit without syncing (referenced in place, `present`). */
  readonly #statOnly = new Set<number>()
  readonly #hints = new Set<PlacementHints>()
  readonly #placements = new Map<string, Placement>()
  /** Files with queued block writes, written at the next `setImmediate` ({@link #write}). */
  readonly #writeQueue = new Set<FileState>()
  #writeScheduled = false
  /** Combined writes issued and blocks they carried, since open (see {@link ModelStore.writes}). */
  #writeCalls = 0
  #writtenBlocks = 0
  #nextFileId = 1
  #logEnd = 0
  #logDirty = false
  #pendingBytes = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  #committing: Promise<void> | undefined
  #failure: Error | undefined
  #open = false
  #commits = 0

  /**
   * @param dir - the store directory (`<repo>/store`)
   * @param db - the repo's leveldb (string keys, byte values), already open
   * @param init - batching, see {@link ModelStoreInit}
   */
  constructor (dir: string, db: StoreDb, init: ModelStoreInit = {}) {
    super()
    this.path = path.resolve(dir)
    this.#db = db
    this.#init = {
      batchBytes: init.batchBytes ?? DEFAULT_STORE_BATCH_BYTES,
      batchBlocks: init.batchBlocks ?? DEFAULT_STORE_BATCH_BLOCKS,
      batchMs: init.batchMs ?? DEFAULT_STORE_BATCH_MS,
      sync: init.sync ?? true
    }
  }

  /**
   * Load the index and the data file records, create the directories and the log, and remove
   * data files no record names (left by a crash before their first commit).
   *
   * @throws StoreFormatError - the store was written by another format version
   * @throws OpenFailedError - the directory or the log cannot be created
   */
  async open (): Promise<void> {
    const version = await this.#db.get(VERSION_KEY)
    if (version == null) {
      await this.#db.put(VERSION_KEY, new TextEncoder().encode(String(STORE_FORMAT_VERSION)), { sync: true })
    } else if (new TextDecoder().decode(version) !== String(STORE_FORMAT_VERSION)) {
      throw new StoreFormatError(`store ${this.path} has format ${new TextDecoder().decode(version)}, this version reads ${STORE_FORMAT_VERSION}: use the tensorswap version that wrote it, or move the repo away`, this.path)
    }
    try {
      await fs.mkdir(path.join(this.path, DATA_DIR), { recursive: true })
      const logFile = path.join(this.path, SMALL_LOG_FILE)
      const handle = await fs.open(logFile, fsc.O_RDWR | fsc.O_CREAT, 0o644)
      this.#logEnd = (await handle.stat()).size
      this.#files.set(LOG_FILE, { id: LOG_FILE, record: { key: '' }, file: logFile, handle, writable: true, syncing: 0, queued: [], queuedBytes: 0, writing: 0, reading: 0, dirty: false, ours: true, trust: 'ok', checkedAt: 0, verified: new Set(), ranges: [] })
    } catch (err: any) {
      throw new OpenFailedError(`cannot open store at ${this.path}: ${String(err.message)}`)
    }
    for await (const [key, value] of this.#db.iterator({ gte: FILE_PREFIX, lt: FILE_PREFIX + '\xff' })) {
      const id = Number(key.slice(FILE_PREFIX.length))
      const record = JSON.parse(new TextDecoder().decode(value)) as FileRecord
      this.#addFile(id, record)
    }
    for await (const [key, value] of this.#db.iterator({ gte: BLOCK_PREFIX, lt: BLOCK_PREFIX + '\xff' })) {
      const loc = decodeLocation(value)
      const k = key.slice(BLOCK_PREFIX.length)
      const f = this.#files.get(loc.file)
      if (f == null) {
        log.error('index entry %s names data file %d, which has no record: ignored', k, loc.file)
        continue
      }
      this.#index.set(k, loc)
      if (loc.file !== LOG_FILE) f.ranges.push([loc.offset, loc.offset + loc.length])
    }
    for (const f of this.#files.values()) f.ranges.sort((a, b) => a[0] - b[0])
    await this.#removeOrphans()
    this.#open = true
    log('opened store %s: %d blocks, %d data files, log %d bytes', this.path, this.#index.size, this.#files.size - 1, this.#logEnd)
  }

  /** Commit what is pending, close the files. Idempotent. @throws PutFailedError - the last commit failed */
  async close (): Promise<void> {
    if (!this.#open) return
    try {
      await this.flush()
    } finally {
      this.#open = false
      clearTimeout(this.#timer)
      for (const f of this.#files.values()) {
        const h = f.handle
        f.handle = undefined
        await h?.close().catch((err: Error) => { log.error('closing %s failed - %e', f.file, err) })
      }
    }
  }

  /**
   * Make everything put so far durable and indexed (one commit, after any commit under way).
   * @throws PutFailedError - a commit failed (its blocks are dropped: they are fetched again)
   */
  async flush (): Promise<void> {
    while (this.#committing != null) await this.#committing.catch(() => {})
    // a data file written without a block to index (`fill`, a truncate) is synced too
    if (this.#pending.size > 0 || this.#tombstones.size > 0 || this.#newFiles.size > 0 || this.#logDirty || [...this.#files.values()].some(f => f.dirty)) await this.#commit()
    this.#throwFailure()
  }

  /**
   * Register placement hints: every non-raw block put or read from now on is shown to `hints`,
   * and the places it returns are used by later puts of those blocks.
   * @returns a function that unregisters them (and forgets their places)
   */
  addHints (hints: PlacementHints): () => void {
    this.#hints.add(hints)
    return () => {
      this.#hints.delete(hints)
      if (this.#hints.size === 0) this.#placements.clear()
    }
  }

  /** Where the block is (committed or pending), or `undefined`. */
  locate (cid: CID): BlockLocation | undefined {
    const k = keyOf(cid)
    return this.#pending.get(k) ?? this.#index.get(k)
  }

  /** The data file a location's `file` id names: its key and absolute path (`external`: not owned). */
  dataFile (id: number): { key: string, path: string, external: boolean } | undefined {
    const f = this.#files.get(id)
    return f == null ? undefined : { key: f.record.key, path: f.file, external: f.record.external != null }
  }

  /**
   * Whether the block is stored: in the index, and (for a data file in doubt: its size or mtime
   * changed under the store) its bytes still hash to the CID. A block that fails that check is
   * dropped from the index.
   */
  override async has (cid: CID, options: AbortOptions = {}): Promise<boolean> {
    options.signal?.throwIfAborted()
    const k = keyOf(cid)
    const loc = this.#pending.get(k) ?? this.#index.get(k)
    if (loc == null) return false
    if (loc.file === LOG_FILE) return true
    const f = this.#files.get(loc.file) as FileState
    if (await this.#trusted(f) && sizeOk(f, loc)) return true
    const got = await this.#readChecked(cid, k, loc)
    return got != null
  }

  /** The stored block's size in bytes (from the index), `undefined` when it is not stored. */
  async size (cid: CID, options: AbortOptions = {}): Promise<number | undefined> {
    options.signal?.throwIfAborted()
    const k = keyOf(cid)
    return (this.#pending.get(k) ?? this.#index.get(k))?.length
  }

  /**
   * Store a block (once: a block already stored is a no-op). Raw leaves go to their placement
   * (`options.placement`, else one learned from a parent), everything else (and a leaf whose
   * place is taken) to the small-block log. Does not verify the bytes against the CID: every
   * caller that takes bytes from elsewhere verifies first.
   *
   * @returns `cid`
   * @throws PutFailedError - the write (or an earlier commit) failed, naming the file
   * @throws AbortError - `options.signal` aborted
   */
  override async put (cid: CID, bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options: PlaceOptions = {}): Promise<CID> {
    options.signal?.throwIfAborted()
    this.#throwFailure()
    const k = keyOf(cid)
    if (this.#pending.has(k) || this.#index.has(k)) return cid
    const block = bytes instanceof Uint8Array ? bytes : await collect(bytes)
    if (cid.code !== CODEC_RAW) this.#learn(cid, block)
    const placement = cid.code === CODEC_RAW ? options.placement ?? this.#placements.get(k) : undefined
    let loc: BlockLocation | undefined
    if (placement != null && block.byteLength > 0) loc = await this.#writePlaced(k, block, placement)
    if (loc == null) loc = await this.#append(block)
    if (this.#pending.has(k) || this.#index.has(k)) {
      // a concurrent put of the same block won: this copy is not indexed
      this.#release(loc)
      return cid
    }
    this.#placements.delete(k)
    this.#tombstones.delete(k)
    this.#pending.set(k, loc)
    this.#pendingBytes += loc.length
    this.#scheduleCommit()
    return cid
  }

  /**
   * Read a block (one chunk). Log blocks are re-hashed; data-file blocks are re-hashed when the
   * file's size or mtime differs from what the store recorded.
   *
   * @throws NotFoundError - not stored, or its bytes are gone or changed (the entry is dropped)
   * @throws AbortError - `options.signal` aborted
   */
  override async * get (cid: CID, options: AbortOptions = {}): AsyncGenerator<Uint8Array> {
    options.signal?.throwIfAborted()
    const k = keyOf(cid)
    const loc = this.#pending.get(k) ?? this.#index.get(k)
    if (loc == null) throw new NotFoundError(`block ${cid} not found`)
    const bytes = await this.#readChecked(cid, k, loc)
    if (bytes == null) throw new NotFoundError(`block ${cid} is no longer intact in ${this.#files.get(loc.file)?.file ?? '?'}`)
    if (cid.code !== CODEC_RAW && this.#hints.size > 0) this.#learn(cid, bytes)
    yield bytes
  }

  /**
   * The stored bytes of a block without any check (for `verifyStore`, which re-hashes them).
   * @returns `undefined` when the block is not in the index
   */
  async readStored (cid: CID, options: AbortOptions = {}): Promise<StoredRead | undefined> {
    options.signal?.throwIfAborted()
    const k = keyOf(cid)
    const loc = this.#pending.get(k) ?? this.#index.get(k)
    if (loc == null) return undefined
    return await this.#readRaw(loc)
  }

  /** Every stored block (committed or pending), CIDv1 `raw`, bytes read (and checked) lazily. */
  override async * getAll (options: AbortOptions = {}): AsyncGenerator<Pair> {
    const keys = [...this.#index.keys(), ...[...this.#pending.keys()].filter(k => !this.#index.has(k))]
    for (const k of keys) {
      options.signal?.throwIfAborted()
      if (!this.#index.has(k) && !this.#pending.has(k)) continue
      const cid = CID.createV1(CODEC_RAW, Digest.decode(base32upper.baseDecode(k)))
      yield { cid, bytes: this.get(cid, options) }
    }
  }

  /** Forget a block (durable on return); its bytes stay until `gc` compacts. Deleting a missing block is fine. */
  override async delete (cid: CID, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    this.#drop(keyOf(cid))
    await this.flush()
  }

  /**
   * Write `bytes` at `offset` of data file `ref` without indexing them (the blocks they hold are
   * stored elsewhere already): how an export fills a write-once output file with the leaves that
   * were not fetched into it (a leaf repeated in the file, blocks that were already in the
   * repo). Blocks indexed in that range of the file are dropped first (they were misplaced).
   *
   * @throws PutFailedError - the write failed, naming the file
   */
  async fill (ref: DataFileRef, offset: number, bytes: Uint8Array): Promise<void> {
    this.#throwFailure()
    const f = this.#fileFor(ref)
    this.#dropRange(f, offset, offset + bytes.byteLength)
    // counted as writing, so another file's open does not close this handle as idle meanwhile
    f.writing++
    try {
      await writeAt(await this.#handle(f, true), bytes, offset)
    } catch (err: any) {
      throw putFailed(`cannot write to ${f.file}: ${String(err.message)}`, err)
    } finally {
      f.writing--
    }
    f.dirty = true
    f.ours = true
  }

  /**
   * Finish data files in place: make each `ref` exactly `size` bytes (blocks indexed past the
   * end are dropped), commit everything (one commit: the files' `fdatasync`s run together),
   * then rename each to its `to` (absolute): finished `NAME.part` files becoming `NAME`. The
   * blocks in them stay indexed, now in `to`, which the store does not own; one more commit
   * records the new paths. Finishing many files together costs two commits in all, not two per
   * file: the 83 files of the human-models set took ~0.7 s one by one (bench/README.md, stop 28).
   * Crash-safe at each step: a crash before the second commit leaves the index naming `.part`
   * paths that are gone (their blocks count as missing, a resume fetches or keeps them).
   *
   * @param files - the data files and their final sizes (bytes) and paths
   * @throws PutFailedError - a truncate, sync, rename or commit failed; the files renamed
   *   before a failed rename are recorded under their new paths first
   */
  async finishFiles (files: ReadonlyArray<{ ref: DataFileRef, size: number, to: string }>): Promise<void> {
    const states = files.map(({ ref, size, to }) => ({ f: this.#fileFor(ref), size, to }))
    try {
      for (const { f, size } of states) {
        this.#dropRange(f, size, Infinity)
        // counted as writing, so another file's open does not close this handle as idle meanwhile
        f.writing++
        try {
          const h = await this.#handle(f, true)
          f.ours = true
          // a file already that size keeps its synced state: no truncate, so no sync to pay for
          if ((await h.stat()).size === size) continue
          await h.truncate(size)
          f.dirty = true
        } finally {
          f.writing--
        }
      }
      // the bytes are durable before the names are: the commit syncs every dirty file
      await this.flush()
    } catch (err: any) {
      if (err.name === 'PutFailedError') throw err
      throw putFailed(`cannot finish ${states.map(s => s.f.file).join(', ')}: ${String(err.message)}`, err)
    }
    let failure: Error | undefined
    for (const { f, to } of states) {
      try {
        await fs.rename(f.file, to)
      } catch (err: any) {
        failure = putFailed(`cannot finish ${f.file} as ${to}: ${String(err.message)}`, err)
        break
      }
      f.file = path.resolve(to)
      f.record.external = f.file
      this.#fileByKey.set(f.record.key, f.id)
      this.#newFiles.add(f.id)
    }
    await this.flush()
    if (failure != null) throw failure
  }

  /** Data file `ref` as the store knows it: its id (use with {@link locate}) and absolute path. */
  fileOf (ref: DataFileRef): { id: number, path: string } | undefined {
    const id = this.#fileByKey.get(ref.key)
    const f = id == null ? undefined : this.#files.get(id)
    if (f == null || (f.record.external ?? undefined) !== (ref.path != null ? path.resolve(ref.path) : undefined)) return undefined
    return { id: f.id, path: f.file }
  }

  /**
   * Forget every block `isLive` rejects, then give their space back: owned data files left with
   * no block are removed, and the small-block log's live blocks are moved into a fresh owned
   * data file (one commit) before the log is emptied. Files the store does not own are never
   * touched (their index entries go). Crash-safe at every step: the index moves only by
   * commits, and a file no record names is removed on open.
   *
   * @param isLive - by index key (base32 of the multihash)
   * @returns blocks and bytes forgotten, disk bytes given back
   * @throws PutFailedError - a write or commit failed (the store stays consistent)
   */
  async compact (isLive: (key: string) => boolean): Promise<{ blocks: number, bytes: number, diskBytes: number }> {
    await this.flush()
    let blocks = 0
    let bytes = 0
    for (const [k, loc] of [...this.#index]) {
      if (this.#pending.has(k) || isLive(k)) continue
      this.#drop(k)
      blocks++
      bytes += loc.length
    }
    await this.flush()
    let diskBytes = 0
    for (const f of [...this.#files.values()]) {
      if (f.id === LOG_FILE || f.record.external != null || f.ranges.length > 0 || f.dirty || f.syncing > 0) continue
      const h = f.handle
      f.handle = undefined
      await h?.close()
      diskBytes += (await fs.stat(f.file).catch(() => ({ size: 0 }))).size
      await this.#db.batch([{ type: 'del', key: FILE_PREFIX + String(f.id) }], { sync: this.#init.sync })
      await fs.rm(f.file, { force: true })
      this.#files.delete(f.id)
      if (this.#fileByKey.get(f.record.key) === f.id) this.#fileByKey.delete(f.record.key)
    }
    const logLive = [...this.#index].filter(([, loc]) => loc.file === LOG_FILE)
    const liveBytes = logLive.reduce((n, [, loc]) => n + loc.length, 0)
    const logEnd = this.#logEnd
    if (logEnd > liveBytes && this.#pending.size === 0) {
      const target = this.#fileFor({ key: `log:${Date.now()}` })
      let offset = 0
      for (const [k, loc] of logLive) {
        const got = await this.#readRaw(loc)
        if (got.state === 'missing') { this.#drop(k); continue }
        const cid = CID.createV1(CODEC_RAW, Digest.decode(base32upper.baseDecode(k)))
        try {
          verifyBlock(cid, got.bytes)
        } catch (err) {
          log.error('gc: log block %s is corrupt: dropped - %e', k, err)
          this.#drop(k)
          continue
        }
        const moved = await this.#writePlaced(k, got.bytes, { file: { key: target.record.key }, offset })
        if (moved == null) throw new StoreFormatError(`gc: cannot place ${k} in ${target.file}`)
        offset += loc.length
        this.#pending.set(k, moved)
        this.#pendingBytes += moved.length
      }
      await this.flush()
      if (this.#logEnd === logEnd && ![...this.#pending.values(), ...this.#index.values()].some(l => l.file === LOG_FILE)) {
        const h = (this.#files.get(LOG_FILE) as FileState).handle as fs.FileHandle
        await h.truncate(0)
        await h.datasync()
        this.#logEnd = 0
        diskBytes += logEnd - liveBytes
      }
    }
    return { blocks, bytes, diskBytes }
  }

  /** Blocks in the index (committed or pending). */
  get blocks (): number {
    let n = this.#index.size
    for (const k of this.#pending.keys()) if (!this.#index.has(k)) n++
    return n
  }

  /** Commits made since open (each: one fdatasync per file written, one leveldb batch). */
  get commits (): number {
    return this.#commits
  }

  /** Block writes since open: `calls` file writes (`pwrite`/`pwritev`) carried `blocks` blocks. */
  get writes (): { calls: number, blocks: number } {
    return { calls: this.#writeCalls, blocks: this.#writtenBlocks }
  }

  /** put many: sequential puts, yields each CID once written. */
  override async * putMany (source: Iterable<InputPair> | AsyncIterable<InputPair>, options: PlaceOptions = {}): AsyncGenerator<CID> {
    for await (const { cid, bytes } of source) yield await this.put(cid, bytes, options)
  }

  // --- internals ---

  #throwFailure (): void {
    const err = this.#failure
    if (err == null) return
    // reported once: after space is freed the store takes writes again
    this.#failure = undefined
    throw err
  }

  #addFile (id: number, record: FileRecord): FileState {
    const file = record.external ?? path.join(this.path, DATA_DIR, `${id}.dat`)
    const f: FileState = { id, record, file, writable: false, syncing: 0, queued: [], queuedBytes: 0, writing: 0, reading: 0, dirty: false, ours: false, trust: 'unchecked', checkedAt: 0, verified: new Set(), ranges: [] }
    this.#files.set(id, f)
    this.#fileByKey.set(record.key, id)
    if (id >= this.#nextFileId) this.#nextFileId = id + 1
    return f
  }

  #learn (cid: CID, bytes: Uint8Array): void {
    for (const h of this.#hints) {
      let places
      try {
        places = h.learn(cid, bytes)
      } catch (err) {
        // a block whose hints cannot be read is still stored; its children go to the log
        log('no placement from %c - %e', cid, err)
        continue
      }
      for (const p of places ?? []) {
        // the last word wins: a UnixFS file node (exact) comes after the manifest (inferred)
        this.#placements.set(keyOf(p.cid), p.placement)
      }
    }
  }

  /** Write a placed block; `undefined` when its range is taken (it goes to the log then). */
  async #writePlaced (k: string, block: Uint8Array, placement: Placement): Promise<BlockLocation | undefined> {
    const offset = typeof placement.offset === 'number' ? placement.offset : placement.offset(block.byteLength)
    if (!Number.isSafeInteger(offset) || offset < 0) return undefined
    const f = this.#fileFor(placement.file)
    const range: [number, number] = [offset, offset + block.byteLength]
    if (!reserve(f.ranges, range)) {
      log('%s: [%d, %d) of %s is taken: block goes to the log', k, range[0], range[1], f.file)
      return undefined
    }
    if (placement.present === true && f.record.external != null) {
      this.#statOnly.add(f.id)
      return { file: f.id, offset, length: block.byteLength }
    }
    try {
      await this.#write(f, block, offset)
    } catch (err: any) {
      unreserve(f.ranges, range)
      throw putFailed(`cannot write block to ${f.file}: ${String(err.message)}`, err)
    }
    f.dirty = true
    f.ours = true
    return { file: f.id, offset, length: block.byteLength }
  }

  async #append (block: Uint8Array): Promise<BlockLocation> {
    const f = this.#files.get(LOG_FILE) as FileState
    const offset = this.#logEnd
    this.#logEnd += block.byteLength
    try {
      await this.#write(f, block, offset)
    } catch (err: any) {
      throw putFailed(`cannot write block to ${f.file}: ${String(err.message)}`, err)
    }
    this.#logDirty = true
    return { file: LOG_FILE, offset, length: block.byteLength }
  }

  /**
   * Write `bytes` at `offset` of `f`, combined with the other block writes queued in this turn
   * of the event loop: a fetch of small blocks puts dozens of blocks per message, and one
   * `pwrite` per block cost more main-thread time than the bytes (~25 us to issue each, one
   * libuv round trip each). Queued writes to a file are sorted by offset and each run of
   * adjacent blocks goes out as one `pwritev` (at most {@link WRITE_RUN_BYTES} bytes,
   * {@link WRITE_RUN_PARTS} blocks); a block of a whole run's size, or a queue of
   * {@link WRITE_QUEUE_BYTES}, is written at once. Resolves once this block's bytes are written (readable by
   * this process); durability is still the commit's `fdatasync`.
   *
   * @throws the file system's error for the run this block was in (opening the file included)
   */
  async #write (f: FileState, bytes: Uint8Array, offset: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      f.queued.push({ offset, bytes, resolve, reject })
      f.queuedBytes += bytes.byteLength
      this.#writeQueue.add(f)
      if (bytes.byteLength >= WRITE_RUN_BYTES || f.queuedBytes >= WRITE_QUEUE_BYTES) {
        // a block that fills a run alone (a 1 MiB leaf), or a lot queued: no need to wait for the turn to end
        this.#writeQueue.delete(f)
        this.#issueWrites(f)
      } else if (!this.#writeScheduled) {
        this.#writeScheduled = true
        setImmediate(() => {
          this.#writeScheduled = false
          const files = [...this.#writeQueue]
          this.#writeQueue.clear()
          for (const q of files) this.#issueWrites(q)
        })
      }
    })
  }

  /** Issue the queued writes of `f`: one `pwritev` per run of adjacent blocks. Never rejects (each block's promise does). */
  #issueWrites (f: FileState): void {
    const queued = f.queued
    if (queued.length === 0) return
    f.queued = []
    f.queuedBytes = 0
    queued.sort((a, b) => a.offset - b.offset)
    let i = 0
    while (i < queued.length) {
      const run = [queued[i] as QueuedWrite]
      let end = run[0].offset + run[0].bytes.byteLength
      let bytes = run[0].bytes.byteLength
      i++
      while (i < queued.length && run.length < WRITE_RUN_PARTS) {
        const next = queued[i] as QueuedWrite
        if (next.offset !== end || bytes + next.bytes.byteLength > WRITE_RUN_BYTES) break
        run.push(next)
        end += next.bytes.byteLength
        bytes += next.bytes.byteLength
        i++
      }
      f.writing++
      this.#writeCalls++
      this.#writtenBlocks += run.length
      void (async () => {
        const handle = await this.#handle(f, true)
        if (run.length === 1) await writeAt(handle, run[0].bytes, run[0].offset)
        else await writevAt(handle, run.map(w => w.bytes), run[0].offset)
      })().then(() => {
        f.writing--
        for (const w of run) w.resolve()
      }, (err: unknown) => {
        f.writing--
        for (const w of run) w.reject(err)
      })
    }
  }

  #fileFor (ref: DataFileRef): FileState {
    const id = this.#fileByKey.get(ref.key)
    if (id != null) {
      const f = this.#files.get(id) as FileState
      if ((f.record.external ?? undefined) === (ref.path != null ? path.resolve(ref.path) : undefined)) return f
      // the same key at another path: a new record replaces the old one's key
    }
    const f = this.#addFile(this.#nextFileId, { key: ref.key, ...(ref.path != null ? { external: path.resolve(ref.path) } : {}) })
    f.trust = 'ok'
    f.ours = true
    this.#newFiles.add(f.id)
    return f
  }

  async #handle (f: FileState, write: boolean): Promise<fs.FileHandle> {
    while (f.opening != null) await f.opening.catch(() => {})
    if (f.handle != null && (f.writable || !write)) return f.handle
    f.opening = (async () => {
      if (write) await fs.mkdir(path.dirname(f.file), { recursive: true })
      const h = await fs.open(f.file, write ? fsc.O_RDWR | fsc.O_CREAT : fsc.O_RDONLY, 0o644)
      const old = f.handle
      f.handle = h
      f.writable = write
      // a read-only handle replaced by a writable one (reads in flight keep their own)
      if (old != null) setTimeout(() => { void old.close().catch(() => {}) }, 1000).unref?.()
      this.#limitOpenFiles(f)
      return h
    })()
    try {
      return await f.opening
    } finally {
      f.opening = undefined
    }
  }

  /**
   * Keep at most DEFAULT_STORE_OPEN_FILES handles open: close one of a clean file that nothing
   * uses (no read, write, sync or open under way). Closing a handle between a read's taking it
   * and its read failed that read with "file closed" (a seeder reading the 83 files of the
   * human-models set in parallel; its peer then waited out a want timeout). When every open
   * handle is in use the limit is exceeded for a moment rather than a read failed.
   */
  #limitOpenFiles (keep: FileState): void {
    const idle = [...this.#files.values()].filter(f => f.handle != null && f !== keep && f.id !== LOG_FILE && !f.dirty && f.syncing === 0 && f.writing === 0 && f.reading === 0 && f.opening == null && f.queued.length === 0)
    if (idle.length < DEFAULT_STORE_OPEN_FILES) return
    const victim = idle[0]
    const h = victim.handle
    victim.handle = undefined
    h?.close().catch((err: any) => { log('closing the handle of %s failed - %e', victim.file, err) })
  }

  /** Stop using `f`'s cached handle (closed a moment later, so reads in flight finish). */
  #dropHandle (f: FileState): void {
    const h = f.handle
    if (h == null || f.ours) return
    f.handle = undefined
    setTimeout(() => { void h.close().catch(() => {}) }, 1000).unref?.()
  }

  /** Whether reads of `f` may skip hashing: ours, or its size and mtime are as recorded (rechecked now and then). */
  async #trusted (f: FileState): Promise<boolean> {
    if (f.ours) return true
    const now = Date.now()
    if (f.trust !== 'unchecked' && now - f.checkedAt < DEFAULT_STORE_RECHECK_MS) return f.trust === 'ok'
    f.checkedAt = now
    let st
    try {
      st = await fs.stat(f.file, { bigint: true })
    } catch (err: any) {
      if (err.code !== 'ENOENT' && err.code !== 'ENOTDIR') throw err
      f.trust = 'doubt'
      f.seen = undefined
      this.#dropHandle(f)
      return false
    }
    const seen = `${st.size}/${st.mtimeNs}/${st.ino}`
    if (seen !== f.seen) {
      f.verified.clear()
      // a file replaced or deleted under an open handle: read what is at the path now
      if (f.seen != null) this.#dropHandle(f)
    }
    f.seen = seen
    const ok = f.record.size === Number(st.size) && f.record.mtimeNs === st.mtimeNs.toString()
    if (!ok && f.trust !== 'doubt') log('data file %s changed under the store (size %d, was %s): its blocks are re-hashed on read', f.file, st.size, f.record.size)
    f.trust = ok ? 'ok' : 'doubt'
    return ok
  }


  /** Read a block, re-hashing it when not trusted; on failure drop it and return `undefined`. */
  async #readChecked (cid: CID, k: string, loc: BlockLocation): Promise<Uint8Array | undefined> {
    const got = await this.#readRaw(loc)
    if (got.state === 'missing') {
      log.error('block %c: %s: dropped from the index', cid, got.why)
      this.#drop(k)
      return undefined
    }
    const f = this.#files.get(loc.file) as FileState
    if (got.state === 'ok' || f.verified.has(k)) return got.bytes
    if (cid.multihash.code === HASH_IDENTITY) return got.bytes
    try {
      verifyBlock(cid, got.bytes)
    } catch (err) {
      log.error('block %c in %s does not hash to its CID any more: dropped from the index - %e', cid, this.#files.get(loc.file)?.file, err)
      this.#drop(k)
      return undefined
    }
    if (loc.file !== LOG_FILE) f.verified.add(k)
    return got.bytes
  }

  async #readRaw (loc: BlockLocation): Promise<StoredRead> {
    const f = this.#files.get(loc.file)
    if (f == null) return { state: 'missing', why: `data file ${loc.file} has no record` }
    const trusted = loc.file !== LOG_FILE && await this.#trusted(f)
    let handle: fs.FileHandle | undefined
    f.reading++
    const buf = Buffer.allocUnsafe(loc.length)
    let at = 0
    try {
      handle = await this.#handle(f, false).catch((err: any) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined
        throw err
      })
      if (handle == null) return { state: 'missing', why: `${f.file} is gone` }
      while (at < loc.length) {
        const { bytesRead } = await handle.read(buf, at, loc.length - at, loc.offset + at)
        if (bytesRead === 0) break
        at += bytesRead
      }
    } finally {
      f.reading--
    }
    if (at < loc.length) {
      // the file may have been replaced under an open handle: look again at the path
      if (!f.ours && f.handle === handle) { f.handle = undefined; await handle.close().catch(() => {}) }
      return { state: 'missing', why: `${f.file} ends before byte ${loc.offset + loc.length}` }
    }
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
    return trusted ? { state: 'ok', bytes } : { state: 'read', bytes }
  }

  /** Forget a block now; the index entry is removed at the next commit. */
  #drop (k: string): void {
    const p = this.#pending.get(k)
    if (p != null) {
      this.#pending.delete(k)
      this.#pendingBytes -= p.length
      this.#release(p)
    }
    const c = this.#index.get(k)
    if (c != null) {
      this.#index.delete(k)
      this.#release(c)
      this.#tombstones.add(k)
      this.#scheduleCommit()
    }
  }

  /** Drop every block indexed in `[start, end)` of file `f`. */
  #dropRange (f: FileState, start: number, end: number): void {
    if (!f.ranges.some(r => r[0] < end && r[1] > start)) return
    for (const [k, loc] of [...this.#pending, ...this.#index]) {
      if (loc.file === f.id && loc.offset < end && loc.offset + loc.length > start) {
        log('%s in [%d, %d) of %s is overwritten: dropped', k, loc.offset, loc.offset + loc.length, f.file)
        this.#drop(k)
      }
    }
  }

  #release (loc: BlockLocation): void {
    if (loc.file === LOG_FILE) return
    const f = this.#files.get(loc.file)
    if (f != null) unreserve(f.ranges, [loc.offset, loc.offset + loc.length])
  }

  #scheduleCommit (): void {
    if (this.#pendingBytes >= this.#init.batchBytes || this.#pending.size >= this.#init.batchBlocks) {
      if (this.#committing == null) void this.#commit()
      return
    }
    if (this.#timer == null) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        if (this.#committing == null) void this.#commit()
        else void this.#committing.finally(() => { this.#scheduleCommit() })
      }, this.#init.batchMs)
      this.#timer.unref?.()
    }
  }

  /**
   * One commit: fdatasync the files written since the last one, then one synced leveldb batch.
   * Never rejects: a failure is kept for the next `put` or `flush` to throw.
   */
  async #commit (): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const entries = [...this.#pending]
    const tombstones = [...this.#tombstones]
    this.#tombstones.clear()
    const files = [...this.#files.values()].filter(f => f.dirty)
    const newFiles = [...this.#newFiles, ...this.#statOnly]
    this.#newFiles.clear()
    this.#statOnly.clear()
    const logDirty = this.#logDirty
    this.#logDirty = false
    for (const f of files) { f.dirty = false; f.syncing++ }
    const run = async (): Promise<void> => {
      if (this.#init.sync) {
        await Promise.all([
          ...files.map(async f => { await (await this.#handle(f, true)).datasync() }),
          ...(logDirty ? [(this.#files.get(LOG_FILE) as FileState).handle?.datasync()] : [])
        ])
      }
      const ops: Array<{ type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }> = []
      const touched = new Set<number>([...files.map(f => f.id), ...newFiles])
      for (const id of touched) {
        const f = this.#files.get(id) as FileState
        const st = f.handle != null ? await f.handle.stat({ bigint: true }) : await fs.stat(f.file, { bigint: true }).catch(() => undefined)
        if (st != null) {
          f.record.size = Number(st.size)
          f.record.mtimeNs = st.mtimeNs.toString()
        }
        ops.push({ type: 'put', key: FILE_PREFIX + String(id), value: new TextEncoder().encode(JSON.stringify(f.record)) })
      }
      for (const [k, loc] of entries) ops.push({ type: 'put', key: BLOCK_PREFIX + k, value: encodeLocation(loc) })
      for (const k of tombstones) ops.push({ type: 'del', key: BLOCK_PREFIX + k })
      await this.#db.batch(ops, { sync: this.#init.sync })
    }
    const p = run()
    this.#committing = p.then(() => {
      let bytes = 0
      for (const [k, loc] of entries) {
        // deleted (or replaced) while the commit ran: its tombstone goes in the next commit
        if (this.#pending.get(k) !== loc) continue
        this.#pending.delete(k)
        this.#index.set(k, loc)
        bytes += loc.length
      }
      this.#pendingBytes -= bytes
      this.#commits++
      log.trace('committed %d blocks (%d bytes), %d files synced', entries.length, bytes, files.length + (logDirty ? 1 : 0))
    }, (err: any) => {
      // nothing of this batch is durable: forget its blocks (a resumed fetch gets them again)
      const where = files[0]?.file ?? path.join(this.path, SMALL_LOG_FILE)
      this.#failure = putFailed(`cannot commit ${entries.length} blocks to ${where}: ${String(err.message)}`, err)
      log.error('commit failed - %e', err)
      for (const [k, loc] of entries) {
        if (this.#pending.get(k) !== loc) continue
        this.#pending.delete(k)
        this.#pendingBytes -= loc.length
        this.#release(loc)
      }
      for (const k of tombstones) this.#tombstones.add(k)
      for (const id of newFiles) this.#newFiles.add(id)
    }).finally(() => {
      for (const f of files) f.syncing--
      this.#committing = undefined
      if (this.#open && (this.#pending.size > 0 || this.#tombstones.size > 0)) this.#scheduleCommit()
    })
    await this.#committing
  }

  async #removeOrphans (): Promise<void> {
    const dir = path.join(this.path, DATA_DIR)
    const owned = new Set([...this.#files.values()].filter(f => f.record.external == null).map(f => path.basename(f.file)))
    for (const name of await fs.readdir(dir)) {
      if (owned.has(name)) continue
      await fs.rm(path.join(dir, name), { force: true })
      log('removed data file %s: no record (left by a crash before its first commit)', name)
    }
  }
}

/** interface-store's `PutFailedError` (the name stores throw) with the cause attached. */
function putFailed (message: string, cause: unknown): Error {
  const err = new PutFailedError(message)
  ;(err as any).cause = cause
  return err
}

/** Whether a location lies within its file's recorded size (or the file is being written by us). */
function sizeOk (f: FileState, loc: BlockLocation): boolean {
  return f.ours || f.record.size == null || loc.offset + loc.length <= f.record.size
}

/** Index key of a block: base32 (RFC 4648, upper, unpadded) of its multihash, as flatfs. */
function keyOf (cid: CID): string {
  return base32Key(cid.multihash.bytes)
}

/** varint(file) varint(offset) varint(length). */
function encodeLocation (loc: BlockLocation): Uint8Array {
  const out = new Uint8Array(varint.encodingLength(loc.file) + varint.encodingLength(loc.offset) + varint.encodingLength(loc.length))
  let at = 0
  for (const n of [loc.file, loc.offset, loc.length]) {
    varint.encodeTo(n, out, at)
    at += varint.encodingLength(n)
  }
  return out
}

/** @throws StoreFormatError - not three varints */
function decodeLocation (bytes: Uint8Array): BlockLocation {
  const [file, a] = varint.decode(bytes, 0)
  const [offset, b] = varint.decode(bytes, a)
  const [length, c] = varint.decode(bytes, a + b)
  if (a + b + c !== bytes.byteLength) throw new StoreFormatError(`index entry of ${bytes.byteLength} bytes is not three varints`)
  return { file, offset, length }
}

/** Insert `r` into the sorted non-overlapping `ranges`; false (and nothing inserted) when it overlaps one. */
function reserve (ranges: Array<[number, number]>, r: [number, number]): boolean {
  let lo = 0
  let hi = ranges.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (ranges[mid][0] < r[0]) lo = mid + 1
    else hi = mid
  }
  const prev = ranges[lo - 1]
  const next = ranges[lo]
  if (prev != null && prev[1] > r[0]) return false
  if (next != null && next[0] < r[1]) return false
  if (r[1] === r[0] && next != null && next[0] === r[0]) return false
  ranges.splice(lo, 0, r)
  return true
}

function unreserve (ranges: Array<[number, number]>, r: [number, number]): void {
  const i = ranges.findIndex(x => x[0] === r[0] && x[1] === r[1])
  if (i >= 0) ranges.splice(i, 1)
}

/** `pwritev` of `parts` (adjacent, in order) at `position`; a short write is finished with `pwrite`s. */
async function writevAt (handle: fs.FileHandle, parts: Uint8Array[], position: number): Promise<void> {
  const total = parts.reduce((n, p) => n + p.byteLength, 0)
  const { bytesWritten } = await handle.writev(parts, position)
  if (bytesWritten === total) return
  let skip = bytesWritten
  let at = position
  for (const p of parts) {
    if (skip >= p.byteLength) { skip -= p.byteLength; at += p.byteLength; continue }
    await writeAt(handle, p.subarray(skip), at + skip)
    at += p.byteLength
    skip = 0
  }
}

async function writeAt (handle: fs.FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let at = 0
  while (at < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, at, bytes.byteLength - at, position + at)
    at += bytesWritten
  }
}

async function collect (source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let length = 0
  for await (const c of source) { chunks.push(c); length += c.byteLength }
  const out = new Uint8Array(length)
  let at = 0
  for (const c of chunks) { out.set(c, at); at += c.byteLength }
  return out
}

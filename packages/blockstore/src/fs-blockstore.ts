/**
 * A filesystem blockstore: one file per block, sharded directories, crash-safe writes.
 */

import fs from 'node:fs/promises'
import path from 'node:path'
import { logger } from '@libp2p/logger'
import { NotFoundError, OpenFailedError, PutFailedError } from 'interface-store'
import { base32upper } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { BLOCK_FILE_EXTENSION, CODEC_RAW, DEFAULT_PUT_MANY_CONCURRENCY, DEFAULT_SHARD_PREFIX_LENGTH, HASH_IDENTITY, SHARDING_FILE } from './constants.js'
import { BlockNotFoundError } from './errors.js'
import { verifyBlock } from './verify.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore, InputPair, Pair } from 'interface-blockstore'

const log = logger('tensorswap:blockstore:fs')

/** Directory (under the blockstore root) holding in-flight temp files, as Kubo's flatfs `.temp`. */
const TEMP_DIR = '.temp'

/** Temp files older than this are leftovers of a crash and are removed on `open()`, in ms. */
const STALE_TEMP_MS = 10 * 60 * 1000

/** Options of {@link FsBlockstore}. */
export interface FsBlockstoreInit {
  /**
   * Re-hash every block on `get` and throw `BlockHashMismatchError` if the file no longer
   * matches its CID (bit rot, tampering). Costs one sha2-256 pass per read (>1 GB/s).
   *
   * @default false
   */
  verifyOnRead?: boolean
  /**
   * fsync each block file before renaming it into place, so a crash never leaves a
   * truncated block under its final name.
   *
   * @default true
   */
  fsync?: boolean
  /**
   * Also fsync the shard directory after the rename, so the new name itself survives a
   * power loss (not only a process crash). One extra syscall per put.
   *
   * @default false
   */
  fsyncDir?: boolean
  /**
   * How many writes `putMany` keeps in flight.
   *
   * @default 8 (DEFAULT_PUT_MANY_CONCURRENCY)
   */
  putManyConcurrency?: number
}

/**
 * A {@link Blockstore} (interface-blockstore v7) that keeps each block in its own file.
 *
 * Layout (compatible with Kubo's flatfs `/repo/flatfs/shard/v1/next-to-last/2`): the key of a
 * block is the RFC 4648 base32 (upper case, no padding, no multibase prefix) encoding of its
 * **multihash**; the file is `<root>/<key[-3..-1]>/<key>.data`. Keys are multihashes, so one block
 * stored under CIDv0 and CIDv1 (or different codecs) is stored once, and `getAll` yields CIDv1
 * `raw` CIDs (like Kubo's `refs local`).
 *
 * Writes are crash-safe: bytes go to a unique temp file in `<root>/.temp` (same filesystem),
 * which is fsynced, closed and then renamed over the final name, so a reader sees either no file
 * or the whole block. `put` of a block that already exists is a single `stat`.
 *
 * `put` does **not** verify that bytes match the CID: callers that take bytes from the network or
 * a CAR verify first (`verifyBlock`, `importCar` do). Set `verifyOnRead` to re-check on reads.
 *
 * Errors: `get` of a missing block throws interface-store's `NotFoundError` (the name Helia and
 * the js-stores ecosystem expect); a failed write throws `PutFailedError`; `get` with
 * `verifyOnRead` throws `BlockHashMismatchError`/`UnsupportedHashError`; aborted calls throw the
 * signal's reason (`AbortError`).
 *
 * @example
 * ```ts
 * const store = new FsBlockstore('/tmp/blocks')
 * await store.open()
 * await store.put(cid, bytes)
 * const back = await getVerifiedBlock(store, cid)
 * await store.close()
 * ```
 */
export class FsBlockstore implements Blockstore {
  /** Absolute path of the blockstore root. */
  readonly path: string
  private readonly verifyOnRead: boolean
  private readonly fsync: boolean
  private readonly fsyncDir: boolean
  private readonly putManyConcurrency: number
  private readonly tempDir: string
  private readonly knownDirs = new Set<string>()
  private tempCounter = 0

  /**
   * @param dir - root directory (created by `open()` or the first `put` if missing)
   * @param init - options, see {@link FsBlockstoreInit}
   */
  constructor (dir: string, init: FsBlockstoreInit = {}) {
    this.path = path.resolve(dir)
    this.verifyOnRead = init.verifyOnRead ?? false
    this.fsync = init.fsync ?? true
    this.fsyncDir = init.fsyncDir ?? false
    this.putManyConcurrency = Math.max(1, init.putManyConcurrency ?? DEFAULT_PUT_MANY_CONCURRENCY)
    this.tempDir = path.join(this.path, TEMP_DIR)
  }

  /**
   * Create the root and temp directories, record (or check) the shard function in `SHARDING`,
   * and remove temp files left by a crash.
   *
   * @throws OpenFailedError - the directory cannot be created, or it was sharded differently
   */
  async open (): Promise<void> {
    const expected = shardingDescription()
    try {
      await fs.mkdir(this.tempDir, { recursive: true })
      this.knownDirs.add(this.tempDir)
      const file = path.join(this.path, SHARDING_FILE)
      let existing: string | undefined
      try {
        existing = await fs.readFile(file, 'utf8')
      } catch (err: any) {
        if (err.code !== 'ENOENT') throw err
      }
      if (existing == null) {
        await fs.writeFile(file, expected + '\n')
      } else if (existing.trim() !== expected) {
        throw new OpenFailedError(`blockstore ${this.path} uses shard function "${existing.trim()}", expected "${expected}" (file ${file})`)
      }
    } catch (err: any) {
      if (err.name === 'OpenFailedError') throw err
      throw new OpenFailedError(`cannot open blockstore at ${this.path}: ${err.message}`)
    }
    await this.removeStaleTempFiles()
  }

  /** Nothing to release (every operation opens and closes its own file); present for the Store lifecycle. */
  async close (): Promise<void> {}

  /**
   * Path of the file that holds (or would hold) the block with this CID.
   *
   * @param cid - any CID; only its multihash matters
   */
  blockPath (cid: CID): string {
    const key = base32upper.baseEncode(cid.multihash.bytes)
    return path.join(this.path, shardOf(key), key + BLOCK_FILE_EXTENSION)
  }

  /**
   * Whether the block is stored (one `stat`).
   *
   * @throws AbortError - `options.signal` aborted
   */
  async has (cid: CID, options: AbortOptions = {}): Promise<boolean> {
    options.signal?.throwIfAborted()
    return await isFile(this.blockPath(cid))
  }

  /**
   * The stored block's size in bytes without reading it (one `stat`), for callers that decide
   * by size (the Bitswap engine answers a want-have for a small block with the block).
   *
   * @returns bytes, or `undefined` when the block is not stored
   * @throws AbortError - `options.signal` aborted
   */
  async size (cid: CID, options: AbortOptions = {}): Promise<number | undefined> {
    options.signal?.throwIfAborted()
    try {
      const st = await fs.stat(this.blockPath(cid))
      return st.isFile() ? st.size : undefined
    } catch (err: any) {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined
      throw err
    }
  }

  /**
   * Store a block. A no-op (one `stat`) if the block exists. Crash-safe: temp file, fsync,
   * rename. Does not verify the bytes against the CID.
   *
   * @param cid - the block's CID
   * @param bytes - the whole block, or its chunks (sync or async iterable)
   * @returns `cid`
   * @throws PutFailedError - the filesystem refused the write
   * @throws AbortError - `options.signal` aborted (the temp file is removed)
   */
  async put (cid: CID, bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options: AbortOptions = {}): Promise<CID> {
    const { signal } = options
    signal?.throwIfAborted()
    const file = this.blockPath(cid)
    if (await isFile(file)) {
      log.trace('put %c: already stored', cid)
      return cid
    }
    const dir = path.dirname(file)
    const tmp = path.join(this.tempDir, `${path.basename(file)}.${process.pid}.${this.tempCounter++}.tmp`)
    let handle: fs.FileHandle | undefined
    try {
      await this.ensureDir(this.tempDir)
      await this.ensureDir(dir)
      handle = await fs.open(tmp, 'wx', 0o644)
      if (bytes instanceof Uint8Array) {
        await writeAll(handle, bytes)
      } else {
        for await (const chunk of bytes) {
          signal?.throwIfAborted()
          await writeAll(handle, chunk)
        }
      }
      if (this.fsync) await handle.datasync()
      await handle.close()
      handle = undefined
      signal?.throwIfAborted()
      await fs.rename(tmp, file)
      if (this.fsyncDir) await syncDir(dir)
      log.trace('put %c -> %s', cid, file)
      return cid
    } catch (err: any) {
      if (handle != null) await handle.close().catch((closeErr: Error) => { log.error('closing %s failed - %e', tmp, closeErr) })
      await fs.rm(tmp, { force: true })
      if (err.name === 'AbortError' || signal?.aborted === true) throw signal?.reason ?? err
      throw new PutFailedError(`cannot write block ${cid} to ${file}: ${err.message}`)
    }
  }

  /**
   * Store many blocks, up to `putManyConcurrency` writes in flight; yields each CID, in input
   * order, once its block is durable.
   *
   * @throws PutFailedError, AbortError - as {@link FsBlockstore.put}
   */
  async * putMany (source: Iterable<InputPair> | AsyncIterable<InputPair>, options: AbortOptions = {}): AsyncGenerator<CID> {
    const inFlight: Array<Promise<CID>> = []
    try {
      for await (const { cid, bytes } of source) {
        options.signal?.throwIfAborted()
        const p = this.put(cid, bytes, options)
        // rejections are observed when the promise is awaited below; this only stops Node
        // reporting them as unhandled while earlier writes are still being awaited
        p.catch(() => {})
        inFlight.push(p)
        if (inFlight.length >= this.putManyConcurrency) {
          yield await (inFlight.shift() as Promise<CID>)
        }
      }
      while (inFlight.length > 0) {
        yield await (inFlight.shift() as Promise<CID>)
      }
    } finally {
      // on early exit (error, abort, consumer break) let remaining writes settle before returning
      await Promise.allSettled(inFlight)
    }
  }

  /**
   * Read a block. Yields the whole block as a single chunk (blocks are small: <= 2 MiB by
   * Bitswap convention), after verifying it when `verifyOnRead` is set.
   *
   * @throws NotFoundError - no such block
   * @throws BlockHashMismatchError - `verifyOnRead` and the file no longer matches the CID
   * @throws UnsupportedHashError - `verifyOnRead` and the CID's hash cannot be verified (`canVerify`)
   * @throws AbortError - `options.signal` aborted
   */
  async * get (cid: CID, options: AbortOptions = {}): AsyncGenerator<Uint8Array> {
    yield await this.read(cid, options)
  }

  /**
   * Read many blocks, lazily: each pair's `bytes` generator reads its file when iterated.
   *
   * @throws NotFoundError, BlockHashMismatchError, AbortError - from the `bytes` generators, as {@link FsBlockstore.get}
   */
  async * getMany (source: Iterable<CID> | AsyncIterable<CID>, options: AbortOptions = {}): AsyncGenerator<Pair> {
    for await (const cid of source) {
      options.signal?.throwIfAborted()
      yield { cid, bytes: this.get(cid, options) }
    }
  }

  /**
   * Every stored block, in directory order (unordered). CIDs are CIDv1 with codec `raw`
   * (the store is keyed by multihash and does not record codecs).
   *
   * @throws AbortError - `options.signal` aborted
   */
  async * getAll (options: AbortOptions = {}): AsyncGenerator<Pair> {
    const shards = await fs.readdir(this.path, { withFileTypes: true })
    for (const shard of shards) {
      if (!shard.isDirectory() || shard.name.startsWith('.')) continue
      const files = await fs.readdir(path.join(this.path, shard.name))
      for (const name of files) {
        options.signal?.throwIfAborted()
        if (!name.endsWith(BLOCK_FILE_EXTENSION) || name.startsWith('.')) continue
        let cid: CID
        try {
          const mh = base32upper.baseDecode(name.slice(0, -BLOCK_FILE_EXTENSION.length))
          cid = CID.createV1(CODEC_RAW, Digest.decode(mh))
        } catch (err) {
          log.error('skipping file %s in %s: not a block key - %e', name, shard.name, err)
          continue
        }
        yield { cid, bytes: this.get(cid, options) }
      }
    }
  }

  /**
   * Remove a block; removing a missing block is not an error.
   *
   * @throws AbortError - `options.signal` aborted
   */
  async delete (cid: CID, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    await fs.rm(this.blockPath(cid), { force: true })
  }

  /**
   * Remove many blocks, yielding each CID once removed.
   *
   * @throws AbortError - `options.signal` aborted
   */
  async * deleteMany (source: Iterable<CID> | AsyncIterable<CID>, options: AbortOptions = {}): AsyncGenerator<CID> {
    for await (const cid of source) {
      await this.delete(cid, options)
      yield cid
    }
  }

  private async read (cid: CID, options: AbortOptions): Promise<Uint8Array> {
    options.signal?.throwIfAborted()
    const file = this.blockPath(cid)
    let buf: Buffer
    try {
      buf = await fs.readFile(file, { signal: options.signal })
    } catch (err: any) {
      if (err.code === 'ENOENT') throw new NotFoundError(`block ${cid} not found (${file})`)
      throw err
    }
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
    if (this.verifyOnRead) verifyBlock(cid, bytes)
    return bytes
  }

  private async ensureDir (dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return
    await fs.mkdir(dir, { recursive: true })
    this.knownDirs.add(dir)
  }

  private async removeStaleTempFiles (): Promise<void> {
    const now = Date.now()
    for (const name of await fs.readdir(this.tempDir)) {
      const file = path.join(this.tempDir, name)
      try {
        const st = await fs.stat(file)
        if (now - st.mtimeMs > STALE_TEMP_MS) {
          await fs.rm(file, { force: true })
          log('removed stale temp file %s', file)
        }
      } catch (err: any) {
        // a concurrent put renamed it away between readdir and stat: nothing to clean
        if (err.code !== 'ENOENT') throw err
      }
    }
  }
}

/**
 * Read a whole block from any interface-blockstore v7 store (whose `get` yields chunks) by
 * concatenating its chunks, **without verifying** it against `cid` (as multiformats'
 * `createUnsafe`): for stores whose contents were verified on the way in, or callers that verify
 * themselves. Use {@link getVerifiedBlock} when the bytes must be checked.
 *
 * @param store - any Blockstore
 * @param cid - the block to read
 * @param options - `signal` is passed to `store.get`
 * @returns the whole block
 * @throws whatever `store.get` throws (`NotFoundError` for a missing block in FsBlockstore)
 */
export async function getBlockUnverified (store: Pick<Blockstore, 'get'>, cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let length = 0
  for await (const chunk of store.get(cid, options)) {
    chunks.push(chunk)
    length += chunk.byteLength
  }
  if (chunks.length === 1) return chunks[0]
  const out = new Uint8Array(length)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

/**
 * Read a whole block from `store` and verify it against `cid` before returning it: the read
 * path for blocks that may have been corrupted on disk or came from elsewhere. Identity CIDs
 * are answered from the CID itself without touching the store.
 *
 * @param store - any Blockstore
 * @param cid - the block to read
 * @param options - `signal` is passed to `store.get`
 * @returns the whole block, verified with `verifyBlock`
 * @throws BlockNotFoundError - the store has no such block (its `NotFoundError`), naming the CID
 * @throws BlockHashMismatchError - the stored bytes do not hash to `cid`
 * @throws UnsupportedHashError - the multihash cannot be verified (not identity, sha2-256 or
 *   sha2-512 at full length; see `canVerify`)
 */
export async function getVerifiedBlock (store: Pick<Blockstore, 'get'>, cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
  if (cid.multihash.code === HASH_IDENTITY) return cid.multihash.digest
  let bytes: Uint8Array
  try {
    bytes = await getBlockUnverified(store, cid, options)
  } catch (err: any) {
    if (err?.name === 'NotFoundError') throw new BlockNotFoundError(`block ${cid} not found`, cid, { cause: err })
    throw err
  }
  verifyBlock(cid, bytes)
  return bytes
}

/** Kubo flatfs shard id string for next-to-last/N. */
function shardingDescription (): string {
  return `/repo/flatfs/shard/v1/next-to-last/${DEFAULT_SHARD_PREFIX_LENGTH}`
}

/** flatfs next-to-last/N: the N characters before the last one, left-padded with '_' when the key is short. */
function shardOf (key: string): string {
  const n = DEFAULT_SHARD_PREFIX_LENGTH
  const padded = key.length < n + 1 ? '_'.repeat(n + 1 - key.length) + key : key
  return padded.slice(padded.length - n - 1, padded.length - 1)
}

async function isFile (file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile()
  } catch (err: any) {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return false
    throw err
  }
}

async function writeAll (handle: fs.FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0
  while (offset < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.byteLength - offset)
    offset += bytesWritten
  }
}

async function syncDir (dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** A blockstore that can tell a stored block's size without reading it (see {@link blockSize}). */
export interface SizedBlockstore {
  /** Bytes of the stored block, `undefined` when it is not stored. */
  size: (cid: CID, options?: AbortOptions) => Promise<number | undefined>
}

/**
 * A stored block's size in bytes when `store` can tell without reading the block: identity CIDs
 * (the digest is the block), stores with a `size` method ({@link FsBlockstore}, the repo's
 * blockstore). Other stores (e.g. blockstore-core's `MemoryBlockstore`) give `undefined`: the
 * caller decides without the size rather than read a possibly large block.
 *
 * @returns bytes, or `undefined` (not stored, or the store cannot tell)
 * @throws the store's errors; AbortError - `options.signal` aborted
 */
export async function blockSize (store: object, cid: CID, options: AbortOptions = {}): Promise<number | undefined> {
  if (cid.multihash.code === HASH_IDENTITY) return cid.multihash.digest.byteLength
  const sized = store as Partial<SizedBlockstore>
  return typeof sized.size === 'function' ? await sized.size(cid, options) : undefined
}

/**
 * The DAG walk in depth-first pre-order ({@link dagBlocks}), the CARv1 framing
 * ({@link carHeader}, {@link carSectionPrefix}) and the streaming CARv1 export built from them
 * ({@link exportCar}).
 *
 * @module
 */

import { once } from 'node:events'
import * as dagCbor from '@ipld/dag-cbor'
import { logger } from '@libp2p/logger'
import { CustomProgressEvent } from 'progress-events'
import { HASH_IDENTITY } from './constants.js'
import { getVerifiedBlock } from './fs-blockstore.js'
import { links } from './links.js'
import { encodeVarint } from './varint.js'
import { verifyBlock } from './verify.js'
import type { BlockProgressDetail } from './progress.js'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

const log = logger('tensorswap:blockstore:car-export')

/**
 * Where CAR bytes go: a Node writable stream (back-pressure through `write()`'s return value and
 * `'drain'`; the stream is **not** ended, the caller ends it) or an async function called once per
 * chunk and awaited before the next (its promise is the back-pressure).
 */
export type CarSink = NodeJS.WritableStream | ((chunk: Uint8Array) => Promise<void>)

/** Progress events of {@link exportCar}. */
export type ExportCarProgressEvents =
  ProgressEvent<'tensorswap:car:export:block', BlockProgressDetail>

/** Options of {@link exportCar}. */
export interface ExportCarOptions extends ProgressOptions<ExportCarProgressEvents> {
  /** Abort the export (the sink keeps what was already written). */
  signal?: AbortSignal
  /**
   * Emit a block again each time the traversal reaches it (trustless gateway `dups=y`).
   *
   * @default false (each CID once, `dups=n`)
   */
  dups?: boolean
  /**
   * `'all'`: the whole DAG under `root` (trustless gateway `dag-scope=all`); `'block'`: only the
   * root block (`dag-scope=block`).
   *
   * @default 'all'
   */
  scope?: 'all' | 'block'
}

/** Result of {@link exportCar}. */
export interface ExportCarResult {
  /** Blocks written. */
  blocks: number
  /** Total CAR bytes written (header and framing included). */
  bytes: number
}

/** A block of a DAG walk: its CID and its (verified) bytes. */
export interface DagBlock {
  cid: CID
  bytes: Uint8Array
}

/** Options of {@link dagBlocks}. */
export interface DagBlocksOptions {
  /** Abort the walk (checked before each block). */
  signal?: AbortSignal
  /**
   * Yield a block again each time the traversal reaches it (trustless gateway `dups=y`).
   *
   * @default false (each CID once, `dups=n`; the subtree of a repeat is skipped whole, it was
   *   already walked)
   */
  dups?: boolean
  /**
   * `'all'`: the whole DAG under `root` (trustless gateway `dag-scope=all`); `'block'`: only the
   * root block (`dag-scope=block`).
   *
   * @default 'all'
   */
  scope?: 'all' | 'block'
  /**
   * Identity-hash CIDs: `'inline'` yields them with their inline bytes (readers that expect every
   * reachable block present are served; deduplicated like any block); `'skip'` never yields them
   * but still walks their links, and never counts them as seen (trustless-gateway spec: "A
   * Gateway MUST NOT include virtual blocks identified by identity CIDs").
   *
   * @default 'inline'
   */
  identity?: 'inline' | 'skip'
  /**
   * CID strings already sent, shared with the caller (a gateway CAR sends the content path's
   * blocks before the walk). Read and extended when `dups` is false.
   *
   * @default a new Set
   */
  seen?: Set<string>
  /** The root's bytes when the caller already read (and verified) them: not read again. */
  rootBytes?: Uint8Array
}

/**
 * Where {@link dagBlocks} reads blocks: a blockstore (each block read with
 * {@link getVerifiedBlock}: checked with {@link verifyBlock}, a missing one is BlockNotFoundError), or a function that returns one
 * block already verified against its CID (e.g. the gateway's reader, which also fetches missing
 * blocks from peers). Identity CIDs never reach either.
 */
export type DagBlockSource = Pick<Blockstore, 'get'> | ((cid: CID, options: { signal?: AbortSignal }) => Promise<Uint8Array>)

/**
 * The blocks of the DAG under `root` in depth-first pre-order, the trustless gateway's
 * `order=dfs` (ipfs specs, http-gateways/trustless-gateway, IPIP-0412): the root, then for each
 * link in {@link links} order, that link's subtree. This is the one DAG walk of the project: the
 * CAR writer {@link exportCar} and the HTTP gateway's CAR responses (`@tensorswap/gateway`) both
 * consume it.
 *
 * A generator: the caller pulls one block at a time, so a paused consumer pauses the walk and
 * `return()` stops it. The walk keeps an explicit stack (no recursion), so DAG depth is bounded
 * by memory, not the JS call stack. Memory: one block at a time, the stack of pending links and,
 * unless `dups`, a Set of the CID strings already yielded. Every block read is verified before
 * it is yielded.
 *
 * @param source - see {@link DagBlockSource} (a blockstore's `get` receives `{ signal }`)
 * @param root - the DAG root, yielded first
 * @param options - signal, dups, scope, identity, seen, rootBytes
 * @throws BlockNotFoundError - a reachable block is missing (names the CID)
 * @throws BlockHashMismatchError - a stored block does not match its CID
 * @throws UnsupportedHashError - a block's CID uses a hash other than sha2-256/identity
 * @throws UnsupportedCodecError - `scope: 'all'` and a block's codec is not raw/dag-pb/dag-cbor/dag-json
 * @throws AbortError - `options.signal` aborted
 * @throws whatever a function `source` throws
 */
export async function * dagBlocks (source: DagBlockSource, root: CID, options: DagBlocksOptions = {}): AsyncGenerator<DagBlock> {
  const { signal } = options
  const dups = options.dups ?? false
  const scope = options.scope ?? 'all'
  const skipIdentity = options.identity === 'skip'
  const seen = options.seen ?? new Set<string>()
  const read = typeof source === 'function'
    ? source
    : async (cid: CID, o: { signal?: AbortSignal }): Promise<Uint8Array> => await getVerifiedBlock(source, cid, o)
  const stack: CID[] = [root]
  let first = true
  while (stack.length > 0) {
    signal?.throwIfAborted()
    const cid = stack.pop() as CID
    const identity = cid.multihash.code === HASH_IDENTITY
    if (!dups && !(identity && skipIdentity)) {
      const key = cid.toString()
      if (seen.has(key)) continue
      seen.add(key)
    }
    let bytes: Uint8Array
    if (first && options.rootBytes !== undefined) {
      bytes = options.rootBytes
    } else if (identity) {
      bytes = cid.multihash.digest
      verifyBlock(cid, bytes)
    } else {
      bytes = await read(cid, { signal })
    }
    first = false
    if (!(identity && skipIdentity)) yield { cid, bytes }
    if (scope === 'all') {
      const children = links(cid, bytes)
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i])
    }
  }
}

/**
 * The CARv1 header frame `varint(len) || dag-cbor { roots, version: 1 }` (ipld specs,
 * transport/car/carv1).
 *
 * @param roots - the CIDs of the header's `roots`
 */
export function carHeader (roots: CID[]): Uint8Array {
  const header = dagCbor.encode({ version: 1, roots })
  return concat(encodeVarint(header.byteLength), header)
}

/**
 * The section prefix `varint(len(cid) + len(block)) || cid` written before a block's bytes
 * (ipld specs, transport/car/carv1, "Data").
 *
 * @param cid - the block's CID
 * @param blockLength - the block's length in bytes
 */
export function carSectionPrefix (cid: CID, blockLength: number): Uint8Array {
  return concat(encodeVarint(cid.bytes.byteLength + blockLength), cid.bytes)
}

/**
 * Write the DAG under `root` as a CARv1 (ipld specs, transport/car/carv1) with header
 * `{ version: 1, roots: [root] }`.
 *
 * Blocks are those of {@link dagBlocks} (depth-first pre-order, `order=dfs`), each verified
 * before it is written. Identity-hash CIDs are written with their inline bytes (they need no
 * blockstore lookup), so readers that expect every reachable block present are served.
 *
 * @param blockstore - source of blocks (`get` receives `{ signal }`)
 * @param root - DAG root; the single root in the CAR header
 * @param out - see {@link CarSink}
 * @param options - signal, onProgress, dups, scope
 * @returns blocks and bytes written
 * @throws BlockNotFoundError - a reachable block is missing (names the CID)
 * @throws BlockHashMismatchError - a stored block does not match its CID
 * @throws UnsupportedHashError - a block's CID uses a hash other than sha2-256/identity
 * @throws UnsupportedCodecError - `scope: 'all'` and a block's codec is not raw/dag-pb/dag-cbor/dag-json
 * @throws AbortError - `options.signal` aborted
 * @throws Error - whatever the sink throws or the stream emits as `'error'`
 */
export async function exportCar (blockstore: Pick<Blockstore, 'get'>, root: CID, out: CarSink, options: ExportCarOptions = {}): Promise<ExportCarResult> {
  const { signal } = options
  signal?.throwIfAborted()
  const sink = toWriter(out, signal)
  let bytes = 0
  let blocks = 0
  try {
    const headerFrame = carHeader([root])
    await sink.write(headerFrame)
    bytes += headerFrame.byteLength

    const walk: DagBlocksOptions = { dups: options.dups ?? false, scope: options.scope ?? 'all' }
    if (signal !== undefined) walk.signal = signal
    for await (const { cid, bytes: block } of dagBlocks(blockstore, root, walk)) {
      const prefix = carSectionPrefix(cid, block.byteLength)
      await sink.write(prefix)
      if (block.byteLength > 0) await sink.write(block)
      bytes += prefix.byteLength + block.byteLength
      blocks++
      options.onProgress?.(new CustomProgressEvent<BlockProgressDetail>('tensorswap:car:export:block', { cid, bytes: block.byteLength, from: 'local' }))
    }
    log('exported %c: %d blocks, %d bytes', root, blocks, bytes)
    return { blocks, bytes }
  } finally {
    sink.release()
  }
}

interface Writer {
  write: (chunk: Uint8Array) => Promise<void>
  release: () => void
}

function toWriter (out: CarSink, signal?: AbortSignal): Writer {
  if (typeof out === 'function') {
    return {
      write: async (chunk) => {
        signal?.throwIfAborted()
        await out(chunk)
      },
      release: () => {}
    }
  }
  // remember an 'error' emitted between writes (an unlistened 'error' would crash the process)
  let failure: Error | undefined
  const onError = (err: Error): void => { failure ??= err }
  out.on('error', onError)
  return {
    write: async (chunk) => {
      signal?.throwIfAborted()
      if (failure != null) throw failure
      if (!out.write(chunk)) {
        await once(out, 'drain', { signal })
      }
      if (failure != null) throw failure
    },
    release: () => { out.removeListener('error', onError) }
  }
}

function concat (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength)
  out.set(a, 0)
  out.set(b, a.byteLength)
  return out
}

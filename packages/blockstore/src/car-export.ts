/**
 * Streaming CARv1 export of a DAG in depth-first pre-order.
 */

import { once } from 'node:events'
import * as dagCbor from '@ipld/dag-cbor'
import { logger } from '@libp2p/logger'
import { CustomProgressEvent } from 'progress-events'
import { HASH_IDENTITY } from './constants.js'
import { BlockNotFoundError } from './errors.js'
import { getBlock } from './fs-blockstore.js'
import { links } from './links.js'
import { encodeVarint } from './varint.js'
import { verifyBlock } from './verify.js'
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
  ProgressEvent<'tensorswap:car:export:block', { cid: CID, bytes: number }>

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

/**
 * Write the DAG under `root` as a CARv1 (ipld specs, transport/car/carv1) with header
 * `{ version: 1, roots: [root] }`.
 *
 * Block order is depth-first pre-order, the trustless gateway's `order=dfs` (ipfs specs,
 * http-gateways/trustless-gateway, IPIP-0412): the root, then for each link in {@link links}
 * order, that link's subtree. The walk keeps an explicit stack (no recursion), so DAG depth is
 * bounded by memory, not the JS call stack. Memory: one block at a time, the stack of pending
 * links and, unless `dups`, a Set of the CID strings already written. Every block read is
 * verified before it is written. Identity-hash CIDs are written with their inline bytes (they
 * need no blockstore lookup), so readers that expect every reachable block present are served.
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
  const dups = options.dups ?? false
  const scope = options.scope ?? 'all'
  const sink = toWriter(out, signal)
  let bytes = 0
  let blocks = 0
  try {
    const header = dagCbor.encode({ version: 1, roots: [root] })
    const headerFrame = concat(encodeVarint(header.byteLength), header)
    await sink.write(headerFrame)
    bytes += headerFrame.byteLength

    const seen = new Set<string>()
    const stack: CID[] = [root]
    while (stack.length > 0) {
      signal?.throwIfAborted()
      const cid = stack.pop() as CID
      if (!dups) {
        const key = cid.toString()
        if (seen.has(key)) continue
        seen.add(key)
      }
      const block = await readBlock(blockstore, cid, signal)
      verifyBlock(cid, block)
      const prefix = concat(encodeVarint(cid.bytes.byteLength + block.byteLength), cid.bytes)
      await sink.write(prefix)
      if (block.byteLength > 0) await sink.write(block)
      bytes += prefix.byteLength + block.byteLength
      blocks++
      options.onProgress?.(new CustomProgressEvent('tensorswap:car:export:block', { cid, bytes: block.byteLength }))
      if (scope === 'all') {
        const children = links(cid, block)
        for (let i = children.length - 1; i >= 0; i--) stack.push(children[i])
      }
    }
    log('exported %c: %d blocks, %d bytes', root, blocks, bytes)
    return { blocks, bytes }
  } finally {
    sink.release()
  }
}

async function readBlock (blockstore: Pick<Blockstore, 'get'>, cid: CID, signal?: AbortSignal): Promise<Uint8Array> {
  if (cid.multihash.code === HASH_IDENTITY) return cid.multihash.digest
  try {
    return await getBlock(blockstore, cid, { signal })
  } catch (err: any) {
    if (err.name === 'NotFoundError') {
      throw new BlockNotFoundError(`block ${cid} is not in the blockstore`, cid, { cause: err })
    }
    throw err
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

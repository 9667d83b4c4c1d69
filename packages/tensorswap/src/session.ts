/**
 * A session fetches a whole DAG from a root CID: it walks the DAG as blocks arrive, keeps a
 * deep pipeline of wants (bounded in count and estimated bytes), stores every block only
 * after it was verified against its CID, and resumes: blocks already in the blockstore are
 * read locally (their links followed) and never asked for.
 *
 * Order: depth-first, children in link order (`links()` of `@tensorswap/blockstore`). When the
 * children of a block arrive they are asked for before siblings of that block not yet asked,
 * so with a window of one the fetch is exactly DFS pre-order. A TensorSwap manifest is the
 * exception: its tensors' chunks come first, in computation order, then the UnixFS tree (whose
 * leaves are the same chunks, so they are not fetched twice). Earlier wants get higher wire
 * priority, so serving peers answer in that order too.
 *
 * Verification: the exchange matches a received block to a want by the multihash it computed
 * from the received bytes (`decodeMessage` rebuilds each CID by hashing), so bytes handed to
 * the session hash to the CID it asked for; the session stores them under that CID.
 *
 * @module
 */

import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { logger } from '@libp2p/logger'
import { links as blockLinks } from '@tensorswap/blockstore'
import { MANIFEST_FORMAT, validateManifest } from '@tensorswap/model'
import { CustomProgressEvent } from 'progress-events'
import { DEFAULT_ESTIMATED_BLOCK_BYTES, DEFAULT_MAX_BYTES_IN_FLIGHT, DEFAULT_MAX_CONCURRENT_PUTS, DEFAULT_MAX_PUT_BYTES_IN_FLIGHT, SESSION_ROOT_PRIORITY } from './constants.js'
import { blockKey } from './wire/hash.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

const log = logger('tensorswap:exchange:session')

const RAW = 0x55
const DAG_PB = 0x70
const DAG_CBOR = 0x71

/** A child link with an optional size hint in bytes. */
export interface Child {
  cid: CID
  /** Expected block size, bytes (a dag-pb `Tsize` of a raw leaf, a manifest chunk size). */
  sizeHint?: number
}

/** Returns the children of a verified block, in fetch order. */
export type ChildrenFn = (cid: CID, bytes: Uint8Array) => Child[]

/**
 * Default {@link ChildrenFn}: a TensorSwap manifest yields its tensors' chunks (computation
 * order, size hints from tensor lengths) then its `files` root; dag-pb yields its links with
 * `Tsize` as the hint for raw leaves; everything else uses `links()` from
 * `@tensorswap/blockstore` (raw, dag-cbor, dag-json).
 *
 * @throws the codec's decode error for a block that does not decode;
 *   `UnsupportedCodecError` for other codecs
 */
export function defaultChildren (cid: CID, bytes: Uint8Array): Child[] {
  if (cid.code === RAW) return []
  if (cid.code === DAG_PB) {
    return dagPb.decode(bytes).Links.map(l => ({ cid: l.Hash, sizeHint: l.Hash.code === RAW ? l.Tsize : undefined }))
  }
  if (cid.code === DAG_CBOR) {
    const value: any = dagCbor.decode(bytes)
    if (value?.format === MANIFEST_FORMAT) {
      // a corrupt manifest throws the model package's typed error
      const manifest = validateManifest(value, `manifest ${cid}`)
      const out: Child[] = []
      for (const t of manifest.tensors) {
        const hint = t.chunks.length > 0 ? Math.ceil(t.length / t.chunks.length) : undefined
        for (const c of t.chunks) out.push({ cid: c, sizeHint: hint })
      }
      out.push({ cid: manifest.files })
      return out
    }
  }
  return blockLinks(cid, bytes).map(c => ({ cid: c }))
}

/** What a session needs from the exchange. */
export interface SessionComponents {
  blockstore: Blockstore
  /**
   * Fetch one block; resolves with bytes that hash to `cid` and the peer that sent them.
   * Rejects with `BlockUnavailableError` or `signal.reason`.
   */
  want(cid: CID, options: { session: number, priority: number, sizeHint?: number, signal: AbortSignal }): Promise<{ bytes: Uint8Array, peer: string }>
  /** Called after a fetched block is stored (the engine may serve it now). */
  onStored?(cid: CID): void
}

/** Options of {@link Session}. */
export interface SessionInit {
  /** Session id (unique per exchange). */
  id: number
  /** Most blocks asked for and not yet stored. @default 1024 */
  maxWantsAhead?: number
  /**
   * Most estimated bytes asked for and not yet stored (asked, received and waiting, being
   * written): the session's memory bound for block data. @default {@link DEFAULT_MAX_BYTES_IN_FLIGHT}
   */
  maxBytesAhead?: number
  /** @default {@link defaultChildren} */
  children?: ChildrenFn
  /** Blockstore puts in flight at once (each is a durable write). @default {@link DEFAULT_MAX_CONCURRENT_PUTS} */
  maxConcurrentPuts?: number
  /** Block bytes being written at once (one put is always allowed). @default {@link DEFAULT_MAX_PUT_BYTES_IN_FLIGHT} */
  maxPutBytes?: number
}

/** Detail of `tensorswap:session:block`. */
export interface SessionBlockDetail {
  cid: CID
  /** The sender; `undefined` when the block was already in the blockstore. */
  peer?: string
  bytes: number
}

/** Progress events of a session. */
export type SessionProgressEvents =
  ProgressEvent<'tensorswap:session:block', SessionBlockDetail>

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

interface Item { cid: CID, sizeHint?: number }

/**
 * Fetches one DAG. Create one per fetch; {@link Session.run} once.
 */
export class Session {
  readonly id: number
  readonly #components: SessionComponents
  readonly #maxWantsAhead: number
  readonly #maxBytesAhead: number
  readonly #children: ChildrenFn
  readonly #maxConcurrentPuts: number
  readonly #maxPutBytes: number
  /** DFS stack of child lists with cursors. */
  readonly #stack: Array<{ items: Item[], i: number }> = []
  readonly #seen = new Set<string>()
  #handedOut = 0

  /**
   * @param components - see {@link SessionComponents}
   * @param init - see {@link SessionInit}
   */
  constructor (components: SessionComponents, init: SessionInit) {
    this.id = init.id
    this.#components = components
    this.#maxWantsAhead = init.maxWantsAhead ?? 1024
    this.#maxBytesAhead = init.maxBytesAhead ?? DEFAULT_MAX_BYTES_IN_FLIGHT
    this.#children = init.children ?? defaultChildren
    this.#maxConcurrentPuts = init.maxConcurrentPuts ?? DEFAULT_MAX_CONCURRENT_PUTS
    this.#maxPutBytes = init.maxPutBytes ?? DEFAULT_MAX_PUT_BYTES_IN_FLIGHT
  }

  #push (items: Item[]): void {
    const fresh = items.filter(it => {
      const k = blockKey(it.cid)
      if (this.#seen.has(k)) return false
      this.#seen.add(k)
      return true
    })
    if (fresh.length > 0) this.#stack.push({ items: fresh, i: 0 })
  }

  #next (): Item | undefined {
    while (this.#stack.length > 0) {
      const top = this.#stack[this.#stack.length - 1] as { items: Item[], i: number }
      if (top.i < top.items.length) return top.items[top.i++]
      this.#stack.pop()
    }
    return undefined
  }

  /**
   * Fetch the DAG under `root` into the blockstore.
   *
   * @param root - the root CID
   * @param options - `signal` aborts (outstanding wants are cancelled); `onProgress` receives
   *   `tensorswap:session:block` for every block stored or found locally
   * @returns counts of what was fetched and found
   * @throws `BlockUnavailableError` when a block cannot be fetched from any peer; the
   *   children function's errors for blocks that do not decode; blockstore errors;
   *   `signal.reason` on abort
   */
  async run (root: CID, options: AbortOptions & ProgressOptions<SessionProgressEvents> = {}): Promise<SessionResult> {
    options.signal?.throwIfAborted()
    const { blockstore } = this.#components
    const controller = new AbortController()
    const signal = options.signal == null ? controller.signal : AbortSignal.any([options.signal, controller.signal])
    const result: SessionResult = { blocksFetched: 0, bytesFetched: 0, blocksLocal: 0, bytesLocalRead: 0 }
    this.#push([{ cid: root }])

    interface Done { item: Item, bytes?: Uint8Array, peer?: string, error?: unknown }
    const completed: Done[] = []
    let wake: (() => void) | undefined
    const notify = (): void => { const w = wake; wake = undefined; w?.() }
    /** Wants handed out and not yet stored (asked, received and queued, or being written). */
    let outstanding = 0
    let bytesAhead = 0
    const storing = new Set<Promise<void>>()
    let storingBytes = 0
    let putError: unknown

    try {
      while (true) {
        // hand out wants while the window has room
        while (outstanding < this.#maxWantsAhead && (bytesAhead === 0 || bytesAhead < this.#maxBytesAhead)) {
          const item = this.#next()
          if (item == null) break
          signal.throwIfAborted()
          if (await blockstore.has(item.cid, { signal })) {
            result.blocksLocal++
            let bytes: Uint8Array | undefined
            if (item.cid.code !== RAW) {
              bytes = await readBlock(blockstore, item.cid, signal)
              result.bytesLocalRead += bytes.byteLength
              this.#push(this.#children(item.cid, bytes))
            }
            options.onProgress?.(new CustomProgressEvent<SessionBlockDetail>('tensorswap:session:block', { cid: item.cid, bytes: bytes?.byteLength ?? item.sizeHint ?? 0 }))
            continue
          }
          const priority = Math.max(-(2 ** 31), SESSION_ROOT_PRIORITY - this.#handedOut++)
          const est = item.sizeHint ?? DEFAULT_ESTIMATED_BLOCK_BYTES
          outstanding++
          bytesAhead += est
          this.#components.want(item.cid, { session: this.id, priority, sizeHint: item.sizeHint, signal })
            .then(({ bytes, peer }) => { completed.push({ item, bytes, peer }) }, (error) => { completed.push({ item, error }) })
            .finally(notify)
        }
        if (putError != null) throw putError
        if (outstanding === 0 && completed.length === 0) break
        if (completed.length === 0) {
          // wakes on a block, a failed want or a finished put (which frees window)
          await new Promise<void>(resolve => { wake = resolve })
          continue
        }
        const done = completed.shift() as Done
        if (done.error != null) throw done.error
        const bytes = done.bytes as Uint8Array
        // a durable put (fsync) costs latency, not bandwidth: keep several in flight, bounded in
        // count and bytes (libuv runs 4 file operations at once; more queued puts only hold memory)
        while (storing.size > 0 && (storing.size >= this.#maxConcurrentPuts || storingBytes + bytes.byteLength > this.#maxPutBytes)) {
          await Promise.race(storing)
        }
        if (putError != null) throw putError
        const est = done.item.sizeHint ?? DEFAULT_ESTIMATED_BLOCK_BYTES
        storingBytes += bytes.byteLength
        const stored: Promise<void> = Promise.resolve(blockstore.put(done.item.cid, bytes, { signal })).then(() => {
          storing.delete(stored)
          storingBytes -= bytes.byteLength
          // the block's window share is released once it is on disk, not when it arrived:
          // the window bounds all block bytes the session holds
          outstanding--
          bytesAhead -= est
          notify()
          this.#components.onStored?.(done.item.cid)
          result.blocksFetched++
          result.bytesFetched += bytes.byteLength
          log.trace('session %d stored %c (%d bytes) from %s', this.id, done.item.cid, bytes.byteLength, done.peer)
          options.onProgress?.(new CustomProgressEvent<SessionBlockDetail>('tensorswap:session:block', { cid: done.item.cid, peer: done.peer, bytes: bytes.byteLength }))
        }, (err: unknown) => {
          storing.delete(stored)
          storingBytes -= bytes.byteLength
          outstanding--
          bytesAhead -= est
          putError ??= err
          notify()
        })
        storing.add(stored)
        this.#push(this.#children(done.item.cid, bytes))
      }
      await Promise.all(storing)
      if (putError != null) throw putError
    } finally {
      // cancels every want still outstanding (the exchange listens on the signal)
      controller.abort(new Error(`session ${this.id} finished`))
    }
    return result
  }
}

/**
 * Read a whole block from an interface-blockstore v7 store (which yields chunks).
 *
 * @throws the blockstore's `NotFoundError` when absent; `signal.reason`
 */
export async function readBlock (blockstore: Blockstore, cid: CID, signal?: AbortSignal): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let length = 0
  for await (const chunk of blockstore.get(cid, { signal })) {
    chunks.push(chunk)
    length += chunk.byteLength
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array
  const out = new Uint8Array(length)
  let offset = 0
  for (const c of chunks) {
    out.set(c, offset)
    offset += c.byteLength
  }
  return out
}

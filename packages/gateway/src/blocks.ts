/**
 * Verified block reads for the gateway: from the blockstore, else (when the daemon runs with
 * `--gateway-fetch`) through `fetchMissing`, which brings the block from peers into the store.
 *
 * Every block is re-hashed before it is served (`verifyBlock`), so a corrupt store never
 * reaches a client as valid-looking data. The hashes accepted are the blockstore's verifier's
 * (`canVerify`: identity, sha2-256, sha2-512 at full length), so the gateway serves exactly what
 * the store can verify. Identity CIDs are answered from their digest. The last blocks verified
 * are kept, by bytes, in a {@link VerifiedBlockCache} shared by the server's responses, so
 * concurrent readers of one DAG read and hash each block once.
 *
 * @module
 */

import { verifyBlock, canVerify, HASHERS, BlockNotFoundError, UnsupportedHashError, getBlockUnverified as concatBlock, HASH_IDENTITY } from '@tensorswap/blockstore'
import { logger } from '@libp2p/logger'
import { base32 } from 'multiformats/bases/base32'
import { PreconditionFailedError, UpstreamFetchError } from './errors.js'
import { RETRY_AFTER_SECONDS } from './constants.js'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

const log = logger('tensorswap:gateway:blocks')

/** The hash functions named in the 400 answer, from the blockstore's table. */
const VERIFIABLE = [...HASHERS.values()].map(h => h.name).join(', ')

/**
 * Brings `cid` into the blockstore from peers (e.g. a TensorSwap session `want`); resolves when
 * the block is stored, rejects when it cannot be had. The gateway passes a signal that aborts
 * when the client goes away or the fetch timeout elapses.
 */
export type FetchMissing = (cid: CID, options: { signal: AbortSignal }) => Promise<void>

/** Options of {@link BlockReader}. */
export interface BlockReaderInit {
  blockstore: Pick<Blockstore, 'get'>
  fetchMissing?: FetchMissing
  /** Per-block timeout of `fetchMissing`, ms. */
  fetchTimeoutMs: number
  /** Do not call `fetchMissing` (the request carried `Cache-Control: only-if-cached`). */
  localOnly: boolean
  /** Called once per block read (for the blocks-served metric and tests). */
  onBlock?: (cid: CID, bytes: number) => void
  /** Recently verified blocks, shared by the server's responses; absent: none kept. */
  cache?: VerifiedBlockCache
}

/**
 * The blocks verified last, by multihash, up to `maxBytes` in all (the least recently used go
 * first). Concurrent responses walking the same DAG (200 CAR readers of one model, each
 * starting at its root) read and re-hash each block once instead of once each: without it the
 * seeder hashed ~800 MB in the first seconds of that attack, on the thread that also serves its
 * Bitswap peers (bench/README.md "Hostile peers"). The bytes kept are the bytes that verified, so
 * what is served from here is valid whatever happens to the store afterwards; a later read from
 * the store (after eviction) verifies again. A block over a quarter of `maxBytes` is not kept.
 */
export class VerifiedBlockCache {
  /** Most bytes kept. */
  readonly maxBytes: number
  readonly #blocks = new Map<string, Uint8Array>()
  #bytes = 0

  /**
   * @param maxBytes - most bytes kept (0: nothing is)
   * @throws RangeError - `maxBytes` negative or not finite
   */
  constructor (maxBytes: number) {
    if (!(maxBytes >= 0 && Number.isFinite(maxBytes))) throw new RangeError(`VerifiedBlockCache: maxBytes must be a finite number >= 0, got ${maxBytes}`)
    this.maxBytes = maxBytes
  }

  /** Bytes kept now. */
  get bytes (): number { return this.#bytes }

  /** Blocks kept now. */
  get size (): number { return this.#blocks.size }

  /** The verified bytes of `cid`'s block, if kept (it becomes the most recently used). */
  get (cid: CID): Uint8Array | undefined {
    const key = base32.encode(cid.multihash.bytes)
    const bytes = this.#blocks.get(key)
    if (bytes === undefined) return undefined
    this.#blocks.delete(key)
    this.#blocks.set(key, bytes)
    return bytes
  }

  /** Keep `bytes`, which verified as `cid`'s block; evicts the least recently used beyond `maxBytes`. */
  set (cid: CID, bytes: Uint8Array): void {
    if (bytes.byteLength > this.maxBytes / 4) return
    const key = base32.encode(cid.multihash.bytes)
    const old = this.#blocks.get(key)
    if (old !== undefined) {
      this.#blocks.delete(key)
      this.#bytes -= old.byteLength
    }
    this.#blocks.set(key, bytes)
    this.#bytes += bytes.byteLength
    for (const [k, b] of this.#blocks) {
      if (this.#bytes <= this.maxBytes) break
      this.#blocks.delete(k)
      this.#bytes -= b.byteLength
    }
  }
}

/**
 * Reads whole, verified blocks. Also usable as a `BlockSource` (`get` yields one chunk) for the
 * model package's readers.
 */
export class BlockReader {
  private readonly init: BlockReaderInit

  constructor (init: BlockReaderInit) {
    this.init = init
  }

  /**
   * The block `cid`, verified (now, or when it was kept in the cache).
   *
   * @throws BlockNotFoundError - not local and no `fetchMissing` (404)
   * @throws PreconditionFailedError - not local and `localOnly` (`only-if-cached`: 412, for the
   *   root and for every block below it)
   * @throws UpstreamFetchError - `fetchMissing` failed (504 on timeout, else 502)
   * @throws UnsupportedHashError - a multihash the blockstore cannot verify (`canVerify`), before any lookup
   * @throws BlockHashMismatchError - the stored bytes do not verify
   * @throws AbortError - `options.signal` aborted
   */
  async getBlock (cid: CID, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    options.signal?.throwIfAborted()
    if (cid.multihash.code === HASH_IDENTITY) return cid.multihash.digest
    if (!canVerify(cid.multihash.code, cid.multihash.digest.byteLength)) {
      // checked before any lookup or fetch: a block we cannot verify is never served
      throw new UnsupportedHashError(`CID ${cid} uses multihash 0x${cid.multihash.code.toString(16)} (${cid.multihash.digest.byteLength}-byte digest); this gateway verifies ${VERIFIABLE} at full digest length`, cid.multihash.code)
    }
    const kept = this.init.cache?.get(cid)
    if (kept !== undefined) {
      this.init.onBlock?.(cid, kept.byteLength)
      return kept
    }
    let bytes: Uint8Array
    try {
      bytes = await concatBlock(this.init.blockstore, cid, options)
    } catch (err: any) {
      if (err?.name !== 'NotFoundError' && err?.name !== 'BlockNotFoundError') throw err
      if (this.init.localOnly) {
        throw new PreconditionFailedError(`only-if-cached: block ${cid} is not on this gateway`, { cause: err })
      }
      if (this.init.fetchMissing == null) {
        throw new BlockNotFoundError(`block ${cid} is not available on this gateway`, cid, { cause: err })
      }
      await this.fetch(cid, options.signal)
      try {
        bytes = await concatBlock(this.init.blockstore, cid, options)
      } catch (err2: any) {
        if (err2?.name === 'NotFoundError') {
          throw new UpstreamFetchError(`block ${cid} was fetched but is not in the blockstore`, 502, RETRY_AFTER_SECONDS, { cause: err2 })
        }
        throw err2
      }
    }
    verifyBlock(cid, bytes)
    this.init.cache?.set(cid, bytes)
    this.init.onBlock?.(cid, bytes.byteLength)
    return bytes
  }

  /** `BlockSource` view for `@tensorswap/model` readers: yields the verified block as one chunk. */
  async * get (cid: CID, options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    yield await this.getBlock(cid, options)
  }

  private async fetch (cid: CID, signal?: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(this.init.fetchTimeoutMs)
    const combined = signal != null ? AbortSignal.any([signal, timeout]) : timeout
    log('fetching missing block %c', cid)
    try {
      await (this.init.fetchMissing as FetchMissing)(cid, { signal: combined })
    } catch (err: any) {
      signal?.throwIfAborted()
      if (timeout.aborted || err?.name === 'TimeoutError') {
        throw new UpstreamFetchError(`timed out after ${this.init.fetchTimeoutMs} ms fetching block ${cid} from peers`, 504, RETRY_AFTER_SECONDS, { cause: err })
      }
      throw new UpstreamFetchError(`could not fetch block ${cid} from peers: ${String(err?.message)}`, 502, RETRY_AFTER_SECONDS, { cause: err })
    }
  }
}

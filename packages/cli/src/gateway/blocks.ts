/**
 * Verified block reads for the gateway: from the blockstore, else (when the daemon runs with
 * `--gateway-fetch`) through `fetchMissing`, which brings the block from peers into the store.
 *
 * Every block is re-hashed before it is served (`verifyBlock`), so a corrupt store never
 * reaches a client as valid-looking data. Identity CIDs are answered from their digest.
 *
 * @module
 */

import { verifyBlock, BlockNotFoundError, UnsupportedHashError, getBlock as concatBlock, HASH_IDENTITY, HASH_SHA2_256 } from '@tensorswap/blockstore'
import { logger } from '@libp2p/logger'
import { UpstreamFetchError } from './errors.js'
import { RETRY_AFTER_SECONDS } from './constants.js'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

const log = logger('tensorswap:cli:gateway:blocks')

/**
 * Brings `cid` into the blockstore from peers (e.g. a TensorSwap session `want`); resolves when
 * the block is stored, rejects when it cannot be had. The gateway passes a signal that aborts
 * when the client goes away or the fetch timeout elapses.
 */
export type FetchMissing = (cid: CID, options: { signal: AbortSignal }) => Promise<void>

/** Options of {@link BlockReader}. */
export interface BlockReaderInit {
  blockstore: Pick<Blockstore, 'get' | 'has'>
  fetchMissing?: FetchMissing
  /** Per-block timeout of `fetchMissing`, ms. */
  fetchTimeoutMs: number
  /** Do not call `fetchMissing` (the request carried `Cache-Control: only-if-cached`). */
  localOnly: boolean
  /** Called once per block read (for the blocks-served metric and tests). */
  onBlock?: (cid: CID, bytes: number) => void
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
   * The block `cid`, verified.
   *
   * @throws BlockNotFoundError - not local and no `fetchMissing` (or `localOnly`)
   * @throws UpstreamFetchError - `fetchMissing` failed (504 on timeout, else 502)
   * @throws UnsupportedHashError - a multihash other than sha2-256/identity (before any lookup)
   * @throws BlockHashMismatchError - the stored bytes do not verify
   * @throws AbortError - `options.signal` aborted
   */
  async getBlock (cid: CID, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    options.signal?.throwIfAborted()
    if (cid.multihash.code === HASH_IDENTITY) return cid.multihash.digest
    if (cid.multihash.code !== HASH_SHA2_256) {
      // checked before any lookup or fetch: a block we cannot verify is never served
      throw new UnsupportedHashError(`CID ${cid} uses multihash 0x${cid.multihash.code.toString(16)}; this gateway verifies only sha2-256 and identity`, cid.multihash.code)
    }
    let bytes: Uint8Array
    try {
      bytes = await concatBlock(this.init.blockstore, cid, options)
    } catch (err: any) {
      if (err?.name !== 'NotFoundError' && err?.name !== 'BlockNotFoundError') throw err
      if (this.init.fetchMissing == null || this.init.localOnly) {
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
    this.init.onBlock?.(cid, bytes.byteLength)
    return bytes
  }

  /** `true` when the block is local (identity CIDs always are). */
  async has (cid: CID, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    if (cid.multihash.code === HASH_IDENTITY) return true
    return await this.init.blockstore.has(cid, options)
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

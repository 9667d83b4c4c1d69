/**
 * Re-check a whole store: every stored block re-hashed against its CID, and, from given roots,
 * every reachable block present. This is `tensorswap verify` (with `--repair`, corrupt blocks
 * are deleted so the next fetch gets them again; Kubo's `repo verify` does the re-hash part).
 *
 * @module
 */

import { logger } from '@libp2p/logger'
import { CustomProgressEvent, type ProgressEvent, type ProgressOptions } from 'progress-events'
import { getBlockUnverified } from './fs-blockstore.js'
import { links } from './links.js'
import { canVerify, verifyBlock } from './verify.js'
import { HASH_IDENTITY } from './constants.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

const log = logger('tensorswap:blockstore:verify')

/** A store that can hand out a block's bytes as stored, unchecked (the repo's `ModelStore`). */
interface RawReadable {
  readStored: (cid: CID, options?: AbortOptions) => Promise<{ state: 'ok' | 'read', bytes: Uint8Array } | { state: 'missing', why: string } | undefined>
}

/** Progress of {@link verifyStore}: one event per stored block checked. */
export type VerifyStoreProgressEvents =
  ProgressEvent<'tensorswap:verify:block', { cid: CID, bytes: number, ok: boolean }>

/** Options of {@link verifyStore}. */
export interface VerifyStoreOptions extends AbortOptions, ProgressOptions<VerifyStoreProgressEvents> {
  /** Also walk the DAGs under these roots and report blocks they link to that are absent. */
  roots?: CID[]
  /** Delete every corrupt block (a later fetch gets it again). @default false */
  repair?: boolean
}

/** What {@link verifyStore} found. */
export interface VerifyStoreResult {
  /** Stored blocks checked. */
  blocks: number
  /** Their bytes. */
  bytes: number
  /** Blocks whose bytes do not hash to their CID (or use a hash we cannot verify). */
  corrupt: CID[]
  /**
   * Blocks the store indexes whose bytes are gone (a data file deleted or cut short under it),
   * then blocks reachable from `roots` that are not stored (or were corrupt and repaired away).
   */
  missing: CID[]
  /** Whether corrupt blocks were deleted. */
  repaired: boolean
}

/**
 * Re-hash every block of `store` (sha2-256/sha2-512 via the one verifier) and, from `roots`,
 * list the reachable blocks that are absent. Reads each block once; memory holds one block and
 * the set of visited CIDs.
 *
 * @param store - any interface-blockstore (its `getAll` lists what is stored)
 * @param options - see {@link VerifyStoreOptions}
 * @returns counts and the CIDs of corrupt and missing blocks
 * @throws AbortError when `signal` aborts; `UnsupportedCodecError` for a reachable block of a codec
 *   whose links we cannot read; store I/O errors
 */
export async function verifyStore (store: Blockstore, options: VerifyStoreOptions = {}): Promise<VerifyStoreResult> {
  const seen = new Set<string>()
  const corrupt: CID[] = []
  const corruptKeys = new Set<string>()
  let blocks = 0
  let bytes = 0
  const gone: CID[] = []
  const stored = typeof (store as Partial<RawReadable>).readStored === 'function' ? store as Blockstore & RawReadable : undefined
  for await (const pair of store.getAll(options)) {
    options.signal?.throwIfAborted()
    let data: Uint8Array
    if (stored != null) {
      // the bytes as stored, unchecked: the store's own read would drop a bad block silently
      const got = await stored.readStored(pair.cid, options)
      if (got == null) continue
      if (got.state === 'missing') {
        log('block %c is gone: %s', pair.cid, got.why)
        gone.push(pair.cid)
        corruptKeys.add(pair.cid.multihash.bytes.toString())
        blocks++
        options.onProgress?.(new CustomProgressEvent('tensorswap:verify:block', { cid: pair.cid, bytes: 0, ok: false }))
        continue
      }
      data = got.bytes
    } else {
      data = await getBlockUnverified(store, pair.cid, options)
    }
    let ok = true
    try {
      verifyBlock(pair.cid, data)
    } catch (err: any) {
      ok = false
      log('block %c is corrupt - %e', pair.cid, err)
      corrupt.push(pair.cid)
      corruptKeys.add(pair.cid.multihash.bytes.toString())
    }
    blocks++
    bytes += data.byteLength
    options.onProgress?.(new CustomProgressEvent('tensorswap:verify:block', { cid: pair.cid, bytes: data.byteLength, ok }))
  }
  if (options.repair === true) {
    for (const cid of [...corrupt, ...gone]) await store.delete(cid, options)
  }
  // indexed blocks whose bytes are gone (a data file deleted or truncated under the store)
  const missing: CID[] = [...gone]
  for (const cid of gone) seenKey(cid)
  function seenKey (cid: CID): void { seen.add(cid.multihash.bytes.toString()) }
  const stack = [...(options.roots ?? [])].reverse()
  while (stack.length > 0) {
    options.signal?.throwIfAborted()
    const cid = stack.pop() as CID
    const key = cid.multihash.bytes.toString()
    if (seen.has(key) || cid.multihash.code === HASH_IDENTITY) continue
    seen.add(key)
    if (!canVerify(cid.multihash.code, cid.multihash.digest.byteLength) || corruptKeys.has(key) || !(await store.has(cid, options))) {
      if (!corruptKeys.has(key) || options.repair === true) missing.push(cid)
      continue
    }
    const data = await getBlockUnverified(store, cid, options)
    const children = links(cid, data)
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i])
  }
  return { blocks, bytes, corrupt, missing, repaired: options.repair === true && corrupt.length > 0 }
}

/**
 * Block hashing, CID construction and verified block reads for the model DAG, all through the
 * one verifier of `@tensorswap/blockstore` (`hashBlock`, `digestOf`, `getVerifiedBlock`).
 *
 * CIDs are CIDv1 with sha2-256 (multihash code 0x12) computed by `node:crypto`, so each
 * imported byte is hashed exactly once.
 *
 * @module
 */

import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { digestOf, getVerifiedBlock, hashBlock, HASH_SHA2_256 } from '@tensorswap/blockstore'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import type { Placement } from '@tensorswap/blockstore'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/**
 * The part of a blockstore import needs: `put`, optionally told where a raw leaf lies in its file
 * (`placement`, the model-shaped store's `PlaceOptions`; any other store ignores it).
 */
export interface BlockSink {
  put: (cid: CID, bytes: Uint8Array, options?: { signal?: AbortSignal, placement?: Placement }) => unknown
}
/** The part of a blockstore list/export/readManifest need. */
export type BlockSource = Pick<Blockstore, 'get'>

/** sha2-256 multihash digest (32 bytes) of `bytes` (`digestOf` of `@tensorswap/blockstore`, node:crypto). */
export function sha256Digest (bytes: Uint8Array): Digest.Digest<typeof HASH_SHA2_256, number> {
  return Digest.create(HASH_SHA2_256, digestOf(HASH_SHA2_256, bytes) as Uint8Array)
}

/** CIDv1 of `bytes` for `codec` (0x55 raw, 0x70 dag-pb, 0x71 dag-cbor) with sha2-256 (`hashBlock`). */
export function cidOf (codec: number, bytes: Uint8Array): CID {
  return hashBlock(bytes, codec)
}

/** CIDv1 raw + sha2-256 of a leaf. */
export function rawCid (bytes: Uint8Array): CID {
  return cidOf(raw.code, bytes)
}

/** CIDv1 dag-pb + sha2-256 of an encoded dag-pb node. */
export function pbCid (bytes: Uint8Array): CID {
  return cidOf(dagPb.code, bytes)
}

/** CIDv1 dag-cbor + sha2-256 of an encoded dag-cbor block. */
export function cborCid (bytes: Uint8Array): CID {
  return cidOf(dagCbor.code, bytes)
}

/**
 * Read a whole block from a store whose `get` yields chunks and verify that it hashes to `cid`:
 * the blockstore's own `getVerifiedBlock`, re-exported (the model readers use no other).
 *
 * @throws BlockNotFoundError - the store has no such block (`NotFoundError` from the store)
 * @throws BlockHashMismatchError - the bytes do not match the CID
 * @throws UnsupportedHashError - the CID's multihash cannot be verified (not identity, sha2-256, sha2-512)
 */
export { getVerifiedBlock }

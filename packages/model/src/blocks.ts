/**
 * Block hashing, CID construction and verified block reads.
 *
 * CIDs are CIDv1 with sha2-256 (multihash code 0x12) computed by `node:crypto`, so each
 * imported byte is hashed exactly once.
 *
 * @module
 */

import { createHash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { getVerifiedBlock } from '@tensorswap/blockstore'
import { InvalidDagError } from './errors.js'
import type { Blockstore } from 'interface-blockstore'

/** The part of a blockstore import needs. */
export type BlockSink = Pick<Blockstore, 'put'>
/** The part of a blockstore list/export/readManifest need. */
export type BlockSource = Pick<Blockstore, 'get'>

/** sha2-256 multihash digest of `bytes` (node:crypto). */
export function sha256Digest (bytes: Uint8Array): Digest.Digest<typeof sha256.code, number> {
  const hash = createHash('sha256').update(bytes).digest()
  return Digest.create(sha256.code, new Uint8Array(hash.buffer, hash.byteOffset, hash.byteLength))
}

/** CIDv1 of `bytes` for `codec` (0x55 raw, 0x70 dag-pb, 0x71 dag-cbor) with sha2-256. */
export function cidOf (codec: number, bytes: Uint8Array): CID {
  return CID.createV1(codec, sha256Digest(bytes))
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
 * Reads a whole block from `blockstore` (whose `get` yields chunks) and verifies that it
 * hashes to `cid` (sha2-256 and identity multihashes): `getVerifiedBlock` of
 * `@tensorswap/blockstore`, with an unverifiable hash reported as a DAG we cannot read.
 *
 * @throws BlockNotFoundError - the store has no such block (`NotFoundError` from the store)
 * @throws BlockHashMismatchError - the bytes do not match the CID
 * @throws InvalidDagError - the CID uses a hash function we cannot verify
 */
export async function getBlock (blockstore: BlockSource, cid: CID, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
  if (cid.multihash.code !== identity.code && cid.multihash.code !== sha256.code) {
    throw new InvalidDagError(`block ${cid.toString()}: unsupported multihash 0x${cid.multihash.code.toString(16)}`)
  }
  return await getVerifiedBlock(blockstore, cid, options)
}

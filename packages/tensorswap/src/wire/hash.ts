/**
 * Block verification: hash a block's bytes with the function its CID names and compare.
 * Bitswap 1.1.0+ sends a block as a CID *prefix* plus data; the receiver rebuilds the CID
 * by hashing the data (specs.ipfs.tech/bitswap-protocol, "Bitswap 1.1.0"), so a block that
 * came off the wire is verified by construction and matched to a want by its multihash.
 *
 * @module
 */

import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { equals as uint8ArrayEquals } from 'uint8arrays/equals'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { BlockVerificationError } from '../errors.js'

/** Multihash code of sha2-256 (multicodec table). */
export const SHA2_256 = 0x12
/** Multihash code of sha2-512 (multicodec table). */
export const SHA2_512 = 0x13

/** node:crypto algorithm and digest length in bytes, by multihash code. */
const HASHERS = new Map<number, { algorithm: string, length: number }>([
  [SHA2_256, { algorithm: 'sha256', length: 32 }],
  [SHA2_512, { algorithm: 'sha512', length: 64 }]
])

/**
 * Whether we can verify blocks whose multihash has this code and digest length (full-length
 * sha2-256 and sha2-512; truncated digests and other functions are not verifiable here).
 *
 * @param code - multihash function code
 * @param length - digest length in bytes
 */
export function canVerify (code: number, length: number): boolean {
  return HASHERS.get(code)?.length === length
}

/**
 * Hash `bytes` with the multihash function `code` (node:crypto, > 1 GB/s for sha2-256).
 *
 * @param code - multihash function code, one of {@link SHA2_256}, {@link SHA2_512}
 * @param bytes - the block
 * @returns the digest, or `undefined` when `code` is not supported
 */
export function digestOf (code: number, bytes: Uint8Array): Uint8Array | undefined {
  const hasher = HASHERS.get(code)
  if (hasher == null) return undefined
  const digest = createHash(hasher.algorithm).update(bytes).digest()
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)
}

/**
 * Build the CID of `bytes` from a CID prefix's parts by hashing them.
 *
 * @param version - CID version (0 or 1)
 * @param codec - multicodec of the block
 * @param hashCode - multihash function code
 * @param bytes - the block
 * @returns the CID, or `undefined` when the hash function is not supported
 */
export function cidOf (version: 0 | 1, codec: number, hashCode: number, bytes: Uint8Array): CID | undefined {
  const digest = digestOf(hashCode, bytes)
  if (digest == null) return undefined
  const mh = Digest.create(hashCode, digest)
  return version === 0 ? CID.createV0(mh as any) : CID.createV1(codec, mh)
}

/**
 * Check that `bytes` hash to `cid`'s multihash.
 *
 * @param cid - the claimed CID
 * @param bytes - the block
 * @throws `BlockVerificationError` when the digest differs or the hash function is not
 *   supported (nothing unverifiable is accepted)
 */
export function verifyBlock (cid: CID, bytes: Uint8Array): void {
  const digest = digestOf(cid.multihash.code, bytes)
  if (digest == null || !canVerify(cid.multihash.code, cid.multihash.digest.byteLength)) {
    throw new BlockVerificationError(`block ${cid}: multihash code 0x${cid.multihash.code.toString(16)} length ${cid.multihash.digest.byteLength} cannot be verified`)
  }
  if (!uint8ArrayEquals(digest, cid.multihash.digest)) {
    throw new BlockVerificationError(`block ${cid}: ${bytes.byteLength} bytes do not hash to the CID's digest`)
  }
}

/**
 * The key under which wants and received blocks are matched: the multihash, base64. Two
 * CIDs of the same bytes (v0/v1, or another codec) share a key, as in Bitswap
 * implementations that key wants by multihash.
 *
 * @param cid - any CID
 */
export function blockKey (cid: CID): string {
  return uint8ArrayToString(cid.multihash.bytes, 'base64')
}

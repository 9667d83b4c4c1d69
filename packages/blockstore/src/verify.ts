/**
 * The one block verifier of TensorSwap: the table of multihash functions we can check, and the
 * functions that hash, build CIDs and verify blocks with it. The exchange (Bitswap wire
 * decoding), GraphSync (traversal and wire blocks), the gateway, CAR import/export and the model
 * readers all verify through this module, so they accept and reject the same CIDs.
 *
 * Sources: a block is the bytes a CID addresses (CID spec, multiformats/cid:
 * `<cidv1> ::= <cid-version><multicodec-content-type><multihash-content-address>`); a multihash
 * is `<varint hash function code><varint digest length><digest>` (multiformats/multihash); the
 * codes are those of the multicodec table (`identity` 0x00, `sha2-256` 0x12, `sha2-512` 0x13).
 *
 * @module
 */

import { createHash } from 'node:crypto'
import { equals } from 'multiformats/bytes'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { CODEC_RAW, HASH_IDENTITY, HASH_SHA2_256, HASH_SHA2_512, SHA2_256_DIGEST_LENGTH, SHA2_512_DIGEST_LENGTH } from './constants.js'
import { BlockHashMismatchError, UnsupportedHashError } from './errors.js'

/** One multihash function we can verify: how to compute it and how long its digest is. */
export interface HashFunction {
  /** Name in the multicodec table. */
  readonly name: 'identity' | 'sha2-256' | 'sha2-512'
  /** `node:crypto` algorithm, or `'identity'` (the digest is the block itself). */
  readonly algorithm: 'identity' | 'sha256' | 'sha512'
  /**
   * Digest length in bytes; only full-length digests are verified (a truncated multihash of a
   * known function is not). `undefined` for identity, whose digest is as long as the block.
   */
  readonly digestLength?: number
}

/**
 * The multihash functions blocks may use, by multihash code (multicodec table): `identity`
 * (0x00), `sha2-256` (0x12, 32-byte digest, FIPS 180-4) and `sha2-512` (0x13, 64-byte digest).
 * sha2 is computed with `node:crypto` (> 1 GB/s for sha2-256 with SHA extensions).
 */
export const HASHERS: ReadonlyMap<number, HashFunction> = new Map<number, HashFunction>([
  [HASH_IDENTITY, Object.freeze({ name: 'identity', algorithm: 'identity' })],
  [HASH_SHA2_256, Object.freeze({ name: 'sha2-256', algorithm: 'sha256', digestLength: SHA2_256_DIGEST_LENGTH })],
  [HASH_SHA2_512, Object.freeze({ name: 'sha2-512', algorithm: 'sha512', digestLength: SHA2_512_DIGEST_LENGTH })]
])

/**
 * Whether blocks whose multihash has function `code` and a digest of `length` bytes can be
 * verified: `code` is in {@link HASHERS} and the digest is full length (any length for identity).
 * `verifyBlock` throws `UnsupportedHashError` exactly when this is false.
 *
 * @param code - multihash function code
 * @param length - digest length, bytes
 */
export function canVerify (code: number, length: number): boolean {
  const h = HASHERS.get(code)
  if (h == null) return false
  return h.digestLength === undefined || h.digestLength === length
}

/**
 * The digest of `bytes` under multihash function `code`.
 *
 * @param code - multihash function code, a key of {@link HASHERS}
 * @param bytes - the block
 * @returns the full-length digest (for identity: `bytes` itself), or `undefined` when `code` is
 *   not in {@link HASHERS}
 */
export function digestOf (code: number, bytes: Uint8Array): Uint8Array | undefined {
  const h = HASHERS.get(code)
  if (h == null) return undefined
  if (h.algorithm === 'identity') return bytes
  const digest = createHash(h.algorithm).update(bytes).digest()
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)
}

/**
 * The CID of `bytes` from the parts of a CID prefix, by hashing them: how a Bitswap 1.1.0+
 * receiver rebuilds a block's CID from the `Block.prefix` (CID version, codec, multihash code,
 * digest length as varints) sent with its data (specs.ipfs.tech/bitswap-protocol, "Bitswap
 * 1.1.0"), and how GraphSync does the same for its wire blocks. The result is verified by
 * construction. The prefix's digest length is not checked here: compare it with
 * `cid.multihash.digest.byteLength` (or check {@link canVerify} first).
 *
 * @param version - CID version; 0 requires codec dag-pb (0x70) and sha2-256
 * @param codec - multicodec of the block
 * @param hashCode - multihash function code
 * @param bytes - the block
 * @returns the CID, or `undefined` when `hashCode` is not in {@link HASHERS}
 * @throws Error (multiformats) - `version` 0 with another codec or hash function
 */
export function cidOf (version: 0 | 1, codec: number, hashCode: number, bytes: Uint8Array): CID | undefined {
  const digest = digestOf(hashCode, bytes)
  if (digest == null) return undefined
  const mh = Digest.create(hashCode, digest)
  return version === 0 ? CID.createV0(mh as Digest.Digest<typeof HASH_SHA2_256, number>) : CID.createV1(codec, mh)
}

/**
 * Check that `bytes` is the block `cid` addresses, synchronously: hash them with the CID's
 * multihash function ({@link HASHERS}) and compare with its digest (for identity: the digest
 * must equal the bytes).
 *
 * @param cid - the claimed address
 * @param bytes - the block bytes
 * @throws UnsupportedHashError - not {@link canVerify}: the function is not in {@link HASHERS},
 *   or its digest is truncated (`hashCode`, `cid` set)
 * @throws BlockHashMismatchError - the digest of `bytes` differs from the CID's digest (`cid` set)
 *
 * Both errors extend `BlockVerificationError`.
 */
export function verifyBlock (cid: CID, bytes: Uint8Array): void {
  const { code, digest } = cid.multihash
  if (!canVerify(code, digest.byteLength)) {
    const h = HASHERS.get(code)
    throw new UnsupportedHashError(h == null
      ? `CID ${cid} uses multihash code 0x${code.toString(16)}; only identity, sha2-256 and sha2-512 are verified`
      : `CID ${cid} has a ${digest.byteLength}-byte ${h.name} digest; only full-length (${String(h.digestLength)}-byte) digests are verified`, code, cid)
  }
  const actual = digestOf(code, bytes) as Uint8Array
  if (!equals(actual, digest)) {
    throw new BlockHashMismatchError(`block bytes (${bytes.byteLength} bytes) do not hash to CID ${cid}`, cid)
  }
}

/**
 * Hash `bytes` and return their CIDv1.
 *
 * @param bytes - the block bytes
 * @param codec - multicodec code of the block's format (default `raw`, 0x55)
 * @param hashCode - multihash function, a key of {@link HASHERS} (default `sha2-256`, 0x12)
 * @returns CIDv1 of `codec` with the full-length multihash
 * @throws UnsupportedHashError - `hashCode` is not in {@link HASHERS}
 */
export function hashBlock (bytes: Uint8Array, codec: number = CODEC_RAW, hashCode: number = HASH_SHA2_256): CID {
  const cid = cidOf(1, codec, hashCode, bytes)
  if (cid == null) throw new UnsupportedHashError(`multihash code 0x${hashCode.toString(16)} is not one of identity, sha2-256, sha2-512`, hashCode)
  return cid
}

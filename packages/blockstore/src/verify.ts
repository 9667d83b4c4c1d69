/**
 * Block verification: re-hash bytes and compare with the multihash in the CID.
 */

import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { CODEC_RAW, HASH_IDENTITY, HASH_SHA2_256, SHA2_256_DIGEST_LENGTH } from './constants.js'
import { BlockHashMismatchError, UnsupportedHashError } from './errors.js'

/**
 * Check that `bytes` is the block addressed by `cid`, synchronously.
 *
 * Supports the multihash functions `sha2-256` (0x12, hashed with node:crypto) and `identity`
 * (0x00, the digest must equal the bytes). Implements the CID spec's definition of a block
 * (multiformats/cid: `<cidv1> ::= <multibase-prefix><cid-version><multicodec-content-type><multihash-content-address>`).
 *
 * @param cid - the claimed address
 * @param bytes - the block bytes
 * @throws UnsupportedHashError - the multihash function is neither sha2-256 nor identity
 * @throws BlockHashMismatchError - the digest of `bytes` differs from the CID's digest
 */
export function verifyBlock (cid: CID, bytes: Uint8Array): void {
  const { code, digest } = cid.multihash
  let actual: Uint8Array
  if (code === HASH_SHA2_256) {
    if (digest.byteLength !== SHA2_256_DIGEST_LENGTH) {
      throw new BlockHashMismatchError(`CID ${cid} has a sha2-256 digest of ${digest.byteLength} bytes, expected ${SHA2_256_DIGEST_LENGTH}`, cid)
    }
    actual = createHash('sha256').update(bytes).digest()
  } else if (code === HASH_IDENTITY) {
    actual = bytes
  } else {
    throw new UnsupportedHashError(`CID ${cid} uses multihash code 0x${code.toString(16)}, only sha2-256 and identity are supported`, code)
  }
  if (!equals(actual, digest)) {
    throw new BlockHashMismatchError(`block bytes (${bytes.byteLength} bytes) do not hash to CID ${cid}`, cid)
  }
}

/**
 * Hash `bytes` with sha2-256 and return their CIDv1.
 *
 * @param bytes - the block bytes
 * @param codec - multicodec code of the block's format (default `raw`, 0x55)
 * @returns CIDv1 `codec` + sha2-256 multihash
 */
export function hashBlock (bytes: Uint8Array, codec: number = CODEC_RAW): CID {
  const digest = createHash('sha256').update(bytes).digest()
  return CID.createV1(codec, Digest.create(HASH_SHA2_256, new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)))
}

function equals (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) {
    if (a[i] !== b[i]) return false
  }
  return true
}

/**
 * The key under which the exchange matches wants, presences and received blocks.
 *
 * @module
 */

import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import type { CID } from 'multiformats/cid'

/**
 * The key under which wants and received blocks are matched: the multihash, base64. Two
 * CIDs of the same bytes (v0/v1, or another codec) share a key, as in Bitswap
 * implementations that key wants by multihash. Verification is not this module's job: blocks
 * are verified by `@tensorswap/blockstore` (`cidOf` while decoding, `verifyBlock`).
 *
 * @param cid - any CID
 * @returns the base64 (no padding) of `cid.multihash.bytes`
 */
export function blockKey (cid: CID): string {
  return uint8ArrayToString(cid.multihash.bytes, 'base64')
}

/**
 * The key under which the exchange matches wants, presences and received blocks.
 *
 * @module
 */

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
  const mh = cid.multihash.bytes
  // Node's base64 (native), padding dropped: the same text as multiformats' `base64`, at a third
  // of its cost (a key is derived several times per block: want, arrival, engine, session)
  const b64 = Buffer.from(mh.buffer, mh.byteOffset, mh.byteLength).toString('base64')
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0
  return pad === 0 ? b64 : b64.slice(0, -pad)
}

/**
 * The one detail shape of every `tensorswap:*:block` progress event, across packages (CAR
 * import/export here, the exchange's sessions, the gateway source and Bitswap tensor fetches in
 * `tensorswap`; `@tensorswap/graphsync` declares the same shape without depending on this
 * package, and a type test in `tensorswap` keeps the two identical).
 *
 * @module
 */

import type { CID } from 'multiformats/cid'

/**
 * Where the block of a `*:block` progress event came from:
 * - `network`: fetched from a peer (Bitswap, `/tensorswap/1.0.0`, GraphSync) and verified;
 * - `local`: already in (or read from) the local blockstore;
 * - `gateway`: fetched from a trustless HTTP gateway and verified;
 * - `car`: read from a CAR stream and verified.
 */
export type BlockOrigin = 'network' | 'local' | 'gateway' | 'car'

/**
 * Detail of every `tensorswap:*:block` progress event: one block handled. Events may add
 * fields of their own (a CAR offset, a traversal path) by intersection; these four are always
 * the same.
 */
export interface BlockProgressDetail {
  cid: CID
  /**
   * Block length, bytes. For a local raw leaf that was not read (a session only checks it is
   * there), its size hint, or 0 without one.
   */
  bytes: number
  /** See {@link BlockOrigin}. */
  from: BlockOrigin
  /** The peer id string of the sender, for `from: 'network'` when known. */
  peer?: string
}

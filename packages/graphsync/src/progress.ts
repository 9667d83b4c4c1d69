/**
 * The detail shape of every `tensorswap:*:block` progress event: `BlockProgressDetail` and
 * `BlockOrigin` of `@tensorswap/blockstore` (one declaration for every package), re-exported.
 *
 * @module
 */

export type { BlockOrigin, BlockProgressDetail } from '@tensorswap/blockstore'

/**
 * Limits of model-aware fetching: model selectors and the Bitswap fallback of `tensors()`.
 * Protocol and driver limits (message size, selector limits, traversal budgets, request idle
 * timeout, stream limits) live in `@tensorswap/graphsync`'s constants.
 *
 * @module
 */

/**
 * Most contiguous tensor runs in one model selector. Each run costs 4 selector clauses
 * (ExploreRange/ExploreIndex, ExploreFields `chunks`, ExploreAll, Matcher), so 1024 runs stay
 * well under the selector's MAX_SELECTOR_NODES (16384); longer selections are fetched as
 * several requests, in order.
 */
export const MAX_RUNS_PER_SELECTOR = 1024

/**
 * Bitswap fallback of `tensors()` (peers without GraphSync): most chunk wants outstanding at
 * once. Half of a remote's want-list cap (Bitswap `DEFAULT_MAX_WANTLIST_SIZE` = 1024, as
 * @helia/bitswap and boxo), like the exchange's per-peer want limit.
 */
export const DEFAULT_BITSWAP_TENSOR_BLOCKS_IN_FLIGHT = 512

/**
 * Bitswap fallback of `tensors()`: most estimated chunk bytes outstanding (asked, not yet
 * stored), bytes. The exchange's `DEFAULT_MAX_PEER_BYTES_IN_FLIGHT` (16 MiB: 1 Gbit/s x 100 ms
 * RTT, four 4 MiB messages) times two, so the serving engine always has the next batches.
 */
export const DEFAULT_BITSWAP_TENSOR_BYTES_IN_FLIGHT = 32 * 1024 * 1024

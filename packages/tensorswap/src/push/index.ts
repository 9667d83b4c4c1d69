/**
 * Push (spec/tensorswap.md §8): ask a peer to fetch a DAG from us. The pure policy
 * ({@link PushPolicy}), the messages, and the libp2p driver ({@link PushService} for the
 * receiver, {@link pushDag} for the pusher).
 *
 * @module
 */
export * from './constants.js'
export * from './errors.js'
export * from './messages.js'
export * from './policy.js'
export * from './service.js'

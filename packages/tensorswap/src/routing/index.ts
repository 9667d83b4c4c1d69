/**
 * Content routing (spec/tensorswap.md "Content routing"): the DHT and bootstrap configuration,
 * the provided-roots record, the errors. This is the `tensorswap/routing` subpath: it loads no
 * libp2p transport (the CLI's `add` records roots through it). The router (`ContentRouter`)
 * and the libp2p services are exported from the package root.
 *
 * @module
 */
export { parseBootstrapList, isLanOnly, isLoopbackAddress, isPrivateAddress, leecherListen, peerIdOf, resolveRouting } from './config.js'
export type { DhtMode, RoutingInit, ResolvedRouting } from './config.js'
export { rootsOf, ProvidedRoots, recordProvidedRoot } from './roots.js'
export type { ProvidedRoot } from './roots.js'
export * from './errors.js'

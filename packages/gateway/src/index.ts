/**
 * @packageDocumentation
 *
 * The TensorSwap HTTP gateway: a trustless gateway (ipfs/specs `http-gateways/trustless-gateway`,
 * IPIP-402 `dag-scope`/`entity-bytes`, IPIP-412 CAR `order`/`dups`) plus deserialized UnixFS
 * file downloads with `Range`, directory and model listings, and Prometheus `/metrics`. See
 * `spec/gateway.md`.
 *
 * @example
 * ```ts
 * import { openRepo, resolveRepoPath } from '@tensorswap/blockstore'
 * import { createGatewayServer, createMetrics } from '@tensorswap/gateway'
 *
 * const repo = await openRepo(resolveRepoPath())
 * const gateway = createGatewayServer({ blockstore: repo.blockstore, metrics: createMetrics() })
 * const { url } = await gateway.listen('127.0.0.1', 8080)
 * // curl "$url/ipfs/<cid>?format=car" > model.car
 * await gateway.close()
 * ```
 */

export { createGatewayServer, contentTypeFor, isLoopback } from './server.js'
export { buildStatus } from './status.js'
export type { StatusSource, StatusSnapshot, StatusPeer, StatusTransfer, StatusRoot, StatusThroughputPoint, ListingCache } from './status.js'
export { STATUS_PAGE_HTML } from './status-page.js'
export type { GatewayServer, GatewayServerInit, GatewayProgressEvents, SendFloor } from './server.js'
export type { FetchMissing } from './blocks.js'
export { VerifiedBlockCache } from './blocks.js'
export { ClientSlots, clientKey } from './client-slots.js'
export { createMetrics, gatewayMetrics, exchangeMetrics, METRIC_NAMES } from './metrics.js'
export type { GatewayMetrics, ExchangeMetrics, CreateMetricsInit } from './metrics.js'
export { parseGatewayRequest, parseAccept, parseEntityBytes, parseRange, resolveRange, resolveEntityBytes } from './request.js'
export type { GatewayRequest, ResponseFormat, DagScope, CarParams, EntityBytes, ByteRangeSpec } from './request.js'
export * from './errors.js'
export * from './constants.js'
export { bindExchangeMetrics } from './exchange-metrics.js'

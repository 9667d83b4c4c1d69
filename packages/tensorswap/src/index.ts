/**
 * @packageDocumentation
 *
 * TensorSwap's exchange and node assembly: Bitswap 1.2.0 / 1.1.0 and `/tensorswap/1.0.0` over
 * libp2p (spec/tensorswap.md), with a node-wide want-list, a throughput-aware peer selector,
 * a debt ledger, a fair serving engine and DAG-walking sessions; plus the libp2p node assembly
 * and back-pressured stream framing (`src/transport`).
 *
 * @example
 * ```ts
 * import { createExchange, createLibp2pNode } from 'tensorswap'
 * import { MemoryBlockstore } from 'blockstore-core'
 *
 * const libp2p = await createLibp2pNode()
 * const exchange = createExchange({ libp2p, blockstore: new MemoryBlockstore() })
 * await exchange.start()
 * const result = await exchange.fetch(root, { peers: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo...'] })
 * await exchange.stop()
 * await libp2p.stop()
 * ```
 */

export { Exchange, createExchange } from './exchange.js'
export type { DialFailedDetail, ExchangeComponents, ExchangeInit, ExchangeStats, FetchOptions, FetchProgressEvents, WantBlockOptions } from './exchange.js'
export { Session, linkChildren, readBlock } from './session.js'
export type { Child, ChildrenFn, SessionComponents, SessionInit, SessionResult, SessionBlockDetail, SessionProgressEvents } from './session.js'
export { SessionCore } from './session-core.js'
export type { SessionCoreInit, SessionEffect, SessionVisit, SessionWant } from './session-core.js'
export { SessionPeers } from './session-peers.js'
export type { PeerSource, SessionPeerListener } from './session-peers.js'
export { manifestChildren, defaultChildren } from './tensors/manifest-children.js'
export { BoundedQueue, mapLimit } from '@tensorswap/blockstore'
export type { BoundedQueueInit } from '@tensorswap/blockstore'
export { Network, emptyEntryCounts } from './network.js'
export type { Channel, CompressionStats, CountedMessage, EntryCounts, NetworkComponents, NetworkHandlers, NetworkInit, WireCompressionMode, WireStats } from './network.js'
export { compressBlock, compressBlockSync, inflateBlock, inflateBlocks, PLANE_STORED, PLANE_ZSTD, SUPPORTED_PLANE_CODECS } from './wire/compression.js'
export type { CompressBlockOptions, CompressedBlockIn } from './wire/compression.js'
export { CompressionPolicy } from './wire/compression-policy.js'
export { LinkRateEstimator } from './wire/link-rate.js'
export type { LinkRateInit } from './wire/link-rate.js'
export type { CompressionPolicyInit, LinkEstimate } from './wire/compression-policy.js'
export { analyseBlock, joinPlanes, planeLength, splitPlanes, PLANE_WIDTHS } from './wire/planes.js'
export type { BlockAnalysis, PlaneWidth } from './wire/planes.js'
export { BulkLanes, ipHost, tcpHostPort } from './bulk-lane.js'
export type { BulkLaneHandlers, BulkLaneInit } from './bulk-lane.js'
export { WantListManager } from './want-list.js'
export type { WantListInit, WantOptions, WantEffect, WantState, BlockReceivedResult, SwarmSessionOptions } from './want-list.js'
export { PeerSelector } from './peer-selector.js'
export type { PeerSelectorInit, PeerStats, PickOptions } from './peer-selector.js'
export { DebtLedger, paperServeProbability } from './ledger.js'
export type { DebtLedgerInit, LedgerEntry, LedgerStrategy } from './ledger.js'
export { Engine } from './engine.js'
export type { EngineInit, EngineTask, EngineBatch, TaskOutcome, MessageResult } from './engine.js'
export { PenaltyBox, PENALTY } from './penalties.js'
export type { Offence, PenaltyBoxInit } from './penalties.js'
export { PeerRateLimiter, refill, ByteBucket, BandwidthLimiter, parseRate, validateBandwidthLimits } from './rate-limit.js'
export type { Bucket, RateLimitInit, BandwidthLimits, BandwidthStats } from './rate-limit.js'
export { decodeMessage, encodeMessage, splitMessage, downgradeMessage, decodePrefix, encodePrefix, supportsHave } from './wire/codec.js'
export type { BitswapMessage, DecodedMessage, DecodeLimits, WantEntry, WantType, Wantlist, Block, BlockPresence, PresenceType, CidPrefix, SplitOptions } from './wire/codec.js'
export { blockKey } from './wire/block-key.js'
/** The one block verifier, re-exported from `@tensorswap/blockstore`. */
export { verifyBlock, canVerify } from '@tensorswap/blockstore'
export * from './constants.js'
export * from './errors.js'
export * from './transport/index.js'
export { createTensorSwap, defaultLaneListen } from './tensorswap.js'
export { TransferRegistry } from './transfers.js'
export { statusSource } from './status-source.js'
export type { NodeStatusSource } from './status-source.js'
export type { TransferInfo } from './transfers.js'
export type { TensorSwapInit, TensorSwapNode, GetOptions, GetProgressEvents, GetResult, TensorsOptions, TensorsProgressEvents, TensorsProtocolDetail, TensorsTensorDetail } from './tensorswap.js'
export * from './gateway-source.js'
export * from './push/index.js'
export { tuneGcForBulkTransfer, BULK_TRANSFER_V8_FLAGS } from './gc-tuning.js'
export { gatewayWant, withFallback } from './block-sources.js'
export type { WantFn } from './block-sources.js'
export * from './routing/index.js'
export { ContentRouter, backoffWithJitter } from './routing/router.js'
export type { ProviderSource, FoundProvider, RouterComponents, FindProvidersOptions, FindProvidersResult } from './routing/router.js'
export * from './health/index.js'
export { routingLibp2pOptions } from './routing/services.js'
export type { RoutingLibp2pOptions } from './routing/services.js'

/**
 * @packageDocumentation
 *
 * IPLD selectors (parse, build, encode, traverse), GraphSync 2.0.0 messages, and the
 * requestor ({@link GraphSyncRequestor}) and responder ({@link RequestResponder},
 * {@link ResponseManager}) state machines, which are pure (no I/O); and their libp2p driver
 * {@link GraphSyncNetwork} (`network.ts`: streams, framing, dials, timers). Model-aware
 * fetching (tensor selections over TensorSwap manifests) is in the `tensorswap` package
 * (`tensorswap/tensors`).
 *
 * @example
 *
 * ```typescript
 * import { getBlockUnverified } from '@tensorswap/blockstore'
 * import { s, traverse, selectorToDagCbor } from '@tensorswap/graphsync'
 *
 * // a BlockLoader resolves to a whole block (the traversal verifies it against its CID);
 * // interface-blockstore 7's `blockstore.get` yields chunks, so it is not one: join them
 * const load = async (cid, { signal }) => await getBlockUnverified(blockstore, cid, { signal })
 * // the first two layers of a manifest's tensor list, every block under them
 * const sel = s.exploreFields({ tensors: s.exploreRange(0, 2, s.exploreRecursive(s.union(s.matcher(), s.exploreAll(s.recursiveEdge())))) })
 * for await (const evt of traverse(root, sel, load)) {
 *   if (evt.block != null) console.log(evt.path, evt.block.cid.toString())
 * }
 * const wire = selectorToDagCbor(sel)
 * ```
 */
export * from './errors.js'
export type { BlockOrigin, BlockProgressDetail } from './progress.js'
export * from './constants.js'
export type * from './selector/types.js'
export {
  parseSelector, encodeSelector, selectorFromDagCbor, selectorToDagCbor, selectorFromDagJson, selectorToDagJson,
  canonicalizeSelector, compareDagCborKeys
} from './selector/parse.js'
export type { ParseSelectorOptions } from './selector/parse.js'
export { s, matchRoot, allSelector, exploreAllRecursively, validateSelector } from './selector/builder.js'
export type { MatcherOptions, ExploreRecursiveOptions } from './selector/builder.js'
export { traverse, Traversal } from './traversal/traverse.js'
export type {
  VisitEvent, LoadedBlock, BlockLoader, LoaderOptions, TraverseOptions, TraversalBudgetInit, TraverseProgressEvents
} from './traversal/traverse.js'
export { kindOf, mapKeys, decodeBlock } from './traversal/codecs.js'
/** The one block verifier, re-exported from `@tensorswap/blockstore` (sync; identity, sha2-256, sha2-512). */
export { verifyBlock } from '@tensorswap/blockstore'
export type { Kind } from './traversal/codecs.js'
export { sliceBounds } from './traversal/engine.js'
export { ADL_UNIXFS, reifyUnixfs } from './traversal/unixfs.js'
export { visitToFixtureJson } from './traversal/fixture.js'
export type { FixtureVisit } from './traversal/fixture.js'
export {
  RequestType, ResponseStatusCode, LinkAction, Extension, isTerminalStatus, isSuccessStatus
} from './message/types.js'
export type {
  GraphSyncMessage, GraphSyncRequest, GraphSyncResponse, GraphSyncBlock, GraphSyncMetadatum, Extensions
} from './message/types.js'
export {
  encodeMessage, decodeMessage, parsePrefix, blockToWire, blockFromWire,
  encodeDoNotSendCids, decodeDoNotSendCids, encodeDoNotSendFirstBlocks, decodeDoNotSendFirstBlocks
} from './message/codec.js'
export type { CidPrefix } from './message/codec.js'
export { RequestResponder, ResponseManager, idHex } from './responder.js'
export { ResponderMemory } from './allocator.js'
export type { ResponderMemoryInit } from './allocator.js'
export type {
  ResponderBlockLoader, ResponderInit, ResponderProgressEvents, ResponseSummary, ResponseManagerInit, ResponderAction
} from './responder.js'
export { GraphSyncRequestor } from './requestor.js'
export type {
  RequestorStore, ResponseEnvelope, RequestorEvent, RequestorProgressEvents, RequestBlockDetail, RequestResult, RequestorInit
} from './requestor.js'
export { GraphSyncNetwork } from './network.js'
export type {
  GraphSyncNetworkInit, GraphSyncNetworkComponents, GraphSyncRequestOptions, GraphSyncPenalties, GraphSyncOffence,
  ServedBlockstore, FetchBlockstore
} from './network.js'

/**
 * Tensors of a model over GraphSync: the model-aware side of the generic GraphSync driver
 * (`GraphSyncNetwork` of `@tensorswap/graphsync`, which knows blocks and selectors, not
 * manifests). The selection rules and the requests they become are in `model-selectors.ts`
 * ({@link modelTensors}); this file only runs them through {@link GraphSyncNetwork.request}.
 *
 * @module
 */
import { getBlockUnverified } from '@tensorswap/blockstore'
import { tensors as modelTensors } from './model-selectors.js'
import type { FetchedTensor, TensorSelection } from './model-selectors.js'
import type { GraphSyncNetwork, GraphSyncRequestOptions, RequestorProgressEvents } from '@tensorswap/graphsync'
import type { Manifest } from '@tensorswap/model'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'

/** Options of {@link graphSyncTensors}: the request's options plus a tensor selection. */
export type GraphSyncTensorsOptions = Omit<GraphSyncRequestOptions, 'onProgress'> & Omit<TensorSelection, 'selector'> & {
  /** The requestor's progress events (each block fetched or read locally, ...). */
  onProgress?: (evt: RequestorProgressEvents) => void
  /** Read the manifest at `root` once its block is in `options.blockstore` (e.g. `readManifest` of `@tensorswap/model`). */
  readManifest: (root: CID, options: { signal?: AbortSignal }) => Promise<Manifest>
}

/**
 * Fetch tensors of the model at `root` from `peer` into `options.blockstore` over GraphSync and
 * yield each one in computation order as soon as its chunks are verified. See
 * `model-selectors.ts` {@link modelTensors} for the selection rules (spec/graphsync.md "Model
 * selectors").
 *
 * @param graphsync - a started GraphSync driver
 * @param peer - a connected peer's id, or its multiaddrs (ending in `/p2p/<id>`)
 * @param root - the CID of the model's manifest
 * @returns tensors `{ name, index, dtype, shape, bytes, ... }` in manifest order
 * @throws as `GraphSyncNetwork.request` (GraphSyncNotStartedError, RequestFailedError, UnexpectedBlockError,
 *   TraversalMismatchError, ..., the dial's errors, the signal's reason); IncompleteTensorError when the peer lacks
 *   chunks; InvalidLayerRangeError, InvalidTensorSelectionError for a bad selection; NotAManifestError when `root` is
 *   not a manifest
 */
export async function * graphSyncTensors (graphsync: Pick<GraphSyncNetwork, 'request'>, peer: PeerId | Multiaddr | Multiaddr[], root: CID, options: GraphSyncTensorsOptions): AsyncGenerator<FetchedTensor, void, undefined> {
  const { blockstore } = options
  yield * modelTensors(
    async (r, sel, o) => await graphsync.request(peer, r, sel, { ...options, ...o }),
    { has: async (cid, o) => await blockstore.has(cid, o), get: async (cid, o) => await getBlockUnverified(blockstore, cid, o) },
    root,
    options
  )
}

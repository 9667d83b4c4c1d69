/**
 * Model-specific fetching: selectors over TensorSwap model manifests ({@link tensorSelectors},
 * {@link wholeModelSelector}, {@link tensors}), tensors over GraphSync through the generic
 * driver of `@tensorswap/graphsync` ({@link graphSyncTensors}), the same tensor selection over
 * Bitswap for peers without GraphSync ({@link bitswapTensors}), and the choice between the two
 * ({@link graphSyncSupport}, {@link isUnsupportedProtocol}). Import as `tensorswap/tensors`.
 *
 * @example
 * ```ts
 * import { GraphSyncNetwork } from '@tensorswap/graphsync'
 * import { readManifest } from '@tensorswap/model'
 * import { graphSyncTensors } from 'tensorswap/tensors'
 *
 * const gs = new GraphSyncNetwork({ libp2p, blockstore })
 * await gs.start()
 * for await (const t of graphSyncTensors(gs, peerAddr, root, { blockstore, glob: 'model.layers.[0-3].*', readManifest: (r, o) => readManifest(blockstore, r, o) })) {
 *   console.log(t.name, t.dtype, t.shape, t.bytes.byteLength)
 * }
 * ```
 *
 * @module
 */
export { graphSyncTensors } from './graphsync-tensors.js'
export type { GraphSyncTensorsOptions } from './graphsync-tensors.js'
export {
  layerIndex, parseLayerRange, parseSelection, selectTensorIndices, tensorSelectors, wholeModelSelector, manifestSelector, tensors, assembleTensor
} from './model-selectors.js'
export { bitswapTensors } from './bitswap-tensors.js'
export type { BlockWant, BitswapTensorStore, BitswapTensorBlockDetail, BitswapTensorsProgressEvents, BitswapTensorsOptions } from './bitswap-tensors.js'
export { graphSyncSupport, isUnsupportedProtocol } from './protocol-choice.js'
export type { GraphSyncSupport } from './protocol-choice.js'
export type { TensorSelection, FetchedTensor, SubgraphFetcher, TensorStore, TensorsOptions } from './model-selectors.js'
export * from './errors.js'
export * from './constants.js'

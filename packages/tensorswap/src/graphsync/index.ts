/**
 * GraphSync 2.0.0 over libp2p ({@link GraphSyncNetwork}), selectors over TensorSwap model
 * manifests ({@link tensorSelectors}, {@link wholeModelSelector}, {@link tensors}), and the
 * same tensor selection over Bitswap for peers without GraphSync ({@link bitswapTensors}).
 * Protocol state machines live in `@tensorswap/graphsync`; this directory is the I/O.
 *
 * @example
 * ```ts
 * import { GraphSyncNetwork } from 'tensorswap/graphsync'
 * import { readManifest } from '@tensorswap/model'
 *
 * const gs = new GraphSyncNetwork({ libp2p, blockstore })
 * await gs.start()
 * for await (const t of gs.tensors(peerAddr, root, { blockstore, glob: 'model.layers.[0-3].*', readManifest: (r, o) => readManifest(blockstore, r, o) })) {
 *   console.log(t.name, t.dtype, t.shape, t.bytes.byteLength)
 * }
 * ```
 *
 * @module
 */
export { GraphSyncNetwork } from './network.js'
export type {
  GraphSyncNetworkInit, GraphSyncNetworkComponents, GraphSyncRequestOptions, ServedBlockstore, FetchBlockstore
} from './network.js'
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

/**
 * Transport layer of TensorSwap: the libp2p node assembly and dial preference
 * ({@link createLibp2pNode}, {@link dialPreferred}) and varint length-prefixed framing
 * with back-pressure ({@link FrameWriter}, {@link readFrames}).
 *
 * @module
 */
export * from './node.js'
export * from './framing.js'
export * from './socket-stream.js'
export * from './constants.js'

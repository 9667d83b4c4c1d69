/**
 * Transport layer of TensorSwap: the libp2p node assembly and dial preference
 * ({@link createLibp2pNode}, {@link dialPreferred}), Node sockets as framed streams
 * ({@link SocketStream}, the bulk lane's), and — re-exported from `@tensorswap/transport` —
 * varint length-prefixed framing with back-pressure ({@link FrameWriter}, {@link readFrames})
 * and the dial helper ({@link dialWithRetry}).
 *
 * @module
 */
export * from '@tensorswap/transport'
export * from './node.js'
export * from './socket-stream.js'
export * from './constants.js'
export * from './inbound-gate.js'

/**
 * @packageDocumentation
 *
 * Stream plumbing below both of TensorSwap's protocols (the Bitswap-compatible exchange and
 * GraphSync): varint length-prefixed framing with back-pressure over libp2p 3 streams
 * ({@link FrameWriter}, {@link readFrames}, {@link waitForDrain}) — carrying the workaround
 * for `@libp2p/utils` 7.4.1 `onDrain()` — and the one dial helper, time-boxed attempts with
 * retry and back-off ({@link dialWithRetry}). No node assembly here: the libp2p node is
 * `createLibp2pNode` in `tensorswap/transport`.
 *
 * @example
 * ```ts
 * import { FrameWriter, readFrames, dialWithRetry } from '@tensorswap/transport'
 *
 * const stream = await dialWithRetry(({ signal }) => libp2p.dialProtocol(peer, '/my/1.0.0', { signal }), {
 *   attempts: 1, attemptTimeoutMs: 10_000, onLate: s => { s.abort(new Error('abandoned')) }
 * })
 * await new FrameWriter(stream).write(new TextEncoder().encode('hello'))
 * for await (const frame of readFrames(stream)) console.log(frame.subarray())
 * ```
 */
export * from './framing.js'
export * from './dial.js'
export * from './constants.js'
export * from './errors.js'
export * from './pacer.js'

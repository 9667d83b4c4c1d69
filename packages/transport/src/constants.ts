/**
 * Limits and defaults of `@tensorswap/transport`: frame sizes of the length-prefixed framing
 * and the time-boxes and retries of {@link dialWithRetry}. Every number cites where it comes
 * from.
 *
 * @module
 */

/** 1 MiB in bytes. */
const MiB = 1024 * 1024

/**
 * Default largest frame `readFrames` accepts, in bytes. A frame carries at most one
 * Bitswap/TensorSwap message; Bitswap peers cap blocks at 2 MiB and messages at 4 MiB
 * (boxo `bitswap/network` maxMessageSize = 4 MiB), so 4 MiB is the reference limit.
 */
export const DEFAULT_MAX_FRAME_BYTES = 4 * MiB

/**
 * Hard ceiling on `maxFrameBytes`, in bytes: a declared length above this is always
 * rejected. Unsigned varints of at most 9 bytes can declare up to 2^63-1, which must never
 * be trusted; 64 MiB is well above any message our exchange sends.
 */
export const MAX_FRAME_BYTES = 64 * MiB

/**
 * Longest unsigned varint accepted as a frame length prefix, in bytes. The
 * multiformats unsigned-varint spec caps varints at 9 bytes (63 bits); a length that
 * fits {@link MAX_FRAME_BYTES} needs at most 4.
 */
export const MAX_VARINT_BYTES = 9

/**
 * Bytes `readFrames` lets the stream queue beyond the frame being assembled before it
 * pauses the stream (yamux then withholds window updates; QUIC with our patch stops
 * reading). Two yamux max messages; bounds reader memory independently of frame count.
 */
export const DEFAULT_READ_HIGH_WATER_BYTES = 1 * MiB

/**
 * One attempt of {@link dialWithRetry}, in ms: the time-box of a dial of a peer given by
 * address (libp2p's whole-dial default is 10 s; ours leaves room for a retry within it twice).
 */
export const DEFAULT_DIAL_ATTEMPT_TIMEOUT_MS = 8_000

/**
 * Attempts {@link dialWithRetry} makes by default. `@chainsafe/libp2p-quic` 2.1.1 does not pass
 * the abort signal to its native connect, and a QUIC connect to a node that was hanging up on
 * another peer at that moment was seen never to complete (tensorswap
 * test/exchange/hostile.test.ts); a new attempt gets a new connection.
 */
export const DEFAULT_DIAL_ATTEMPTS = 3

/**
 * Wait before the second attempt of {@link dialWithRetry}, in ms; doubled before each later
 * attempt (100, 200, ...). Short: the retries are for a connect that hung, not for a peer
 * that is down, and a refused dial fails in well under a millisecond on loopback.
 */
export const DEFAULT_DIAL_BACKOFF_MS = 100

/**
 * Most time opening a stream (stream open plus multistream-select) may take, in ms: the
 * time-box of a one-attempt {@link dialWithRetry} around `dialProtocol` / `newStream`. Without
 * it a stream open that never completes (seen on QUIC while the remote was hanging up on
 * another, banned peer) held the caller forever. libp2p's own dial timeout covers the
 * connection, not the stream.
 */
export const DEFAULT_STREAM_OPEN_TIMEOUT_MS = 10_000

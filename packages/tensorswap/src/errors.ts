/**
 * Error classes of the tensorswap package. Each is identified by its `.name`; tests and
 * callers match on `.name`, never on message text. Keep `.code` free for wire error codes.
 *
 * @module
 */

import type { CID } from 'multiformats/cid'

// --- transport (src/transport/*) ---

// Framing errors live with the framing in `@tensorswap/transport`; re-exported for callers of
// this package.
export { FrameTooLargeError, InvalidFrameError, StreamWriteClosedError } from '@tensorswap/transport'

/**
 * No address in a dial list could be dialled; `.errors` holds each attempt's error in
 * the order tried.
 */
export class NoDialableAddressError extends Error {
  static override name = 'NoDialableAddressError'
  override name = 'NoDialableAddressError'
  readonly errors: Error[]
  constructor (message: string, errors: Error[]) {
    super(message)
    this.errors = errors
  }
}

/**
 * A peer given to a fetch could not be dialled, every attempt of the dial helper failed
 * (`dialWithRetry`: 3 attempts of 8 s by default). The message names the address and the last
 * attempt's error; `.address` is the multiaddr, `.cause` that error.
 */
export class PeerDialError extends Error {
  static override name = 'PeerDialError'
  override name = 'PeerDialError'
  readonly address: string
  constructor (address: string, cause: unknown) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message.split('\n')[0]}` : String(cause)
    super(`cannot reach peer ${address}: ${why}`, { cause })
    this.address = address
  }
}

// --- exchange (src/wire/*, want-list, peer-selector, ledger, engine, network, session, exchange) ---

/**
 * A Bitswap/TensorSwap message could not be decoded: malformed protobuf, an unknown enum
 * value, a CID or block prefix that does not parse, or a block whose prefix names a hash
 * function we cannot verify. The sender is penalised; the message is dropped whole.
 */
export class InvalidMessageError extends Error {
  static override name = 'InvalidMessageError'
  override name = 'InvalidMessageError'
}

/**
 * A message (or one block inside it, or its presences) exceeds a configured limit:
 * `maxMessageBytes`, `maxBlockBytes` or `maxPresences`. On receive the message is dropped
 * and the sender penalised; on send nothing is sent. (A want-list over `maxWantlistSize` is
 * truncated, not rejected: spec/tensorswap.md §3.)
 */
export class MessageTooLargeError extends Error {
  static override name = 'MessageTooLargeError'
  override name = 'MessageTooLargeError'
}

/**
 * A peer opened an exchange stream while it already had `maxInboundStreamsPerPeer` of them
 * open with us (spec/tensorswap.md §3, "inbound exchange streams per peer"): the new stream is
 * reset unread and the peer penalised (`tooManyStreams`, §5). Honest peers keep one stream
 * open (boxo, ours) or a few short-lived ones (@helia/bitswap opens one per message).
 */
export class TooManyStreamsError extends Error {
  static override name = 'TooManyStreamsError'
  override name = 'TooManyStreamsError'
}

/**
 * Every candidate peer answered DONT_HAVE for a block (or timed out) and no other peer can
 * be asked. `.cid` is the block that could not be fetched.
 */
export class BlockUnavailableError extends Error {
  static override name = 'BlockUnavailableError'
  override name = 'BlockUnavailableError'
  /** The block that could not be fetched. */
  readonly cid: CID

  constructor (message: string, cid: CID, options?: ErrorOptions) {
    super(message, options)
    this.cid = cid
  }
}

/**
 * A fetch made no progress: no block arrived from any peer for its progress deadline
 * (`progressTimeoutMs`, {@link DEFAULT_FETCH_PROGRESS_TIMEOUT_MS} by default), it redialled the
 * peers it was given and re-sent its wants, and the deadline passed again with nothing. The
 * one-line message names the peers tried and says that a re-run resumes (blocks already
 * stored stay). `.peers` lists them; `.idleMs` is how long nothing arrived, ms
 * (spec/tensorswap.md section 4, "Progress deadline").
 */
export class FetchStalledError extends Error {
  static override name = 'FetchStalledError'
  override name = 'FetchStalledError'
  readonly peers: string[]
  readonly idleMs: number
  constructor (message: string, peers: string[], idleMs: number) {
    super(message)
    this.peers = peers
    this.idleMs = idleMs
  }
}

/**
 * A fetch from given peers got nothing because they speak no exchange protocol: opening a
 * stream to them for `/tensorswap/1.0.0`, `/ipfs/bitswap/1.2.0` and `/ipfs/bitswap/1.1.0` failed
 * protocol negotiation (they run libp2p, identify and ping, but no block exchange). A session
 * fetch fails with it when its progress deadline passed after redialling and every given peer
 * still refused (a {@link FetchStalledError}: `.peers` and `.idleMs` as there); a single-block
 * want from given peers only fails with it as soon as all of them refused. The one-line message
 * names the peers and says a re-run resumes (spec/tensorswap.md section 4, "Progress deadline").
 */
export class NoExchangeProtocolError extends FetchStalledError {
  static override name = 'NoExchangeProtocolError'
  override name = 'NoExchangeProtocolError'
}

/**
 * A method was called on an exchange that is not started (or already stopped).
 */
export class NotStartedError extends Error {
  static override name = 'NotStartedError'
  override name = 'NotStartedError'
}

/**
 * A block's bytes do not hash to its CID (`BlockHashMismatchError`), or its CID uses a hash
 * function we cannot verify (`UnsupportedHashError`): the base class of both, declared once in
 * `@tensorswap/blockstore` and re-exported here. Nothing that raises it is ever written to a
 * blockstore.
 */
export { BlockVerificationError } from '@tensorswap/blockstore'

/** A bulk lane could not be opened or accepted (no usable address, wrong certificate, wrong ALPN). */
export class BulkLaneError extends Error {
  static override name = 'BulkLaneError'
  override name = 'BulkLaneError'
}

/** A root given as a string is not a CID (`bafy...`, `Qm...` or `/ipfs/<cid>`). */
export class InvalidCidError extends TypeError {
  static override name = 'InvalidCidError'
  override name = 'InvalidCidError'
}

// --- bandwidth limits (src/rate-limit.ts) ---

/**
 * A bandwidth limit that is not a rate: 0, negative, not a number, or text that does not
 * parse (`parseRate`). `.option` names the limit (`max-upload-rate`, ...).
 */
export class InvalidRateLimitError extends Error {
  static override name = 'InvalidRateLimitError'
  override name = 'InvalidRateLimitError'
  readonly option?: string
  constructor (message: string, option?: string) {
    super(message)
    this.option = option
  }
}

/**
 * Error classes of the tensorswap package. Each is identified by its `.name`; tests and
 * callers match on `.name`, never on message text. Keep `.code` free for wire error codes.
 *
 * @module
 */

// --- transport (src/transport/*) ---

/**
 * A frame's varint length prefix declared more bytes than the reader's `maxFrameBytes`.
 * Thrown before any of the frame body is buffered.
 */
export class FrameTooLargeError extends Error {
  static override name = 'FrameTooLargeError'
  override name = 'FrameTooLargeError'
}

/**
 * A frame was malformed: its varint length prefix was longer than 9 bytes or
 * non-canonical, or the stream ended in the middle of a prefix or body.
 */
export class InvalidFrameError extends Error {
  static override name = 'InvalidFrameError'
  override name = 'InvalidFrameError'
}

/**
 * A stream closed or reset while a writer waited for it to drain.
 */
export class StreamWriteClosedError extends Error {
  static override name = 'StreamWriteClosedError'
  override name = 'StreamWriteClosedError'
}

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
 * A message (or one block inside it, or its want-list) exceeds a configured limit:
 * `maxMessageBytes`, `maxBlockBytes` or `maxWantlistSize`. On receive the message is dropped
 * and the sender penalised; on send nothing is sent.
 */
export class MessageTooLargeError extends Error {
  static override name = 'MessageTooLargeError'
  override name = 'MessageTooLargeError'
}

/**
 * Every candidate peer answered DONT_HAVE for a block (or timed out) and no other peer can
 * be asked. `.cid` is the block that could not be fetched.
 */
export class BlockUnavailableError extends Error {
  static override name = 'BlockUnavailableError'
  override name = 'BlockUnavailableError'
}

/**
 * A method was called on an exchange that is not started (or already stopped).
 */
export class NotStartedError extends Error {
  static override name = 'NotStartedError'
  override name = 'NotStartedError'
}

/**
 * A block's bytes do not hash to its CID, or its CID uses a hash function we cannot verify.
 * Nothing that raises this is ever written to a blockstore.
 */
export class BlockVerificationError extends Error {
  static override name = 'BlockVerificationError'
  override name = 'BlockVerificationError'
}

/** A bulk lane could not be opened or accepted (no usable address, wrong certificate, wrong ALPN). */
export class BulkLaneError extends Error {
  static override name = 'BulkLaneError'
  override name = 'BulkLaneError'
}

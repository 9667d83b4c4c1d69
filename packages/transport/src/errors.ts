/**
 * Error classes of `@tensorswap/transport`. Each is identified by its `.name`; tests and
 * callers match on `.name`, never on message text.
 *
 * @module
 */

/**
 * A frame's varint length prefix declared more bytes than the reader's `maxFrameBytes`
 * (thrown before any of the frame body is buffered), or a writer was given a frame above its
 * `maxFrameBytes` (nothing is sent).
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
 * A stream closed or reset while a writer waited for it to drain, or was not writable.
 */
export class StreamWriteClosedError extends Error {
  static override name = 'StreamWriteClosedError'
  override name = 'StreamWriteClosedError'
}

/**
 * A writer waited for a stream to drain and the stream's write buffer did not shrink for the
 * writer's `stallTimeoutMs`: the remote stopped reading (or reads too little to matter). The
 * bytes already handed to the stream are not recalled; callers reset the stream.
 */
export class SendStalledError extends Error {
  static override name = 'SendStalledError'
  override name = 'SendStalledError'
}

/**
 * Errors of the push protocol (spec/tensorswap.md §8 "Push").
 *
 * @module
 */

/** The receiver refused a push; `reason` is its answer, verbatim. */
export class PushRefusedError extends Error {
  static override name = 'PushRefusedError'
  override name = 'PushRefusedError'
  /** The receiver's reason. */
  readonly reason: string

  constructor (reason: string) {
    super(`push refused: ${reason}`)
    this.reason = reason
  }
}

/** A push request or response that is not the DAG-CBOR map the spec gives (or does not decode). */
export class InvalidPushMessageError extends Error {
  static override name = 'InvalidPushMessageError'
  override name = 'InvalidPushMessageError'
}

/** The receiver closed the push stream without a response frame. */
export class PushNoResponseError extends Error {
  static override name = 'PushNoResponseError'
  override name = 'PushNoResponseError'
}

/** A configured pusher (`--accept-push`) that is neither `any` nor a peer id. */
export class InvalidPeerIdError extends Error {
  static override name = 'InvalidPeerIdError'
  override name = 'InvalidPeerIdError'
}

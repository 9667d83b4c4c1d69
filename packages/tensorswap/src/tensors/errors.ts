/**
 * Errors of model-aware fetching (model selectors, `tensors()`), identified by `.name`. The
 * typed errors of GraphSync (the requestor and responder state machines and the driver:
 * UnexpectedBlockError, TraversalMismatchError, BlockHashMismatchError, MissingBlockError,
 * RequestFailedError, ResponseIncompleteError, GraphSyncNotStartedError) come from
 * `@tensorswap/graphsync` unchanged.
 *
 * @module
 */

/** A `--layers` range is not `A-B` (or `N`) with integers 0 <= A <= B. */
export class InvalidLayerRangeError extends Error {
  static override name = 'InvalidLayerRangeError'
  override name = 'InvalidLayerRangeError'
}

/** A model tensor selection names no tensor, or mixes `selector` with `glob`/`layers`. */
export class InvalidTensorSelectionError extends Error {
  static override name = 'InvalidTensorSelectionError'
  override name = 'InvalidTensorSelectionError'
}

/**
 * A selected tensor could not be assembled: the fetch ended (e.g. status 21, the responder
 * lacked blocks) without all of its chunks.
 */
export class IncompleteTensorError extends Error {
  static override name = 'IncompleteTensorError'
  override name = 'IncompleteTensorError'
}

/**
 * Typed errors of `@tensorswap/graphsync`. Tests and callers match on `.name`, never on
 * the message text.
 */

/**
 * Verification and codec errors are declared once in `@tensorswap/blockstore` (the one block
 * verifier) and re-exported here so their names keep working: `BlockHashMismatchError` (a loaded
 * block's bytes do not hash to the CID asked for), `UnsupportedHashError` (a CID whose multihash
 * cannot be verified: not identity, sha2-256, sha2-512 at full length), both `BlockVerificationError`s;
 * `UnsupportedCodecError` (a codec the traversal cannot decode: supported dag-cbor, dag-json,
 * dag-pb, raw); `UnexpectedBlockError` (a responder sent a block no outstanding `p` metadata entry
 * announces, or that the requestor's traversal never reaches; nothing of it is stored).
 */
export { BlockHashMismatchError, BlockVerificationError, UnexpectedBlockError, UnsupportedCodecError, UnsupportedHashError } from '@tensorswap/blockstore'

/** A selector document does not follow the IPLD selector schema; the message names the path in the selector. */
export class InvalidSelectorError extends Error {
  static override name = 'InvalidSelectorError'
  override name = 'InvalidSelectorError'
}

/** A selector exceeds one of the `MAX_*` selector limits (nesting, union members, fields, size). */
export class SelectorLimitError extends Error {
  static override name = 'SelectorLimitError'
  override name = 'SelectorLimitError'
}

/** Which traversal budget ran out. */
export type TraversalBudget = 'depth' | 'blocks' | 'bytes'

/** A traversal exceeded one of its budgets (`depth`, `blocks`, `bytes`); `.budget` says which. */
export class TraversalBudgetError extends Error {
  static override name = 'TraversalBudgetError'
  override name = 'TraversalBudgetError'
  readonly budget: TraversalBudget
  readonly limit: number
  readonly path: string

  constructor (budget: TraversalBudget, limit: number, path: string) {
    super(`traversal budget "${budget}" (${limit}) exceeded at path "${path}"`)
    this.budget = budget
    this.limit = limit
    this.path = path
  }
}

/** A block's bytes are not valid for its codec. */
export class BlockDecodeError extends Error {
  static override name = 'BlockDecodeError'
  override name = 'BlockDecodeError'
}

/** The selector asks for something this implementation does not do (an unknown ADL, InterpretAs inside a union, ...). */
export class UnsupportedSelectorError extends Error {
  static override name = 'UnsupportedSelectorError'
  override name = 'UnsupportedSelectorError'
}

/** Data does not fit the shape an ADL needs (e.g. a dag-pb node without valid UnixFS Data). */
export class InvalidAdlDataError extends Error {
  static override name = 'InvalidAdlDataError'
  override name = 'InvalidAdlDataError'
}

/** A GraphSync message is malformed, too large or violates the 2.0.0 schema; the message names the field. */
export class InvalidMessageError extends Error {
  static override name = 'InvalidMessageError'
  override name = 'InvalidMessageError'
}


/**
 * The responder's metadata does not follow the requestor's own traversal of the selector:
 * a link listed where the traversal reaches another one, metadata past the end of the
 * traversal, or a terminal status while the traversal still needs links. The responder is
 * sending blocks our traversal does not reach (or traverses differently).
 */
export class TraversalMismatchError extends Error {
  static override name = 'TraversalMismatchError'
  override name = 'TraversalMismatchError'
}

/**
 * The responder said a block was sent (`p`) or that the requestor has it (`d`), but the
 * block is neither in the response nor in the local store.
 */
export class MissingBlockError extends Error {
  static override name = 'MissingBlockError'
  override name = 'MissingBlockError'
}

/** A GraphSync request ended with an error status (3x); `.status` holds the code. */
export class RequestFailedError extends Error {
  static override name = 'RequestFailedError'
  override name = 'RequestFailedError'
  /** The response status code received (30..35). */
  readonly status: number

  constructor (message: string, status: number) {
    super(message)
    this.status = status
  }
}

/** The response stream ended before a terminal (2x/3x) status arrived for the request. */
export class ResponseIncompleteError extends Error {
  static override name = 'ResponseIncompleteError'
  override name = 'ResponseIncompleteError'
}

/** `GraphSyncNetwork` (`network.ts`) was used before `start()` or after `stop()`. */
export class GraphSyncNotStartedError extends Error {
  static override name = 'GraphSyncNotStartedError'
  override name = 'GraphSyncNotStartedError'
}

/**
 * Error classes of `@tensorswap/blockstore`. Match on `.name`, never on the message.
 */

import type { CID } from 'multiformats/cid'

/** A block's bytes do not hash to the digest in its CID. */
export class BlockHashMismatchError extends Error {
  static override name = 'BlockHashMismatchError'
  override name = 'BlockHashMismatchError'
  /** The CID whose digest did not match. */
  readonly cid?: CID
  /** Byte offset of the offending CAR section, when the block came from a CAR. */
  readonly offset?: number

  constructor (message: string, cid?: CID, offset?: number) {
    super(message)
    this.cid = cid
    this.offset = offset
  }
}

/** The CID uses a multihash function this package cannot verify (only sha2-256 and identity). */
export class UnsupportedHashError extends Error {
  static override name = 'UnsupportedHashError'
  override name = 'UnsupportedHashError'
  /** The multihash code that is not supported (`.code` stays free for wire error codes). */
  readonly hashCode?: number

  constructor (message: string, hashCode?: number) {
    super(message)
    this.hashCode = hashCode
  }
}

/** The CID uses a codec whose links this package cannot extract (only raw, dag-pb, dag-cbor, dag-json). */
export class UnsupportedCodecError extends Error {
  static override name = 'UnsupportedCodecError'
  override name = 'UnsupportedCodecError'
}

/** A block needed for a traversal (e.g. CAR export) is not in the blockstore. */
export class BlockNotFoundError extends Error {
  static override name = 'BlockNotFoundError'
  override name = 'BlockNotFoundError'
  /** The missing CID. */
  readonly cid?: CID

  constructor (message: string, cid?: CID, options?: ErrorOptions) {
    super(message, options)
    this.cid = cid
  }
}

/** A CAR stream is malformed; `offset` is the byte offset (from the start of the stream) where it went wrong. */
export class InvalidCarError extends Error {
  static override name = 'InvalidCarError'
  override name = 'InvalidCarError'
  /** Byte offset of the problem from the start of the CAR stream. */
  readonly offset?: number

  constructor (message: string, offset?: number, options?: ErrorOptions) {
    super(message, options)
    this.offset = offset
  }
}

/** The repo's `config.json` (or identity key) cannot be parsed or fails validation; the message names the file. */
export class InvalidRepoConfigError extends Error {
  static override name = 'InvalidRepoConfigError'
  override name = 'InvalidRepoConfigError'
  /** The offending file. */
  readonly file?: string

  constructor (message: string, file?: string, options?: ErrorOptions) {
    super(message, options)
    this.file = file
  }
}

/** Another process (or another `openRepo` in this process) holds the repo's datastore lock. */
export class RepoLockedError extends Error {
  static override name = 'RepoLockedError'
  override name = 'RepoLockedError'
}

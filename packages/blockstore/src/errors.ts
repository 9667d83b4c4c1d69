/**
 * Error classes of `@tensorswap/blockstore`. Match on `.name`, never on the message.
 */

import type { CID } from 'multiformats/cid'

/**
 * A block failed verification against its CID: the base class of {@link BlockHashMismatchError}
 * (the bytes hash to another digest) and {@link UnsupportedHashError} (the CID's hash cannot be
 * checked). Nothing that raises it is ever written to a blockstore. Match a subclass by `.name`,
 * or the whole family with `instanceof BlockVerificationError`.
 */
export class BlockVerificationError extends Error {
  static override name = 'BlockVerificationError'
  override name = 'BlockVerificationError'
  /** The CID the bytes were checked against. */
  readonly cid?: CID

  constructor (message: string, cid?: CID, options?: ErrorOptions) {
    super(message, options)
    this.cid = cid
  }
}

/** A block's bytes do not hash to the digest in its CID. */
export class BlockHashMismatchError extends BlockVerificationError {
  static override name = 'BlockHashMismatchError'
  override name = 'BlockHashMismatchError'
  /** Byte offset of the offending CAR section, when the block came from a CAR. */
  readonly offset?: number

  constructor (message: string, cid?: CID, offset?: number) {
    super(message, cid)
    this.offset = offset
  }
}

/**
 * The CID's multihash cannot be verified: its function is not in `HASHERS` (identity, sha2-256,
 * sha2-512) or its digest is truncated (see `canVerify`).
 */
export class UnsupportedHashError extends BlockVerificationError {
  static override name = 'UnsupportedHashError'
  override name = 'UnsupportedHashError'
  /** The multihash code that is not supported (`.code` stays free for wire error codes). */
  readonly hashCode?: number

  constructor (message: string, hashCode?: number, cid?: CID) {
    super(message, cid)
    this.hashCode = hashCode
  }
}

/**
 * The CID uses a codec whose blocks this code cannot read: links cannot be extracted (`links`:
 * raw, dag-pb, dag-cbor, dag-json) or the block cannot be decoded (GraphSync traversal: the same
 * four codecs).
 */
export class UnsupportedCodecError extends Error {
  static override name = 'UnsupportedCodecError'
  override name = 'UnsupportedCodecError'
}

/**
 * A block arrived that the request does not reach, so it was not asked for: a GraphSync block no
 * outstanding `p` (present) metadata entry announces or the requestor's traversal never reaches,
 * or a gateway CAR block not reachable from the requested root through the blocks before it.
 * Nothing of it is stored. `cid` is the unexpected block when known.
 */
export class UnexpectedBlockError extends Error {
  static override name = 'UnexpectedBlockError'
  override name = 'UnexpectedBlockError'
  /** The unexpected CID. */
  readonly cid?: CID

  constructor (message: string, cid?: CID) {
    super(message)
    this.cid = cid
  }
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

/**
 * `openRepo(path, { create: false })` found no repo at `path` (no `config.json`), or `path` is
 * not a directory (a regular file, say). `.path` is the absolute path.
 */
export class RepoNotFoundError extends Error {
  static override name = 'RepoNotFoundError'
  override name = 'RepoNotFoundError'
  /** The repo path asked for (absolute). */
  readonly path: string

  constructor (message: string, path: string, options?: ErrorOptions) {
    super(message, options)
    this.path = path
  }
}

/**
 * The repo's store was written in a format this version does not read (another
 * `STORE_FORMAT_VERSION`, or an index entry that does not decode). `.path` is the store directory
 * when known. Nothing is changed: use the version that wrote it, or move the repo away.
 */
export class StoreFormatError extends Error {
  static override name = 'StoreFormatError'
  override name = 'StoreFormatError'
  /** The store directory, when known. */
  readonly path?: string

  constructor (message: string, path?: string, options?: ErrorOptions) {
    super(message, options)
    this.path = path
  }
}

/**
 * Typed errors of `@tensorswap/model`. Callers and tests match on `.name`, never on the
 * message text; messages name the file and the byte offset where that applies.
 *
 * @module
 */

/**
 * A safetensors file is malformed: header length past EOF or above the 100 MB limit,
 * invalid UTF-8/JSON, unknown dtype, offsets out of range, overlapping tensors, or a byte
 * length that disagrees with `prod(shape) * dtype size`. Source: the safetensors format
 * description (huggingface/safetensors README, "Format").
 */
export class InvalidSafetensorsError extends Error {
  static override name = 'InvalidSafetensorsError'
  override name = 'InvalidSafetensorsError'
}

/**
 * A GGUF file is malformed or truncated: bad magic, unsupported version, a value that runs
 * past EOF, unknown metadata value type or ggml type, bad alignment, tensor data out of range
 * or overlapping. Source: ggml `docs/gguf.md`.
 */
export class InvalidGgufError extends Error {
  static override name = 'InvalidGgufError'
  override name = 'InvalidGgufError'
}

/**
 * A TF.js `model.json` is malformed, names a missing shard, or its weights disagree with the
 * shard sizes. Source: tfjs-converter's weights manifest format.
 */
export class InvalidTfjsModelError extends Error {
  static override name = 'InvalidTfjsModelError'
  override name = 'InvalidTfjsModelError'
}

/** The block is not a `tensorswap-model` manifest, or its shape fails strict validation. */
export class NotAManifestError extends Error {
  static override name = 'NotAManifestError'
  override name = 'NotAManifestError'
}

/**
 * A UnixFS DAG is not one we can read or write safely: unknown node type, sizes that
 * disagree with the bytes, an unsafe entry name (`..`, `/`), too deep, or an unsupported codec.
 */
export class InvalidDagError extends Error {
  static override name = 'InvalidDagError'
  override name = 'InvalidDagError'
}

/**
 * A directory has so many entries that `ipfs-unixfs-importer` would turn it into a HAMT
 * shard; we do not write sharded directories (see spec/model-dag.md).
 */
export class DirectoryTooLargeError extends Error {
  static override name = 'DirectoryTooLargeError'
  override name = 'DirectoryTooLargeError'
}

/** The manifest would exceed the maximum block size peers accept. */
export class ManifestTooLargeError extends Error {
  static override name = 'ManifestTooLargeError'
  override name = 'ManifestTooLargeError'
}

/** The `order` option names a tensor the model does not have, or names one twice. */
export class InvalidOrderError extends Error {
  static override name = 'InvalidOrderError'
  override name = 'InvalidOrderError'
}

/** An option is out of its documented range. */
export class InvalidOptionError extends Error {
  static override name = 'InvalidOptionError'
  override name = 'InvalidOptionError'
}

/**
 * A file changed size between the layout pass and the write pass of an import (its
 * layout no longer describes it).
 */
export class FileChangedError extends Error {
  static override name = 'FileChangedError'
  override name = 'FileChangedError'
}

/** The import path is neither a regular file nor a directory, or a symlink loops. */
export class UnsupportedFileTypeError extends Error {
  static override name = 'UnsupportedFileTypeError'
  override name = 'UnsupportedFileTypeError'
}

/** Missing and corrupt blocks are the blockstore's errors, so one class serves every package. */
export { BlockNotFoundError, BlockHashMismatchError, UnsupportedHashError } from '@tensorswap/blockstore'

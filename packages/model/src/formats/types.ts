/**
 * Types shared by the format parsers, and the {@link ModelFormat} interface the importer's
 * format registry (`registry.ts`) holds.
 *
 * @module
 */

import type { ByteReader, ReadOptions } from '../reader.js'

/** TF.js weight quantization as written in `model.json` (`weightsManifest[].weights[].quantization`). */
export interface TfjsQuantization {
  /** Stored element type: `uint8`, `uint16` or `float16`. */
  dtype: string
  /** Affine dequantization `value = min + scale * q` (uint8/uint16 only). */
  min?: number
  scale?: number
  /** The dtype before quantization, e.g. `float32`. */
  original_dtype?: string
}

/**
 * One tensor located in one file.
 *
 * - `dtype`: the format's own name (`F32` safetensors, `Q8_0` GGUF, `float32` TF.js).
 * - `shape`: dimensions as the format writes them (row-major outermost-first for safetensors
 *   and TF.js; GGUF's `ne` order, innermost-first).
 * - `offset`, `length`: absolute byte range in the file.
 */
export interface TensorInfo {
  name: string
  dtype: string
  shape: number[]
  offset: number
  length: number
  quantization?: TfjsQuantization
}

/** The byte layout of one file: where its header ends and where each tensor lies. */
export interface FileLayout {
  /** `safetensors`, `gguf`, `tfjs-weights` (a shard) or `raw` (no tensor layout). */
  format: 'safetensors' | 'gguf' | 'tfjs-weights' | 'raw'
  /** File size in bytes. */
  size: number
  /** Bytes `[0, headerLength)` are the header (0 when the file has none). */
  headerLength: number
  /** Tensor byte ranges, sorted by offset, non-overlapping. */
  tensors: TensorInfo[]
}

/**
 * Name of a file's format as reported in plans and progress events: `safetensors`, `gguf`,
 * `tfjs-model` (a TF.js `model.json`), `tfjs-weights` (a shard a `model.json` claimed), `raw`
 * (no tensor layout), or the `name` of a caller's {@link ModelFormat}.
 */
export type FileFormat = 'safetensors' | 'gguf' | 'tfjs-model' | 'tfjs-weights' | 'raw' | (string & {})

/** A file of an import as a {@link ModelFormat} sees it. */
export interface FormatFile {
  /** Path relative to the import root, `/`-separated; `''` when a single file is imported. */
  path: string
  /** The file's own name (last path component, as on disk). */
  name: string
  /** Size in bytes when the import root was walked. */
  size: number
  /** True when this file is imported alone (the import path is this file). */
  single: boolean
  /** The path on disk, for error messages. */
  display: string
}

/** A file of the import as {@link ParseContext.lookup} returns it. */
export interface ImportFileInfo {
  /** As {@link FormatFile.path}. */
  path: string
  /** Size in bytes. */
  size: number
  /** The format the file has so far: its detected format, or the one a claim gave it. */
  format: FileFormat
}

/**
 * What a {@link ModelFormat}'s `parse` may do beyond reading its own file: look at, read and
 * claim the other files of the import (a TF.js `model.json` claims its weight shards). Only
 * formats with `multiFile: true` may use it.
 */
export interface ParseContext {
  /** The file of the import at `path` (as {@link FormatFile.path}), or undefined. */
  lookup(path: string): ImportFileInfo | undefined
  /** Opens a reader on the file of the import at `path`; the caller closes it. */
  open(path: string): Promise<ByteReader & { close(): Promise<void> }>
  /**
   * Makes the file at `path` part of this file's model: from now on it reports `format`, and
   * its tensor layout comes from the tensors `parse` returns.
   */
  claim(path: string, format: FileFormat): void
}

/**
 * One tensor a format found. Byte offsets are absolute offsets in the named file.
 *
 * - `file`, `offset`: where the tensor starts (the manifest's `file` and `offset`).
 * - `length`: total bytes.
 * - `pieces`: the tensor's bytes, one piece per file it lies in, in order, lengths adding up to
 *   `length` (a TF.js weight crossing shards has several). A zero-byte tensor may have one
 *   zero-length piece or none. Pieces of one file must not overlap each other or its header.
 */
export interface ParsedTensor {
  name: string
  /** The format's own dtype name (must not be empty). */
  dtype: string
  shape: number[]
  file: string
  offset: number
  length: number
  quantization?: TfjsQuantization
  pieces: Array<{ file: string, offset: number, length: number }>
}

/** What a {@link ModelFormat}'s `parse` returns for one file. */
export interface ParsedFile {
  /** Bytes `[0, headerLength)` of the parsed file are its header leaf (0: no header). */
  headerLength: number
  tensors: ParsedTensor[]
  /**
   * The computation order of `tensors` (indices into it): the file is then an ordering unit of
   * its own (spec/model-dag.md section 4). When absent, the tensors of a single-file format are
   * ordered together with those of every other such file without an order (safetensors and
   * GGUF: one unit, by file path, offset and the layer-index rule); those of a `multiFile`
   * format form a unit of their own ordered by the layer-index rule.
   */
  order?: number[]
}

/**
 * A model file format the importer can detect and lay out (spec/model-dag.md section 2.1). The
 * importer tries the formats of its registry in order (`src/formats/registry.ts`): the first
 * whose `detect` says yes owns the file. Formats read through the {@link ByteReader} they
 * are given and never open files themselves.
 */
export interface ModelFormat {
  /** The {@link FileFormat} reported for the files it detects. */
  readonly name: FileFormat
  /**
   * True when `parse` reads other files of the import through its {@link ParseContext}: such
   * files are parsed after every file's format is known, one at a time in path order (so
   * claims are deterministic). Otherwise each file is parsed right after its detection, up
   * to `DEFAULT_LAYOUT_CONCURRENCY` files at a time.
   */
  readonly multiFile?: boolean
  /**
   * Tells whether `file` is of this format, reading as little as possible (a name, a magic
   * number). May throw the format's error for a file that must be this format but cannot be
   * (an oversize `model.json`); that fails the import before any block is written.
   */
  detect(file: FormatFile, reader: ByteReader, options?: ReadOptions): boolean | Promise<boolean>
  /**
   * Parses and validates the file's header(s) and locates its tensors. Reads headers only.
   *
   * @throws the format's error (e.g. `InvalidSafetensorsError`) for malformed input
   */
  parse(file: FormatFile, reader: ByteReader, context: ParseContext, options?: ReadOptions): Promise<ParsedFile>
}

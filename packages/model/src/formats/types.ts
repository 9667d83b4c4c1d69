/**
 * Types shared by the format parsers.
 *
 * @module
 */

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

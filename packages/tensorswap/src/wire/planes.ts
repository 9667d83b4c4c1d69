/**
 * Byte grouping of tensor blocks (spec/tensorswap.md §12): a block of `width`-byte elements is
 * split into `width` *planes*, plane k holding byte k of every element (bytes k, k + width,
 * k + 2·width, ...). The bytes of a float that carry the sign and exponent (the last byte of
 * a little-endian F32, F16 or BF16) vary little across a tensor and compress well on their
 * own, while the low mantissa bytes are close to random; mixed, they compress poorly. This is
 * the byte grouping of ZipNN (Hershcovitch et al., "ZipNN: Lossless Compression for AI
 * Models", 2024) and of Hugging Face's Xet storage.
 *
 * The element width is detected per block from a sample (no dtype travels with a block): the
 * order-0 entropy of each byte position modulo 4 tells F32 (one low-entropy byte in four) from
 * F16/BF16 (one in two) from bytes with no such structure. Pure and synchronous.
 *
 * @module
 */

/** Element widths a block may be grouped by, bytes. */
export type PlaneWidth = 1 | 2 | 4

/** Widths accepted on the wire. */
export const PLANE_WIDTHS: readonly PlaneWidth[] = [1, 2, 4]

/** What {@link analyseBlock} found. */
export interface BlockAnalysis {
  /** The element width whose planes have the least estimated entropy. */
  width: PlaneWidth
  /** Estimated compressed size / raw size for that width (order-0 entropy of the sample, 0..1). */
  ratio: number
  /** Estimated ratio of each of the `width` planes alone (0..1; near 1: not worth compressing). */
  planeRatios: number[]
}

/** Bytes sampled by {@link analyseBlock}: {@link SAMPLE_WINDOWS} windows of this many bytes. */
const SAMPLE_WINDOW_BYTES = 4096
/** Windows sampled, spread evenly over the block. */
const SAMPLE_WINDOWS = 16

/** Bytes of plane `k` of a `length`-byte block grouped by `width`. */
export function planeLength (length: number, width: number, k: number): number {
  return k >= length ? 0 : Math.ceil((length - k) / width)
}

/** Order-0 entropy of a byte histogram, bits per byte (0..8). */
function entropy (hist: Uint32Array, from: number): number {
  let total = 0
  for (let i = 0; i < 256; i++) total += hist[from + i]
  if (total === 0) return 0
  let h = 0
  for (let i = 0; i < 256; i++) {
    const c = hist[from + i]
    if (c > 0) {
      const p = c / total
      h -= p * Math.log2(p)
    }
  }
  return h
}

/**
 * Estimate how a block compresses when grouped by each width, from up to 64 KiB sampled in
 * 16 windows: per width, the mean order-0 entropy of its planes (the bound a Huffman coder such
 * as zstd's literals reaches). Cost: one pass over the sample.
 *
 * @param bytes - the block
 * @returns the best width and its estimated ratios
 */
export function analyseBlock (bytes: Uint8Array): BlockAnalysis {
  // hist[p * 256 + b]: count of byte value b at positions = p (mod 4)
  const hist = new Uint32Array(4 * 256)
  const n = bytes.byteLength
  const windows = n <= SAMPLE_WINDOW_BYTES * SAMPLE_WINDOWS ? 1 : SAMPLE_WINDOWS
  const windowBytes = windows === 1 ? n : SAMPLE_WINDOW_BYTES
  const stride = windows === 1 ? 0 : Math.floor((n - windowBytes) / (windows - 1))
  for (let w = 0; w < windows; w++) {
    // windows start on a multiple of 4, so position modulo 4 is the element byte index
    const start = (w * stride) & ~3
    const end = Math.min(n, start + windowBytes)
    for (let i = start; i < end; i++) hist[((i & 3) << 8) + bytes[i]]++
  }
  const h = [0, 1, 2, 3].map(p => entropy(hist, p << 8))
  const merged = (ps: number[]): number => {
    const m = new Uint32Array(256)
    for (const p of ps) for (let i = 0; i < 256; i++) m[i] += hist[(p << 8) + i]
    return entropy(m, 0)
  }
  const h02 = merged([0, 2])
  const h13 = merged([1, 3])
  const h1 = merged([0, 1, 2, 3])
  const candidates: BlockAnalysis[] = [
    { width: 1, ratio: h1 / 8, planeRatios: [h1 / 8] },
    { width: 2, ratio: (h02 + h13) / 16, planeRatios: [h02 / 8, h13 / 8] },
    { width: 4, ratio: (h[0] + h[1] + h[2] + h[3]) / 32, planeRatios: h.map(x => x / 8) }
  ]
  // prefer the smaller width on a tie (fewer planes, less work)
  let best = candidates[0]
  for (const c of candidates.slice(1)) if (c.ratio < best.ratio - 0.005) best = c
  return best
}

/**
 * Split `bytes` into `width` planes (plane k: bytes k, k + width, ...).
 *
 * @param bytes - the block
 * @param width - element width, bytes
 * @returns `width` new arrays of {@link planeLength} bytes each
 */
export function splitPlanes (bytes: Uint8Array, width: PlaneWidth): Uint8Array[] {
  const n = bytes.byteLength
  if (width === 1) return [bytes]
  const planes = Array.from({ length: width }, (_, k) => new Uint8Array(planeLength(n, width, k)))
  const whole = Math.floor(n / width)
  if (width === 2) {
    const [p0, p1] = planes
    for (let j = 0, i = 0; j < whole; j++, i += 2) {
      p0[j] = bytes[i]
      p1[j] = bytes[i + 1]
    }
  } else {
    const [p0, p1, p2, p3] = planes
    for (let j = 0, i = 0; j < whole; j++, i += 4) {
      p0[j] = bytes[i]
      p1[j] = bytes[i + 1]
      p2[j] = bytes[i + 2]
      p3[j] = bytes[i + 3]
    }
  }
  for (let i = whole * width; i < n; i++) planes[i % width][whole] = bytes[i]
  return planes
}

/**
 * Interleave planes back into the block ({@link splitPlanes} reversed).
 *
 * @param planes - `width` planes of {@link planeLength} bytes each (checked by the caller)
 * @param length - the block's length, bytes
 * @returns a new array of `length` bytes
 */
export function joinPlanes (planes: Uint8Array[], length: number): Uint8Array {
  const width = planes.length
  if (width === 1) return planes[0]
  const out = new Uint8Array(length)
  const whole = Math.floor(length / width)
  if (width === 2) {
    const [p0, p1] = planes
    for (let j = 0, i = 0; j < whole; j++, i += 2) {
      out[i] = p0[j]
      out[i + 1] = p1[j]
    }
  } else {
    const [p0, p1, p2, p3] = planes
    for (let j = 0, i = 0; j < whole; j++, i += 4) {
      out[i] = p0[j]
      out[i + 1] = p1[j]
      out[i + 2] = p2[j]
      out[i + 3] = p3[j]
    }
  }
  for (let i = whole * width; i < length; i++) out[i] = planes[i % width][whole]
  return out
}

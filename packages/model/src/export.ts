/**
 * `exportModel`: write the files under a root back to disk, byte for byte, the way a torrent
 * client does: a file already there with the right bytes is kept; any other is written to
 * `NAME.part` and renamed when complete, so an interrupted export never leaves a truncated
 * file under its final name. Also the single-file helpers `singleFile` and `streamFile`.
 *
 * @module
 */

import { mkdir, open, rename, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { getVerifiedBlock } from './blocks.js'
import { InvalidDagError } from './errors.js'
import { outputFileKey } from './placement.js'
import { logger } from '@libp2p/logger'
import { CustomProgressEvent } from 'progress-events'
import { readManifest } from './manifest.js'
import { assertSafeName, fileContent, isSafeName, walkUnixfs } from './unixfs-read.js'
import { DEFAULT_EXPORT_CONCURRENCY } from './constants.js'
import { mapLimit } from '@tensorswap/blockstore'
import type { BlockSource } from './blocks.js'
import type { UnixfsEntry } from './unixfs-read.js'
import type { BlockLocation, DataFileRef } from '@tensorswap/blockstore'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

const log = logger('tensorswap:model:export')

/** Suffix of a file being written; renamed to its final name once complete. */
export const PART_SUFFIX = '.part'

/** Detail of `tensorswap:export:file`, sent once per file before it is written or kept. */
export interface ExportFileDetail {
  /** Path written, relative to `outDir`. */
  path: string
  /** The file's path inside the DAG (`''` for a single-file root). */
  dagPath: string
  /** The file's UnixFS root. */
  cid: CID
  /** File size in bytes. */
  size: number
  /** True when a file with exactly these bytes was already there and is left as it was. */
  kept: boolean
}

/** Detail of `tensorswap:export:bytes`. */
export interface ExportBytesDetail {
  path: string
  /** Bytes of this file written so far. */
  bytes: number
  /** Bytes of the whole export written so far (kept files not counted). */
  totalBytes: number
}

/** Progress events of {@link exportModel}. */
export type ExportProgressEvents =
  ProgressEvent<'tensorswap:export:file', ExportFileDetail> |
  ProgressEvent<'tensorswap:export:bytes', ExportBytesDetail>

/** Options of {@link exportModel}. */
export interface ExportOptions extends ProgressOptions<ExportProgressEvents> {
  signal?: AbortSignal
  /**
   * File name to use when the root is a single file.
   * @default the manifest `name` when it is a safe file name, else the CID string
   */
  fileName?: string
}

/**
 * The part of the repo's model-shaped store (`RepoBlockstore`) a write-once export uses: where
 * each block is, and the data-file operations that finish an output file in place.
 */
export interface PlacingStore {
  locate: (cid: CID) => BlockLocation | undefined
  dataFile: (id: number) => { path: string, external: boolean } | undefined
  fill: (ref: DataFileRef, offset: number, bytes: Uint8Array) => Promise<void>
  finishFiles: (files: ReadonlyArray<{ ref: DataFileRef, size: number, to: string }>) => Promise<void>
}

/** In-place files {@link exportModel} finishes together (two store commits per batch, not two per file). */
const FINISH_BATCH_FILES = 64

function isPlacing (store: object): store is PlacingStore {
  const s = store as Partial<PlacingStore>
  return typeof s.locate === 'function' && typeof s.dataFile === 'function' && typeof s.fill === 'function' && typeof s.finishFiles === 'function'
}

/**
 * Writes the model at `cid` into `outDir` (created if needed). A directory root's entries go
 * directly into `outDir`; a file root becomes `outDir/<fileName>`. An existing file is kept
 * when its size and every byte equal the DAG's (read from verified blocks, so it is checked
 * against its CID); any other is written to `NAME.part`, then renamed over `NAME`. Streams
 * leaf by leaf (constant memory); every block is verified.
 *
 * Write once: with the repo's model-shaped store (a {@link PlacingStore}), a file whose leaves a
 * `get -o outDir` fetched straight into `NAME.part` (`modelPlacement` with `dir`) is finished
 * in place: only the leaves not already there (a leaf the file repeats, blocks that were in the
 * repo before) are written, the file is cut to its size, committed and renamed (up to
 * {@link FINISH_BATCH_FILES} files together, `PlacingStore.finishFiles`), and the store
 * keeps serving its blocks from `NAME` (re-checked by size and mtime, re-hashed on doubt). A
 * file whose every leaf the store already has in `NAME` is kept without reading it.
 *
 * @param cid - a manifest, a UnixFS directory or a UnixFS file
 * @returns files written (kept ones not counted) and bytes written
 * @throws BlockNotFoundError - a block is missing
 * @throws BlockHashMismatchError - a stored block does not match its CID
 * @throws InvalidDagError - unsupported/unsafe tree, or sizes that disagree with the data
 * @throws NotAManifestError - a dag-cbor root that is not a manifest
 * @throws `signal.reason` on abort (a `.part` file may remain; final names are intact)
 */
export async function exportModel (blockstore: BlockSource, cid: CID, outDir: string, options: ExportOptions = {}): Promise<{ files: number, bytes: number }> {
  const { signal } = options
  let filesRoot = cid
  let defaultName = cid.toString()
  if (cid.code === dagCbor.code) {
    const manifest = await readManifest(blockstore, cid, { signal })
    filesRoot = manifest.files
    if (manifest.name !== undefined && isSafeName(manifest.name)) {
      defaultName = manifest.name
    }
  }
  const fileName = options.fileName ?? defaultName
  assertSafeName(fileName, 'fileName')
  await mkdir(outDir, { recursive: true })
  let files = 0
  let totalBytes = 0
  /** Files filled in place, waiting to be finished (truncated, synced, renamed) together. */
  let unfinished: Array<{ ref: DataFileRef, size: number, to: string, rel: string, filled: number }> = []
  const finish = async (): Promise<void> => {
    if (unfinished.length === 0) return
    const batch = unfinished
    unfinished = []
    await (blockstore as unknown as PlacingStore).finishFiles(batch)
    for (const b of batch) {
      files++
      totalBytes += b.size
      options.onProgress?.(new CustomProgressEvent<ExportBytesDetail>('tensorswap:export:bytes', { path: b.rel, bytes: b.size, totalBytes }))
      log.trace('finished %s in place (%d bytes, %d written by the export)', b.rel, b.size, b.filled)
    }
  }
  // directories first (the walk yields each before its entries), then the files, several at
  // once: each file is a few file-system round trips (its nodes read, a stat, the leaves its
  // data file lacks), and one after another they took ~0.4 s for the 83 files of the
  // human-models set (bench/README.md, stop 28)
  const fileEntries: Array<{ entry: Extract<UnixfsEntry, { type: 'file' }>, rel: string, target: string }> = []
  for await (const entry of walkUnixfs(blockstore, filesRoot, { signal })) {
    const rel = entry.path === '' && entry.type === 'file' ? fileName : entry.path
    const target = join(outDir, rel)
    if (entry.type === 'directory') await mkdir(target, { recursive: true })
    else fileEntries.push({ entry, rel, target })
  }
  // `tensorswap:export:file` events in walk order, whichever file is done first
  const fileEvents: Array<ExportFileDetail | undefined> = new Array(fileEntries.length)
  let nextEvent = 0
  const fileDone = (i: number, detail: ExportFileDetail): void => {
    fileEvents[i] = detail
    for (let d = fileEvents[nextEvent]; d != null; d = fileEvents[nextEvent]) {
      fileEvents[nextEvent++] = undefined
      options.onProgress?.(new CustomProgressEvent<ExportFileDetail>('tensorswap:export:file', d))
    }
  }
  await mapLimit(fileEntries, DEFAULT_EXPORT_CONCURRENCY, async ({ entry, rel, target }, i) => {
    const leaves = isPlacing(blockstore) ? await leafLayout(blockstore, entry.cid, signal) : undefined
    if (leaves != null && isPlacing(blockstore)) {
      const store = blockstore
      const at = (l: Leaf, file: string): boolean => {
        const loc = store.locate(l.cid)
        return loc != null && loc.offset === l.offset && loc.length === l.length && store.dataFile(loc.file)?.path === file
      }
      const abs = resolve(target)
      const inTarget = leaves.every(l => at(l, abs)) && (await stat(abs).catch(() => undefined))?.size === entry.size
      const kept = inTarget || await sameContent(blockstore, entry.cid, entry.size, target, signal)
      fileDone(i, { path: rel, dagPath: entry.path, cid: entry.cid, size: entry.size, kept })
      if (kept) return
      const ref = outputFileKey(cid, outDir, rel)
      const part = resolve(ref.path as string)
      let filled = 0
      for (const l of leaves) {
        if (l.length === 0 || at(l, part)) continue
        const bytes = await getVerifiedBlock(blockstore, l.cid, { signal })
        if (bytes.byteLength !== l.length) throw new InvalidDagError(`${rel}: leaf ${l.cid.toString()} is ${bytes.byteLength} bytes, its parent says ${l.length}`)
        await store.fill(ref, l.offset, bytes)
        filled += l.length
      }
      unfinished.push({ ref, size: entry.size, to: abs, rel, filled })
      if (unfinished.length >= FINISH_BATCH_FILES) await finish()
      return
    }
    const kept = await sameContent(blockstore, entry.cid, entry.size, target, signal)
    fileDone(i, { path: rel, dagPath: entry.path, cid: entry.cid, size: entry.size, kept })
    if (kept) {
      log.trace('kept %s (%d bytes, already right)', rel, entry.size)
      return
    }
    const part = target + PART_SUFFIX
    const fh = await open(part, 'w')
    let bytes = 0
    try {
      for await (const chunk of fileContent(blockstore, entry.cid, { signal })) {
        for (let at = 0; at < chunk.byteLength;) {
          const { bytesWritten } = await fh.write(chunk, at, chunk.byteLength - at)
          at += bytesWritten
        }
        bytes += chunk.byteLength
        totalBytes += chunk.byteLength
        options.onProgress?.(new CustomProgressEvent<ExportBytesDetail>('tensorswap:export:bytes', { path: rel, bytes, totalBytes }))
      }
    } finally {
      await fh.close()
    }
    await rename(part, target)
    files++
    log.trace('wrote %s (%d bytes)', rel, bytes)
  })
  await finish()
  log('exported %c to %s: %d files, %d bytes', cid, outDir, files, totalBytes)
  return { files, bytes: totalBytes }
}

/** A raw leaf of a file: its CID and its byte range in the file. */
interface Leaf { cid: CID, offset: number, length: number }

/**
 * The raw leaves of the UnixFS file at `cid` with their offsets (from the file nodes'
 * `blocksizes`), reading only the file nodes (verified); `undefined` when the DAG is not made of
 * raw leaves only (inline data, dag-pb leaves) or does not add up: such a file is exported by
 * reading it.
 */
async function leafLayout (blockstore: BlockSource, cid: CID, signal?: AbortSignal): Promise<Leaf[] | undefined> {
  if (cid.code === raw.code) {
    const loc = (blockstore as unknown as PlacingStore).locate(cid)
    return loc == null ? undefined : [{ cid, offset: 0, length: loc.length }]
  }
  const out: Leaf[] = []
  const stack: Array<{ cid: CID, offset: number, size?: number, depth: number }> = [{ cid, offset: 0, depth: 0 }]
  while (stack.length > 0) {
    const { cid: c, offset, size, depth } = stack.pop() as { cid: CID, offset: number, size?: number, depth: number }
    if (c.code === raw.code) {
      if (size == null) return undefined
      out.push({ cid: c, offset, length: size })
      continue
    }
    if (c.code !== dagPb.code || depth > 64) return undefined
    const node = dagPb.decode(await getVerifiedBlock(blockstore, c, { signal }))
    if (node.Data == null) return undefined
    const fs = UnixFS.unmarshal(node.Data)
    if ((fs.type !== 'file' && fs.type !== 'raw') || (fs.data?.byteLength ?? 0) > 0 || fs.blockSizes.length !== node.Links.length) return undefined
    const children: Array<{ cid: CID, offset: number, size: number, depth: number }> = []
    let at = offset
    node.Links.forEach((l, i) => {
      const n = Number(fs.blockSizes[i])
      children.push({ cid: l.Hash, offset: at, size: n, depth: depth + 1 })
      at += n
    })
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i])
  }
  return out
}

/** Whether `path` exists as a regular file of `size` bytes equal to the file DAG at `cid`. */
async function sameContent (blockstore: BlockSource, cid: CID, size: number, path: string, signal?: AbortSignal): Promise<boolean> {
  const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw err
  })
  // a directory in the way is not the file: the rename onto it fails, naming it
  if (st == null || !st.isFile() || st.size !== size) return false
  const fh = await open(path, 'r')
  try {
    let at = 0
    for await (const chunk of fileContent(blockstore, cid, { signal })) {
      const buf = Buffer.alloc(chunk.byteLength)
      const { bytesRead } = await fh.read(buf, 0, chunk.byteLength, at)
      if (bytesRead !== chunk.byteLength || !buf.equals(chunk)) return false
      at += chunk.byteLength
    }
    return true
  } finally {
    await fh.close()
  }
}

/**
 * The UnixFS file a root stands for, when it is a single file: the root itself, or a
 * manifest's `files` when that is a file.
 *
 * @returns the file's CID and size in bytes, or `undefined` for a directory
 * @throws NotAManifestError, BlockNotFoundError, InvalidDagError
 */
export async function singleFile (blockstore: BlockSource, root: CID, options: { signal?: AbortSignal } = {}): Promise<{ cid: CID, size: number } | undefined> {
  const filesRoot = root.code === dagCbor.code ? (await readManifest(blockstore, root, options)).files : root
  for await (const entry of walkUnixfs(blockstore, filesRoot, options)) {
    return entry.type === 'file' && entry.path === '' ? { cid: entry.cid, size: entry.size } : undefined
  }
  return undefined
}

/**
 * Stream the file DAG at `cid` (every block verified) into `out`, waiting on back-pressure.
 *
 * @returns bytes written
 * @throws BlockNotFoundError, BlockHashMismatchError, InvalidDagError
 */
export async function streamFile (blockstore: BlockSource, cid: CID, out: NodeJS.WritableStream, options: { signal?: AbortSignal } = {}): Promise<number> {
  let bytes = 0
  for await (const chunk of fileContent(blockstore, cid, options)) {
    bytes += chunk.byteLength
    if (!out.write(chunk)) await new Promise<void>(resolve => out.once('drain', resolve))
  }
  return bytes
}

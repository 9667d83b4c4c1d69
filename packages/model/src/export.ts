/**
 * `exportModel`: write the files under a root back to disk, byte for byte, the way a torrent
 * client does: a file already there with the right bytes is kept; any other is written to
 * `NAME.part` and renamed when complete, so an interrupted export never leaves a truncated
 * file under its final name. Also the single-file helpers `singleFile` and `streamFile`.
 *
 * @module
 */

import { mkdir, open, rename, stat } from 'node:fs/promises'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { logger } from '@libp2p/logger'
import { CustomProgressEvent } from 'progress-events'
import { readManifest } from './manifest.js'
import { assertSafeName, fileContent, isSafeName, walkUnixfs } from './unixfs-read.js'
import type { BlockSource } from './blocks.js'
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
 * Writes the model at `cid` into `outDir` (created if needed). A directory root's entries go
 * directly into `outDir`; a file root becomes `outDir/<fileName>`. An existing file is kept
 * when its size and every byte equal the DAG's (read from verified blocks, so it is checked
 * against its CID); any other is written to `NAME.part`, then renamed over `NAME`. Streams
 * leaf by leaf (constant memory); every block is verified.
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
  for await (const entry of walkUnixfs(blockstore, filesRoot, { signal })) {
    const rel = entry.path === '' && entry.type === 'file' ? fileName : entry.path
    const target = join(outDir, rel)
    if (entry.type === 'directory') {
      await mkdir(target, { recursive: true })
      continue
    }
    const kept = await sameContent(blockstore, entry.cid, entry.size, target, signal)
    options.onProgress?.(new CustomProgressEvent<ExportFileDetail>('tensorswap:export:file', { path: rel, dagPath: entry.path, cid: entry.cid, size: entry.size, kept }))
    if (kept) {
      log.trace('kept %s (%d bytes, already right)', rel, entry.size)
      continue
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
  }
  log('exported %c to %s: %d files, %d bytes', cid, outDir, files, totalBytes)
  return { files, bytes: totalBytes }
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

/**
 * `exportModel`: write the files under a root back to disk, byte for byte.
 *
 * @module
 */

import { mkdir, open } from 'node:fs/promises'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { logger } from '@libp2p/logger'
import { CustomProgressEvent } from 'progress-events'
import { readManifest } from './manifest.js'
import { assertSafeName, fileContent, walkUnixfs } from './unixfs-read.js'
import type { BlockSource } from './blocks.js'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

const log = logger('tensorswap:model:export')

/** Detail of `tensorswap:export:file`. */
export interface ExportFileDetail {
  /** Path written, relative to `outDir`. */
  path: string
  /** File size in bytes. */
  size: number
}

/** Detail of `tensorswap:export:bytes`. */
export interface ExportBytesDetail {
  path: string
  /** Bytes of this file written so far. */
  bytes: number
  /** Bytes of the whole export written so far. */
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
 * Writes the model at `cid` into `outDir` (created if needed; existing files are
 * overwritten). A directory root's entries go directly into `outDir`; a file root becomes
 * `outDir/<fileName>`. Streams leaf by leaf (constant memory); every block is verified.
 *
 * @param cid - a manifest, a UnixFS directory or a UnixFS file
 * @returns files written and bytes written
 * @throws BlockNotFoundError - a block is missing
 * @throws BlockHashMismatchError - a stored block does not match its CID
 * @throws InvalidDagError - unsupported/unsafe tree, or sizes that disagree with the data
 * @throws NotAManifestError - a dag-cbor root that is not a manifest
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
    options.onProgress?.(new CustomProgressEvent<ExportFileDetail>('tensorswap:export:file', { path: rel, size: entry.size }))
    const fh = await open(target, 'w')
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
    files++
    log.trace('wrote %s (%d bytes)', rel, bytes)
  }
  log('exported %c to %s: %d files, %d bytes', cid, outDir, files, totalBytes)
  return { files, bytes: totalBytes }
}

function isSafeName (name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0')
}

/**
 * The CLI's view of an export: `exportModel` (model package) writes the files, torrent-style
 * (files already right are kept, others go through `NAME.part`); this collects what it did
 * into the `--json` shape and a cumulative byte count for the progress bar.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { exportModel, readManifest, walkUnixfs } from '@tensorswap/model'
import type { BlockSource } from '@tensorswap/model'
import type { CID } from 'multiformats/cid'
import type { JsonFile } from './summary.js'

/** What {@link writeFiles} did. */
export interface WriteFilesResult {
  /** Every file of the model (path inside the DAG). */
  files: JsonFile[]
  /** Files written (missing, or with other bytes). */
  written: number
  /** Files already there with the right bytes, left as they were. */
  kept: number
  /** Bytes written. */
  bytes: number
}

/** Options of {@link writeFiles}. */
export interface WriteFilesOptions {
  signal?: AbortSignal
  /** Bytes written or verified so far (cumulative). */
  onBytes?: (done: number) => void
  /** The bytes of every file to write or keep (the bar's total), once known, before any is written. */
  onTotal?: (bytes: number) => void
  /** The name a single-file root is written as (`exportModel`'s `fileName`; default: the manifest's name, else the CID). */
  fileName?: string
}

/**
 * Write the files under `root` into `outDir` with `exportModel` and report them.
 *
 * @throws BlockNotFoundError, BlockHashMismatchError, InvalidDagError - a block missing or bad
 * @throws `signal.reason` on abort (a `.part` file may remain; the final names are intact)
 */
export async function writeFiles (blockstore: BlockSource, root: CID, outDir: string, options: WriteFilesOptions = {}): Promise<WriteFilesResult> {
  const result: WriteFilesResult = { files: [], written: 0, kept: 0, bytes: 0 }
  if (options.onTotal != null) options.onTotal(await filesBytes(blockstore, root, options.signal))
  let keptBytes = 0
  const { bytes } = await exportModel(blockstore, root, outDir, {
    signal: options.signal,
    ...(options.fileName != null ? { fileName: options.fileName } : {}),
    onProgress: (evt) => {
      if (evt.type === 'tensorswap:export:file') {
        const d = evt.detail
        result.files.push({ path: d.dagPath, cid: d.cid.toString(), bytes: d.size })
        if (d.kept) {
          result.kept++
          keptBytes += d.size
          options.onBytes?.(keptBytes + result.bytes)
        } else {
          result.written++
        }
      } else {
        result.bytes = evt.detail.totalBytes
        options.onBytes?.(keptBytes + result.bytes)
      }
    }
  })
  result.bytes = bytes
  return result
}

/**
 * The bytes of the files under `root` (a manifest, a UnixFS directory or file): the UnixFS
 * sizes, reading the directory and file root nodes (and raw single-leaf files), verified.
 * @throws BlockNotFoundError, BlockHashMismatchError, InvalidDagError, NotAManifestError
 */
export async function filesBytes (blockstore: BlockSource, root: CID, signal?: AbortSignal): Promise<number> {
  const filesRoot = root.code === dagCbor.code ? (await readManifest(blockstore, root, { signal })).files : root
  let bytes = 0
  for await (const e of walkUnixfs(blockstore, filesRoot, { signal })) if (e.type === 'file') bytes += e.size
  return bytes
}

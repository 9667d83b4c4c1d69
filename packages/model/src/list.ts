/**
 * `listModel`: the files and tensors under a root.
 *
 * @module
 */

import * as dagCbor from '@ipld/dag-cbor'
import { readManifest } from './manifest.js'
import { walkUnixfs } from './unixfs-read.js'
import type { BlockSource } from './blocks.js'
import type { Manifest, ManifestTensor } from './manifest.js'
import type { UnixfsFileEntry } from './unixfs-read.js'
import type { CID } from 'multiformats/cid'

/** Result of {@link listModel}. */
export interface ModelListing {
  /** Files in walk order (paths sorted within each directory). */
  files: UnixfsFileEntry[]
  /** Tensors in computation order (empty for a plain UnixFS root). */
  tensors: ManifestTensor[]
  /** The manifest when `cid` is one. */
  manifest?: Manifest
}

/**
 * Lists the files (path, CID, size in bytes) and tensors of a model.
 *
 * @param cid - a manifest (dag-cbor), a UnixFS directory or a UnixFS file (dag-pb or raw)
 * @throws NotAManifestError - a dag-cbor block that is not a valid manifest
 * @throws BlockNotFoundError - a block of the directory tree (or a raw file root) is missing
 * @throws InvalidDagError - an unsupported or unsafe UnixFS tree
 */
export async function listModel (blockstore: BlockSource, cid: CID, options: { signal?: AbortSignal } = {}): Promise<ModelListing> {
  let manifest: Manifest | undefined
  let filesRoot = cid
  if (cid.code === dagCbor.code) {
    manifest = await readManifest(blockstore, cid, options)
    filesRoot = manifest.files
  }
  const files: UnixfsFileEntry[] = []
  for await (const entry of walkUnixfs(blockstore, filesRoot, options)) {
    if (entry.type === 'file') {
      files.push({ path: entry.path, cid: entry.cid, size: entry.size })
    }
  }
  const out: ModelListing = { files, tensors: manifest?.tensors ?? [] }
  if (manifest !== undefined) out.manifest = manifest
  return out
}

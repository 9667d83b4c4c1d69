/**
 * Placement hints of a model DAG for the model-shaped store (`ModelStore` of
 * `@tensorswap/blockstore`): as the blocks of a fetch pass through the store, say where each raw
 * leaf lies in its file, so the store writes it there (one data file per UnixFS file, laid out as
 * the file itself).
 *
 * What tells where a leaf goes:
 * - a UnixFS file node at a known place: its `blocksizes` give each child's offset (child `i`
 *   starts where the bytes of children `0..i-1` end; spec/model-dag.md section 1.1);
 * - a UnixFS directory at a known path: each entry is the file (or directory) `path/name`;
 * - the manifest (spec/model-dag.md section 3): tensor `t` lies at `t.offset` of `t.file`, and
 *   its chunks are its bytes cut every chunk-size bytes from its start (section 2), so chunk
 *   `i < n-1` of a chunk of `len` bytes starts at `t.offset + i * len` and the last one ends at
 *   `t.offset + t.length`. The manifest comes first in a TensorSwap fetch (its chunks are
 *   wanted before the file nodes), so this is what places most leaves. A manifest that does not
 *   follow the rule only misplaces leaves inside the store's data files: the store never lets
 *   two blocks share bytes, and every reader goes through the index, so no wrong byte is read.
 *
 * @module
 */

import { join, resolve } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { PART_SUFFIX } from './export.js'
import { manifestOfBlock } from './manifest.js'
import { isSafeName } from './unixfs-read.js'
import { base32Key } from '@tensorswap/blockstore'
import type { DataFileRef, Placement, PlacementHints } from '@tensorswap/blockstore'
import type { CID } from 'multiformats/cid'

/** Options of {@link modelPlacement}. */
export interface ModelPlacementInit {
  /**
   * Prefix of the data file keys (`<key>/<path in the DAG>`): the same key after a restart is the
   * same data files, so a resumed fetch writes into the files it started. @default the root CID
   */
  key?: string
  /**
   * Write-once output (`get -o DIR`): the leaves go straight into the output files, as
   * `DIR/<path>.part` (files the store does not own; `exportModel` finishes them), keyed by
   * {@link outputFileKey}. Absent: data files inside the store.
   */
  dir?: string
}

/**
 * The data file of file `rel` (its path under the output directory) of an export of `root`
 * into `dir`: key `<root>:<dir>/<rel>` and path `<dir>/<rel>.part`. Shared by the placement of a
 * `get -o DIR` and `exportModel`, which finishes these files.
 */
export function outputFileKey (root: CID, dir: string, rel: string): DataFileRef {
  const abs = resolve(dir)
  return { key: `${root.toString()}:${abs}/${rel}`, path: join(abs, rel) + PART_SUFFIX }
}

/** The file name a single-file root is exported as: the manifest's name when it is a safe file name, else the root CID (as `exportModel`). */
export function singleFileName (root: CID, manifestName?: string): string {
  return manifestName !== undefined && isSafeName(manifestName) ? manifestName : root.toString()
}

/** What is known about a block that may tell where others go. */
interface Known {
  /** Path of the file or directory in the DAG ('' for the root file of a single-file model). */
  path: string
  /** For a file node: bytes of the file before this node's bytes. */
  offset: number
}

/**
 * {@link PlacementHints} for the DAG under `root` (a manifest, a UnixFS directory or file): raw
 * leaves are placed in data file `<key>/<path>` at their offset in that file.
 *
 * @param root - the root being fetched
 * @param init - see {@link ModelPlacementInit}
 */
export function modelPlacement (root: CID, init: ModelPlacementInit = {}): PlacementHints {
  const prefix = init.key ?? root.toString()
  const known = new Map<string, Known>()
  const keyOf = (cid: CID): string => base32Key(cid.multihash.bytes)
  let single = singleFileName(root)
  // one ref per file path (a manifest places thousands of chunks in a few dozen files); `single` names the root file
  let refs = new Map<string, DataFileRef>()
  let refsFor = single
  const fileRef = (p: string): DataFileRef => {
    if (refsFor !== single) { refs = new Map(); refsFor = single }
    let ref = refs.get(p)
    if (ref == null) {
      ref = init.dir != null ? outputFileKey(root, init.dir, p === '' ? single : p) : { key: `${prefix}/${p}` }
      refs.set(p, ref)
    }
    return ref
  }
  known.set(keyOf(root), { path: '', offset: 0 })
  const out = (cid: CID, file: string, offset: Placement['offset']): { cid: CID, placement: Placement } => ({ cid, placement: { file: fileRef(file), offset } })

  return {
    learn (cid, bytes) {
      const at = known.get(keyOf(cid))
      if (at == null) return undefined
      if (cid.code === dagCbor.code) {
        // decoded once for the whole fetch (the session's walk reads the same manifest)
        const manifest = manifestOfBlock(cid, bytes)
        if (manifest == null) return undefined
        single = singleFileName(root, manifest.name)
        const places: Array<{ cid: CID, placement: Placement }> = []
        if (manifest.files.code === raw.code) places.push(out(manifest.files, '', 0))
        else known.set(keyOf(manifest.files), { path: '', offset: 0 })
        for (const t of manifest.tensors) {
          // a tensor across files is cut per file: the UnixFS file nodes place its chunks
          if (t.spans != null) continue
          const n = t.chunks.length
          t.chunks.forEach((c, i) => {
            places.push(out(c, t.file, i < n - 1 ? (len: number) => t.offset + i * len : (len: number) => t.offset + t.length - len))
          })
        }
        return places
      }
      if (cid.code !== dagPb.code) return undefined
      const node = dagPb.decode(bytes)
      if (node.Data == null) return undefined
      const unixfs = UnixFS.unmarshal(node.Data)
      const places: Array<{ cid: CID, placement: Placement }> = []
      if (unixfs.type === 'directory') {
        for (const link of node.Links) {
          if (link.Name == null || !isSafeName(link.Name)) continue
          const p = at.path === '' ? link.Name : join(at.path, link.Name)
          if (link.Hash.code === raw.code) places.push(out(link.Hash, p, 0))
          else known.set(keyOf(link.Hash), { path: p, offset: 0 })
        }
        return places
      }
      if (unixfs.type !== 'file' && unixfs.type !== 'raw') return undefined
      if (unixfs.blockSizes.length !== node.Links.length) return undefined
      let offset = at.offset + (unixfs.data?.byteLength ?? 0)
      node.Links.forEach((link, i) => {
        if (link.Hash.code === raw.code) places.push(out(link.Hash, at.path, offset))
        else known.set(keyOf(link.Hash), { path: at.path, offset })
        offset += Number(unixfs.blockSizes[i])
      })
      return places
    }
  }
}

/**
 * Flat UnixFS directories, as `ipfs-unixfs-importer` writes them with `wrapWithDirectory`.
 *
 * A directory is a dag-pb node with UnixFS `Data` of type `directory` and one link per entry
 * (`Name` = entry name, `Tsize` = the entry's cumulative DAG size), links sorted by the UTF-8
 * bytes of their names (dag-pb canonical form). No mode or mtime is recorded.
 *
 * @module
 */

import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { pbCid } from './blocks.js'
import { MAX_FLAT_DIRECTORY_BYTES } from './constants.js'
import { DirectoryTooLargeError } from './errors.js'
import type { BlockSink } from './blocks.js'
import type { CID } from 'multiformats/cid'

/** One entry of a directory to write. */
export interface DirEntry {
  name: string
  cid: CID
  /** Cumulative DAG size of the entry in bytes (dag-pb link `Tsize`). */
  tsize: number
}

/** Byte length of a CIDv1 sha2-256 (1 version + 1 codec + 2 multihash header + 32 digest). */
const CID_V1_SHA256_BYTES = 36

/**
 * Checks, before anything is written, that a directory stays flat: `ipfs-unixfs-importer`
 * (`links-bytes` strategy) shards a directory once the sum over its file and empty-directory
 * entries of `utf8(name).length + cid.byteLength` exceeds 262144 bytes (non-empty
 * subdirectories are not counted, as in the importer).
 *
 * @param counted - names of the entries the importer counts
 * @throws DirectoryTooLargeError - the directory would be sharded
 */
export function assertFlatDirectory (path: string, counted: string[]): void {
  const enc = new TextEncoder()
  let estimate = 0
  for (const name of counted) {
    estimate += enc.encode(name).byteLength + CID_V1_SHA256_BYTES
  }
  if (estimate > MAX_FLAT_DIRECTORY_BYTES) {
    throw new DirectoryTooLargeError(`directory ${JSON.stringify(path)}: ${counted.length} entries need a HAMT-sharded directory (estimate ${estimate} > ${MAX_FLAT_DIRECTORY_BYTES} bytes)`)
  }
}

/** Encodes, stores and returns a flat directory node. */
export async function writeDirectory (sink: BlockSink, entries: DirEntry[], options: { signal?: AbortSignal } = {}): Promise<{ cid: CID, tsize: number, bytes: number }> {
  const unixfs = new UnixFS({ type: 'directory' })
  const links = entries.map(e => ({ Name: e.name, Tsize: e.tsize, Hash: e.cid }))
  const bytes = dagPb.encode(dagPb.prepare({ Data: unixfs.marshal(), Links: links }))
  const cid = pbCid(bytes)
  await sink.put(cid, bytes, options)
  return { cid, tsize: bytes.byteLength + entries.reduce((a, e) => a + e.tsize, 0), bytes: bytes.byteLength }
}

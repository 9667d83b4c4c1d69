/**
 * The `unixfs` ADL for ExploreInterpretAs (the name go-unixfsnode registers).
 *
 * Implemented: a dag-pb node whose UnixFS Data says `directory` is reified as a map of
 * entry name to link (entries in the node's link order, as go-unixfsnode iterates a
 * basic directory). Nodes that are not dag-pb pass through unchanged (go-unixfsnode
 * treats non-UnixFS data as its own substrate).
 *
 * Not implemented (throws UnsupportedSelectorError): HAMT-sharded directories, files
 * reified as one bytes node, symlinks and metadata nodes.
 */
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { InvalidAdlDataError, UnsupportedSelectorError } from '../errors.js'
import { CODEC_DAG_PB } from './codecs.js'

/** ADL name for UnixFS. */
export const ADL_UNIXFS = 'unixfs'

/**
 * Reify `node` (decoded from a block of `codec`) as UnixFS.
 *
 * @returns a `Map<string, CID>` for a basic directory, or `node` itself for non-dag-pb data
 * @throws InvalidAdlDataError when a dag-pb node has no or invalid UnixFS Data, or duplicate entry names
 * @throws UnsupportedSelectorError for UnixFS types we do not reify (HAMT, file, symlink, metadata)
 */
export function reifyUnixfs (node: unknown, codec: number, path: string): unknown {
  if (codec !== CODEC_DAG_PB) return node
  const pb = node as { Data?: Uint8Array, Links: Array<{ Hash: CID, Name?: string }> }
  if (!(pb.Data instanceof Uint8Array)) {
    throw new InvalidAdlDataError(`unixfs ADL at "${path}": dag-pb node has no Data field`)
  }
  let fs: UnixFS
  try {
    fs = UnixFS.unmarshal(pb.Data)
  } catch (err: any) {
    throw new InvalidAdlDataError(`unixfs ADL at "${path}": invalid UnixFS Data: ${String(err?.message ?? err)}`)
  }
  if (fs.type === 'directory') {
    const out = new Map<string, CID>()
    for (const [i, link] of pb.Links.entries()) {
      const name = link.Name ?? ''
      if (out.has(name)) throw new InvalidAdlDataError(`unixfs ADL at "${path}": duplicate directory entry "${name}" (link ${i})`)
      out.set(name, link.Hash)
    }
    return out
  }
  throw new UnsupportedSelectorError(`unixfs ADL at "${path}": reifying UnixFS type "${fs.type}" is not implemented (only basic directories)`)
}

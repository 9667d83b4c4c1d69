/**
 * The `unixfs` ADL for ExploreInterpretAs (the name go-unixfsnode registers).
 *
 * Implemented:
 * - a dag-pb node whose UnixFS Data says `directory` is reified as a map of entry name to
 *   link (entries in the node's link order, as go-unixfsnode iterates a basic directory);
 * - a dag-pb node whose UnixFS Data says `file` (or `raw`) is reified as one bytes node: its
 *   own data, then each child's bytes in link order (dag-pb children recursively, raw leaves,
 *   or leaves of another codec whose root node is bytes), as go-unixfsnode's file reader. The
 *   sizes the Data claims (`filesize`, `blocksizes`) are not trusted: the bytes are what the
 *   blocks hold (the selector fixture `adl-interpreted` depends on it). The traversal loads
 *   the children through its loader ({@link UnixfsFile}), so budgets, verification and
 *   GraphSync metadata cover them; the whole file is held in memory while it is visited.
 *
 * Nodes that are not dag-pb pass through unchanged (go-unixfsnode treats non-UnixFS data as
 * its own substrate).
 *
 * Not supported (throws UnsupportedSelectorError): HAMT-sharded directories, symlinks and
 * metadata nodes.
 *
 * @module
 */
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { InvalidAdlDataError, UnsupportedSelectorError } from '../errors.js'
import { CODEC_DAG_PB } from './codecs.js'

/** ADL name for UnixFS. */
export const ADL_UNIXFS = 'unixfs'

/**
 * A UnixFS file node reified but not read yet: the traversal reads it ({@link readUnixfsFile})
 * before the node is matched, loading the children through its loader.
 */
export class UnixfsFile {
  /** The node's own data (before its children's bytes). */
  readonly data: Uint8Array
  /** Children, in link order. */
  readonly links: CID[]

  constructor (data: Uint8Array, links: CID[]) {
    this.data = data
    this.links = links
  }
}

/** Loads and decodes one block for the file reader (the traversal's own load). */
export type FileBlockLoader = (cid: CID) => Promise<unknown>

/**
 * The bytes of a reified UnixFS file: its data, then each child's bytes in link order.
 *
 * @param file - from {@link reifyUnixfs}
 * @param load - loads a child block and returns its decoded root node
 * @param path - where the file was reached (for errors)
 * @throws InvalidAdlDataError - a child that is not a UnixFS file/raw dag-pb node, raw bytes or
 *   a bytes node, or is unavailable; the loader's errors
 */
export async function readUnixfsFile (file: UnixfsFile, load: FileBlockLoader, path: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  const read = async (f: UnixfsFile, depth: number): Promise<void> => {
    if (depth > MAX_FILE_DEPTH) throw new InvalidAdlDataError(`unixfs ADL at "${path}": file tree deeper than ${MAX_FILE_DEPTH}`)
    if (f.data.byteLength > 0) parts.push(f.data)
    for (const link of f.links) {
      const node = await load(link)
      if (node === null) throw new InvalidAdlDataError(`unixfs ADL at "${path}": block ${link} of the file is not available`)
      if (node instanceof Uint8Array) {
        parts.push(node)
        continue
      }
      if (link.code !== CODEC_DAG_PB) throw new InvalidAdlDataError(`unixfs ADL at "${path}": file child ${link} is neither bytes nor dag-pb`)
      const child = reifyUnixfs(node, CODEC_DAG_PB, path)
      if (!(child instanceof UnixfsFile)) throw new InvalidAdlDataError(`unixfs ADL at "${path}": file child ${link} is not a UnixFS file node`)
      await read(child, depth + 1)
    }
  }
  await read(file, 0)
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.byteLength
  }
  return out
}

/** Deepest UnixFS file tree read (a balanced tree of 174-link nodes is 5 deep for 1 TiB). */
const MAX_FILE_DEPTH = 64

/**
 * Reify `node` (decoded from a block of `codec`) as UnixFS.
 *
 * @returns a `Map<string, CID>` for a basic directory, a {@link UnixfsFile} for a file (or raw)
 *   node, or `node` itself for non-dag-pb data
 * @throws InvalidAdlDataError when a dag-pb node has no or invalid UnixFS Data, or duplicate entry names
 * @throws UnsupportedSelectorError for UnixFS types we do not reify (HAMT, symlink, metadata)
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
  if (fs.type === 'file' || fs.type === 'raw') return new UnixfsFile(fs.data ?? new Uint8Array(0), pb.Links.map(l => l.Hash))
  throw new UnsupportedSelectorError(`unixfs ADL at "${path}": reifying UnixFS type "${fs.type}" is not supported (only basic directories and files)`)
}

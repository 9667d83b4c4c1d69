/**
 * Reading UnixFS DAGs: resolving a root to its files, and streaming a file's bytes in order.
 *
 * Reads flat and HAMT-sharded directories, files with raw or UnixFS leaves (any layout:
 * balanced, trickle), and single raw-leaf files. Every block is verified against its CID;
 * sizes recorded in nodes must match the bytes below them.
 *
 * @module
 */

import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { getBlock } from './blocks.js'
import { MAX_DAG_DEPTH } from './constants.js'
import { InvalidDagError } from './errors.js'
import type { BlockSource } from './blocks.js'
import type { CID } from 'multiformats/cid'

/** A file reached from a UnixFS root. */
export interface UnixfsFileEntry {
  /** Path relative to the root, `/`-separated; `''` when the root is the file. */
  path: string
  cid: CID
  /** File size in bytes. */
  size: number
}

/** An entry of a UnixFS tree walk: a file or a directory. */
export type UnixfsEntry = (UnixfsFileEntry & { type: 'file' }) | { type: 'directory', path: string, cid: CID }

interface DecodedNode {
  node: dagPb.PBNode
  unixfs: UnixFS
}

async function loadNode (blockstore: BlockSource, cid: CID, options: { signal?: AbortSignal }): Promise<DecodedNode> {
  const bytes = await getBlock(blockstore, cid, options)
  let node: dagPb.PBNode
  let unixfs: UnixFS
  try {
    node = dagPb.decode(bytes)
    if (node.Data == null) {
      throw new Error('no Data')
    }
    unixfs = UnixFS.unmarshal(node.Data)
  } catch (err: any) {
    throw new InvalidDagError(`${cid.toString()}: not a UnixFS node: ${String(err?.message)}`)
  }
  return { node, unixfs }
}

/** Rejects names that could escape the output directory or are not single path components. */
export function assertSafeName (name: string, where: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new InvalidDagError(`${where}: unsafe entry name ${JSON.stringify(name)}`)
  }
}

function toSafeNumber (v: bigint, where: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new InvalidDagError(`${where}: size ${v} exceeds 2^53`)
  }
  return Number(v)
}

/**
 * Walks the UnixFS tree at `cid` depth-first, directories before their entries, entries in
 * link order (sorted by name for flat directories).
 *
 * @throws InvalidDagError - unsupported codec or node type (symlink, metadata), unsafe names, too deep
 * @throws BlockNotFoundError, BlockHashMismatchError - from block reads
 */
export async function * walkUnixfs (blockstore: BlockSource, cid: CID, options: { signal?: AbortSignal } = {}): AsyncGenerator<UnixfsEntry> {
  yield * walkAt(blockstore, cid, '', 0, options)
}

async function * walkAt (blockstore: BlockSource, cid: CID, path: string, depth: number, options: { signal?: AbortSignal }): AsyncGenerator<UnixfsEntry> {
  options.signal?.throwIfAborted()
  if (depth > MAX_DAG_DEPTH) {
    throw new InvalidDagError(`${path}: directory tree deeper than ${MAX_DAG_DEPTH}`)
  }
  if (cid.code === raw.code) {
    const bytes = await getBlock(blockstore, cid, options)
    yield { type: 'file', path, cid, size: bytes.byteLength }
    return
  }
  if (cid.code !== dagPb.code) {
    throw new InvalidDagError(`${path === '' ? cid.toString() : path}: codec 0x${cid.code.toString(16)} is not UnixFS`)
  }
  const { node, unixfs } = await loadNode(blockstore, cid, options)
  const join = (name: string): string => {
    assertSafeName(name, path === '' ? cid.toString() : path)
    return path === '' ? name : `${path}/${name}`
  }
  switch (unixfs.type) {
    case 'file':
    case 'raw':
      yield { type: 'file', path, cid, size: toSafeNumber(unixfs.fileSize(), path) }
      return
    case 'directory':
      yield { type: 'directory', path, cid }
      for (const link of node.Links) {
        yield * walkAt(blockstore, link.Hash, join(link.Name ?? ''), depth + 1, options)
      }
      return
    case 'hamt-sharded-directory':
      yield { type: 'directory', path, cid }
      yield * walkShard(blockstore, node, unixfs, path, join, depth, options)
      return
    default:
      throw new InvalidDagError(`${path === '' ? cid.toString() : path}: UnixFS type ${unixfs.type} is not supported`)
  }
}

async function * walkShard (blockstore: BlockSource, node: dagPb.PBNode, unixfs: UnixFS, path: string, join: (name: string) => string, depth: number, options: { signal?: AbortSignal }): AsyncGenerator<UnixfsEntry> {
  const fanout = Number(unixfs.fanout ?? 256n)
  if (!Number.isInteger(fanout) || fanout < 2 || fanout > 65_536) {
    throw new InvalidDagError(`${path}: HAMT fanout ${fanout} out of range`)
  }
  const pad = (fanout - 1).toString(16).length
  for (const link of node.Links) {
    const name = link.Name ?? ''
    if (name.length < pad) {
      throw new InvalidDagError(`${path}: HAMT link name ${JSON.stringify(name)} is shorter than its prefix`)
    }
    if (name.length === pad) {
      if (depth + 1 > MAX_DAG_DEPTH) {
        throw new InvalidDagError(`${path}: HAMT deeper than ${MAX_DAG_DEPTH}`)
      }
      const sub = await loadNode(blockstore, link.Hash, options)
      if (sub.unixfs.type !== 'hamt-sharded-directory') {
        throw new InvalidDagError(`${path}: HAMT sub-shard ${link.Hash.toString()} is a ${sub.unixfs.type}`)
      }
      yield * walkShard(blockstore, sub.node, sub.unixfs, path, join, depth + 1, options)
    } else {
      yield * walkAt(blockstore, link.Hash, join(name.slice(pad)), depth + 1, options)
    }
  }
}

/**
 * Streams the bytes of the UnixFS file at `cid` in order, one block's worth at a time
 * (memory: one node per level plus one leaf).
 *
 * @throws InvalidDagError - the node is not a file, or recorded sizes disagree with the data
 * @throws BlockNotFoundError, BlockHashMismatchError - from block reads
 */
export async function * fileContent (blockstore: BlockSource, cid: CID, options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
  yield * contentAt(blockstore, cid, 0, options)
}

async function * contentAt (blockstore: BlockSource, cid: CID, depth: number, options: { signal?: AbortSignal }): AsyncGenerator<Uint8Array, number> {
  options.signal?.throwIfAborted()
  if (depth > MAX_DAG_DEPTH) {
    throw new InvalidDagError(`${cid.toString()}: file DAG deeper than ${MAX_DAG_DEPTH}`)
  }
  if (cid.code === raw.code) {
    const bytes = await getBlock(blockstore, cid, options)
    yield bytes
    return bytes.byteLength
  }
  if (cid.code !== dagPb.code) {
    throw new InvalidDagError(`${cid.toString()}: codec 0x${cid.code.toString(16)} is not a UnixFS file`)
  }
  const { node, unixfs } = await loadNode(blockstore, cid, options)
  if (unixfs.type !== 'file' && unixfs.type !== 'raw') {
    throw new InvalidDagError(`${cid.toString()}: UnixFS ${unixfs.type} is not a file`)
  }
  let total = 0
  if (unixfs.data != null && unixfs.data.byteLength > 0) {
    yield unixfs.data
    total += unixfs.data.byteLength
  }
  if (node.Links.length !== unixfs.blockSizes.length && node.Links.length > 0) {
    throw new InvalidDagError(`${cid.toString()}: ${node.Links.length} links but ${unixfs.blockSizes.length} blockSizes`)
  }
  for (let i = 0; i < node.Links.length; i++) {
    const expected = toSafeNumber(unixfs.blockSizes[i], cid.toString())
    const got: number = yield * contentAt(blockstore, node.Links[i].Hash, depth + 1, options)
    if (got !== expected) {
      throw new InvalidDagError(`${cid.toString()}: child ${i} holds ${got} bytes, blockSizes says ${expected}`)
    }
    total += got
  }
  const size = toSafeNumber(unixfs.fileSize(), cid.toString())
  if (total !== size) {
    throw new InvalidDagError(`${cid.toString()}: holds ${total} bytes, fileSize says ${size}`)
  }
  return total
}

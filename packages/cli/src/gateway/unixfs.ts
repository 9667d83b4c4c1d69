/**
 * The UnixFS reads the gateway needs beyond `@tensorswap/model`'s `walkUnixfs`/`fileContent`:
 * one directory level (flat or HAMT) with the shard nodes it crossed, and a file walk limited to
 * a byte range that reads only the blocks overlapping it (for HTTP `Range` and IPIP-402
 * `entity-bytes`). UnixFS data-format spec (ipfs/specs `unixfs.md`): a file node's bytes are
 * its inline `Data` followed by its children in link order, child `i` holding `blocksizes[i]`
 * bytes.
 *
 * @module
 */

import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { InvalidDagError } from '@tensorswap/model'
import { MAX_HAMT_FANOUT, MAX_PATH_SEGMENTS } from './constants.js'
import type { BlockReader } from './blocks.js'
import type { CID } from 'multiformats/cid'

/** A decoded dag-pb UnixFS node. */
export interface UnixfsNode {
  node: dagPb.PBNode
  unixfs: UnixFS
}

/** What a CID is, as far as the gateway cares. */
export type EntityKind = 'file' | 'directory' | 'hamt-directory' | 'other-unixfs' | 'not-unixfs'

/**
 * Decode a dag-pb block as UnixFS; `undefined` when it is dag-pb without UnixFS data.
 */
export function decodeUnixfs (cid: CID, bytes: Uint8Array): UnixfsNode | undefined {
  let node: dagPb.PBNode
  try {
    node = dagPb.decode(bytes)
  } catch (err: any) {
    throw new InvalidDagError(`${cid}: invalid dag-pb: ${String(err?.message)}`)
  }
  if (node.Data == null) return undefined
  try {
    return { node, unixfs: UnixFS.unmarshal(node.Data) }
  } catch {
    // dag-pb whose Data is not a UnixFS protobuf: valid IPLD, just not UnixFS
    return undefined
  }
}

/** Classify a block already read. */
export function entityKind (cid: CID, bytes: Uint8Array): { kind: EntityKind, node?: UnixfsNode, size?: number } {
  if (cid.code === raw.code) return { kind: 'file', size: bytes.byteLength }
  if (cid.code !== dagPb.code) return { kind: 'not-unixfs' }
  const node = decodeUnixfs(cid, bytes)
  if (node === undefined) return { kind: 'not-unixfs' }
  switch (node.unixfs.type) {
    case 'file':
    case 'raw':
      return { kind: 'file', node, size: safeSize(node.unixfs.fileSize(), cid) }
    case 'directory':
      return { kind: 'directory', node }
    case 'hamt-sharded-directory':
      return { kind: 'hamt-directory', node }
    default:
      return { kind: 'other-unixfs', node }
  }
}

function safeSize (v: bigint, cid: CID): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidDagError(`${cid}: size ${v} exceeds 2^53`)
  return Number(v)
}

/** One directory entry. `shards`: the HAMT sub-shard nodes crossed to reach it (empty for flat directories). */
export interface DirEntry {
  name: string
  cid: CID
  shards: CID[]
}

function hamtPad (node: UnixfsNode, cid: CID): number {
  const fanout = Number(node.unixfs.fanout ?? 256n)
  if (!Number.isInteger(fanout) || fanout < 2 || fanout > MAX_HAMT_FANOUT || (fanout & (fanout - 1)) !== 0) {
    throw new InvalidDagError(`${cid}: HAMT fanout ${fanout} is not a power of two in [2, ${MAX_HAMT_FANOUT}]`)
  }
  return (fanout - 1).toString(16).length
}

/**
 * The entries of one directory level in link order (HAMT: shard order, sub-shards read as they
 * are reached).
 *
 * @throws InvalidDagError - a HAMT sub-shard that is not a shard, a bad fanout, too deep
 */
export async function * directoryEntries (reader: BlockReader, cid: CID, dir: UnixfsNode, options: { signal?: AbortSignal }): AsyncGenerator<DirEntry> {
  if (dir.unixfs.type === 'directory') {
    for (const link of dir.node.Links) yield { name: link.Name ?? '', cid: link.Hash, shards: [] }
    return
  }
  yield * shardEntries(reader, cid, dir, [], options)
}

async function * shardEntries (reader: BlockReader, cid: CID, shard: UnixfsNode, chain: CID[], options: { signal?: AbortSignal }): AsyncGenerator<DirEntry> {
  if (chain.length > MAX_PATH_SEGMENTS) throw new InvalidDagError(`${cid}: HAMT deeper than ${MAX_PATH_SEGMENTS}`)
  const pad = hamtPad(shard, cid)
  for (const link of shard.node.Links) {
    const name = link.Name ?? ''
    if (name.length < pad) throw new InvalidDagError(`${cid}: HAMT link name ${JSON.stringify(name)} shorter than its ${pad}-character prefix`)
    if (name.length === pad) {
      const bytes = await reader.getBlock(link.Hash, options)
      const sub = link.Hash.code === dagPb.code ? decodeUnixfs(link.Hash, bytes) : undefined
      if (sub?.unixfs.type !== 'hamt-sharded-directory') throw new InvalidDagError(`${cid}: HAMT sub-shard ${link.Hash} is not a shard`)
      yield * shardEntries(reader, link.Hash, sub, [...chain, link.Hash], options)
    } else {
      yield { name: name.slice(pad), cid: link.Hash, shards: chain }
    }
  }
}

/** The HAMT sub-shard CIDs under a sharded directory (the blocks needed to enumerate it: `dag-scope=entity`). */
export async function * hamtShardBlocks (reader: BlockReader, cid: CID, shard: UnixfsNode, options: { signal?: AbortSignal }, depth = 0): AsyncGenerator<{ cid: CID, bytes: Uint8Array }> {
  if (depth > MAX_PATH_SEGMENTS) throw new InvalidDagError(`${cid}: HAMT deeper than ${MAX_PATH_SEGMENTS}`)
  const pad = hamtPad(shard, cid)
  for (const link of shard.node.Links) {
    if ((link.Name ?? '').length !== pad) continue
    const bytes = await reader.getBlock(link.Hash, options)
    const sub = link.Hash.code === dagPb.code ? decodeUnixfs(link.Hash, bytes) : undefined
    if (sub?.unixfs.type !== 'hamt-sharded-directory') throw new InvalidDagError(`${cid}: HAMT sub-shard ${link.Hash} is not a shard`)
    yield { cid: link.Hash, bytes }
    yield * hamtShardBlocks(reader, link.Hash, sub, options, depth + 1)
  }
}

/** One node of a ranged file walk. */
export interface FileRangeStep {
  cid: CID
  /** The block bytes (verified). */
  block: Uint8Array
  /** The file bytes this node contributes inside the range, in file order (may be empty). */
  content: Uint8Array
}

/**
 * Walk the UnixFS file at `cid` depth-first (pre-order, link order: the `order=dfs` of a CAR)
 * visiting only nodes whose bytes overlap `[start, end)`, so a range costs the blocks on the
 * paths to its leaves and nothing else. Concatenating `content` in yield order gives exactly
 * bytes `[start, end)` of the file.
 *
 * Memory: the pending stack of (CID, offset) pairs plus one block.
 *
 * @param root - a raw leaf or a dag-pb UnixFS file
 * @param start - first byte, inclusive
 * @param end - last byte, exclusive (`<=` file size)
 * @throws InvalidDagError - not a file, `blocksizes` disagreeing with the links or the data,
 *   or a DAG deeper than `MAX_PATH_SEGMENTS`
 * @throws errors of {@link BlockReader.getBlock}
 */
export async function * walkFileRange (reader: BlockReader, root: CID, start: number, end: number, options: { signal?: AbortSignal }): AsyncGenerator<FileRangeStep> {
  const stack: Array<{ cid: CID, offset: number, size?: number, depth: number }> = [{ cid: root, offset: 0, depth: 0 }]
  while (stack.length > 0) {
    options.signal?.throwIfAborted()
    const { cid, offset, size: expected, depth } = stack.pop() as { cid: CID, offset: number, size?: number, depth: number }
    if (depth > MAX_PATH_SEGMENTS) throw new InvalidDagError(`${root}: file DAG deeper than ${MAX_PATH_SEGMENTS}`)
    const block = await reader.getBlock(cid, options)
    if (cid.code === raw.code) {
      if (expected !== undefined && block.byteLength !== expected) {
        throw new InvalidDagError(`${cid}: leaf holds ${block.byteLength} bytes, its parent's blocksizes says ${expected}`)
      }
      yield { cid, block, content: slice(block, offset, start, end) }
      continue
    }
    if (cid.code !== dagPb.code) throw new InvalidDagError(`${cid}: codec 0x${cid.code.toString(16)} is not part of a UnixFS file`)
    const node = decodeUnixfs(cid, block)
    if (node === undefined || (node.unixfs.type !== 'file' && node.unixfs.type !== 'raw')) {
      throw new InvalidDagError(`${cid}: not a UnixFS file node`)
    }
    const data = node.unixfs.data ?? new Uint8Array(0)
    const sizes = node.unixfs.blockSizes
    if (node.node.Links.length !== sizes.length && node.node.Links.length > 0) {
      throw new InvalidDagError(`${cid}: ${node.node.Links.length} links but ${sizes.length} blocksizes`)
    }
    const fileSize = safeSize(node.unixfs.fileSize(), cid)
    if (expected !== undefined && fileSize !== expected) {
      throw new InvalidDagError(`${cid}: node holds ${fileSize} bytes, its parent's blocksizes says ${expected}`)
    }
    yield { cid, block, content: slice(data, offset, start, end) }
    const children: Array<{ cid: CID, offset: number, size: number, depth: number }> = []
    let at = offset + data.byteLength
    for (let i = 0; i < node.node.Links.length; i++) {
      const size = safeSize(sizes[i], cid)
      if (at < end && at + size > start) children.push({ cid: node.node.Links[i].Hash, offset: at, size, depth: depth + 1 })
      at += size
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i])
  }
}

/** The part of `bytes` (which sit at file offset `offset`) that lies in `[start, end)`. */
function slice (bytes: Uint8Array, offset: number, start: number, end: number): Uint8Array {
  const from = Math.max(start - offset, 0)
  const to = Math.min(end - offset, bytes.byteLength)
  return to > from ? bytes.subarray(from, to) : bytes.subarray(0, 0)
}

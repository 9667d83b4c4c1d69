/**
 * The UnixFS reader: resolving a root to its files, streaming a file's bytes in order, and the
 * finer reads the HTTP gateway (`@tensorswap/gateway`) needs: one directory level (flat or HAMT)
 * with the shard nodes it crossed, a HAMT's shard blocks, and a file walk limited to a byte range
 * that reads only the blocks overlapping it (HTTP `Range`, IPIP-402 `entity-bytes`).
 *
 * Reads flat and HAMT-sharded directories, files with raw or UnixFS leaves (any layout:
 * balanced, trickle), and single raw-leaf files. Every block is verified against its CID (here
 * through {@link getVerifiedBlock}, or by the {@link VerifiedBlockSource} the caller passes); sizes
 * recorded in nodes must match the bytes below them. UnixFS data-format spec (ipfs/specs
 * `unixfs.md`): a file node's bytes are its inline `Data` followed by its children in link order,
 * child `i` holding `blocksizes[i]` bytes.
 *
 * Why not `ipfs-unixfs-exporter` (a dev dependency, used in the tests as the reference reader):
 * the gateway's CAR `entity-bytes` responses need the blocks a range walk visits, in DFS order,
 * and the exporter yields only content; one walk ({@link walkFileRange}) serves both that and
 * `Range` downloads. Its errors (`NotUnixFSError`, `OverReadError`, ...) would also replace the
 * `InvalidDagError` that callers match on.
 *
 * @module
 */

import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { getVerifiedBlock } from './blocks.js'
import { MAX_DAG_DEPTH, MAX_HAMT_FANOUT } from './constants.js'
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
  const bytes = await getVerifiedBlock(blockstore, cid, options)
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
  if (!isSafeName(name)) {
    throw new InvalidDagError(`${where}: unsafe entry name ${JSON.stringify(name)}`)
  }
}

/** Whether `name` can be one path component on disk: not empty, `.`, `..`, and no `/` or NUL. */
export function isSafeName (name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0')
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
    const bytes = await getVerifiedBlock(blockstore, cid, options)
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
      yield { type: 'file', path, cid, size: checkFileNode(cid, { node, unixfs }) }
      return
    case 'directory':
      yield { type: 'directory', path, cid }
      for (const link of node.Links) {
        yield * walkAt(blockstore, link.Hash, join(link.Name ?? ''), depth + 1, options)
      }
      return
    case 'hamt-sharded-directory':
      yield { type: 'directory', path, cid }
      // the same HAMT enumeration (and fanout rule) as the gateway's directoryEntries
      for await (const entry of shardEntries(verifiedSource(blockstore), cid, { node, unixfs }, [], options)) {
        yield * walkAt(blockstore, entry.cid, join(entry.name), depth + 1, options)
      }
      return
    default:
      throw new InvalidDagError(`${path === '' ? cid.toString() : path}: UnixFS type ${unixfs.type} is not supported`)
  }
}

/**
 * Streams the bytes of the UnixFS file at `cid` in order, one block's worth at a time
 * (memory: the pending links of each level plus one leaf). It is {@link walkFileRange} over the
 * whole file, so export and the gateway's downloads read files with the same walk and checks.
 *
 * @throws InvalidDagError - the node is not a file, or recorded sizes disagree with the data
 * @throws BlockNotFoundError, BlockHashMismatchError - from block reads
 */
export async function * fileContent (blockstore: BlockSource, cid: CID, options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
  for await (const step of walkFileRange(verifiedSource(blockstore), cid, 0, Number.POSITIVE_INFINITY, options)) {
    // a node's inline data may be empty; a raw leaf is always yielded (as it always was)
    if (step.content.byteLength > 0 || step.cid.code === raw.code) yield step.content
  }
}

/**
 * Whole blocks, each already verified against its CID by the implementation (e.g. the gateway's
 * `BlockReader`, which also fetches missing blocks from peers). The reads below take one instead
 * of a {@link BlockSource} so a block is hashed once, not twice; wrap a plain store with
 * {@link verifiedSource}.
 */
export interface VerifiedBlockSource {
  /**
   * The block `cid`, verified.
   *
   * @throws BlockNotFoundError, BlockHashMismatchError, AbortError - or the implementation's own
   */
  getBlock: (cid: CID, options: { signal?: AbortSignal }) => Promise<Uint8Array>
}

/** A {@link VerifiedBlockSource} over a plain store: every read goes through {@link getVerifiedBlock} (verified). */
export function verifiedSource (blockstore: BlockSource): VerifiedBlockSource {
  return { getBlock: async (cid, options) => await getVerifiedBlock(blockstore, cid, options) }
}

/** A decoded dag-pb UnixFS node. */
export interface UnixfsNode {
  node: dagPb.PBNode
  unixfs: UnixFS
}

/**
 * What a CID is, as the gateway sees it: a file (raw leaf or UnixFS file/raw node), a flat or
 * HAMT directory, another UnixFS type (symlink, metadata), or not UnixFS at all.
 */
export type EntityKind = 'file' | 'directory' | 'hamt-directory' | 'other-unixfs' | 'not-unixfs'

/**
 * Decode a dag-pb block as UnixFS.
 *
 * @returns the node, or `undefined` when it is dag-pb without (valid) UnixFS data
 * @throws InvalidDagError - the bytes are not dag-pb
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

/**
 * Classify a block already read (no further reads).
 *
 * @returns the kind; the decoded node for dag-pb UnixFS; the size in bytes for files
 * @throws InvalidDagError - invalid dag-pb; a file node that fails {@link checkFileNode} (so a
 *   gateway answers an error before it writes a response head)
 */
export function entityKind (cid: CID, bytes: Uint8Array): { kind: EntityKind, node?: UnixfsNode, size?: number } {
  if (cid.code === raw.code) return { kind: 'file', size: bytes.byteLength }
  if (cid.code !== dagPb.code) return { kind: 'not-unixfs' }
  const node = decodeUnixfs(cid, bytes)
  if (node === undefined) return { kind: 'not-unixfs' }
  switch (node.unixfs.type) {
    case 'file':
    case 'raw':
      return { kind: 'file', node, size: checkFileNode(cid, node) }
    case 'directory':
      return { kind: 'directory', node }
    case 'hamt-sharded-directory':
      return { kind: 'hamt-directory', node }
    default:
      return { kind: 'other-unixfs', node }
  }
}

/** One directory entry. `shards`: the HAMT sub-shard nodes crossed to reach it (empty for flat directories). */
export interface DirEntry {
  name: string
  cid: CID
  shards: CID[]
}

/**
 * Hex width of a HAMT shard's link-name prefix, after checking the fanout: a power of two in
 * [2, MAX_HAMT_FANOUT] (UnixFS spec, HAMTShard: the fanout must be a power of two; boxo and
 * ipfs-unixfs cap it at 1024). Every reader (list, export, the gateway) applies this one rule.
 *
 * @throws InvalidDagError - any other fanout
 */
function hamtPad (node: UnixfsNode, cid: CID): number {
  const fanout = Number(node.unixfs.fanout ?? 256n)
  if (!Number.isInteger(fanout) || fanout < 2 || fanout > MAX_HAMT_FANOUT || (fanout & (fanout - 1)) !== 0) {
    throw new InvalidDagError(`${cid}: HAMT fanout ${fanout} is not a power of two in [2, ${MAX_HAMT_FANOUT}]`)
  }
  return (fanout - 1).toString(16).length
}

async function loadShard (source: VerifiedBlockSource, parent: CID, cid: CID, options: { signal?: AbortSignal }): Promise<{ bytes: Uint8Array, shard: UnixfsNode }> {
  const bytes = await source.getBlock(cid, options)
  const sub = cid.code === dagPb.code ? decodeUnixfs(cid, bytes) : undefined
  if (sub?.unixfs.type !== 'hamt-sharded-directory') throw new InvalidDagError(`${parent}: HAMT sub-shard ${cid} is not a shard`)
  return { bytes, shard: sub }
}

/**
 * The entries of one directory level in link order (HAMT: shard order, sub-shards read as they
 * are reached). Names are returned as stored (not checked for path safety: the gateway only
 * compares them with a request's segments and escapes them in listings).
 *
 * @param dir - the decoded directory node at `cid` (`directory` or `hamt-sharded-directory`)
 * @throws InvalidDagError - a HAMT sub-shard that is not a shard, a bad fanout or link name, a
 *   HAMT deeper than `MAX_DAG_DEPTH`
 * @throws errors of `source.getBlock`
 */
export async function * directoryEntries (source: VerifiedBlockSource, cid: CID, dir: UnixfsNode, options: { signal?: AbortSignal } = {}): AsyncGenerator<DirEntry> {
  if (dir.unixfs.type === 'directory') {
    for (const link of dir.node.Links) yield { name: link.Name ?? '', cid: link.Hash, shards: [] }
    return
  }
  yield * shardEntries(source, cid, dir, [], options)
}

/** The entries under HAMT shard `cid` in link order; `chain`: the sub-shards crossed to reach it. */
async function * shardEntries (source: VerifiedBlockSource, cid: CID, shard: UnixfsNode, chain: CID[], options: { signal?: AbortSignal }): AsyncGenerator<DirEntry> {
  options.signal?.throwIfAborted()
  if (chain.length > MAX_DAG_DEPTH) throw new InvalidDagError(`${cid}: HAMT deeper than ${MAX_DAG_DEPTH}`)
  const pad = hamtPad(shard, cid)
  for (const link of shard.node.Links) {
    const name = link.Name ?? ''
    if (name.length < pad) throw new InvalidDagError(`${cid}: HAMT link name ${JSON.stringify(name)} shorter than its ${pad}-character prefix`)
    if (name.length === pad) {
      const { shard: sub } = await loadShard(source, cid, link.Hash, options)
      yield * shardEntries(source, link.Hash, sub, [...chain, link.Hash], options)
    } else {
      yield { name: name.slice(pad), cid: link.Hash, shards: chain }
    }
  }
}

/**
 * The HAMT sub-shard blocks under a sharded directory, depth-first in link order: the blocks
 * needed to enumerate it (trustless gateway `dag-scope=entity` of a HAMT directory).
 *
 * @param shard - the decoded root shard at `cid`
 * @throws InvalidDagError - a sub-shard that is not a shard, a bad fanout, deeper than `MAX_DAG_DEPTH`
 * @throws errors of `source.getBlock`
 */
export async function * hamtShardBlocks (source: VerifiedBlockSource, cid: CID, shard: UnixfsNode, options: { signal?: AbortSignal } = {}, depth = 0): AsyncGenerator<{ cid: CID, bytes: Uint8Array }> {
  if (depth > MAX_DAG_DEPTH) throw new InvalidDagError(`${cid}: HAMT deeper than ${MAX_DAG_DEPTH}`)
  const pad = hamtPad(shard, cid)
  for (const link of shard.node.Links) {
    if ((link.Name ?? '').length !== pad) continue
    const { bytes, shard: sub } = await loadShard(source, cid, link.Hash, options)
    yield { cid: link.Hash, bytes }
    yield * hamtShardBlocks(source, link.Hash, sub, options, depth + 1)
  }
}

/** One node of a ranged file walk ({@link walkFileRange}). */
export interface FileRangeStep {
  cid: CID
  /** The block bytes (verified). */
  block: Uint8Array
  /** The file bytes this node contributes inside the range, in file order (may be empty). */
  content: Uint8Array
}

/**
 * Walk the UnixFS file at `root` depth-first (pre-order, link order: the `order=dfs` of a CAR)
 * visiting only nodes whose bytes overlap `[start, end)`, so a range costs the blocks on the
 * paths to its leaves and nothing else. Concatenating `content` in yield order gives exactly
 * bytes `[start, end)` of the file.
 *
 * Memory: the pending stack of (CID, offset) pairs plus one block.
 *
 * @param root - a raw leaf or a dag-pb UnixFS file
 * @param start - first byte, inclusive
 * @param end - last byte, exclusive (`<=` file size; `Infinity` for the whole file)
 * @throws InvalidDagError - not a file, a node failing {@link checkFileNode}, `blocksizes`
 *   disagreeing with the data below, or a DAG deeper than `MAX_DAG_DEPTH`
 * @throws errors of `source.getBlock`
 */
export async function * walkFileRange (source: VerifiedBlockSource, root: CID, start: number, end: number, options: { signal?: AbortSignal } = {}): AsyncGenerator<FileRangeStep> {
  const stack: Array<{ cid: CID, offset: number, size?: number, depth: number }> = [{ cid: root, offset: 0, depth: 0 }]
  while (stack.length > 0) {
    options.signal?.throwIfAborted()
    const { cid, offset, size: expected, depth } = stack.pop() as { cid: CID, offset: number, size?: number, depth: number }
    if (depth > MAX_DAG_DEPTH) throw new InvalidDagError(`${root}: file DAG deeper than ${MAX_DAG_DEPTH}`)
    const block = await source.getBlock(cid, options)
    if (cid.code === raw.code) {
      if (expected !== undefined && block.byteLength !== expected) {
        throw new InvalidDagError(`${cid}: leaf holds ${block.byteLength} bytes, its parent's blocksizes says ${expected}`)
      }
      yield { cid, block, content: rangeSlice(block, offset, start, end) }
      continue
    }
    if (cid.code !== dagPb.code) throw new InvalidDagError(`${cid}: codec 0x${cid.code.toString(16)} is not part of a UnixFS file`)
    const node = decodeUnixfs(cid, block)
    if (node === undefined || (node.unixfs.type !== 'file' && node.unixfs.type !== 'raw')) {
      throw new InvalidDagError(`${cid}: not a UnixFS file node`)
    }
    const fileSize = checkFileNode(cid, node)
    if (expected !== undefined && fileSize !== expected) {
      throw new InvalidDagError(`${cid}: node holds ${fileSize} bytes, its parent's blocksizes says ${expected}`)
    }
    const data = node.unixfs.data ?? new Uint8Array(0)
    const sizes = node.unixfs.blockSizes
    yield { cid, block, content: rangeSlice(data, offset, start, end) }
    const children: Array<{ cid: CID, offset: number, size: number, depth: number }> = []
    let at = offset + data.byteLength
    for (let i = 0; i < node.node.Links.length; i++) {
      const size = toSafeNumber(sizes[i], cid.toString())
      if (at < end && at + size > start) children.push({ cid: node.node.Links[i].Hash, offset: at, size, depth: depth + 1 })
      at += size
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i])
  }
}

/**
 * Check the structure of one UnixFS file node (`file` or `raw` type) on its own, before any of
 * its bytes are served (UnixFS spec, "Data Format" and "File": `blocksizes[i]` is the size of
 * child `i`; `ipfs-unixfs-exporter` rejects the count mismatch too):
 * - one `blocksizes` entry per link;
 * - file-chunk links are unnamed (a name belongs to a directory entry, not a chunk);
 * - a recorded `filesize`, when present, equals the computed size: inline `Data` plus the sum
 *   of `blocksizes`.
 *
 * Whether each child really holds its `blocksizes` bytes is checked when the child is read
 * ({@link walkFileRange}).
 *
 * @returns the file size in bytes
 * @throws InvalidDagError - any rule above broken, or a size over 2^53
 */
function checkFileNode (cid: CID, node: UnixfsNode): number {
  const links = node.node.Links
  const sizes = node.unixfs.blockSizes
  if (links.length !== sizes.length) {
    throw new InvalidDagError(`${cid}: file node has ${links.length} links but ${sizes.length} blocksizes`)
  }
  for (let i = 0; i < links.length; i++) {
    const name = links[i].Name
    if (name !== undefined && name !== '') {
      throw new InvalidDagError(`${cid}: file chunk link ${i} is named ${JSON.stringify(name.slice(0, 100))}; chunk links must be unnamed`)
    }
  }
  const computed = node.unixfs.fileSize()
  const recorded = node.node.Data !== undefined ? recordedFileSize(node.node.Data) : undefined
  if (recorded !== undefined && recorded !== computed) {
    throw new InvalidDagError(`${cid}: filesize ${recorded} is not the computed size ${computed} (inline data plus blocksizes)`)
  }
  return toSafeNumber(computed, cid.toString())
}

/**
 * The `filesize` field (protobuf field 3, varint) of a UnixFS `Data` message, `undefined` when
 * absent. `ipfs-unixfs`'s `UnixFS.unmarshal` drops it (its `fileSize()` is computed), so it is
 * read here; the message was already decoded once by `UnixFS.unmarshal`, so it is well formed.
 */
function recordedFileSize (data: Uint8Array): bigint | undefined {
  let at = 0
  let found: bigint | undefined
  const varint = (): bigint => {
    let v = 0n
    let shift = 0n
    for (;;) {
      if (at >= data.byteLength || shift > 63n) throw new InvalidDagError('truncated varint in UnixFS Data')
      const b = data[at++]
      v |= BigInt(b & 0x7f) << shift
      if ((b & 0x80) === 0) return v
      shift += 7n
    }
  }
  while (at < data.byteLength) {
    const key = varint()
    const field = key >> 3n
    const wire = Number(key & 7n)
    if (wire === 0) {
      const v = varint()
      if (field === 3n) found = v // the last occurrence wins (protobuf)
    } else if (wire === 2) {
      const length = Number(varint()) // read before `at` is: `at += varint()` would lose the varint's bytes
      at += length
    } else if (wire === 1) {
      at += 8
    } else if (wire === 5) {
      at += 4
    } else {
      throw new InvalidDagError(`UnixFS Data has a field of wire type ${wire}`)
    }
  }
  return found
}

/** The part of `bytes` (which sit at file offset `offset`) that lies in `[start, end)`. */
function rangeSlice (bytes: Uint8Array, offset: number, start: number, end: number): Uint8Array {
  const from = Math.max(start - offset, 0)
  const to = Math.min(end - offset, bytes.byteLength)
  return to > from ? bytes.subarray(from, to) : bytes.subarray(0, 0)
}

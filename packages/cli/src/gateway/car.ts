/**
 * The blocks of a trustless-gateway CAR response, in order, and their CARv1 framing.
 *
 * Order is depth-first pre-order in link order (`order=dfs`, IPIP-412), the same walk as
 * `@tensorswap/blockstore`'s `exportCar`: first the blocks crossed by the content path, then the
 * terminal entity by `dag-scope` (IPIP-402):
 * - `block`: the terminal block only;
 * - `entity`: a UnixFS file's whole DAG (with `entity-bytes`: only the nodes overlapping the
 *   range), a directory's node (HAMT: and its sub-shards), any other block alone;
 * - `all`: everything reachable from the terminal.
 *
 * `dups=n` sends each CID once; `dups=y` each time the walk reaches it. Identity CIDs are never
 * sent (trustless-gateway spec: "A Gateway MUST NOT include virtual blocks identified by
 * identity CIDs"). A generator: the caller pulls one block at a time, so a paused consumer
 * pauses the walk, and `return()` (client gone) stops it.
 *
 * @module
 */

import * as dagCbor from '@ipld/dag-cbor'
import { links, encodeVarint, HASH_IDENTITY } from '@tensorswap/blockstore'
import { hamtShardBlocks, walkFileRange } from './unixfs.js'
import type { BlockReader } from './blocks.js'
import type { DagScope } from './request.js'
import type { Resolved } from './resolve.js'
import type { CID } from 'multiformats/cid'

/** Options of {@link carBlocks}. */
export interface CarBlocksOptions {
  scope: DagScope
  dups: boolean
  /** Resolved `entity-bytes` range `[start, end)` of a file terminal. */
  range?: { start: number, end: number }
  signal?: AbortSignal
}

/** A block to write into the CAR. */
export interface CarBlock {
  cid: CID
  bytes: Uint8Array
}

/**
 * Yield the CAR's blocks for a resolved path.
 *
 * @throws UnsupportedCodecError - `scope: 'all'` reaches a codec whose links we cannot read
 * @throws errors of {@link BlockReader.getBlock} and the UnixFS walkers
 */
export async function * carBlocks (reader: BlockReader, resolved: Resolved, options: CarBlocksOptions): AsyncGenerator<CarBlock> {
  const { signal, dups } = options
  const seen = new Set<string>()
  /** true when the block should be written (not identity, not a duplicate under dups=n) */
  const fresh = (cid: CID): boolean => {
    if (cid.multihash.code === HASH_IDENTITY) return false
    if (dups) return true
    const key = cid.toString()
    if (seen.has(key)) return false
    seen.add(key)
    return true
  }
  for (const cid of resolved.pathBlocks) {
    if (fresh(cid)) yield { cid, bytes: await reader.getBlock(cid, { signal }) }
  }
  const { terminal, block } = resolved
  const scope = options.scope
  if (scope === 'block') {
    if (fresh(terminal)) yield { cid: terminal, bytes: block }
    return
  }
  if (scope === 'entity') {
    if (resolved.kind === 'file') {
      const { start, end } = options.range ?? { start: 0, end: resolved.size ?? 0 }
      for await (const step of walkFileRange(reader, terminal, start, end, { signal })) {
        if (fresh(step.cid)) yield { cid: step.cid, bytes: step.block }
      }
      return
    }
    if (fresh(terminal)) yield { cid: terminal, bytes: block }
    if (resolved.kind === 'hamt-directory' && resolved.node !== undefined) {
      for await (const shard of hamtShardBlocks(reader, terminal, resolved.node, { signal })) {
        if (fresh(shard.cid)) yield shard
      }
    }
    return
  }
  // scope all: the whole DAG, explicit stack (no recursion limit); a duplicate's subtree was
  // already sent in full, so under dups=n it is skipped whole
  const stack: CID[] = [terminal]
  let first = true
  while (stack.length > 0) {
    signal?.throwIfAborted()
    const cid = stack.pop() as CID
    const identity = cid.multihash.code === HASH_IDENTITY
    if (!identity && !fresh(cid)) continue
    // identity blocks are not sent, but their links (if any) are still walked
    const bytes = first ? block : identity ? cid.multihash.digest : await reader.getBlock(cid, { signal })
    first = false
    if (!identity) yield { cid, bytes }
    const children = links(cid, bytes)
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i])
  }
}

/** The CARv1 header frame `varint(len) || dag-cbor { roots, version: 1 }` (ipld specs, transport/car/carv1). */
export function carHeader (roots: CID[]): Uint8Array {
  const header = dagCbor.encode({ roots, version: 1 })
  return concat(encodeVarint(header.byteLength), header)
}

/** The section prefix `varint(len(cid) + len(block)) || cid` written before a block's bytes. */
export function carSectionPrefix (cid: CID, blockLength: number): Uint8Array {
  return concat(encodeVarint(cid.bytes.byteLength + blockLength), cid.bytes)
}

function concat (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength)
  out.set(a, 0)
  out.set(b, a.byteLength)
  return out
}

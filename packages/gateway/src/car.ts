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

import { dagBlocks, HASH_IDENTITY } from '@tensorswap/blockstore'
import { hamtShardBlocks, walkFileRange } from '@tensorswap/model'
import type { BlockReader } from './blocks.js'
import type { DagScope } from './request.js'
import type { Resolved } from './resolve.js'
import type { DagBlock, DagBlocksOptions } from '@tensorswap/blockstore'
import type { CID } from 'multiformats/cid'

export { carHeader, carSectionPrefix } from '@tensorswap/blockstore'

/** Options of {@link carBlocks}. */
export interface CarBlocksOptions {
  /** `dag-scope` of the terminal entity. */
  scope: DagScope
  /** `dups=y`: a block each time the walk reaches it; else each CID once. */
  dups: boolean
  /** Resolved `entity-bytes` range `[start, end)` (bytes) of a file terminal. */
  range?: { start: number, end: number }
  signal?: AbortSignal
}

/** A block to write into the CAR. */
export type CarBlock = DagBlock

/**
 * Yield the CAR's blocks for a resolved path: the path blocks, then the terminal by scope. The
 * `block` and `all` scopes are `@tensorswap/blockstore`'s {@link dagBlocks} walk (the one
 * `tensorswap car export` writes), with identity CIDs skipped and the dedupe set shared with
 * the path blocks; `entity` needs UnixFS knowledge, so it is the model package's UnixFS reader
 * ({@link walkFileRange}, {@link hamtShardBlocks}).
 *
 * @throws UnsupportedCodecError - `scope: 'all'` reaches a codec whose links we cannot read
 * @throws InvalidDagError - malformed UnixFS under an `entity` scope
 * @throws errors of {@link BlockReader.getBlock}
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
  // block / all: the blockstore's DFS walk; under dups=n a duplicate's subtree was already sent
  // in full, so it is skipped whole
  const walk: DagBlocksOptions = {
    scope,
    dups,
    identity: 'skip',
    seen,
    rootBytes: block
  }
  if (signal !== undefined) walk.signal = signal
  yield * dagBlocks(async (cid, o) => await reader.getBlock(cid, o), terminal, walk)
}

/**
 * Whether a whole DAG is in the repo already, so `get` needs no peer for it.
 */
import { getBlockUnverified, links, verifyBlock } from '@tensorswap/blockstore'
import type { Repo } from '@tensorswap/blockstore'
import type { CID } from 'multiformats/cid'

/** What {@link localDag} found. */
export interface LocalDag {
  /** The first block (DFS order) not in the repo; absent when the whole DAG is there. */
  missing?: CID
  /** Distinct blocks of the DAG found in the repo. */
  blocks: number
}

/** Codec of raw leaves (no links): only their presence is checked. */
const RAW = 0x55

/**
 * Walk the DAG under `root` over the repo's blocks (links of dag-pb, dag-cbor, dag-json;
 * every non-raw block read is verified against its CID) and stop at the first missing block.
 * @throws BlockHashMismatchError - a stored block does not match its CID
 * @throws UnsupportedCodecError - a block of a codec whose links we cannot read
 */
export async function localDag (blockstore: Repo['blockstore'], root: CID, options: { signal?: AbortSignal } = {}): Promise<LocalDag> {
  const seen = new Set<string>()
  const stack: CID[] = [root]
  while (stack.length > 0) {
    const cid = stack.pop() as CID
    const key = cid.toString()
    if (seen.has(key)) continue
    if (!await blockstore.has(cid, options)) return { missing: cid, blocks: seen.size }
    seen.add(key)
    if (cid.code === RAW) continue
    const bytes = await getBlockUnverified(blockstore, cid, options)
    verifyBlock(cid, bytes)
    const children = links(cid, bytes)
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i])
  }
  return { blocks: seen.size }
}

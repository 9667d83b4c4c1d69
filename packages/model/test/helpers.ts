/** Test helpers: walking a UnixFS file's leaves with their byte ranges. */

import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { getVerifiedBlock } from '../src/index.js'
import type { BlockSource } from '../src/index.js'
import type { CID } from 'multiformats/cid'

export interface LeafAt { cid: CID, start: number, end: number }

/** The raw leaves of the UnixFS file at `cid` with their byte ranges in the file. */
export async function fileLeaves (store: BlockSource, cid: CID, start = 0): Promise<LeafAt[]> {
  if (cid.code === raw.code) {
    const bytes = await getVerifiedBlock(store, cid)
    return [{ cid, start, end: start + bytes.byteLength }]
  }
  const node = dagPb.decode(await getVerifiedBlock(store, cid))
  const unixfs = UnixFS.unmarshal(node.Data as Uint8Array)
  const out: LeafAt[] = []
  let at = start
  for (let i = 0; i < node.Links.length; i++) {
    out.push(...await fileLeaves(store, node.Links[i].Hash, at))
    at += Number(unixfs.blockSizes[i])
  }
  return out
}

/** Counts blocks in a MemoryBlockstore-like store. */
export async function countBlocks (store: { getAll(): AsyncIterable<unknown> | Iterable<unknown> }): Promise<number> {
  let n = 0
  for await (const _ of store.getAll()) n++
  return n
}

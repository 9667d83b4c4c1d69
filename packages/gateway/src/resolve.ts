/**
 * Content path resolution: `/ipfs/{cid}/{seg}/{seg}...` to the terminal CID, recording the
 * blocks crossed (sent first in a CAR, path-gateway/trustless-gateway "blocks required to
 * traverse path segments") and the logical roots (`X-Ipfs-Roots`, one per segment).
 *
 * Traversal rules:
 * - UnixFS directory (flat): the link named by the segment.
 * - UnixFS HAMT directory: the entry named by the segment; the sub-shards crossed are path blocks.
 * - TensorSwap model manifest (dag-cbor, `format: 'tensorswap-model'`): the manifest stands for
 *   its `files` UnixFS root, so `/ipfs/{manifest}/{file path}` names a model file; the manifest
 *   block and the files root are both path blocks.
 * - Anything else (a file, a raw block, other dag-cbor/dag-json) has no children: 404 for files
 *   and raw blocks, 501 for IPLD pathing into other codecs, which this gateway does not do.
 *
 * @module
 */

import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { decodeManifest, directoryEntries, entityKind } from '@tensorswap/model'
import { ContentNotFoundError, NotImplementedError } from './errors.js'
import type { BlockReader } from './blocks.js'
import type { EntityKind, Manifest, UnixfsNode } from '@tensorswap/model'
import type { CID } from 'multiformats/cid'

/** Result of {@link resolvePath}. */
export interface Resolved {
  /** The CID the path ends at. */
  terminal: CID
  /** Its block (verified). */
  block: Uint8Array
  /** What it is. */
  kind: EntityKind | 'manifest'
  /** UnixFS node of a dag-pb terminal. */
  node?: UnixfsNode
  /** File size in bytes when `kind` is `'file'`. */
  size?: number
  /** The manifest when `kind` is `'manifest'`. */
  manifest?: Manifest
  /** Blocks crossed before the terminal, in traversal order (CAR responses send them first). */
  pathBlocks: CID[]
  /** `X-Ipfs-Roots`: the root, then the CID each segment resolved to. */
  roots: CID[]
}

/** Decode a dag-cbor block as a manifest; `undefined` when it is other dag-cbor. */
function asManifest (cid: CID, bytes: Uint8Array): Manifest | undefined {
  if (cid.code !== dagCbor.code) return undefined
  let value: any
  try {
    value = dagCbor.decode(bytes)
  } catch {
    // not decodable as dag-cbor: not a manifest; raw/CAR responses can still serve the block
    return undefined
  }
  if (value?.format !== 'tensorswap-model') return undefined
  // a block that claims to be a manifest must be a valid one: NotAManifestError otherwise
  return decodeManifest(bytes, cid.toString())
}

/**
 * Resolve `segments` under `root`.
 *
 * @throws ContentNotFoundError - a segment names nothing, or a path continues under a file
 * @throws NotImplementedError - pathing into dag-cbor/dag-json data other than a manifest
 * @throws BlockNotFoundError, UpstreamFetchError, BlockHashMismatchError - from block reads
 * @throws InvalidDagError, NotAManifestError - malformed UnixFS or manifest blocks
 */
export async function resolvePath (reader: BlockReader, root: CID, segments: string[], options: { signal?: AbortSignal }): Promise<Resolved> {
  const pathBlocks: CID[] = []
  const roots: CID[] = [root]
  let cid = root
  let block = await reader.getBlock(cid, options)
  for (let i = 0; i <= segments.length; i++) {
    const manifest = asManifest(cid, block)
    if (i === segments.length) {
      if (manifest !== undefined) return { terminal: cid, block, kind: 'manifest', manifest, pathBlocks, roots }
      const k = entityKind(cid, block)
      const out: Resolved = { terminal: cid, block, kind: k.kind, pathBlocks, roots }
      if (k.node !== undefined) out.node = k.node
      if (k.size !== undefined) out.size = k.size
      return out
    }
    const seg = segments[i]
    if (manifest !== undefined) {
      // the manifest stands for its files root
      pathBlocks.push(cid)
      cid = manifest.files
      block = await reader.getBlock(cid, options)
    }
    const where = `/${segments.slice(0, i).join('/')}`
    if (cid.code !== dagPb.code) {
      if (cid.code === dagCbor.code || cid.code === 0x0129) {
        throw new NotImplementedError(`cannot follow ${JSON.stringify(seg)} at ${where}: IPLD pathing into ${cid.code === dagCbor.code ? 'dag-cbor' : 'dag-json'} is not supported (only UnixFS and TensorSwap manifests)`)
      }
      throw new ContentNotFoundError(`no ${JSON.stringify(seg)} under ${where}: it is not a directory`)
    }
    const k = entityKind(cid, block)
    if (k.kind !== 'directory' && k.kind !== 'hamt-directory') {
      throw new ContentNotFoundError(`no ${JSON.stringify(seg)} under ${where}: it is not a directory`)
    }
    let found: { cid: CID, shards: CID[] } | undefined
    for await (const entry of directoryEntries(reader, cid, k.node as UnixfsNode, options)) {
      if (entry.name === seg) { found = entry; break }
    }
    if (found === undefined) throw new ContentNotFoundError(`no ${JSON.stringify(seg)} in directory ${where} (${cid})`)
    pathBlocks.push(cid, ...found.shards)
    cid = found.cid
    roots.push(cid)
    block = await reader.getBlock(cid, options)
  }
  // unreachable: the loop returns at i === segments.length
  throw new ContentNotFoundError('path resolution ended early')
}

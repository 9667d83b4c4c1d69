/**
 * Streaming UnixFS file builder: raw leaves, balanced layout, CIDv1 sha2-256.
 *
 * Produces exactly the DAG of `ipfs-unixfs-importer` with `{ cidVersion: 1, rawLeaves: true,
 * layout: balanced({ maxChildrenPerNode }), reduceSingleLeafToSelf: true }` for the same leaves:
 * leaves are grouped `maxChildrenPerNode` at a time into `file` nodes (`blockSizes` = each
 * child's file bytes, link `Tsize` = each child's cumulative DAG size), the resulting nodes are
 * grouped again, until one root remains; a file of one leaf is that raw leaf. Only one
 * pending group per tree level is held, so memory is constant in the file size.
 *
 * @module
 */

import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { rawCid, pbCid } from './blocks.js'
import { FileChangedError } from './errors.js'
import { ShortReadError } from './reader.js'
import type { BlockSink } from './blocks.js'
import type { DataFileRef } from '@tensorswap/blockstore'
import type { LeafRange } from './layout.js'
import type { ByteReader } from './reader.js'
import type { CID } from 'multiformats/cid'

/** A child of a UnixFS file node. */
interface Child {
  cid: CID
  /** File bytes below this child. */
  fileSize: number
  /** Cumulative DAG size (block bytes of this node and all below), the dag-pb link Tsize. */
  tsize: number
}

/** The root of a built file DAG. */
export interface FileRoot {
  cid: CID
  /** File size in bytes. */
  fileSize: number
  /** Cumulative DAG size in bytes (the `Tsize` a directory link to this file carries). */
  tsize: number
}

/** Options of {@link BalancedFileBuilder}. */
export interface BuilderOptions {
  signal?: AbortSignal
  /** Links per node. @default 1024 */
  maxChildrenPerNode: number
  /** Called with each block written (bytes of the block). */
  onBlock?(cid: CID, bytes: number): void
}

/**
 * Incremental balanced-layout builder. Feed leaves in file order with {@link addLeaf}, then
 * call {@link finish} once.
 */
export class BalancedFileBuilder {
  /** levels[k]: children waiting to be grouped into a node of level k+1. */
  private readonly levels: Child[][] = [[]]
  /** nodes already emitted from each level's groups. */
  private readonly emitted: number[] = [0]

  constructor (private readonly sink: BlockSink, private readonly options: BuilderOptions) {}

  /** Adds the next leaf (already stored) of `size` bytes. */
  async addLeaf (cid: CID, size: number): Promise<void> {
    await this.push(0, { cid, fileSize: size, tsize: size })
  }

  private async push (level: number, child: Child): Promise<void> {
    this.levels[level].push(child)
    if (this.levels[level].length === this.options.maxChildrenPerNode) {
      await this.flush(level)
    }
  }

  /** Groups the pending children of `level` into one node and pushes it up. */
  private async flush (level: number): Promise<void> {
    const children = this.levels[level]
    this.levels[level] = []
    this.emitted[level]++
    if (this.levels[level + 1] === undefined) {
      this.levels[level + 1] = []
      this.emitted[level + 1] = 0
    }
    await this.push(level + 1, await this.writeNode(children))
  }

  private async writeNode (children: Child[]): Promise<Child> {
    // the importer drops empty children from parent nodes
    const kept = children.filter(c => c.fileSize > 0)
    const unixfs = new UnixFS({ type: 'file', blockSizes: kept.map(c => BigInt(c.fileSize)) })
    const links = kept.map(c => ({ Name: '', Tsize: c.tsize, Hash: c.cid }))
    const bytes = dagPb.encode(dagPb.prepare({ Data: unixfs.marshal(), Links: links }))
    const cid = pbCid(bytes)
    await this.sink.put(cid, bytes, { signal: this.options.signal })
    this.options.onBlock?.(cid, bytes.byteLength)
    const fileSize = kept.reduce((a, c) => a + c.fileSize, 0)
    const tsize = bytes.byteLength + kept.reduce((a, c) => a + c.tsize, 0)
    return { cid, fileSize, tsize }
  }

  /**
   * Writes the remaining nodes and returns the root.
   *
   * @throws RangeError - no leaf was added
   */
  async finish (): Promise<FileRoot> {
    for (let level = 0; ; level++) {
      const pending = this.levels[level]
      if (pending.length === 1 && this.emitted[level] === 0) {
        // the only item at the top: a single leaf (reduceSingleLeafToSelf) or the root node
        const [root] = pending
        return { cid: root.cid, fileSize: root.fileSize, tsize: root.tsize }
      }
      if (pending.length === 0 && this.emitted[level] === 0) {
        throw new RangeError('no leaves')
      }
      if (pending.length > 0) {
        await this.flush(level)
      }
    }
  }
}

/** Result of {@link writeFileDag}. */
export interface FileDagResult extends FileRoot {
  /** For each piece index, the CIDs of its leaves in order. */
  pieceChunks: Map<number, CID[]>
  /** Blocks written (leaves and nodes). */
  blocks: number
}

/** Options of {@link writeFileDag}. */
export interface WriteFileOptions {
  signal?: AbortSignal
  maxChildrenPerNode: number
  /** Bytes per `read()`; leaves are never split across reads. */
  readSize: number
  /** Called after each read batch with the bytes stored so far for this file. */
  onBytes?(done: number): void
  /**
   * Data file of this file in a model-shaped store: each leaf is put with the placement
   * `{ file: placeIn, offset: <the leaf's offset in the file> }`, so the store lays it out as
   * the file itself. Absent: plain puts.
   */
  placeIn?: DataFileRef
  /** The leaves are already in `placeIn` (its `path` is the source file: `add --no-copy`). */
  present?: boolean
}

/**
 * Streams `leaves` of `reader` into `sink` as raw blocks and builds the balanced UnixFS file
 * DAG above them. Reads `readSize` bytes at a time, each buffer freshly allocated (the
 * blockstore may keep references).
 *
 * @throws FileChangedError - the source is shorter than the layout says (changed since parsing)
 */
export async function writeFileDag (sink: BlockSink, reader: ByteReader, leaves: Iterable<LeafRange>, fileName: string, options: WriteFileOptions): Promise<FileDagResult> {
  let blocks = 0
  const builder = new BalancedFileBuilder(sink, {
    signal: options.signal,
    maxChildrenPerNode: options.maxChildrenPerNode,
    onBlock: () => { blocks++ }
  })
  const pieceChunks = new Map<number, CID[]>()
  let batch: LeafRange[] = []
  let done = 0

  const flush = async (): Promise<void> => {
    if (batch.length === 0) {
      return
    }
    options.signal?.throwIfAborted()
    const start = batch[0].start
    const end = batch[batch.length - 1].end
    let buf: Uint8Array
    try {
      buf = await reader.read(start, end - start, { signal: options.signal })
    } catch (err: any) {
      if (err instanceof ShortReadError || err instanceof RangeError) {
        throw new FileChangedError(`${fileName}: byte ${start}: file changed while importing (${String(err.message)})`)
      }
      throw err
    }
    // hash the whole batch, then store its leaves concurrently: the batch is already in memory,
    // and a durable put (fsync) costs latency, not bandwidth
    const stored = batch.map(leaf => {
      const bytes = buf.subarray(leaf.start - start, leaf.end - start)
      return { leaf, bytes, cid: rawCid(bytes) }
    })
    const placeIn = options.placeIn
    await Promise.all(stored.map(async ({ leaf, cid, bytes }) => sink.put(cid, bytes, placeIn == null ? { signal: options.signal } : { signal: options.signal, placement: { file: placeIn, offset: leaf.start, present: options.present } })))
    for (const { leaf, bytes, cid } of stored) {
      blocks++
      await builder.addLeaf(cid, bytes.byteLength)
      if (leaf.piece !== undefined) {
        let list = pieceChunks.get(leaf.piece)
        if (list === undefined) {
          list = []
          pieceChunks.set(leaf.piece, list)
        }
        list.push(cid)
      }
    }
    done += end - start
    options.onBytes?.(done)
    batch = []
  }

  for (const leaf of leaves) {
    if (batch.length > 0 && leaf.end - batch[0].start > options.readSize) {
      await flush()
    }
    batch.push(leaf)
  }
  await flush()
  const root = await builder.finish()
  return { ...root, pieceChunks, blocks }
}

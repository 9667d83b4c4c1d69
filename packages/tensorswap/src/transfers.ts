/**
 * The fetches a node is running, for `node.transfers()` and the status page: per `get`, the
 * root, when it started, and the block bytes stored so far (from the network, or found already
 * local), counted from its `tensorswap:*:block` progress events (`BlockProgressDetail`). Pure
 * bookkeeping; time is an input (epoch ms).
 *
 * @module
 */

import type { BlockProgressDetail } from '@tensorswap/blockstore'

/** One fetch in progress (a snapshot; bytes are block bytes). */
export interface TransferInfo {
  /** Unique within the node's life. */
  id: number
  /** The root CID fetched. */
  root: string
  /** Start, epoch ms. */
  startedMs: number
  /** Bytes and blocks stored from the network (peers, gateways). */
  bytes: number
  blocks: number
  /** Bytes and blocks found already in the repo (a resumed fetch). */
  bytesLocal: number
  blocksLocal: number
  /** Peers blocks came from. */
  peers: string[]
  /** `bytes` over the time since the start, bytes per second. */
  bytesPerSecond: number
}

interface State { id: number, root: string, startedMs: number, bytes: number, blocks: number, bytesLocal: number, blocksLocal: number, peers: Set<string> }

/** The running fetches of a node. */
export class TransferRegistry {
  readonly #running = new Map<number, State>()
  #ids = 0

  /** A fetch of `root` starts at `nowMs`; returns its id. */
  start (root: string, nowMs: number): number {
    const id = ++this.#ids
    this.#running.set(id, { id, root, startedMs: nowMs, bytes: 0, blocks: 0, bytesLocal: 0, blocksLocal: 0, peers: new Set() })
    return id
  }

  /** Feed one progress event of fetch `id`; events other than `*:block` are ignored. */
  onProgress (id: number, evt: { type: string, detail?: unknown }): void {
    const s = this.#running.get(id)
    if (s == null || !evt.type.endsWith(':block')) return
    const d = evt.detail as BlockProgressDetail | undefined
    if (d == null || typeof d.bytes !== 'number') return
    if (d.from === 'local') {
      s.bytesLocal += d.bytes
      s.blocksLocal++
    } else {
      s.bytes += d.bytes
      s.blocks++
      if (d.peer != null) s.peers.add(d.peer)
    }
  }

  /** Fetch `id` ended (done, failed or aborted). */
  end (id: number): void {
    this.#running.delete(id)
  }

  /** The running fetches, oldest first, at `nowMs`. */
  list (nowMs: number): TransferInfo[] {
    return [...this.#running.values()].map(s => ({
      id: s.id,
      root: s.root,
      startedMs: s.startedMs,
      bytes: s.bytes,
      blocks: s.blocks,
      bytesLocal: s.bytesLocal,
      blocksLocal: s.blocksLocal,
      peers: [...s.peers],
      bytesPerSecond: s.bytes / Math.max(0.001, (nowMs - s.startedMs) / 1000)
    }))
  }
}

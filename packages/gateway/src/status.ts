/**
 * The node status behind the status page (spec/gateway.md "Status"): `GET /api/v0/status`
 * answers one JSON object built by {@link buildStatus} from a {@link StatusSource} (the running
 * node's peer id and addresses, connected peers with health and throughput, fetches in
 * progress, throughput history, the provided roots) plus, per root, its files and tensors read
 * from the blockstore with `@tensorswap/model`'s `listModel` (cached: a root's listing never
 * changes). Read-only: nothing here changes state.
 *
 * The gateway does not depend on the exchange; the node side (`tensorswap serve`) fills the
 * source from `node.peers()`, `node.transfers()`, `node.health.history()` and the provided-roots
 * record.
 *
 * @module
 */

import { logger } from '@libp2p/logger'
import { listModel, type BlockSource } from '@tensorswap/model'
import { MAX_STATUS_ROOTS, MAX_STATUS_TENSORS_PER_ROOT } from './constants.js'
import type { CID } from 'multiformats/cid'

const log = logger('tensorswap:gateway:status')

/** One point of the node-wide throughput history (bytes per second over one sample interval). */
export interface StatusThroughputPoint { atMs: number, sentBytesPerSecond: number, receivedBytesPerSecond: number }

/** One connected peer (the shape of `node.peers()` in the `tensorswap` package). */
export interface StatusPeer {
  peerId: string
  addrs: string[]
  protocol?: string
  source: string
  health?: { rttMs?: number, successRate: number, score: number, consecutiveFailures: number }
  bytesSent: number
  bytesReceived: number
  throughput: { sentBytesPerSecond: number, receivedBytesPerSecond: number }
}

/** One fetch in progress (the shape of `node.transfers()`). */
export interface StatusTransfer {
  id: number
  root: string
  startedMs: number
  bytes: number
  blocks: number
  bytesLocal: number
  blocksLocal: number
  peers: string[]
  bytesPerSecond: number
  /** Bytes of the whole DAG when known (the model's file sizes), for a percentage. */
  totalBytes?: number
}

/** What the node tells the status endpoint; each call is a fresh snapshot. */
export interface StatusSource {
  peerId: string
  addrs: () => string[]
  peers: () => StatusPeer[]
  transfers: () => StatusTransfer[]
  throughput: () => StatusThroughputPoint[]
  /** The roots the node holds and provides (pinned by `add` or a completed `get`). */
  roots: (options: { signal?: AbortSignal }) => Promise<CID[]>
  /** Bandwidth limits in force, bytes/s (absent: none). */
  limits?: () => Record<string, number | undefined>
}

/** A root with its files and tensors. */
export interface StatusRoot {
  root: string
  name?: string
  files: Array<{ path: string, cid: string, bytes: number }>
  tensors: Array<{ name: string, file: string, dtype: string, shape: number[], bytes: number }>
  /** Tensors left out beyond {@link MAX_STATUS_TENSORS_PER_ROOT}. */
  tensorsOmitted: number
  /** Why the listing failed (a missing block, not a model), when it did. */
  error?: string
}

/** The body of `GET /api/v0/status`. */
export interface StatusSnapshot {
  peerId: string
  addrs: string[]
  /** Server time, epoch ms. */
  now: number
  peers: StatusPeer[]
  transfers: StatusTransfer[]
  throughput: StatusThroughputPoint[]
  roots: StatusRoot[]
  limits: Record<string, number | undefined>
}

/** Listings by root CID string (immutable content: computed once). */
export type ListingCache = Map<string, StatusRoot>

/**
 * One status snapshot.
 *
 * @param cache - listings of earlier calls (pass the same map each time)
 * @throws the source's errors (e.g. the datastore's from `roots`); a root whose listing fails
 *   is reported with `error`, not thrown
 */
export async function buildStatus (source: StatusSource, blockstore: BlockSource, cache: ListingCache, options: { signal?: AbortSignal } = {}): Promise<StatusSnapshot> {
  const roots: StatusRoot[] = []
  for (const cid of (await source.roots(options)).slice(0, MAX_STATUS_ROOTS)) {
    const key = cid.toString()
    let entry = cache.get(key)
    if (entry == null) {
      entry = await listRoot(blockstore, cid, options)
      if (entry.error == null) cache.set(key, entry)
    }
    roots.push(entry)
  }
  const totals = new Map(roots.map(r => [r.root, r.files.reduce((n, f) => n + f.bytes, 0)]))
  return {
    peerId: source.peerId,
    addrs: source.addrs(),
    now: Date.now(),
    peers: source.peers(),
    transfers: source.transfers().map(t => totals.has(t.root) ? { ...t, totalBytes: totals.get(t.root) } : t),
    throughput: source.throughput(),
    roots,
    limits: source.limits?.() ?? {}
  }
}

async function listRoot (blockstore: BlockSource, cid: CID, options: { signal?: AbortSignal }): Promise<StatusRoot> {
  try {
    const listing = await listModel(blockstore, cid, options)
    return {
      root: cid.toString(),
      ...(listing.manifest?.name != null ? { name: listing.manifest.name } : {}),
      files: listing.files.map(f => ({ path: f.path, cid: f.cid.toString(), bytes: f.size })),
      tensors: listing.tensors.slice(0, MAX_STATUS_TENSORS_PER_ROOT).map(t => ({ name: t.name, file: t.file, dtype: t.dtype, shape: [...t.shape], bytes: t.length })),
      tensorsOmitted: Math.max(0, listing.tensors.length - MAX_STATUS_TENSORS_PER_ROOT)
    }
  } catch (err: any) {
    options.signal?.throwIfAborted()
    log('listing %c failed - %e', cid, err)
    return { root: cid.toString(), files: [], tensors: [], tensorsOmitted: 0, error: `${String(err?.name ?? 'Error')}: ${String(err?.message ?? err)}` }
  }
}

/**
 * Turn the libraries' progress events into progress-bar updates.
 */
import type { ByteProgress } from './output.js'
import type { BlockProgressDetail, ExportCarProgressEvents, ImportCarProgressEvents } from '@tensorswap/blockstore'
import type { ExportProgressEvents, ImportProgressEvents } from '@tensorswap/model'
import type { ProgressEvent } from 'progress-events'
import type { CID } from 'multiformats/cid'
import { decodeUnixfs } from '@tensorswap/model'

/** The events {@link feedProgress} understands (others of these types are ignored). */
export type FeedableProgressEvent = ImportProgressEvents | ExportProgressEvents | ImportCarProgressEvents | ExportCarProgressEvents

/** A `tensorswap:*:block` event: every one carries the one {@link BlockProgressDetail} shape. */
export type BlockProgressEvent = ProgressEvent<`${string}:block`, BlockProgressDetail>

/** Whether `evt` is a `tensorswap:*:block` event (see {@link BlockProgressEvent}). */
export function isBlockProgress (evt: { type: string }): evt is BlockProgressEvent {
  return evt.type.endsWith(':block')
}

/**
 * Feed one progress event into a bar: cumulative events (`tensorswap:import:bytes`,
 * `tensorswap:export:bytes`: detail `{ totalBytes, importSize? }`) set the position, per-block
 * events (`*:block`, detail `BlockProgressDetail`) add their `bytes`; other events are ignored.
 */
export function feedProgress (bar: ByteProgress, evt: FeedableProgressEvent): void {
  if (evt.type === 'tensorswap:import:bytes') {
    if (typeof evt.detail.importSize === 'number') bar.setTotal(evt.detail.importSize)
    bar.update(evt.detail.totalBytes)
  } else if (evt.type === 'tensorswap:export:bytes') {
    bar.update(evt.detail.totalBytes)
  } else if (isBlockProgress(evt)) {
    bar.add(evt.detail.bytes)
  }
}

/**
 * Bytes of the DAG under a UnixFS dag-pb block (file or directory): the block's own length
 * plus its links' `Tsize` (each the cumulative size of the blocks under that link), i.e. the
 * bytes a whole fetch of it moves; `undefined` when the block is not UnixFS.
 * @throws InvalidDagError - the bytes are not dag-pb
 */
export function unixfsDagBytes (cid: CID, bytes: Uint8Array): number | undefined {
  const n = decodeUnixfs(cid, bytes)
  if (n == null) return undefined
  return bytes.byteLength + n.node.Links.reduce((a, l) => a + (l.Tsize ?? 0), 0)
}

/**
 * Turn the libraries' progress events into progress-bar updates.
 */
import type { ByteProgress } from './output.js'

/**
 * Feed one progress event into a bar: cumulative events (`tensorswap:import:bytes`,
 * `tensorswap:export:bytes`: detail `{ totalBytes, importSize? }`) set the position, per-block
 * events (detail `{ bytes }`) add to it; other events are ignored.
 */
export function feedProgress (bar: ByteProgress, evt: { type: string, detail?: unknown }): void {
  const d = evt.detail as { bytes?: unknown, totalBytes?: unknown, importSize?: unknown } | undefined
  if (typeof d?.totalBytes === 'number') {
    if (typeof d.importSize === 'number') bar.setTotal(d.importSize)
    bar.update(d.totalBytes)
  } else if (typeof d?.bytes === 'number' && evt.type.endsWith(':block')) {
    bar.add(d.bytes)
  }
}

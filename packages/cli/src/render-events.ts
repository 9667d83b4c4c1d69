/**
 * The client side of a command's events (spec/api.md §3): `progress` events drive the same
 * cli-progress bars a local run draws, `log` lines go to stderr, `stdout` bytes to stdout. One
 * renderer for a local run and for a run through the daemon, so both print the same.
 */
import { byteProgress, info, type ByteProgress, type GlobalOptions } from './output.js'
import type { ApiEvent, ProgressApiEvent } from './api/protocol.js'

/** Renders a command's `progress`, `log` and `stdout` events. */
export interface EventRenderer {
  /** Render one event; resolves once stdout took its bytes (back-pressure). `result`/`error` are ignored. */
  handle(event: ApiEvent): Promise<void> | undefined
  /** Remove every bar still drawn. */
  stop(): void
}

interface DrawnBar { bar: ByteProgress, moved: number, local: number, total: number }

/** A renderer printing as `opts` (`--json`, `--quiet`) ask, on this process's stdout/stderr. */
export function createEventRenderer (opts: GlobalOptions, stdout: NodeJS.WritableStream = process.stdout): EventRenderer {
  const bars = new Map<number, DrawnBar>()
  let current: DrawnBar | undefined
  const progress = (e: ProgressApiEvent): void => {
    let b = bars.get(e.bar)
    if (b == null) {
      b = { bar: byteProgress(opts, e.label, e.extra ?? '', e.fields ?? {}), moved: 0, local: 0, total: 0 }
      bars.set(e.bar, b)
    }
    current = b
    if (e.total !== b.total) { b.total = e.total; b.bar.setTotal(e.total) }
    if (e.local > b.local) { b.bar.add(e.local - b.local, e.fields, true); b.local = e.local }
    if (e.moved !== b.moved) { b.bar.add(e.moved - b.moved, e.fields); b.moved = e.moved }
    if (e.done === true) {
      b.bar.stop()
      if (current === b) current = undefined
    }
  }
  return {
    handle (e) {
      if (e.type === 'progress') progress(e)
      else if (e.type === 'log') {
        if (current != null) current.bar.log(e.line)
        else info(opts, e.line)
      } else if (e.type === 'stdout') {
        if (!stdout.write(e.data)) return new Promise<void>(resolve => stdout.once('drain', () => { resolve() }))
      }
      return undefined
    },
    stop () { for (const b of bars.values()) b.bar.stop() }
  }
}

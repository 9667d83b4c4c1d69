/**
 * The execute/render split of a command (as Kubo's commands): `execute` runs where the repo is
 * open (this process, or the daemon that holds the repo), reports progress and diagnostics as
 * API events (spec/api.md §3) and returns the result object `--json` prints; `render` prints it
 * in the client (text, `--json`, exit code). The same events drive the same bars either way.
 */
import { Writable } from 'node:stream'
import type { Repo } from '@tensorswap/blockstore'
import type { TensorSwapInit, TensorSwapNode } from 'tensorswap'
import type { CID } from 'multiformats/cid'
import { API_PROGRESS_INTERVAL_MS } from './constants.js'
import type { ByteProgress, GlobalOptions } from './output.js'
import { encodeStdoutFrame, type LogApiEvent, type OptionTypes, type ProgressApiEvent } from './api/protocol.js'

/** Where a command executes. */
export interface CommandContext {
  /** The open repo. */
  repo: Repo
  /**
   * The running node: the daemon's (always, in the daemon), or one started for this command
   * (when its {@link CommandSpec.localNode} asked for one).
   */
  node?: TensorSwapNode
  /** True when running inside `serve` (the daemon). */
  daemon: boolean
  /** True when this run created the repo (never through the daemon). */
  created: boolean
  /** Aborted when the client disconnects (Ctrl-C) or the daemon stops. */
  signal: AbortSignal
  /** A progress bar whose state is sent as `progress` events (see {@link ByteProgress}). */
  bar(label: string, extra?: string, initial?: Record<string, string | number>): ByteProgress
  /** A diagnostic line on the client's stderr (unless `--quiet`/`--json`). */
  log(line: string): void
  /** The client's stdout (bytes: `export -o -`, `car export -o -`, `dag walk` lines). */
  stdout: NodeJS.WritableStream
  /** The client's stdin, for a command that reads it (`car import -`, `dag put`). */
  stdin?: AsyncIterable<Uint8Array>
  /**
   * Tell the node a block was stored (in the daemon: peers waiting for it are served at once);
   * a no-op without a node.
   */
  stored(cid: CID): void
}

/**
 * One command that takes `--repo`: its options (JSON-typed, the positional arguments
 * included), how to check them, run it and print its result.
 */
export interface CommandSpec<O extends object = any, R = any> {
  /** The API name: `add`, `car/export`, `dag/put` (`POST /api/v1/<name>`). */
  name: string
  /** Allowed options and their JSON types. */
  options: OptionTypes
  /** Options holding paths, made absolute by the client (relative to its working directory). */
  paths?: ReadonlyArray<keyof O & string>
  /** Create the repo when it does not exist (only `add`, `get`; see `openCliRepo`). */
  create?: boolean
  /** Whether the command reads the client's stdin with these options. */
  stdin?: (o: O) => boolean
  /** Ctrl-C prints `interrupted, run again to resume` and exits 130 (see `interruptible`). */
  interruptible?: boolean
  /**
   * Usage checks that need no repo, run by the client before anything else and again by the
   * daemon (its requests may come from anyone holding the socket).
   * @throws {UsageError}
   */
  validate?: (o: O) => void
  /**
   * When run without a daemon: the node to start for this command (`undefined`: none). In the
   * daemon the daemon's node is used.
   */
  localNode?: (o: O, repo: Repo) => Partial<TensorSwapInit> | undefined
  /** Run the command. @returns the result object (what `--json` prints) */
  execute: (ctx: CommandContext, o: O) => Promise<R>
  /** Print the result: text or `--json` on stdout, and set `process.exitCode` when not 0. */
  render: (r: R, opts: GlobalOptions) => void
}

/** Define a command (identity, for type inference). */
export function defineCommand<O extends object, R> (spec: CommandSpec<O, R>): CommandSpec<O, R> {
  return spec
}

/** What {@link createContext} needs. */
export interface ContextInit {
  repo: Repo
  node?: TensorSwapNode
  daemon: boolean
  created?: boolean
  signal: AbortSignal
  /** Receives the command's `progress`/`log` events. */
  emit: (event: ProgressApiEvent | LogApiEvent) => void
  stdout: NodeJS.WritableStream
  stdin?: AsyncIterable<Uint8Array>
}

/** Build a {@link CommandContext} whose bars and log lines become `emit`ted events. */
export function createContext (init: ContextInit): CommandContext {
  let bars = 0
  const { node } = init
  return {
    repo: init.repo,
    node,
    daemon: init.daemon,
    created: init.created ?? false,
    signal: init.signal,
    stdout: init.stdout,
    stdin: init.stdin,
    bar: (label, extra, initial) => eventBar(bars++, label, extra, initial, init.emit),
    log: (line) => { init.emit({ type: 'log', line }) },
    stored: (cid) => { node?.exchange.notifyNewBlock(cid) }
  }
}

/**
 * A {@link ByteProgress} that sends its state as `progress` events: at most every
 * `API_PROGRESS_INTERVAL_MS`, the last change always (a trailing timer), and a final one with
 * `done: true` on `stop()`.
 */
export function eventBar (id: number, label: string, extra: string | undefined, initial: Record<string, string | number> | undefined, emit: (e: ProgressApiEvent | LogApiEvent) => void): ByteProgress {
  const s = { moved: 0, local: 0, total: 0 }
  let fields: Record<string, string | number> = { ...initial }
  let lastSent = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false
  const send = (done = false): void => {
    if (timer != null) { clearTimeout(timer); timer = undefined }
    lastSent = performance.now()
    emit({ type: 'progress', bar: id, label, ...(extra != null ? { extra } : {}), ...s, fields, ...(done ? { done } : {}) })
  }
  const changed = (): void => {
    if (stopped) return
    const wait = API_PROGRESS_INTERVAL_MS - (performance.now() - lastSent)
    if (wait <= 0) send()
    else timer ??= setTimeout(() => { timer = undefined; if (!stopped) send() }, wait)
  }
  send()
  return {
    setTotal (bytes) { s.total = bytes; changed() },
    add (bytes, payload, local = false) { if (local) s.local += bytes; else s.moved += bytes; fields = { ...fields, ...payload }; changed() },
    update (done, payload) { s.moved = done - s.local; fields = { ...fields, ...payload }; changed() },
    log (line) { emit({ type: 'log', line }) },
    stop () { if (stopped) return; send(true); stopped = true }
  }
}

/**
 * A Writable whose chunks become stdout frames (spec/api.md §3: a header line, then the raw
 * bytes), for commands that write bytes to the client's stdout through the daemon. `write`
 * returns what the socket's last write did; on `false` the next chunk waits for `drained`
 * (back-pressure).
 */
export function eventStdout (write: (piece: Uint8Array) => boolean, drained: () => Promise<void>): NodeJS.WritableStream {
  return new Writable({
    write (chunk: Buffer, _enc, cb) {
      let ok = true
      for (const piece of encodeStdoutFrame(chunk)) ok = write(piece)
      if (ok) cb()
      else drained().then(() => { cb() }, cb)
    }
  })
}

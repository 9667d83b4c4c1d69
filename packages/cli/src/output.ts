/**
 * Shared output helpers for every `tensorswap` command: data to stdout, diagnostics and
 * progress bars to stderr (only when stderr is a TTY), `--json` as one object on stdout,
 * exit codes by error class (0 ok, 1 runtime, 2 usage).
 */
import cliProgress from 'cli-progress'
import { InterruptedError, RemoteCommandError, UsageError } from './errors.js'

/** Options every command accepts. */
export interface GlobalOptions {
  /** Repo directory; default `TENSORSWAP_PATH` or `~/.tensorswap`. */
  repo?: string
  /** Print one JSON object on stdout instead of text. */
  json?: boolean
  /** No progress bars, no diagnostics on stderr. */
  quiet?: boolean
}

/**
 * Print a command's result: `json` as one line of JSON when `--json` is set, else the text
 * lines (the last line being the result a script wants, e.g. a CID).
 */
export function printResult (opts: GlobalOptions, json: unknown, lines: string[]): void {
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(json) + '\n')
  } else {
    for (const line of lines) process.stdout.write(line + '\n')
  }
}

/** Print a diagnostic line on stderr unless `--quiet` or `--json` is set. */
export function info (opts: GlobalOptions, line: string): void {
  if (opts.quiet !== true && opts.json !== true) process.stderr.write(line + '\n')
}

/**
 * A byte-counting progress bar; a no-op when stderr is not a TTY or `--quiet` is set. On a
 * TTY, `stop()` replaces the bar with its {@link summaryLine}.
 */
export interface ByteProgress {
  /** Set the total in bytes once it is known. */
  setTotal(bytes: number): void
  /**
   * Add `bytes` processed. `local` bytes (found in the repo, not moved) advance the bar but
   * not its rate, so a resumed run shows the rate of what it really fetches.
   */
  add(bytes: number, payload?: Record<string, string | number>, local?: boolean): void
  /** Set the bytes processed so far (for cumulative progress events). */
  update(done: number, payload?: Record<string, string | number>): void
  /** Print a diagnostic line above the bar (on stderr unless `--quiet`/`--json`, TTY or not). */
  log(line: string): void
  /** Remove the bar; later calls do nothing (no frame is drawn after the result is printed). */
  stop(): void
}

/** Format a byte count for humans: `12.3 MB` (1 MB = 1e6 bytes). */
export function formatBytes (bytes: number): string {
  if (bytes < 1e3) return `${bytes} B`
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`
  return `${(bytes / 1e9).toFixed(2)} GB`
}

/** The counters behind one progress frame. */
export interface ProgressCounters {
  /** Bytes moved (fetched, read, written). */
  moved: number
  /** Bytes found in the repo already (count toward done, not toward the rate). */
  local: number
  /** Expected total bytes; 0 while unknown. */
  total: number
  /** Seconds since the bar started. */
  seconds: number
}

/**
 * The `{done}`, `{all}` and `{rate}` fields of a frame: `done` = moved + local, `all` the
 * total (`?` while unknown), `rate` MB/s of the moved bytes only (1 MB = 1e6 bytes).
 */
export function progressFields (c: ProgressCounters): { done: string, all: string, rate: string } {
  return {
    done: formatBytes(c.moved + c.local),
    all: c.total > 0 ? formatBytes(c.total) : '?',
    rate: (c.moved / 1e6 / Math.max(c.seconds, 1e-3)).toFixed(1)
  }
}

/**
 * The one line a bar leaves on a terminal when it ends (it replaces the bar):
 * `get: 5.2 MB in 1.93 s, 2.7 MB/s, 2 peers, 3.1 MB already here`; the rate counts moved bytes
 * only (local ones were not moved); `peers` when the bar has that field.
 */
export function summaryLine (label: string, c: ProgressCounters, peers?: number): string {
  const parts = [`${label}: ${formatBytes(c.moved)} in ${c.seconds.toFixed(2)} s`, `${progressFields(c).rate} MB/s`]
  if (peers !== undefined) parts.push(`${peers} ${peers === 1 ? 'peer' : 'peers'}`)
  if (c.local > 0) parts.push(`${formatBytes(c.local)} already here`)
  return parts.join(', ')
}

/** The line a resumed `get` prints: `resuming: 12.3 MB already here`. */
export function resumeLine (localBytes: number): string {
  return `resuming: ${formatBytes(localBytes)} already here`
}

/**
 * Create a progress bar on stderr showing bytes, MB/s and ETA (and any `payload` fields named
 * in `extra`, e.g. ` | peers {peers}`, starting from `initial`, e.g. `{ peers: 0 }`).
 */
export function byteProgress (opts: GlobalOptions, label: string, extra = '', initial: Record<string, string | number> = {}): ByteProgress {
  if (opts.quiet === true || process.stderr.isTTY !== true) {
    return { setTotal () {}, add () {}, update () {}, log (line) { info(opts, line) }, stop () {} }
  }
  const started = performance.now()
  const c: ProgressCounters = { moved: 0, local: 0, total: 0, seconds: 0 }
  let stopped = false
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${label} [{bar}] {percentage}% | {done}/{all} | {rate} MB/s | ETA {eta_formatted}${extra}`,
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: 50
  }, cliProgress.Presets.shades_classic)
  const payload = (): Record<string, string> => {
    c.seconds = (performance.now() - started) / 1000
    return progressFields(c)
  }
  // the `extra` fields hold their last value (from `initial` until the first update names them)
  let fields: Record<string, string | number> = { ...initial }
  const draw = (extraPayload?: Record<string, string | number>): void => {
    fields = { ...fields, ...extraPayload }
    bar.update(c.moved + c.local, { ...payload(), ...fields })
  }
  bar.start(1, 0, { ...payload(), ...fields })
  return {
    setTotal (bytes) { if (stopped) return; c.total = bytes; bar.setTotal(Math.max(bytes, 1)) },
    add (bytes, extraPayload, local = false) { if (stopped) return; if (local) c.local += bytes; else c.moved += bytes; draw(extraPayload) },
    update (n, extraPayload) { if (stopped) return; c.moved = n - c.local; draw(extraPayload) },
    log (line) {
      if (opts.json === true) return
      process.stderr.write(`\r\x1b[K${line}\n`)
      if (!stopped) draw()
    },
    stop () {
      if (stopped) return
      stopped = true
      bar.stop()
      // what the bar did stays as one line (bytes, time, MB/s, peers)
      if (c.moved + c.local > 0 && opts.json !== true) {
        const peers = Number(fields.peers)
        process.stderr.write(summaryLine(label, { ...c, seconds: (performance.now() - started) / 1000 }, 'peers' in fields && Number.isFinite(peers) ? peers : undefined) + '\n')
      }
    }
  }
}

/**
 * Map an error to the process exit code: 2 for usage errors, 1 for everything else (Ctrl-C:
 * 130, see {@link interruptible}); an error the daemon reported keeps the code it computed.
 */
export function exitCodeFor (err: unknown): number {
  if (err instanceof RemoteCommandError) return err.exitCode
  const code = (err as { code?: unknown } | undefined)?.code
  // DOMException and libp2p errors carry numeric or absent codes: only commander's strings count
  return err instanceof UsageError || (typeof code === 'string' && code.startsWith('commander.')) ? 2 : 1
}

/**
 * Print an error as one line on stderr: `tensorswap: <Name>: <message>`, or with `--json`
 * (`json`) the JSON object `{"error": {"name", "message"}}`.
 */
export function printError (err: unknown, json = false): void {
  const e = err instanceof Error ? err : new Error(String(err))
  const msg = e.message.split('\n')[0]
  if (json) process.stderr.write(JSON.stringify({ error: { name: e.name, message: msg } }) + '\n')
  else process.stderr.write(`tensorswap: ${e.name}: ${msg}\n`)
}

/**
 * Print commander's parse error as one line on stderr (a {@link UsageError}): an unknown
 * command as `tensorswap: unknown command 'x'. See 'tensorswap --help'.`, anything else as
 * `tensorswap: UsageError: <message>`; with `json` as `{"error": {"name": "UsageError", "message"}}`.
 */
export function printUsageError (err: { code: string, message: string }, json = false): void {
  const message = err.message.replace(/^error: /, '').split('\n')[0]
  if (json) {
    process.stderr.write(JSON.stringify({ error: { name: UsageError.name, message } }) + '\n')
  } else if (err.code === 'commander.unknownCommand') {
    const m = /'([^']*)'/.exec(message)
    process.stderr.write(`tensorswap: unknown command '${m?.[1] ?? ''}'. See 'tensorswap --help'.\n`)
  } else {
    process.stderr.write(`tensorswap: ${UsageError.name}: ${message}\n`)
  }
}

/**
 * Run `fn`; SIGINT (Ctrl-C) ends the process with `tensorswap: InterruptedError: interrupted,
 * run again to resume` on stderr and exit code 130. Nothing is lost: every block is stored
 * atomically (FsBlockstore: temp file + rename) and files are written as `NAME.part`, so the
 * next run resumes. (Aborting the library's fetch by signal instead leaves an unhandled
 * rejection in the exchange today, so the process is ended here.)
 */
export async function interruptible<T> (fn: () => Promise<T>): Promise<T> {
  const onSigint = (): void => {
    process.stderr.write(`tensorswap: ${InterruptedError.name}: interrupted, run again to resume\n`)
    process.exit(130)
  }
  process.once('SIGINT', onSigint)
  try {
    return await fn()
  } finally {
    process.off('SIGINT', onSigint)
  }
}

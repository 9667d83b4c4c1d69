/**
 * Shared output helpers for every `tensorswap` command: data to stdout, diagnostics and
 * progress bars to stderr (only when stderr is a TTY), `--json` as one object on stdout,
 * exit codes by error class (0 ok, 1 runtime, 2 usage).
 */
import cliProgress from 'cli-progress'
import { UsageError } from './errors.js'

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

/** A byte-counting progress bar; a no-op when stderr is not a TTY or `--quiet` is set. */
export interface ByteProgress {
  /** Set the total in bytes once it is known. */
  setTotal(bytes: number): void
  /** Add `bytes` transferred/processed. */
  add(bytes: number, payload?: Record<string, string | number>): void
  /** Set the bytes processed so far (for cumulative progress events). */
  update(done: number, payload?: Record<string, string | number>): void
  /** Remove the bar. */
  stop(): void
}

/** Format a byte count for humans: `12.3 MB` (1 MB = 1e6 bytes). */
export function formatBytes (bytes: number): string {
  if (bytes < 1e3) return `${bytes} B`
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`
  return `${(bytes / 1e9).toFixed(2)} GB`
}

/**
 * Create a progress bar on stderr showing bytes, MB/s and ETA (and any `payload` fields named
 * in `extra`, e.g. `peers`).
 */
export function byteProgress (opts: GlobalOptions, label: string, extra = ''): ByteProgress {
  if (opts.quiet === true || process.stderr.isTTY !== true) {
    return { setTotal () {}, add () {}, update () {}, stop () {} }
  }
  const started = performance.now()
  let done = 0
  let total = 0
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${label} [{bar}] {percentage}% | {done}/{all} | {rate} MB/s | ETA {eta_formatted}${extra}`,
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: 50
  }, cliProgress.Presets.shades_classic)
  const payload = (): Record<string, string> => ({
    done: formatBytes(done),
    all: total > 0 ? formatBytes(total) : '?',
    rate: (done / 1e6 / Math.max((performance.now() - started) / 1000, 1e-3)).toFixed(1)
  })
  bar.start(1, 0, payload())
  return {
    setTotal (bytes) { total = bytes; bar.setTotal(Math.max(bytes, 1)) },
    add (bytes, extraPayload) { done += bytes; bar.update(done, { ...payload(), ...extraPayload }) },
    update (n, extraPayload) { done = n; bar.update(done, { ...payload(), ...extraPayload }) },
    stop () { bar.stop() }
  }
}

/** Map an error to the process exit code: 2 for usage errors, 1 for everything else. */
export function exitCodeFor (err: unknown): number {
  return err instanceof UsageError || (err as { code?: string })?.code?.startsWith('commander.') === true ? 2 : 1
}

/** Print an error as one line on stderr: `tensorswap: <Name>: <message>`. */
export function printError (err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err))
  const msg = e.message.split('\n')[0]
  process.stderr.write(`tensorswap: ${e.name}: ${msg}\n`)
}

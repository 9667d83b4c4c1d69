/**
 * The contract between the bench harness (bench/run.ts) and a case file
 * (bench/cases/*.ts). A case file exports `cases: BenchCase[]` and, when run as a script
 * (`node cases/<file>.js <role> <json params>`), plays the seeder or the leecher and
 * prints {@link BenchEvent}s as JSON lines on stdout.
 *
 * Adding a case = adding one file to bench/cases/ that exports `cases` and calls
 * `runRoles(import.meta.url, { seeder, leecher })` (bench/lib/child.ts).
 *
 * @module
 */

/** One benchmark case: a (seeder, leecher) pair of processes moving `sizeBytes`. */
export interface BenchCase {
  /** Unique id, `<family>/<variant>`, e.g. `libp2p-raw/quic`. */
  id: string
  /** Human label for the results table. */
  label: string
  /** Family, used to group rows (`raw`, `helia`, `exchange`, ...). */
  family: string
  /**
   * The case moves a fixed payload whatever `--size` says (e.g. a real model set); `--quick`
   * skips it unless `--case` names it.
   */
  fixedSize?: boolean
  /** Case-specific parameters passed to both roles as JSON. */
  params: Record<string, unknown>
}

/** Parameters every role receives, plus the case's own `params`. */
export interface RoleParams {
  /** Bytes to transfer. */
  sizeBytes: number
  /** Case params (see {@link BenchCase.params}). */
  [key: string]: unknown
}

/** The seeder's `ready` line: where and what to fetch. */
export interface ReadyEvent {
  event: 'ready'
  /** Multiaddrs / host:port the leecher dials. */
  addrs: string[]
  /** Anything else the leecher needs (e.g. a root CID). */
  [key: string]: unknown
}

/** The leecher's measurement. Times are ms from the leecher's request start. */
export interface ResultEvent {
  event: 'result'
  /** Bytes received (payload only). */
  bytes: number
  /** Request start to last byte, ms. */
  elapsedMs: number
  /** Request start to first payload byte, ms. */
  ttfbMs: number
  /** Connection set-up (dial, handshake) before the request, ms. */
  connectMs: number
  /**
   * When the measured work ran in a child process of the leecher (the import cases): that
   * process's peak RSS in bytes and CPU seconds, reported in place of the leecher's own.
   */
  workerPeakRssBytes?: number
  workerCpuSeconds?: number
  /** Payload bytes this case moves when it is fixed by the case rather than `--size`. */
  expectedBytes?: number
  /** Case-specific extras (block count, ...). */
  [key: string]: unknown
}

/** Resource usage of one process during the transfer phase. */
export interface UsageEvent {
  event: 'usage'
  /** Peak resident set since `ready`, bytes (VmHWM after a clear_refs reset; whole-process peak where reset is unavailable). */
  peakRssBytes: number
  /** User + system CPU seconds spent since `ready`. */
  cpuSeconds: number
}

/** Any JSON line a role prints. */
export type BenchEvent = ReadyEvent | ResultEvent | UsageEvent | { event: 'log', msg: string }

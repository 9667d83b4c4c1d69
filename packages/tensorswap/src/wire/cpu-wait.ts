/**
 * How much of the time this process's main thread waits for a CPU: the share of its runnable
 * time spent on a run queue rather than running, from Linux's `/proc/self/schedstat` (the
 * thread group leader's time on a CPU and time waiting on a run queue, both in ns;
 * kernel.org Documentation/scheduler/sched-stats.rst).
 *
 * Wire compression (spec/tensorswap.md §12) trades CPU for link time. That pays while the CPU
 * is there to spend; on an oversubscribed machine the compressor (and the peer's decompressor)
 * take CPU the exchange itself is waiting for. Measured here: one `tensorswap get` from one
 * seeder on 2 cores waits 0.13 of its runnable time; six leechers and their seeder on the same
 * 2 cores wait 0.74-0.75 (every process CPU-bound: bench/README.md, stop 31).
 *
 * The sampler reads the file at most once per `intervalMs` and reports the share over the last
 * `windowMs` or more (over the thread's life until it has a reading that old), so a burst shorter
 * than the window (other processes starting next to a seeder) does not turn compression off;
 * where the file does not exist (not Linux) it reports nothing.
 *
 * @module
 */

import { readFileSync } from 'node:fs'
import { logger } from '@libp2p/logger'
import { CPU_WAIT_SAMPLE_MS, CPU_WAIT_WINDOW_MS } from '../constants.js'

const log = logger('tensorswap:exchange:cpu-wait')

/** Time on a CPU and time waiting on a run queue, ns; `undefined` when not available. */
export type SchedstatReader = () => { runNs: number, waitNs: number } | undefined

/** Reads `/proc/self/schedstat` (`undefined` where it does not exist or does not parse). */
export const readSchedstat: SchedstatReader = () => {
  let text: string
  try {
    text = readFileSync('/proc/self/schedstat', 'utf8')
  } catch (err: any) {
    if (err?.code === 'ENOENT' || err?.code === 'EACCES') return undefined
    throw err
  }
  const [run, wait] = text.trim().split(/\s+/).map(Number)
  return Number.isFinite(run) && Number.isFinite(wait) ? { runNs: run, waitNs: wait } : undefined
}

/** Options of {@link CpuWait}. */
export interface CpuWaitInit {
  /** Where the counters come from. @default {@link readSchedstat} */
  read?: SchedstatReader
  /** Shortest interval between two reads, ms. @default {@link CPU_WAIT_SAMPLE_MS} */
  intervalMs?: number
  /** The share is taken over at least this long, ms (a burst shorter than it does not rule). @default {@link CPU_WAIT_WINDOW_MS} */
  windowMs?: number
}

interface Reading { runNs: number, waitNs: number, atMs: number }

/**
 * The main thread's run-queue wait share over the last `windowMs` or more (see the module
 * comment). Before a reading that old exists, the share is over the thread's life: the
 * counters start at 0 with it, at time 0 of `performance.now()`.
 */
export class CpuWait {
  readonly #read: SchedstatReader
  readonly #intervalMs: number
  readonly #windowMs: number
  /** Readings, oldest first; the first is the window's base (at least `windowMs` old once there is history). */
  readonly #readings: Reading[] = [{ runNs: 0, waitNs: 0, atMs: 0 }]
  #share: number | undefined
  #unavailable = false

  /** @param init - see {@link CpuWaitInit} */
  constructor (init: CpuWaitInit = {}) {
    this.#read = init.read ?? readSchedstat
    this.#intervalMs = init.intervalMs ?? CPU_WAIT_SAMPLE_MS
    this.#windowMs = init.windowMs ?? CPU_WAIT_WINDOW_MS
  }

  /**
   * The share (0..1) of the main thread's runnable time it spent waiting for a CPU, from the
   * newest reading back to the newest one at least `windowMs` before it (or to the thread's
   * start); read at most once per `intervalMs`. `undefined` where the counters are not
   * available, or while the thread neither ran nor waited.
   *
   * @param nowMs - the current time on the `performance.now()` clock, ms @default performance.now()
   */
  share (nowMs = performance.now()): number | undefined {
    if (this.#unavailable) return undefined
    const newest = this.#readings[this.#readings.length - 1]
    if (this.#readings.length > 1 && nowMs - newest.atMs < this.#intervalMs) return this.#share
    const now = this.#read()
    if (now == null) {
      this.#unavailable = true
      log('no run-queue counters here: wire compression ignores CPU contention')
      return undefined
    }
    this.#readings.push({ ...now, atMs: nowMs })
    // the base: the newest reading at least windowMs old (older ones are dropped)
    while (this.#readings.length > 2 && nowMs - this.#readings[1].atMs >= this.#windowMs) this.#readings.shift()
    const base = this.#readings[0]
    const run = now.runNs - base.runNs
    const wait = now.waitNs - base.waitNs
    if (run + wait > 0) this.#share = Math.max(0, wait) / (Math.max(0, run) + Math.max(0, wait))
    return this.#share
  }
}

/**
 * Role runner for bench case scripts: parses `<role> <json>` from argv, runs the seeder
 * or leecher, prints JSON lines, and reports resource usage of the transfer phase only
 * (CPU as a delta from `ready`; peak RSS reset at `ready` through
 * `/proc/self/clear_refs` = 5, then read from `/proc/self/status` VmHWM).
 *
 * @module
 */

import { readFileSync, writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { BenchEvent, ReadyEvent, ResultEvent, RoleParams } from './types.js'

/** Print one event as a JSON line on stdout. */
export function emit (evt: BenchEvent): void {
  process.stdout.write(JSON.stringify(evt) + '\n')
}

/** Peak RSS (VmHWM) in bytes, or `process.resourceUsage().maxRSS` where /proc is missing. */
export function peakRssBytes (): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))
    if (m != null) return Number(m[1]) * 1024
  } catch {}
  return process.resourceUsage().maxRSS * 1024
}

/** Reset the kernel's peak-RSS mark so later readings cover only what follows. */
function resetPeakRss (): void {
  try { writeFileSync('/proc/self/clear_refs', '5') } catch {}
}

function cpuSeconds (): number {
  const u = process.resourceUsage()
  return (u.userCPUTime + u.systemCPUTime) / 1e6
}

let transferCpu0: number | undefined

/**
 * Leechers call this right before their request starts, after set-up (module loading,
 * node start, dial), so reported CPU and peak RSS cover the transfer only.
 */
export function markTransferStart (): void {
  resetPeakRss()
  transferCpu0 = cpuSeconds()
}

/** Seeder: set up, return the ready info and a stop function. */
export type SeederRole = (params: RoleParams) => Promise<{ ready: Omit<ReadyEvent, 'event'>, stop: () => Promise<void> }>
/** Leecher: fetch from the seeder, return the measurement. */
export type LeecherRole = (params: RoleParams, ready: ReadyEvent) => Promise<Omit<ResultEvent, 'event'>>

/**
 * If `moduleUrl` is the process's main script, run the role named in argv[2] with the
 * JSON params in argv[3] (the leecher also gets the seeder's ready line in argv[4]).
 * The seeder stays up until a `stop` line (or EOF) on stdin.
 */
export function runRoles (moduleUrl: string, roles: { seeder: SeederRole, leecher: LeecherRole }): void {
  if (process.argv[1] !== fileURLToPath(moduleUrl)) return
  const [role, paramsJson, readyJson] = process.argv.slice(2)
  const params = JSON.parse(paramsJson ?? '{}') as RoleParams
  const main = async (): Promise<void> => {
    if (role === 'seeder') {
      const { ready, stop } = await roles.seeder(params)
      resetPeakRss()
      const cpu0 = cpuSeconds()
      emit({ event: 'ready', ...ready } as ReadyEvent)
      const rl = createInterface({ input: process.stdin })
      await new Promise<void>(resolve => {
        rl.on('line', line => { if (line.trim() === 'stop') resolve() })
        rl.on('close', () => resolve())
      })
      rl.close()
      const usage = { peakRssBytes: peakRssBytes(), cpuSeconds: cpuSeconds() - cpu0 }
      await stop()
      emit({ event: 'usage', ...usage })
    } else if (role === 'leecher') {
      const ready = JSON.parse(readyJson ?? '{}') as ReadyEvent
      resetPeakRss()
      const cpu0 = cpuSeconds()
      const result = await roles.leecher(params, ready)
      const usage = { peakRssBytes: peakRssBytes(), cpuSeconds: cpuSeconds() - (transferCpu0 ?? cpu0) }
      emit({ event: 'result', ...result } as ResultEvent)
      emit({ event: 'usage', ...usage })
    } else {
      throw new Error(`unknown role ${String(role)}`)
    }
  }
  main().then(() => process.exit(0), err => {
    process.stderr.write(`${role} failed: ${err?.stack ?? err}\n`)
    process.exit(1)
  })
}

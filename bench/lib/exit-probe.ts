/**
 * Preload (`node --import <this> ...`): when the process exits, append what it used as one JSON
 * line to the file `$EXIT_PROBE_OUT`:
 * - its `/proc/self/io` fields (`write_bytes`: the kernel's own count of bytes this process
 *   sent to storage, read at the very end, nothing missed; `rchar`, `wchar`, ...);
 * - `pid`, `cpuS` (user + system CPU seconds of every thread, `process.cpuUsage()`) and `wallS`
 *   (seconds since it started).
 *
 * A process that re-executes itself in place (the CLI's malloc tuning) reports once, at its
 * real exit.
 *
 * @module
 */

import { appendFileSync, readFileSync } from 'node:fs'

const out = process.env.EXIT_PROBE_OUT
if (out != null && out !== '') {
  process.on('exit', () => {
    try {
      const io = Object.fromEntries(readFileSync('/proc/self/io', 'utf8').trim().split('\n').map(l => l.split(': ')).map(([k, v]) => [k, Number(v)]))
      const cpu = process.cpuUsage()
      appendFileSync(out, JSON.stringify({ ...io, pid: process.pid, cpuS: (cpu.user + cpu.system) / 1e6, wallS: process.uptime() }) + '\n')
    } catch {}
  })
}

/**
 * Preload (`node --import <this> ...`): when the process exits, append its CPU time
 * (`process.cpuUsage()`, user + system, every thread) and its wall time since it started, in
 * seconds, as one JSON line `{"pid", "cpuS", "wallS"}` to the file `$CPU_PROBE_OUT`.
 * A process that re-executes itself in place (the CLI's malloc tuning) reports once, at its
 * real exit.
 *
 * @module
 */

import { appendFileSync } from 'node:fs'

const out = process.env.CPU_PROBE_OUT
if (out != null && out !== '') {
  process.on('exit', () => {
    try {
      const u = process.cpuUsage()
      appendFileSync(out, JSON.stringify({ pid: process.pid, cpuS: (u.user + u.system) / 1e6, wallS: process.uptime() }) + '\n')
    } catch {}
  })
}

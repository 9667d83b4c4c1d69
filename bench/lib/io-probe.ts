/**
 * Preload (`node --import <this> ...`): when the process exits, append its `/proc/self/io`
 * `write_bytes` and `rchar`/`wchar` as one JSON line to the file `$IO_PROBE_OUT`. The kernel's
 * own count of bytes this process sent to storage, read at the very end (nothing missed).
 *
 * @module
 */

import { appendFileSync, readFileSync } from 'node:fs'

const out = process.env.IO_PROBE_OUT
if (out != null && out !== '') {
  process.on('exit', () => {
    try {
      const io = Object.fromEntries(readFileSync('/proc/self/io', 'utf8').trim().split('\n').map(l => l.split(': ')).map(([k, v]) => [k, Number(v)]))
      appendFileSync(out, JSON.stringify(io) + '\n')
    } catch {}
  })
}

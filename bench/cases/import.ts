/**
 * Import speed: `tensorswap add` against `ipfs-car pack` of the same safetensors-shaped file
 * (`writeSafetensorsShaped`, bench/lib/data.ts: TinyLlama-shaped BF16 tensors over the
 * real-shaped payload), each run as the real CLI in a child process. MB/s = file bytes /
 * command wall time (node start-up included, both sides alike); the peak RSS and CPU shown in
 * the leecher columns are the child command's (`/proc/<pid>/status` VmHWM and
 * `/proc/<pid>/stat`, polled every 10 ms until it exits).
 *
 * Not equal work: `tensorswap add` writes one fsync'd file per block into its repo (crash-safe,
 * served at once) and builds the tensor manifest; `ipfs-car pack --no-wrap` streams one CAR file
 * (no fsync). The "seeder" only writes the input file; it serves nothing.
 *
 * @module
 */

import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { markTransferStart, runRoles } from '../lib/child.js'
import { writeSafetensorsShaped } from '../lib/data.js'
import type { BenchCase } from '../lib/types.js'

export const cases: BenchCase[] = [
  { id: 'import/tensorswap-add', label: 'tensorswap add (fsync per block)', family: 'import', params: { tool: 'tensorswap' } },
  { id: 'import/ipfs-car-pack', label: 'ipfs-car pack --no-wrap', family: 'import', params: { tool: 'ipfs-car' } }
]

const here = dirname(fileURLToPath(import.meta.url))
/** dist-bench/bench/cases -> repo root */
const root = join(here, '..', '..', '..')

function command (tool: string, file: string, work: string): { cmd: string, args: string[], env: NodeJS.ProcessEnv } {
  if (tool === 'tensorswap') {
    return { cmd: process.execPath, args: [join(root, 'packages/cli/dist/src/bin.js'), 'add', file, '--repo', join(work, 'repo'), '--quiet'], env: process.env }
  }
  const bin = join(dirname(createRequire(import.meta.url).resolve('ipfs-car/package.json')), 'bin.js')
  return { cmd: process.execPath, args: [bin, 'pack', file, '--no-wrap', '--output', join(work, 'out.car')], env: process.env }
}

/** Poll a child's peak RSS (bytes) and CPU seconds from /proc until it exits. */
function watch (pid: number): { stop: () => { peakRssBytes: number, cpuSeconds: number } } {
  let peakRssBytes = 0
  let cpuSeconds = 0
  const poll = (): void => {
    readFile(`/proc/${pid}/status`, 'utf8').then(s => {
      const m = /VmHWM:\s+(\d+) kB/.exec(s)
      if (m != null) peakRssBytes = Math.max(peakRssBytes, Number(m[1]) * 1024)
    }, () => {})
    readFile(`/proc/${pid}/stat`, 'utf8').then(s => {
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
      cpuSeconds = Math.max(cpuSeconds, (Number(f[11]) + Number(f[12])) / 100)
    }, () => {})
  }
  const timer = setInterval(poll, 10)
  return { stop: () => { clearInterval(timer); return { peakRssBytes, cpuSeconds } } }
}

runRoles(import.meta.url, {
  async seeder (params) {
    const dir = await mkdtemp(join(tmpdir(), 'ts-bench-import-src-'))
    const file = join(dir, 'model.safetensors')
    await writeSafetensorsShaped(file, params.sizeBytes)
    return { ready: { addrs: [], file }, stop: async () => { await rm(dir, { recursive: true, force: true }) } }
  },
  async leecher (params, ready) {
    const file = String(ready.file)
    const work = await mkdtemp(join(tmpdir(), 'ts-bench-import-out-'))
    try {
      const { cmd, args, env } = command(String(params.tool), file, work)
      markTransferStart()
      const t0 = performance.now()
      const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
      const w = watch(child.pid as number)
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
      child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000) })
      const code = await new Promise<number>(resolve => child.on('exit', c => resolve(c ?? -1)))
      const elapsedMs = performance.now() - t0
      const usage = w.stop()
      if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr}`)
      return {
        bytes: (await stat(file)).size,
        elapsedMs,
        ttfbMs: 0,
        connectMs: 0,
        workerPeakRssBytes: usage.peakRssBytes,
        workerCpuSeconds: usage.cpuSeconds,
        root: stdout.trim().split('\n').pop()
      }
    } finally {
      await rm(work, { recursive: true, force: true })
    }
  }
})

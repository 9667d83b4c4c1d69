/**
 * Benchmark harness: `npm run bench [-- options]`.
 *
 * Each case (bench/cases/*.js exporting `cases`) runs as a seeder process and a leecher
 * process on loopback, one run at a time, `--runs` times. The harness collects the
 * leecher's result line and both processes' usage lines and writes
 * `bench/results/latest.json` and `bench/results/latest.md`.
 *
 * Options:
 *   --quick          1 run of 32 MiB per case (smoke test; fixed-size cases skipped)
 *   --runs N         runs per case (default 3)
 *   --size S         bytes per run: 256MiB (default), 1GiB, 100MB, ...
 *   --case SUBSTR    only cases whose id contains SUBSTR (repeatable)
 *   --params JSON    extra params merged into every case's params (tuning sweeps)
 *   --out NAME       results file stem (default latest)
 *   --timeout S      per-run timeout in seconds (default 600)
 *   --cpu-prof DIR   write a V8 CPU profile of every role to DIR/<case id>/<role>/ (node --cpu-prof)
 *   --node-arg ARG   pass ARG to the node binary of every role (repeatable; V8/GC sweeps)
 *   --malloc-tuning  every role (raw, Helia and ours alike) runs with the glibc malloc tunables
 *                    the `tensorswap` command sets for itself (packages/cli/bin/malloc-tuning.js);
 *                    without it only the CLI cases' `tensorswap` processes have them
 *
 * Units: 1 MB = 1e6 bytes; MB/s = payload bytes / (request start .. last byte).
 *
 * @module
 */

import { spawn } from 'node:child_process'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseSize } from './lib/data.js'
import type { BenchCase, ReadyEvent, ResultEvent, UsageEvent } from './lib/types.js'

const here = dirname(fileURLToPath(import.meta.url))
/** bench/ in the source tree (dist-bench/bench -> ../../bench). */
const benchSrcDir = join(here, '..', '..', 'bench')

interface RunRecord {
  ok: boolean
  error?: string
  result?: ResultEvent
  seeder?: UsageEvent
  leecher?: UsageEvent
  mbps?: number
}

interface CaseSummary {
  id: string
  label: string
  family: string
  params: Record<string, unknown>
  runs: RunRecord[]
  mbps?: { median: number, min: number, max: number }
  ttfbMs?: number
  connectMs?: number
  seederPeakRssMiB?: number
  leecherPeakRssMiB?: number
  seederCpuS?: number
  leecherCpuS?: number
}

interface Options { runs: number, sizeBytes: number, filters: string[], params: Record<string, unknown>, out: string, timeoutS: number, quick: boolean, cpuProfDir?: string, nodeArgs: string[], mallocTuning: boolean }

function parseArgs (argv: string[]): Options {
  let runs = 3
  let sizeBytes = parseSize('256MiB')
  let quick = false
  let out = 'latest'
  let timeoutS = 600
  const filters: string[] = []
  let params: Record<string, unknown> = {}
  let sizeSet = false
  let runsSet = false
  let cpuProfDir: string | undefined
  const nodeArgs: string[] = []
  let mallocTuning = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = (): string => { const v = argv[++i]; if (v == null) throw new Error(`${a} needs a value`); return v }
    if (a === '--quick') quick = true
    else if (a === '--runs') { runs = Number(next()); runsSet = true }
    else if (a === '--size') { sizeBytes = parseSize(next()); sizeSet = true }
    else if (a === '--case') filters.push(next())
    else if (a === '--params') params = JSON.parse(next())
    else if (a === '--out') out = next()
    else if (a === '--timeout') timeoutS = Number(next())
    else if (a === '--cpu-prof') cpuProfDir = next()
    else if (a === '--node-arg') nodeArgs.push(next())
    else if (a === '--malloc-tuning') mallocTuning = true
    else throw new Error(`unknown option ${a}`)
  }
  if (quick) {
    if (!runsSet) runs = 1
    if (!sizeSet) sizeBytes = parseSize('32MiB')
  }
  return { runs, sizeBytes, filters, params, out, timeoutS, quick, cpuProfDir, nodeArgs, mallocTuning }
}

async function loadCases (): Promise<Array<BenchCase & { script: string }>> {
  const dir = join(here, 'cases')
  const files = (await readdir(dir)).filter(f => f.endsWith('.js')).sort()
  const all: Array<BenchCase & { script: string }> = []
  for (const f of files) {
    const mod = await import(join(dir, f)) as { cases?: BenchCase[] }
    for (const c of mod.cases ?? []) all.push({ ...c, script: join(dir, f) })
  }
  return all
}

/** Spawn a role; resolve lines as they come through `onEvent`. */
function spawnRole (script: string, args: string[], onEvent: (evt: any) => void, profDir?: string, extraNodeArgs: string[] = []): { child: ReturnType<typeof spawn>, exited: Promise<number>, stderr: () => string } {
  const nodeArgs = [...extraNodeArgs, ...(profDir == null ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(profDir, args[0])}`])]
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000) })
  createInterface({ input: child.stdout! }).on('line', line => {
    try { onEvent(JSON.parse(line)) } catch { stderr += `\n(non-JSON stdout) ${line}` }
  })
  const exited = new Promise<number>(resolve => child.on('exit', code => resolve(code ?? -1)))
  return { child, exited, stderr: () => stderr }
}

async function runOnce (c: BenchCase & { script: string }, params: Record<string, unknown>, timeoutS: number, cpuProfDir?: string, nodeArgs: string[] = []): Promise<RunRecord> {
  const profDir = cpuProfDir == null ? undefined : join(cpuProfDir, c.id.replaceAll('/', '_'))
  const rec: RunRecord = { ok: false }
  let readyResolve: (r: ReadyEvent) => void = () => {}
  const readyP = new Promise<ReadyEvent>(resolve => { readyResolve = resolve })
  const seeder = spawnRole(c.script, ['seeder', JSON.stringify(params)], evt => {
    if (evt.event === 'ready') readyResolve(evt)
    if (evt.event === 'usage') rec.seeder = evt
  }, profDir, nodeArgs)
  const timer = setTimeout(() => { seeder.child.kill('SIGKILL'); leecher?.child.kill('SIGKILL') }, timeoutS * 1000)
  let leecher: ReturnType<typeof spawnRole> | undefined
  try {
    const ready = await Promise.race([readyP, seeder.exited.then(code => { throw new Error(`seeder exited ${code}: ${seeder.stderr()}`) })])
    leecher = spawnRole(c.script, ['leecher', JSON.stringify(params), JSON.stringify(ready)], evt => {
      if (evt.event === 'result') rec.result = evt
      if (evt.event === 'usage') rec.leecher = evt
    }, profDir, nodeArgs)
    const lcode = await leecher.exited
    seeder.child.stdin?.end('stop\n')
    const scode = await seeder.exited
    if (lcode !== 0) throw new Error(`leecher exited ${lcode}: ${leecher.stderr()}`)
    if (scode !== 0) throw new Error(`seeder exited ${scode}: ${seeder.stderr()}`)
    if (rec.result == null) throw new Error('leecher printed no result')
    const expected = rec.result.expectedBytes ?? params.sizeBytes
    if (rec.result.bytes !== expected) throw new Error(`leecher got ${rec.result.bytes} bytes, expected ${String(expected)}`)
    rec.mbps = rec.result.bytes / 1e6 / (rec.result.elapsedMs / 1000)
    rec.ok = true
  } catch (err: any) {
    rec.error = String(err?.message ?? err).slice(0, 2000)
    seeder.child.kill('SIGKILL')
    leecher?.child.kill('SIGKILL')
  } finally {
    clearTimeout(timer)
  }
  return rec
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

function summarise (c: BenchCase, params: Record<string, unknown>, runs: RunRecord[]): CaseSummary {
  const ok = runs.filter(r => r.ok)
  const s: CaseSummary = { id: c.id, label: c.label, family: c.family, params, runs }
  if (ok.length === 0) return s
  const mbps = ok.map(r => r.mbps!)
  s.mbps = { median: median(mbps), min: Math.min(...mbps), max: Math.max(...mbps) }
  s.ttfbMs = median(ok.map(r => r.result!.ttfbMs))
  s.connectMs = median(ok.map(r => r.result!.connectMs))
  const mib = (b: number): number => b / 2 ** 20
  if (ok.every(r => r.seeder != null)) {
    s.seederPeakRssMiB = median(ok.map(r => mib(r.seeder!.peakRssBytes)))
    s.seederCpuS = median(ok.map(r => r.seeder!.cpuSeconds))
  }
  if (ok.every(r => r.leecher != null)) {
    // work done in a child of the leecher (import cases) is reported as the leecher's
    s.leecherPeakRssMiB = median(ok.map(r => mib(r.result!.workerPeakRssBytes ?? r.leecher!.peakRssBytes)))
    s.leecherCpuS = median(ok.map(r => r.result!.workerCpuSeconds ?? r.leecher!.cpuSeconds))
  }
  return s
}

/** Families compared against Helia and the raw stream of the same transport. */
const COMPARED_FAMILIES = new Set(['tensorswap', 'tensorswap-bitswap'])

/**
 * For an exchange row (`<family>/<transport>`), its median MB/s over Helia's
 * (`helia-bitswap/<transport>`) and over the raw libp2p stream's (`libp2p-raw/<transport>`)
 * in the same run; undefined when either is missing.
 */
function ratios (r: CaseSummary, rows: CaseSummary[]): { helia?: number, raw?: number } {
  if (!COMPARED_FAMILIES.has(r.family) || r.mbps == null) return {}
  const variant = r.id.slice(r.id.indexOf('/') + 1)
  const of = (id: string): number | undefined => rows.find(x => x.id === id)?.mbps?.median
  const helia = of(`helia-bitswap/${variant}`)
  const raw = of(`libp2p-raw/${variant}`)
  return { helia: helia == null ? undefined : r.mbps.median / helia, raw: raw == null ? undefined : r.mbps.median / raw }
}

function toMarkdown (meta: Record<string, unknown>, rows: CaseSummary[]): string {
  const f = (x: number | undefined, d = 0): string => x == null ? '–' : x.toFixed(d)
  const lines = [
    `Size ${String(meta.sizeBytes)} bytes × ${String(meta.runs)} run(s), node ${String(meta.node)}, ${String(meta.cpus)} CPUs, load avg at start ${String(meta.loadAvgStart)}, at end ${String(meta.loadAvgEnd)}; ${String(meta.date)}; GLIBC_TUNABLES of every role: ${meta.glibcTunables === '' ? 'none (the CLI sets its own)' : String(meta.glibcTunables)}.`,
    '',
    '| case | MB/s median | min | max | × Helia | × raw | TTFB ms | connect ms | seeder peak RSS MiB | leecher peak RSS MiB | seeder CPU s | leecher CPU s | ok runs |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|'
  ]
  for (const r of rows) {
    const x = ratios(r, rows)
    lines.push(`| ${r.label} (\`${r.id}\`) | ${f(r.mbps?.median)} | ${f(r.mbps?.min)} | ${f(r.mbps?.max)} | ${f(x.helia, 2)} | ${f(x.raw, 2)} | ${f(r.ttfbMs, 1)} | ${f(r.connectMs, 1)} | ${f(r.seederPeakRssMiB)} | ${f(r.leecherPeakRssMiB)} | ${f(r.seederCpuS, 2)} | ${f(r.leecherCpuS, 2)} | ${r.runs.filter(x => x.ok).length}/${r.runs.length} |`)
  }
  const failed = rows.flatMap(r => r.runs.filter(x => !x.ok).map(x => `- \`${r.id}\`: ${x.error?.split('\n')[0] ?? ''}`))
  if (failed.length > 0) lines.push('', 'Failures:', ...failed)
  return lines.join('\n') + '\n'
}

async function main (): Promise<void> {
  const opts = parseArgs(process.argv.slice(2))
  const all = await loadCases()
  const selected = opts.filters.length === 0
    ? all.filter(c => !(opts.quick && c.fixedSize === true))
    : all.filter(c => opts.filters.some(f => c.id.includes(f)))
  if (selected.length === 0) throw new Error(`no case matches ${opts.filters.join(', ')}; have ${all.map(c => c.id).join(', ')}`)
  if (opts.mallocTuning) {
    // roles inherit the environment; the CLI's re-exec sees the tunables set and does not repeat
    const shim = join(here, '..', '..', 'packages', 'cli', 'bin', 'malloc-tuning.js')
    const { GLIBC_TUNABLES_FOR_BULK } = await import(shim) as { GLIBC_TUNABLES_FOR_BULK: string }
    process.env.GLIBC_TUNABLES = GLIBC_TUNABLES_FOR_BULK
  }
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    sizeBytes: opts.sizeBytes,
    runs: opts.runs,
    quick: opts.quick,
    extraParams: opts.params,
    glibcTunables: process.env.GLIBC_TUNABLES ?? '',
    loadAvgStart: loadavg().map(x => x.toFixed(2)).join(' '),
    loadAvgEnd: ''
  }
  const rows: CaseSummary[] = []
  for (const c of selected) {
    const params = { ...c.params, ...opts.params, sizeBytes: opts.sizeBytes }
    const runs: RunRecord[] = []
    for (let i = 0; i < opts.runs; i++) {
      const rec = await runOnce(c, params, opts.timeoutS, opts.cpuProfDir, opts.nodeArgs)
      runs.push(rec)
      process.stderr.write(`${c.id} run ${i + 1}/${opts.runs}: ${rec.ok ? `${rec.mbps!.toFixed(1)} MB/s, ttfb ${rec.result!.ttfbMs.toFixed(1)} ms, rss s/l ${(rec.seeder!.peakRssBytes / 2 ** 20).toFixed(0)}/${(rec.leecher!.peakRssBytes / 2 ** 20).toFixed(0)} MiB` : `FAILED ${rec.error?.split('\n')[0] ?? ''}`}\n`)
    }
    rows.push(summarise(c, params, runs))
  }
  meta.loadAvgEnd = loadavg().map(x => x.toFixed(2)).join(' ')
  const outDir = join(benchSrcDir, 'results')
  await mkdir(outDir, { recursive: true })
  for (const r of rows) Object.assign(r, { ratios: ratios(r, rows) })
  await writeFile(join(outDir, `${opts.out}.json`), JSON.stringify({ meta, cases: rows }, null, 2) + '\n')
  const md = toMarkdown(meta, rows)
  await writeFile(join(outDir, `${opts.out}.md`), md)
  process.stdout.write(md)
}

main().catch(err => { process.stderr.write(`bench failed: ${err?.stack ?? err}\n`); process.exit(1) })

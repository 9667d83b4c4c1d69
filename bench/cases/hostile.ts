/**
 * Hostile peers measured (issue 14): an honest `tensorswap get` of the whole DAG from a real
 * `tensorswap serve --gateway` while K hostile peers (test/helpers/hostile-peer.ts, each in its
 * own process) attack the seeder, one attack mode per phase, next to the same get with no
 * attack in the same run. Not one of the harness's seeder/leecher pairs (a phase is a seeder,
 * K attackers, a leecher and a `verify`), so it has its own entry point:
 *
 *   npm run build && flock /tmp/heavy.lock node dist-bench/bench/cases/hostile.js \
 *     [--bytes 256MiB] [--k 2] [--attacks want-flood,streams,...] [--only slow-gateway,attack] [--nice 19] [--out hostile]
 *
 * The phases run by test/helpers/hostile-swarm.js (the driver): each attack alone, then every
 * attack at once (`attack`), each with an `alone` phase (no attack) before and after it.
 * `--only` runs only the named attack phases (attack names, `attack` for all of `--attacks` at
 * once), still each between two alone phases, to re-measure a few without the whole run. Per
 * phase: the get's MB/s (`get --json`: payload bytes / the command's seconds) and its ratio to
 * the mean of its two neighbouring alone phases (an alone phase: to the mean of all of them), whether `verify` found the leecher's repo
 * complete and uncorrupted, the seeder's peak RSS (VmRSS sampled every 100 ms; VmHWM of the
 * process), the CPU seconds the seeder and the attackers used during the get (on this machine the
 * attackers share the victims' cores; `--nice 19` runs them at the lowest priority, as if they
 * were other machines, and their CPU seconds show whether they still ran) and when the victim
 * cut the attackers off. Writes `bench/results/<out>.json` and
 * `.md` and prints the table.
 *
 * @module
 */
import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const here = dirname(fileURLToPath(import.meta.url))
/** dist-bench/bench/cases -> repo root */
const root = join(here, '..', '..', '..')
const DRIVER = join(root, 'dist-test/test/helpers/hostile-swarm.js')
const ALL = ['want-flood', 'streams', 'oversize-frame', 'malformed', 'idle-tcp', 'slow-gateway', 'wrong-blocks', 'have-silence']

/** One phase line of the driver (the fields this report reads). */
interface Phase {
  phase: string
  attacks: string[]
  get: { code: number | null, summary?: { bytes: number, seconds: number, MBps: number }, stderr?: string, wallMs: number }
  verify?: { blocks?: number, missing?: number, corrupt?: number, [k: string]: unknown }
  seederRss: { beforeGet: number, peakSampled: number, hwm: number }
  metrics: Record<string, number>
  outcomes: Array<{ attack: string, disconnectedAfterMs?: number, firstCutOffAfterMs?: number, done?: any, summary?: any, wants?: { total: number, lastFiveSeconds: number } }>
  seederAlive: boolean
  cpuDuringGet?: { seeder: number, attackers: number, wall: number }
}

/** Report row of a phase. */
export interface HostileRow {
  phase: string
  attacks: string[]
  ok: boolean
  MBps?: number
  /** MB/s over the mean of the alone phases of the same run. */
  ratio?: number
  verified: boolean
  seederPeakRssMiB: number
  seederHwmMiB: number
  seederAlive: boolean
  /** CPU seconds used during the get (user + system): seeder, all attackers; and the get's wall time, s. */
  cpu?: { seeder: number, attackers: number, wall: number }
  /** Per attacker: ms from its start to the victim's first hang-up / cut-off, if any. */
  cutOffMs: Array<number | null>
  error?: string
}

const mib = (b: number): number => b / 2 ** 20

/** The phase's row (ratio filled in later). */
function row (p: Phase): HostileRow {
  const s = p.get.summary
  const verified = p.verify != null && (p.verify.blocks ?? 0) > 0 && p.verify.missing === 0 && p.verify.corrupt === 0
  return {
    phase: p.phase,
    attacks: p.attacks,
    ok: p.get.code === 0 && s != null,
    ...(s != null ? { MBps: s.MBps } : {}),
    verified,
    seederPeakRssMiB: mib(p.seederRss.peakSampled),
    seederHwmMiB: mib(p.seederRss.hwm),
    seederAlive: p.seederAlive,
    ...(p.cpuDuringGet != null ? { cpu: p.cpuDuringGet } : {}),
    cutOffMs: p.outcomes.map(o => o.disconnectedAfterMs ?? o.firstCutOffAfterMs ?? null),
    ...(p.get.code !== 0 ? { error: (p.get.stderr ?? '').trim().split('\n').at(-1) ?? '' } : {})
  }
}

/** Markdown table of the rows. */
export function toMarkdown (meta: Record<string, unknown>, rows: HostileRow[]): string {
  const f = (x: number | undefined, d = 0): string => x == null || Number.isNaN(x) ? '–' : x.toFixed(d)
  const lines = [
    `${String(meta.bytes)} bytes, K = ${String(meta.k)} attacker processes per mode${meta.nice != null ? ` at nice ${String(meta.nice)}` : ''}, node ${String(meta.node)}, ${String(meta.cpus)} CPUs, load avg at start ${String(meta.loadAvgStart)}, at end ${String(meta.loadAvgEnd)}; ${String(meta.date)}.`,
    '',
    '| phase | get MB/s | × alone (neighbours) | verify | seeder peak RSS MiB (sampled / VmHWM) | seeder alive | CPU s during the get: seeder / attackers (wall s) | attackers cut off after (s) |',
    '|---|--:|--:|---|--:|---|--:|---|'
  ]
  for (const r of rows) {
    const cut = r.cutOffMs.length === 0 ? '–' : r.cutOffMs.map(x => x == null ? 'not cut' : (x / 1000).toFixed(1)).join(', ')
    lines.push(`| ${r.phase.replace(/^\d+-/, '')} | ${r.ok ? f(r.MBps, 1) : `failed: ${r.error ?? ''}`} | ${f(r.ratio, 2)} | ${r.verified ? 'complete' : 'NOT complete'} | ${f(r.seederPeakRssMiB)} / ${f(r.seederHwmMiB)} | ${r.seederAlive ? 'yes' : 'NO'} | ${r.cpu != null ? `${f(r.cpu.seeder, 1)} / ${f(r.cpu.attackers, 1)} (${f(r.cpu.wall, 1)})` : '–'} | ${cut} |`)
  }
  return lines.join('\n') + '\n'
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      bytes: { type: 'string', default: '256MiB' },
      k: { type: 'string', default: '2' },
      attacks: { type: 'string', default: ALL.join(',') },
      out: { type: 'string', default: 'hostile' },
      only: { type: 'string' },
      nice: { type: 'string' }
    }
  })
  const attacks = values.attacks.split(',')
  for (const a of attacks) if (!ALL.includes(a)) throw new Error(`--attacks: unknown attack ${a}; known: ${ALL.join(', ')}`)
  const selected = values.only != null ? values.only.split(',') : [...attacks, 'attack']
  for (const p of selected) if (p !== 'attack' && !attacks.includes(p)) throw new Error(`--only: ${p} is neither one of --attacks (${attacks.join(', ')}) nor attack (all of them at once)`)
  // an alone phase before and after every attack phase: each attack's ratio is to the mean of
  // its two neighbours, so a drift of the (shared) machine's load moves both alike
  const phases = ['alone', ...selected.flatMap(a => [a, 'alone'])]
  const meta: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, bytes: values.bytes, k: Number(values.k), attacks, phases: selected, loadAvgStart: loadavg().map(x => x.toFixed(2)).join(' '), ...(values.nice != null ? { nice: Number(values.nice) } : {}) }
  const child = spawn(process.execPath, [DRIVER, '--bytes', values.bytes, '--phases', phases.join(','), '--attacks', attacks.join(','), '--k', values.k, ...(values.nice != null ? ['--nice', values.nice] : [])], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-8000) })
  const raw: Phase[] = []
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      const evt = JSON.parse(line)
      if (evt.event !== 'phase') return
      raw.push(evt)
      const r = row(evt)
      process.stderr.write(`hostile ${r.phase}: ${r.ok ? `${r.MBps?.toFixed(1) ?? '?'} MB/s` : `FAILED ${r.error ?? ''}`}, verify ${r.verified ? 'ok' : 'NOT ok'}, seeder peak ${r.seederPeakRssMiB.toFixed(0)} MiB\n`)
    } catch {
      process.stderr.write(`(non-JSON) ${line}\n`)
    }
  })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  if (code !== 0) process.stderr.write(`driver exited ${String(code)}: ${stderr}\n`)
  meta.loadAvgEnd = loadavg().map(x => x.toFixed(2)).join(' ')
  const rows = raw.map(row)
  const alone = rows.filter(r => r.attacks.length === 0 && r.ok).map(r => r.MBps as number)
  const mean = (xs: number[]): number | undefined => xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined
  rows.forEach((r, i) => {
    if (r.MBps == null) return
    const neighbours = r.attacks.length === 0 ? alone : [rows[i - 1], rows[i + 1]].filter(x => x != null && x.attacks.length === 0 && x.ok).map(x => x.MBps as number)
    const base = mean(neighbours)
    if (base != null) r.ratio = r.MBps / base
  })
  meta.aloneMBps = alone
  const outDir = join(root, 'bench', 'results')
  await mkdir(outDir, { recursive: true })
  await writeFile(join(outDir, `${values.out}.json`), JSON.stringify({ meta, rows, phases: raw }, null, 2) + '\n')
  const md = toMarkdown(meta, rows)
  await writeFile(join(outDir, `${values.out}.md`), md)
  process.stdout.write(md)
  if (code !== 0) process.exitCode = 1
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`hostile bench failed: ${err?.stack ?? String(err)}\n`)
    process.exit(1)
  })
}

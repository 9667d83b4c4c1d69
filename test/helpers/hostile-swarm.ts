/**
 * An honest `tensorswap get` while hostile peers (test/helpers/hostile-peer.ts, each in its own
 * process) attack its seeder (a real `tensorswap serve --gateway`) and lure the leecher itself;
 * used by test/exchange/hostile-attacks.test.ts (modest sizes) and, as a script, by
 * bench/cases/hostile.ts (256 MiB, figures in bench/README.md "Hostile peers").
 *
 * One *phase* = a fresh `serve` on the seed repo, the attackers of that phase started against
 * it (none for the "alone" phase), then a `get` of the whole DAG into a fresh repo from the
 * seeder and the attacking providers, then `verify` of that repo, the seeder's `/metrics`, the
 * seeder's RSS (VmRSS sampled every 100 ms and VmHWM) and every attacker's summary.
 *
 *   node hostile-swarm.js --bytes 256MiB [--phases alone,attack] [--attacks a,b,...] [--k N] [--nice N] [--leech-log FILE [--leech-debug 'tensorswap:*']] [--work DIR]
 *     -> {"event":"phase", ...PhaseResult}   one line per phase
 *
 * A phase is `alone` (no attack; any name starting with it), `attack` (every attack of
 * `--attacks` at once) or one attack's name (that attack alone); `--k` attacker processes of
 * each attack.
 *
 * @module
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { setPriority, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { runCli, runCliJson } from './cli.js'
import { startHostile, type HostilePeer } from './hostile.js'
import { writeRealWeightsFile } from './model.js'
import { addrOf, startServe, type Running, type ServeReady } from './processes.js'

/** The attacks, by name: what `hostile-peer.js` is started with, and whom it attacks. */
export const ATTACKS = {
  /** 20,000 want messages back to back on one stream. */
  'want-flood': { target: 'seeder', args: ['--mode', 'want-flood', '--count', '20000', '--transport', 'tcp'] },
  /** 1000 exchange streams on one connection, each with a want-have, never closed. */
  streams: { target: 'seeder', args: ['--mode', 'streams', '--count', '1000', '--transport', 'tcp'] },
  /** A frame declaring 5 MiB (over the 4 MiB cap). */
  'oversize-frame': { target: 'seeder', args: ['--mode', 'oversize-frame', '--transport', 'tcp'] },
  /** Frames that are not a Bitswap protobuf, one per stream. */
  malformed: { target: 'seeder', args: ['--mode', 'malformed', '--count', '5', '--transport', 'tcp'] },
  /** 500 TCP connections to the libp2p port that never send a byte, from another loopback host. */
  'idle-tcp': { target: 'seeder-tcp', args: ['--mode', 'idle-tcp', '--count', '500', '--from', '127.0.0.2'] },
  /** 200 gateway readers of the whole DAG as a CAR at 1 KiB/s each, from another loopback host. */
  'slow-gateway': { target: 'gateway', args: ['--mode', 'slow-gateway', '--count', '200', '--rate', '1024', '--from', '127.0.0.3'] },
  /** A provider the leecher is given that answers want-blocks with flipped bytes. */
  'wrong-blocks': { target: 'leecher', args: ['--mode', 'bad-bytes', '--transport', 'tcp'] },
  /** A provider the leecher is given that answers each want-block with random bytes of the block's size. */
  'random-blocks': { target: 'leecher', args: ['--mode', 'bad-bytes', '--random', '--transport', 'tcp'] },
  /** A provider the leecher is given that says HAVE to everything and then sends nothing. */
  'have-silence': { target: 'leecher', args: ['--mode', 'have-silence', '--transport', 'tcp'] }
} as const

/** An attack name. */
export type AttackName = keyof typeof ATTACKS

/** Every attack, in start order. */
export const ALL_ATTACKS = Object.keys(ATTACKS) as AttackName[]

/** A seed repo holding one real-weights file. */
export interface Seed {
  work: string
  seedRepo: string
  root: string
  /** Payload bytes. */
  bytes: number
}

/**
 * Write `bytes` of real weights (`writeRealWeightsFile`) under `work` and `tensorswap add` them
 * to a fresh seed repo.
 */
export async function prepareSeed (work: string, bytes: number): Promise<Seed> {
  await mkdir(join(work, 'model'), { recursive: true })
  await writeRealWeightsFile(join(work, 'model', 'weights.bin'), bytes)
  const seedRepo = join(work, 'seed')
  const root = (await runCliJson(['--repo', seedRepo, 'add', join(work, 'model')])).root
  return { work, seedRepo, root, bytes }
}

/** Resident set of a process, bytes (`/proc/PID/status`): now (`VmRSS`) and peak (`VmHWM`). */
export async function rssOf (pid: number): Promise<{ rss: number, hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') }
}

/**
 * CPU time a process has used so far, seconds: user + system (`/proc/PID/stat` fields 14 and 15,
 * in clock ticks of 1/100 s, Linux's USER_HZ). NaN when the process is gone.
 */
export async function cpuSecondsOf (pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // the command name (field 2) is in parentheses and may hold spaces: count fields after it
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return NaN
  }
}

/** Sample `pid`'s RSS every `ms`; `stop()` returns the largest sample and the kernel's peak. */
function sampleRss (pid: number, ms = 100): { stop: () => Promise<{ peakRss: number, hwm: number, samples: number }> } {
  let peakRss = 0
  let hwm = 0
  let samples = 0
  const take = async (): Promise<void> => {
    try {
      const r = await rssOf(pid)
      peakRss = Math.max(peakRss, r.rss)
      hwm = Math.max(hwm, r.hwm)
      samples++
    } catch {
      // the process is gone: the last sample stands
    }
  }
  const timer = setInterval(() => { void take() }, ms)
  return {
    stop: async () => {
      clearInterval(timer)
      await take()
      return { peakRss, hwm, samples }
    }
  }
}

/** Prometheus text to `{ "name{labels}": value }`. */
export function parseMetrics (text: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const i = line.lastIndexOf(' ')
    out[line.slice(0, i)] = Number(line.slice(i + 1))
  }
  return out
}

/** Sum of every sample of metric `name` (all label sets). */
export function metricSum (metrics: Record<string, number>, name: string): number {
  let sum = 0
  for (const [k, v] of Object.entries(metrics)) if (k === name || k.startsWith(`${name}{`)) sum += v
  return sum
}

/** What one attacker saw, and when the victim cut it off. */
export interface AttackOutcome {
  attack: AttackName
  /** The attacker's peer id. */
  peerId: string
  /** The attacker's `attack-done` event (what it managed to do). */
  done?: any
  /** The attacker's `summary` event. */
  summary?: any
  /** Its first `disconnected` event (the victim hung up), ms after the attacker was ready. */
  disconnectedAfterMs?: number
  /** Its first `cut-off` event (idle-tcp, slow-gateway), ms after ready. */
  firstCutOffAfterMs?: number
  /** Want entries it received (providers): in all, and in the last 5 s of the fetch. */
  wants?: { total: number, lastFiveSeconds: number }
  /** The end of its stderr when it failed. */
  stderr?: string
}

/** One phase's figures. */
export interface PhaseResult {
  phase: string
  attacks: AttackName[]
  /** The `get --json` summary (bytes, seconds, MBps, ...), or the failure. */
  get: { code: number | null, summary?: any, stderr?: string, wallMs: number }
  /** `verify <root> --json` of the leecher's repo. */
  verify?: any
  /** Seeder RSS, bytes: before the get (attackers running), peak sampled, VmHWM. */
  seederRss: { beforeGet: number, peakSampled: number, hwm: number }
  /** Seeder `/metrics` after the get (parsed). */
  metrics: Record<string, number>
  outcomes: AttackOutcome[]
  /** Whether the seeder was still running at the end. */
  seederAlive: boolean
  /**
   * CPU seconds (user + system) used while the get ran, from its start to its end: by the seeder
   * and by all attacker processes together; `wall` is the get's wall time, s. On a machine whose
   * cores the attackers share with the victims, what they use is taken from the seeder and the
   * leecher.
   */
  /** CPU seconds used while the get ran: the seeder, all attackers, each attack's processes; and the get's wall seconds. */
  cpuDuringGet: { seeder: number, attackers: number, byAttack: Record<string, number>, wall: number }
}

/** Options of {@link runPhase}. */
export interface PhaseInit {
  seed: Seed
  phase: string
  attacks: AttackName[]
  /** Attacker processes per attack (K hostile peers of each mode). @default 1 */
  perAttack?: number
  /** How long to let the attacks run before the get starts, ms. @default 2000 */
  warmupMs?: number
  /** How long after the get to wait for attackers to be cut off, ms (0: do not wait). @default 0 */
  settleMs?: number
  /** Bound on the whole get, ms. @default 600000 */
  getTimeoutMs?: number
  /** Write the leecher's stderr here (run with `DEBUG=tensorswap:*` in the environment, or in `leechEnv`, to get its logs). */
  leechLog?: string
  /** Added to the leecher's environment (e.g. `{ DEBUG: 'tensorswap:exchange*' }`). */
  leechEnv?: Record<string, string>
  /**
   * Scheduling priority (nice value, -20..19) given to every attacker process once it is ready;
   * 19 lets the seeder and the leecher run first whenever they want a core, as when the
   * attackers are other machines. @default undefined (inherited, 0)
   */
  attackerNice?: number
  /** Called with the running seeder and attackers once the get finished, before they stop. */
  beforeStop?: (ctx: { seeder: Running<ServeReady>, attackers: Map<string, { name: AttackName, peer: HostilePeer }> }) => Promise<void>
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/**
 * Run one phase (see the module comment). Every process it started is stopped when it returns
 * or throws.
 */
export async function runPhase (init: PhaseInit): Promise<PhaseResult> {
  const { seed, phase, attacks } = init
  const seeder = await startServe(seed.seedRepo, undefined, ['--gateway', '127.0.0.1:0'])
  let seederExited = false
  seeder.child.once('exit', () => { seederExited = true })
  const rss = sampleRss(seeder.child.pid as number)
  /** Attackers by `name#i` (i < perAttack). */
  const attackers = new Map<string, { name: AttackName, peer: HostilePeer }>()
  const readyAt = new Map<string, number>()
  const perAttack = init.perAttack ?? 1
  try {
    const gateway = seeder.ready.gateway as string
    const tcp = addrOf(seeder.ready, 'tcp')
    for (const name of attacks) {
      const a = ATTACKS[name]
      const target = a.target === 'seeder'
        ? ['--dial', tcp]
        : a.target === 'seeder-tcp'
          ? ['--dial', `127.0.0.1:${/\/tcp\/(\d+)/.exec(tcp)?.[1] ?? ''}`]
          : a.target === 'gateway'
            ? ['--dial', `${gateway}/ipfs/${seed.root}?format=car`]
            : ['--blocks', join(seed.seedRepo, 'blocks')]
      for (let i = 0; i < perAttack; i++) {
        const peer = await startHostile([...a.args, ...target])
        if (init.attackerNice != null) setPriority(peer.child.pid as number, init.attackerNice)
        attackers.set(`${name}#${i}`, { name, peer })
        readyAt.set(`${name}#${i}`, Date.now())
        // libp2p accepts 5 inbound connections a second per host: the attackers that dial from
        // 127.0.0.1 (as the leecher does) are spread out so none of them is refused for the rate
        if (a.target === 'seeder') await sleep(300)
      }
    }
    await sleep(attacks.length > 0 ? (init.warmupMs ?? 2000) : 0)
    const beforeGet = (await rssOf(seeder.child.pid as number)).rss

    const leechRepo = join(seed.work, `leech-${phase}`)
    await rm(leechRepo, { recursive: true, force: true })
    const providers = [...attackers.values()].filter(a => ATTACKS[a.name].target === 'leecher').map(a => a.peer.addrs[0] as string)
    const cpuOf = async (): Promise<{ seeder: number, attackers: number, byAttack: Record<string, number> }> => {
      const list = [...attackers.values()]
      const each = await Promise.all(list.map(async a => await cpuSecondsOf(a.peer.child.pid as number)))
      const byAttack: Record<string, number> = {}
      list.forEach((a, i) => { byAttack[a.name] = (byAttack[a.name] ?? 0) + (Number.isNaN(each[i]) ? 0 : each[i]) })
      return { seeder: await cpuSecondsOf(seeder.child.pid as number), attackers: each.reduce((x, y) => x + (Number.isNaN(y) ? 0 : y), 0), byAttack }
    }
    const cpuBefore = await cpuOf()
    const started = Date.now()
    const r = await runCli(['--repo', leechRepo, 'get', seed.root, '--peer', addrOf(seeder.ready, 'quic'), ...providers.flatMap(p => ['--peer', p]), '--json'],
      { signal: AbortSignal.timeout(init.getTimeoutMs ?? 600_000), ...(init.leechEnv != null ? { env: init.leechEnv } : {}) })
    const wallMs = Date.now() - started
    const cpuAfter = await cpuOf()
    const byAttack = Object.fromEntries(Object.entries(cpuAfter.byAttack).map(([name, s]) => [name, Math.round((s - (cpuBefore.byAttack[name] ?? 0)) * 100) / 100]))
    const cpuDuringGet = { seeder: cpuAfter.seeder - cpuBefore.seeder, attackers: cpuAfter.attackers - cpuBefore.attackers, byAttack, wall: wallMs / 1000 }
    if (init.leechLog != null) await writeFile(init.leechLog, r.stderr)
    const finishedAt = Date.now()
    let summary: any
    try { summary = JSON.parse(r.stdout) } catch { summary = undefined }
    const get = { code: r.code, summary, wallMs, ...(r.code !== 0 ? { stderr: r.stderr.slice(-3000) } : {}) }
    if (init.settleMs != null && init.settleMs > 0) await sleep(init.settleMs)

    const verifyRun = await runCli(['--repo', leechRepo, 'verify', seed.root, '--json'])
    let verify: any
    try { verify = JSON.parse(verifyRun.stdout) } catch { verify = { code: verifyRun.code, stderr: verifyRun.stderr } }

    const metrics = parseMetrics(await (await fetch(`${gateway}/metrics`)).text())
    await init.beforeStop?.({ seeder, attackers })
    const outcomes: AttackOutcome[] = []
    for (const [key, { name, peer: p }] of attackers) {
      const t0 = readyAt.get(key) as number
      const summaryEvt = await p.stop()
      const at = (pred: (e: any) => boolean): number | undefined => {
        const e = p.events.find(pred)
        return e != null ? e.atMs - t0 : undefined
      }
      const wantsEvents = p.events.filter(e => e.event === 'wants')
      const outcome: AttackOutcome = {
        attack: name,
        peerId: p.peerId,
        done: p.events.find(e => e.event === 'attack-done'),
        summary: summaryEvt,
        disconnectedAfterMs: at(e => e.event === 'disconnected'),
        firstCutOffAfterMs: at(e => e.event === 'cut-off')
      }
      if (ATTACKS[name].target === 'leecher') {
        const total = wantsEvents.reduce((n, e) => n + (e.entries as number), 0)
        const late = wantsEvents.filter(e => e.atMs >= finishedAt - 5000).reduce((n, e) => n + (e.entries as number), 0)
        outcome.wants = { total, lastFiveSeconds: late }
      }
      if (summaryEvt == null) outcome.stderr = p.stderr().slice(-2000)
      outcomes.push(outcome)
    }
    attackers.clear()
    const sampled = await rss.stop()
    return {
      phase,
      attacks,
      get,
      verify,
      seederRss: { beforeGet, peakSampled: sampled.peakRss, hwm: sampled.hwm },
      metrics,
      outcomes,
      seederAlive: !seederExited,
      cpuDuringGet
    }
  } finally {
    await rss.stop()
    await Promise.all([...attackers.values()].map(async a => { await a.peer.kill() }))
    await seeder.stop()
  }
}

/**
 * The attacks of a phase named `phase`: none for `alone...`, that one attack for an attack's
 * name, every one of `all` for `attack` (all at once).
 *
 * @throws Error - an unknown phase name
 */
export function phaseAttacks (phase: string, all: AttackName[]): AttackName[] {
  if (phase.startsWith('alone')) return []
  if (phase === 'attack') return all
  if (phase in ATTACKS) return [phase as AttackName]
  throw new Error(`unknown phase ${phase}: alone, attack or one of ${ALL_ATTACKS.join(', ')}`)
}

/** `256MiB`, `32MiB`, `1GiB`, plain bytes. */
function parseBytes (s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(KiB|MiB|GiB|)$/.exec(s)
  if (m == null) throw new Error(`--bytes ${s}: expected e.g. 256MiB`)
  return Math.round(Number(m[1]) * ({ KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, '': 1 } as Record<string, number>)[m[2]])
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      bytes: { type: 'string', default: '256MiB' },
      phases: { type: 'string', default: 'alone,attack' },
      attacks: { type: 'string' },
      work: { type: 'string' },
      settle: { type: 'string', default: '0' },
      k: { type: 'string', default: '1' },
      nice: { type: 'string' },
      'leech-log': { type: 'string' },
      'leech-debug': { type: 'string' }
    }
  })
  const attacks = values.attacks != null ? values.attacks.split(',') as AttackName[] : ALL_ATTACKS
  for (const a of attacks) if (!(a in ATTACKS)) throw new Error(`unknown attack ${a}; known: ${ALL_ATTACKS.join(', ')}`)
  const work = values.work ?? await mkdtemp(join(tmpdir(), 'ts-hostile-swarm-'))
  try {
    const seed = await prepareSeed(work, parseBytes(values.bytes))
    const phases = values.phases.split(',')
    for (const [i, phase] of phases.entries()) {
      const result = await runPhase({
        seed,
        phase: `${i}-${phase}`,
        attacks: phaseAttacks(phase, attacks),
        perAttack: Number(values.k),
        settleMs: Number(values.settle),
        ...(values.nice != null ? { attackerNice: Number(values.nice) } : {}),
        ...(values['leech-log'] != null ? { leechLog: `${values['leech-log']}.${i}-${phase}` } : {}),
        ...(values['leech-debug'] != null ? { leechEnv: { DEBUG: values['leech-debug'] } } : {})
      })
      process.stdout.write(JSON.stringify({ event: 'phase', ...result }) + '\n')
    }
  } finally {
    if (values.work == null) await rm(work, { recursive: true, force: true })
  }
}

/** Path of the compiled script, for spawning it. */
export const HOSTILE_SWARM = fileURLToPath(import.meta.url)

if (process.argv[1] === HOSTILE_SWARM) {
  main().catch((err) => {
    process.stderr.write(`${err?.stack ?? String(err)}\n`)
    process.exit(1)
  })
}

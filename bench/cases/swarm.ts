/**
 * Swarm distribution benchmark (issue 11): one seeder and N leechers, each on its own
 * namespaced host with its link capped (`tc tbf`, both directions), TensorSwap and Helia 7 in
 * the same run on the same hosts and links (one after the other for each N, never at once).
 *
 * - TensorSwap: a `serve` seeder; N `tensorswap get --json` leechers given only the seeder's
 *   address as `--bootstrap` (no `--peer`: they find the seeder and each other through the DHT
 *   and the root want-have; each leecher listens and serves while it fetches). Time: each
 *   `get` process, spawn to exit.
 * - Helia (`--helia`, the default; `--no-helia` leaves it out): a Helia node on its own host
 *   serving a copy of the TensorSwap seeder's blocks (the same DAG, test/helpers/store.ts
 *   `copyBlocks`), and N Helia leechers (test/helpers/helia-peer.ts) that `cat` the model's
 *   file through @helia/unixfs and serve what they hold over Bitswap while they fetch. Helia
 *   has no DHT with our seeder here, so each leecher is given the seeder's and the other
 *   leechers' addresses and dials them all. Time: each leecher's start-up (spawn to ready)
 *   plus peer list to exit (the wait while the other leechers start is left out). A Helia
 *   leecher not done after `--helia-limit` seconds (default 180) is killed and reported as
 *   stalled. `--helia-bitswap '<json>'` gives every Helia node @helia/bitswap options (e.g.
 *   `{"messageSendTimeout":120000}`), `--helia-libp2p '<json>'` top-level libp2p options (e.g.
 *   `{"connectionMonitor":{"abortConnectionOnPingFailure":false}}`); Helia's defaults otherwise.
 * `--seed-compression off` starts our seeder with `--wire-compression off` (default `auto`).
 *
 * For each N: the slowest leecher, the ratio to one leecher alone of the same implementation
 * in the same run, Helia's slowest over ours, the share of block bytes leechers got from
 * other leechers (Helia: from its `bitswap:block` progress events), duplicate bytes (ours), and
 * our leechers' Bitswap messages (frames) and presence entries (want-have, HAVE, DONT_HAVE)
 * per MB fetched, sent and received (`get --json` `messages`), and the CPU each leecher used
 * (`bench/lib/exit-probe.ts`, preloaded) and the seeder used in the phase, with their share of
 * what the machine's cores could give in that time. Not a harness case (it needs root
 * and namespaces); run it under the lock:
 *
 *   flock /tmp/heavy.lock timeout 1500 node dist-bench/bench/cases/swarm.js --bytes 32MiB --leechers 1,2,4,8 --rate 100
 *     -> {"event":"swarm", impl, leechers, ms: [...], ratioMax, fromLeechers, ...} per N and implementation, then a table
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { parseSize } from '../lib/data.js'
import type { BenchCase } from '../lib/types.js'

/** None for the loopback harness (bench/run.ts): this case runs as its own script. */
export const cases: BenchCase[] = []

/** Our leechers' messages for one N, summed over the leechers, per MB (10^6 bytes) fetched. */
export interface SwarmMessages {
  /** Frames sent / received per MB. */
  sentPerMB: number
  receivedPerMB: number
  /** Presence entries (want-have + HAVE + DONT_HAVE) sent / received per MB. */
  presenceSentPerMB: number
  presenceReceivedPerMB: number
  /** Want-blocks sent, blocks received per MB. */
  wantBlocksSentPerMB: number
  blocksReceivedPerMB: number
  /** Frames sent and received that carried presence entries only (a have-map could remove them outright) per MB. */
  presenceFramesPerMB: number
  /** Those frames' share of all frames sent and received. */
  presenceShareOfFrames: number
  /** Presence entries' share of all entries sent and received (want-have, want-block, cancel, HAVE, DONT_HAVE, blocks). */
  presenceShareOfEntries: number
  /** Presence entries' protobuf bytes, share of all bytes sent and received. */
  presenceShareOfBytes: number
  /** Sums behind the figures above. */
  totals: { mb: number, sent: Record<string, number>, received: Record<string, number> }
}

/** One N's figures for one implementation. */
export interface SwarmRow {
  impl: 'tensorswap' | 'helia'
  leechers: number
  ms: number[]
  /** Slowest over the slowest of one leecher alone (same implementation, same run). */
  ratioMax: number
  /** Share of block bytes leechers got from other leechers. */
  fromLeechers: number
  /** Helia only: leechers killed at `--helia-limit` (their `ms` is the limit; their bytes are not counted). */
  stalled?: number
  /** Ours only: blocks that arrived twice, bytes. */
  duplicateBytes?: number
  /** Ours only. */
  messages?: SwarmMessages
  /**
   * Ours only: CPU seconds (user + system) of each leecher over its life (`bench/lib/exit-probe.ts`)
   * and of the seeder over the phase (`/proc/PID/stat`), and their sum over what the machine's
   * cores could give in the slowest leecher's time (1: every core busy with our processes).
   */
  cpu?: { leechersS: number[], seederS: number, share: number }
}

/** The probe that reports a process's CPU at exit (compiled beside this file's directory). */
const EXIT_PROBE = new URL('../lib/exit-probe.js', import.meta.url).href

/** CPU seconds (user + system) `pid` has used so far, from `/proc/PID/stat` (clock ticks of 1/100 s, Linux's USER_HZ). */
async function procCpuS (pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(')').pop()?.trim().split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** The test helpers, compiled into dist-test/ by the test project (test/swarm/swarm-net.ts, test/helpers/). */
async function helpers (): Promise<any> {
  const at = (p: string): string => new URL(`../../../dist-test/test/${p}`, import.meta.url).href
  return { ...await import(at('helpers/cli.js')), ...await import(at('helpers/model.js')), ...await import(at('helpers/netns.js')), ...await import(at('helpers/store.js')), ...await import(at('swarm/swarm-net.js')) }
}

/** Sum `get --json` `messages` over leechers, per MB of block bytes fetched. */
function messagesPerMB (jsons: any[]): SwarmMessages {
  const sum = (dir: 'sent' | 'received'): Record<string, number> => {
    const out: Record<string, number> = {}
    for (const j of jsons) for (const [k, v] of Object.entries(j.messages[dir] as Record<string, number>)) out[k] = (out[k] ?? 0) + v
    return out
  }
  const sent = sum('sent')
  const received = sum('received')
  const mb = jsons.reduce((t, j) => t + (j.bytes as number), 0) / 1e6
  const presence = (c: Record<string, number>): number => c.wantHave + c.have + c.dontHave
  const entries = (c: Record<string, number>): number => c.wantHave + c.wantBlock + c.cancel + c.have + c.dontHave + c.blocks
  return {
    sentPerMB: sent.messages / mb,
    receivedPerMB: received.messages / mb,
    presenceSentPerMB: presence(sent) / mb,
    presenceReceivedPerMB: presence(received) / mb,
    wantBlocksSentPerMB: sent.wantBlock / mb,
    blocksReceivedPerMB: received.blocks / mb,
    presenceFramesPerMB: (sent.presenceMessages + received.presenceMessages) / mb,
    presenceShareOfFrames: (sent.presenceMessages + received.presenceMessages) / (sent.messages + received.messages),
    presenceShareOfEntries: (presence(sent) + presence(received)) / (entries(sent) + entries(received)),
    presenceShareOfBytes: (sent.presenceBytes + received.presenceBytes) / (sent.bytes + received.bytes),
    totals: { mb, sent, received }
  }
}

async function main (): Promise<void> {
  const h = await helpers()
  const { values } = parseArgs({
    allowNegative: true,
    options: { bytes: { type: 'string', default: '32MiB' }, leechers: { type: 'string', default: '1,2,4,8' }, rate: { type: 'string', default: '100' }, helia: { type: 'boolean', default: true }, 'helia-limit': { type: 'string', default: '180' }, 'helia-bitswap': { type: 'string' }, 'helia-libp2p': { type: 'string' }, dump: { type: 'string' }, 'leech-debug': { type: 'string' }, 'seed-debug': { type: 'string' }, 'seed-compression': { type: 'string', default: 'auto' } }
  })
  const bytes = parseSize(values.bytes)
  const counts = values.leechers.split(',').map(Number)
  const max = Math.max(...counts)
  const work = await mkdtemp(join(tmpdir(), 'ts-bench-swarm-'))
  // host 0: our seeder; 1..max: leechers (ours, then Helia's); max+1: the Helia seeder
  const net = await h.createTestNet(max + 2, { rateMbit: Number(values.rate), prefix: 'swb' })
  const stops: Array<() => Promise<void>> = []
  try {
    const model = join(work, 'model')
    await mkdir(model)
    const file = join(model, 'weights.bin')
    await h.writeRealWeightsFile(file, bytes)
    const sha256 = createHash('sha256').update(await readFile(file)).digest('hex')
    const added = await h.runCliJson(['--repo', join(work, 'seed'), 'add', model])
    const root = added.root as string
    // the same blocks for the Helia seeder, copied while the repo is closed
    const blocks = values.helia ? await h.copyBlocks(join(work, 'seed'), join(work, 'helia-blocks')) : undefined
    // --seed-debug NS: the seeder's DEBUG (with --dump, its stderr goes to DIR/<phase>-seeder.log)
    // --seed-compression off|auto: the seeder's --wire-compression (leechers keep their default)
    const seeder = await h.serveOn(net.hosts[0], join(work, 'seed'), ['--wire-compression', values['seed-compression']], values['seed-debug'] != null ? { DEBUG: values['seed-debug'] } : {})
    stops.push(async () => { await seeder.stop() })
    // --helia-bitswap '<json>': @helia/bitswap options for every Helia node (its defaults otherwise)
    // --helia-libp2p '<json>': top-level libp2p options for them (e.g. the connection monitor's)
    const heliaExtra = [...(values['helia-bitswap'] != null ? ['--bitswap', values['helia-bitswap']] : []), ...(values['helia-libp2p'] != null ? ['--libp2p', values['helia-libp2p']] : [])]
    const heliaSeeder = blocks != null ? await h.heliaSeedOn(net.hosts[max + 1], blocks, heliaExtra) : undefined
    if (heliaSeeder != null) stops.push(async () => { await heliaSeeder.stop() })
    await h.waitForProviders(net.hosts[1], join(work, 'probe'), root, seeder.addr, [seeder.peerId])

    const ours = async (n: number, tag: string): Promise<Array<{ ms: number, json: any }> & { cpu?: SwarmRow['cpu'] }> => {
      const probe = join(work, `cpu-${tag}.jsonl`)
      const env = {
        ...(values['leech-debug'] != null ? { DEBUG: values['leech-debug'] } : {}),
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${EXIT_PROBE}`.trim(),
        EXIT_PROBE_OUT: probe
      }
      const seederBefore = seeder.child.pid != null ? await procCpuS(seeder.child.pid) : NaN
      const started = performance.now()
      const rs = await Promise.all(net.hosts.slice(1, n + 1).map(async (host: unknown, i: number) => await h.getOn(host, join(work, `${tag}-${i}`), root, ['--bootstrap', seeder.addr], 600_000, env).done))
      if (values.dump != null) {
        // --dump DIR: each leecher's `get --json` and the tail of its stderr (its DEBUG log with --leech-debug NS)
        await mkdir(values.dump, { recursive: true })
        for (const [i, r] of rs.entries()) {
          await writeFile(join(values.dump, `${tag}-${i}.json`), r.stdout)
          await writeFile(join(values.dump, `${tag}-${i}.log`), r.stderr)
        }
        await writeFile(join(values.dump, `${tag}-seeder.log`), seeder.stderr())
      }
      for (const r of rs) if (r.code !== 0) throw new Error(`a leecher exited ${r.code}: ${r.stderr.slice(-1000)}`)
      const seederS = seeder.child.pid != null ? await procCpuS(seeder.child.pid) - seederBefore : NaN
      const leechersS = (await readFile(probe, 'utf8').catch(() => '')).trim().split('\n').filter(l => l !== '').map(l => JSON.parse(l).cpuS as number)
      const wallS = Math.max((performance.now() - started) / 1000, ...rs.map((r: any) => r.ms / 1000))
      const cpu = leechersS.length === n ? { leechersS, seederS, share: (leechersS.reduce((a, b) => a + b, 0) + seederS) / (availableParallelism() * wallS) } : undefined
      return Object.assign(rs as Array<{ ms: number, json: any }>, { cpu })
    }
    const heliaLimitMs = Number(values['helia-limit']) * 1000
    // a Helia leecher that has not finished after --helia-limit s is killed and counted as
    // stalled (its time shows as the limit): the run goes on
    const helias = async (n: number): Promise<Array<{ ms: number, json: any, stalled: boolean }>> => {
      const leeches = await Promise.all(net.hosts.slice(1, n + 1).map(async (host: unknown) => await h.heliaLeechOn(host, added.filesRoot, ['weights.bin'], heliaLimitMs, heliaExtra)))
      try {
        const rs = await Promise.all(leeches.map(async (l: any) => await l.go([heliaSeeder.addrs[0], ...leeches.filter((o: any) => o !== l).map((o: any) => o.addrs[0])])))
        return rs.map((r: any) => {
          if (r.code !== 0) {
            process.stderr.write(`a Helia leecher exited ${r.code} after ${Math.round(r.ms)} ms (limit ${heliaLimitMs} ms): ${r.stderr.slice(-1000)}\n`)
            return { ms: r.ms, json: { fromPeers: {} }, stalled: true }
          }
          if (r.json.files[0].sha256 !== sha256) throw new Error(`a Helia leecher got other bytes (sha256 ${r.json.files[0].sha256 as string})`)
          return { ...r, stalled: false }
        })
      } finally {
        for (const l of leeches) await l.stop()
      }
    }
    const slowest = (rs: Array<{ ms: number }>): number => Math.max(...rs.map(r => r.ms))
    const alone = slowest(await ours(1, 'alone'))
    const heliaAloneRun = heliaSeeder != null ? await helias(1) : undefined
    if (heliaAloneRun?.[0].stalled === true) throw new Error('the Helia leecher alone did not finish')
    const heliaAlone = heliaAloneRun != null ? slowest(heliaAloneRun) : undefined
    const rows: SwarmRow[] = []
    const emit = (row: SwarmRow, aloneMs: number): void => {
      rows.push(row)
      process.stdout.write(JSON.stringify({ event: 'swarm', aloneMs: Math.round(aloneMs), ...row }) + '\n')
    }
    for (const n of counts) {
      const rs = await ours(n, `n${n}`)
      const total = rs.reduce((t, r) => t + (r.json.bytes as number), 0)
      const other = rs.reduce((t, r) => t + Object.entries(r.json.peers as Record<string, { bytesReceived: number }>).filter(([id]) => id !== seeder.peerId).reduce((a, [, p]) => a + p.bytesReceived, 0), 0)
      emit({
        impl: 'tensorswap',
        leechers: n,
        ms: rs.map(r => Math.round(r.ms)),
        ratioMax: slowest(rs) / alone,
        fromLeechers: total > 0 ? other / total : 0,
        duplicateBytes: rs.reduce((t, r) => t + (r.json.duplicateBytes as number ?? 0), 0),
        messages: messagesPerMB(rs.map(r => r.json)),
        ...(rs.cpu != null ? { cpu: rs.cpu } : {})
      }, alone)
      if (heliaSeeder == null || heliaAlone == null) continue
      const hs = await helias(n)
      const fromPeers = hs.map(r => r.json.fromPeers as Record<string, number>)
      const hTotal = fromPeers.reduce((t, f) => t + Object.values(f).reduce((a, b) => a + b, 0), 0)
      const hOther = fromPeers.reduce((t, f) => t + Object.entries(f).filter(([id]) => id !== heliaSeeder.peerId).reduce((a, [, b]) => a + b, 0), 0)
      // with DEBUG=helia:*:error in the environment the Helia processes log their send errors
      if (hs.some(r => r.stalled) && heliaSeeder.stderr() !== '') process.stderr.write(`Helia seeder's stderr (tail): ${heliaSeeder.stderr().slice(-4000)}\n`)
      emit({ impl: 'helia', leechers: n, ms: hs.map(r => Math.round(r.ms)), ratioMax: slowest(hs) / heliaAlone, fromLeechers: hTotal > 0 ? hOther / hTotal : 0, stalled: hs.filter(r => r.stalled).length }, heliaAlone)
    }
    const s = (ms: number): string => (ms / 1000).toFixed(1)
    const pct = (x: number): string => `${(100 * x).toFixed(0)} %`
    const heliaCols = heliaAlone != null
    process.stdout.write(`\n${bytes} bytes, ${values.rate} Mbit/s links; one alone: ours ${s(alone)} s${heliaCols ? `, Helia ${s(heliaAlone)} s` : ''}\n\n`)
    process.stdout.write(`| leechers | ours slowest s | ours / one alone | ours from leechers |${heliaCols ? ' Helia slowest s | Helia / one alone | Helia from leechers | Helia / ours |' : ''}\n|---|---|---|---|${heliaCols ? '---|---|---|---|' : ''}\n`)
    for (const r of rows.filter(r => r.impl === 'tensorswap')) {
      const hr = rows.find(x => x.impl === 'helia' && x.leechers === r.leechers)
      const stalled = (hr?.stalled ?? 0) > 0 ? ` (${hr?.stalled ?? 0} of ${r.leechers} stalled, killed)` : ''
      const gt = stalled !== '' ? '>= ' : ''
      process.stdout.write(`| ${r.leechers} | ${s(Math.max(...r.ms))} | ${r.ratioMax.toFixed(2)} | ${pct(r.fromLeechers)} |${hr != null ? ` ${gt}${s(Math.max(...hr.ms))}${stalled} | ${gt}${hr.ratioMax.toFixed(2)} | ${pct(hr.fromLeechers)} | ${gt}${(Math.max(...hr.ms) / Math.max(...r.ms)).toFixed(2)} |` : ''}\n`)
    }
    process.stdout.write('\nOurs, per MB fetched (summed over the leechers\' `get --json` messages): frames sent / received, presence entries (want-have + HAVE + DONT_HAVE) sent / received, want-blocks sent, blocks received, frames carrying presence entries only (sent + received); presence share of frames, entries and bytes (sent + received)\n\n')
    process.stdout.write('| leechers | frames sent | frames received | presence sent | presence received | want-blocks sent | blocks received | presence-only frames | of frames | of entries | of bytes | duplicate bytes |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n')
    for (const r of rows.filter(r => r.impl === 'tensorswap')) {
      const m = r.messages as SwarmMessages
      process.stdout.write(`| ${r.leechers} | ${m.sentPerMB.toFixed(1)} | ${m.receivedPerMB.toFixed(1)} | ${m.presenceSentPerMB.toFixed(1)} | ${m.presenceReceivedPerMB.toFixed(1)} | ${m.wantBlocksSentPerMB.toFixed(1)} | ${m.blocksReceivedPerMB.toFixed(1)} | ${m.presenceFramesPerMB.toFixed(1)} | ${pct(m.presenceShareOfFrames)} | ${pct(m.presenceShareOfEntries)} | ${(100 * m.presenceShareOfBytes).toFixed(3)} % | ${r.duplicateBytes ?? 0} |\n`)
    }
    // CPU: is the phase bound by the cores? (share 1 = every core busy with our processes the whole time)
    process.stdout.write(`\nOurs, CPU (user + system) per phase: each leecher over its life, the seeder over the phase, and their sum over ${availableParallelism()} cores x the phase's time\n\n| leechers | leechers' core-s (each) | seeder core-s | of the cores |\n|---|---|---|---|\n`)
    for (const r of rows.filter(r => r.impl === 'tensorswap' && r.cpu != null)) {
      const c = r.cpu as NonNullable<SwarmRow['cpu']>
      process.stdout.write(`| ${r.leechers} | ${c.leechersS.map(x => x.toFixed(2)).join(', ')} | ${c.seederS.toFixed(2)} | ${pct(c.share)} |\n`)
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err: Error) => { process.stderr.write(`stopping: ${err.message}\n`) })
    await net.destroy()
    await rm(work, { recursive: true, force: true })
  }
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main()
}

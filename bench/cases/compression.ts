/**
 * Wire compression and push, one-off (not a case of `npm run bench`; `cases` is empty):
 *
 *   flock /tmp/heavy.lock node dist-bench/bench/cases/compression.js [--mib 48] [--runs 2] [--rate 100] [--only push|fetch|capped|loopback|ratio] [--seeder-log DIR] [--bin bundle|src]
 *
 * `--only fetch` runs 1 and 2 (the F16 fetch, capped link then loopback), `capped` or `loopback`
 * one of them, `ratio` only 5, `push` 3 and 4. `--seeder-log DIR` writes each seeder's stderr
 * with `DEBUG=tensorswap:wire` (the compression decisions) to `DIR/<where>-<mode>-<n>.log`.
 *
 * Needs root (network namespaces, `tc tbf`). Every figure below is measured in the same run:
 * 1. A real F16 checkpoint (the human-models float16 weights as stored, as one safetensors file)
 *    fetched by `tensorswap get -o` from `tensorswap serve` between two namespaced hosts on a
 *    `--rate` Mbit/s link, the seeder with `--wire-compression off` and `auto` alternately.
 * 2. The same fetch on loopback (no namespace), `off` and `auto` alternately.
 * 3. Gradient round trip: a 10 MiB checkpoint of 40 tensors x 256 KiB (real F32 weights) pushed
 *    with `tensorswap push --json` to `serve --accept-push any` (`seconds`: call to "receiver
 *    holds it"), against the raw transfer time of the same bytes over one TCP connection, on
 *    loopback and on the capped link.
 * 4. Delta push: the next checkpoint with 4 of its 40 tensors (10% of the tensor bytes)
 *    replaced, pushed to a receiver holding the first: bytes moved / checkpoint size.
 * 5. Compression ratio per dtype (F32, F16, BF16) of every leaf of the real tensors.
 * Times are wall clock of the whole `get` process (start-up included, the same in both modes).
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { compressBlock, encodePrefix } from 'tensorswap'
import { realTensors, writeTensorsSafetensors, type RealDtype } from '../../test/helpers/model.js'
import { createTestNet, type TestHost } from '../../test/helpers/netns.js'
import type { BenchCase } from '../lib/types.js'

/** Not a harness case (see the module comment). */
export const cases: BenchCase[] = []

/**
 * The CLI: the committed entry point (`packages/cli/bin/tensorswap.js`, what `tensorswap` runs:
 * the esbuild bundle while fresh), or with `--bin src` the unbundled `dist/src/bin.js` (~0.5 s
 * more start-up per process, bench/README.md "Start-up"; the figures before 2026-12-04 18:00).
 */
let BIN = fileURLToPath(new URL('../../../packages/cli/bin/tensorswap.js', import.meta.url))
const SRC_BIN = fileURLToPath(new URL('../../../packages/cli/dist/src/bin.js', import.meta.url))
const MiB = 1024 * 1024

/** Spawn node (or `cmd`) on `host` (a namespace) or here. */
function start (host: TestHost | undefined, args: string[], cmd = process.execPath): ChildProcess {
  return host != null ? host.spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
}

/** CPU seconds (user + system) `pid` has used so far, from /proc/<pid>/stat (clock ticks of 1/100 s). */
async function cpuOf (pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Run to exit under `/usr/bin/time`; stdout, wall ms, CPU seconds (user + system) of the process. */
async function runTimed (host: TestHost | undefined, args: string[]): Promise<{ stdout: string, ms: number, cpu: number }> {
  const { stdout, stderr, ms } = await run(host, ['-f', 'CPU %U %S', process.execPath, ...args], '/usr/bin/time')
  const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(stderr)
  if (m == null) throw new Error(`no CPU figure from /usr/bin/time: ${stderr.slice(-300)}`)
  return { stdout, ms, cpu: Number(m[1]) + Number(m[2]) }
}

/** Run to exit; stdout, stderr, wall ms. */
async function run (host: TestHost | undefined, args: string[], cmd?: string): Promise<{ stdout: string, stderr: string, ms: number }> {
  const t0 = performance.now()
  const child = start(host, args, cmd)
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  if (code !== 0) throw new Error(`${args.slice(0, 4).join(' ')} exited ${code}: ${stderr.slice(-1500)}`)
  return { stdout, stderr, ms: performance.now() - t0 }
}

/** `tensorswap serve` on `listen`; resolves with its address once listening. */
async function serve (host: TestHost | undefined, repo: string, listen: string, extra: string[], logFile?: string): Promise<{ child: ChildProcess, addr: string }> {
  const args = [BIN, '--repo', repo, 'serve', '--listen', listen, ...extra]
  const child = logFile == null
    ? start(host, args)
    : host != null
      ? host.spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBUG: 'tensorswap:wire' } })
      : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBUG: 'tensorswap:wire' } })
  if (logFile != null) child.stderr?.pipe(createWriteStream(logFile))
  else child.stderr?.resume()
  const addr = await new Promise<string>((resolve, reject) => {
    child.once('exit', code => { reject(new Error(`serve exited ${code}`)) })
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', l => { if (l.startsWith('listening ')) resolve(l.slice(10)) })
  })
  return { child, addr }
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode != null) return
  child.kill('SIGTERM')
  await new Promise(resolve => child.once('exit', resolve))
}

/** Raw transfer of `bytes` over one TCP connection from `client` to `server` (ms from connect to the last byte read). */
async function rawTcp (server: TestHost | undefined, serverIp: string, client: TestHost | undefined, bytes: number): Promise<number> {
  const port = 30_000 + Math.floor(Math.random() * 20_000)
  const recv = start(server, ['-e', `const n=${bytes};let got=0,t0;require('net').createServer(s=>{t0=performance.now();s.on('data',d=>{got+=d.length;if(got>=n){process.stdout.write(String(performance.now()-t0));process.exit(0)}})}).listen(${port},'${serverIp}',()=>console.error('up'))`])
  await new Promise<void>(resolve => { recv.stderr?.once('data', () => { resolve() }) })
  let out = ''
  recv.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d })
  const done = new Promise(resolve => recv.once('exit', resolve))
  await run(client, ['-e', `const s=require('net').connect(${port},'${serverIp}',()=>{const b=Buffer.alloc(1<<20,7);let left=${bytes};const w=()=>{while(left>0){const n=Math.min(left,b.length);left-=n;if(!s.write(b.subarray(0,n))){s.once('drain',w);return}}s.end()};w()})`])
  await done
  return Number(out)
}

const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { mib: { type: 'string', default: '48' }, runs: { type: 'string', default: '2' }, rate: { type: 'string', default: '100' }, only: { type: 'string' }, 'seeder-log': { type: 'string' }, bin: { type: 'string', default: 'bundle' } } })
  if (values.bin === 'src') BIN = SRC_BIN
  else if (values.bin !== 'bundle') throw new Error(`--bin ${values.bin}: expected bundle or src`)
  const only = values.only
  const want = (part: 'ratio' | 'capped' | 'loopback' | 'push'): boolean => only == null || only === part || (only === 'fetch' && (part === 'capped' || part === 'loopback'))
  const seederLog = values['seeder-log']
  if (seederLog != null) await mkdir(seederLog, { recursive: true })
  const checkpointBytes = Number(values.mib) * MiB
  const runs = Number(values.runs)
  const rate = Number(values.rate)
  const work = await mkdtemp(join(tmpdir(), 'ts-bench-compress-'))
  const net = await createTestNet(2, { rateMbit: rate })
  const [a, b] = net.hosts
  const lines: string[] = []
  const say = (l: string): void => { lines.push(l); process.stdout.write(l + '\n') }
  try {
    // 5. ratio per dtype
    for (const dtype of !want('ratio') ? [] : ['F32', 'F16', 'BF16'] as RealDtype[]) {
      let raw = 0
      let wire = 0
      for (const t of await realTensors(dtype, 32 * MiB, 0)) {
        for (let at = 0; at < t.bytes.byteLength; at += MiB) {
          const bytes = t.bytes.subarray(at, Math.min(t.bytes.byteLength, at + MiB))
          const cid = CID.createV1(0x55, Digest.create(0x12, createHash('sha256').update(bytes).digest()))
          const c = await compressBlock({ cid, bytes }, encodePrefix(cid))
          raw += bytes.byteLength
          wire += c == null ? bytes.byteLength : c.planes.reduce((n, p) => n + p.data.byteLength, 0)
        }
      }
      say(`ratio ${dtype}: ${wire} / ${raw} = ${(wire / raw).toFixed(3)}`)
    }

    // 1 + 2. F16 checkpoint, capped link then loopback
    await mkdir(join(work, 'f16'))
    const fetching = want('capped') || want('loopback')
    const size = !fetching ? 0 : await writeTensorsSafetensors(join(work, 'f16', 'model.safetensors'), 'F16', await realTensors('F16', checkpointBytes, 0))
    const root = !fetching ? '' : JSON.parse((await run(undefined, [BIN, '--repo', join(work, 'seed'), 'add', join(work, 'f16'), '--json'])).stdout).root
    if (size > 0) say(`F16 checkpoint: ${size} bytes`)
    for (const [where, seedHost, leechHost, listen] of ([[`${rate} Mbit/s`, a, b, `/ip4/${a.ip}/tcp/4001`], ['loopback', undefined, undefined, '/ip4/127.0.0.1/tcp/0']] as const).filter(([w]) => want(w === 'loopback' ? 'loopback' : 'capped'))) {
      const times: Record<string, number[]> = { off: [], auto: [] }
      /** The fetch alone, as `get --json` reports it (`seconds`: start-up and writing the files excluded), ms. */
      const fetches: Record<string, number[]> = { off: [], auto: [] }
      const cpu: Record<string, { seeder: number[], leecher: number[] }> = { off: { seeder: [], leecher: [] }, auto: { seeder: [], leecher: [] } }
      let n = 0
      for (let r = 0; r < runs; r++) {
        for (const mode of r % 2 === 0 ? ['off', 'auto'] : ['auto', 'off']) {
          const seeder = await serve(seedHost, join(work, 'seed'), listen, ['--wire-compression', mode], seederLog == null ? undefined : join(seederLog, `${where.replace(/\W/g, '')}-${mode}-${n}.log`))
          try {
            const leech = join(work, `leech-${n++}`)
            const seederCpu0 = await cpuOf(seeder.child.pid as number)
            const { stdout, ms, cpu: leecherCpu } = await runTimed(leechHost, [BIN, '--repo', leech, 'get', root, '-o', join(leech, 'out'), '--peer', seeder.addr, '--json'])
            times[mode].push(ms)
            fetches[mode].push(Number(JSON.parse(stdout).seconds) * 1000)
            cpu[mode].seeder.push(await cpuOf(seeder.child.pid as number) - seederCpu0)
            cpu[mode].leecher.push(leecherCpu)
            await rm(leech, { recursive: true, force: true })
          } finally {
            await stop(seeder.child)
          }
        }
      }
      const off = median(times.off)
      const auto = median(times.auto)
      say(`${where}: get of the F16 checkpoint, off ${times.off.map(fmt).join(' / ')}, auto ${times.auto.map(fmt).join(' / ')}; off/auto (median) = ${(off / auto).toFixed(3)}`)
      say(`${where}: the fetch alone (get --json "seconds"), off ${fetches.off.map(fmt).join(' / ')}, auto ${fetches.auto.map(fmt).join(' / ')}; off/auto (median) = ${(median(fetches.off) / median(fetches.auto)).toFixed(3)}`)
      const cpus = (xs: number[]): string => xs.map(x => x.toFixed(2)).join(' / ')
      say(`${where}: CPU seconds during the get (user + system): seeder off ${cpus(cpu.off.seeder)}, auto ${cpus(cpu.auto.seeder)}; leecher (whole process) off ${cpus(cpu.off.leecher)}, auto ${cpus(cpu.auto.leecher)}; auto/off (median) seeder ${(median(cpu.auto.seeder) / median(cpu.off.seeder)).toFixed(2)}, leecher ${(median(cpu.auto.leecher) / median(cpu.off.leecher)).toFixed(2)}`)
    }

    // 3 + 4. gradient round trip and delta push
    if (want('push')) {
      const f32 = Buffer.concat((await realTensors('F32', 12 * MiB, 0)).map(t => t.bytes))
      const grads = Array.from({ length: 44 }, (_, i) => f32.subarray(i * 256 * 1024, (i + 1) * 256 * 1024))
      const ckA = grads.slice(0, 40).map((bytes, i) => ({ name: `grad.${i}`, bytes }))
      const ckB = ckA.map((t, i) => i % 10 === 3 ? { name: t.name, bytes: grads[40 + (i - 3) / 10] } : t)
      await mkdir(join(work, 'ga'))
      await mkdir(join(work, 'gb'))
      const sizeA = await writeTensorsSafetensors(join(work, 'ga', 'grads.safetensors'), 'F32', ckA)
      await writeTensorsSafetensors(join(work, 'gb', 'grads.safetensors'), 'F32', ckB)
      const rootA = JSON.parse((await run(undefined, [BIN, '--repo', join(work, 'pusher'), 'add', join(work, 'ga'), '--json'])).stdout).root
      const rootB = JSON.parse((await run(undefined, [BIN, '--repo', join(work, 'pusher'), 'add', join(work, 'gb'), '--json'])).stdout).root
      for (const [where, recvHost, pushHost, listen, ip] of [['loopback', undefined, undefined, '/ip4/127.0.0.1/tcp/0', '127.0.0.1'], [`${rate} Mbit/s`, a, b, `/ip4/${a.ip}/tcp/4002`, a.ip]] as const) {
        const raws: number[] = []
        const trips: number[] = []
        let delta: any
        for (let r = 0; r < runs; r++) {
          raws.push(await rawTcp(recvHost, ip, pushHost, sizeA))
          const repo = join(work, `recv-${where.replace(/\W/g, '')}-${r}`)
          const receiver = await serve(recvHost, repo, listen, ['--accept-push', 'any'])
          try {
            const first = JSON.parse((await run(pushHost, [BIN, '--repo', join(work, 'pusher'), 'push', rootA, '--peer', receiver.addr, '--json'])).stdout)
            trips.push(first.seconds * 1000)
            delta = JSON.parse((await run(pushHost, [BIN, '--repo', join(work, 'pusher'), 'push', rootB, '--peer', receiver.addr, '--json'])).stdout)
          } finally {
            await stop(receiver.child)
          }
        }
        say(`${where}: push of ${sizeA} bytes (40 x 256 KiB F32), round trip ${trips.map(t => `${t.toFixed(0)} ms`).join(' / ')}; raw TCP of the same bytes ${raws.map(t => `${t.toFixed(0)} ms`).join(' / ')}; round trip / raw (median) = ${(median(trips) / median(raws)).toFixed(2)}`)
        say(`${where}: delta push (4 of 40 tensors changed): moved ${delta.bytes} bytes in ${delta.blocks} blocks, ${delta.blocksAlreadyThere} there already; moved / checkpoint = ${(delta.bytes / sizeA).toFixed(3)}; round trip ${(delta.seconds * 1000).toFixed(0)} ms`)
      }
    }
  } finally {
    await net.destroy()
    await rm(work, { recursive: true, force: true })
  }
  process.stdout.write(`\n${lines.join('\n')}\n`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main()

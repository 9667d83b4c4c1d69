/**
 * Swarm processes on namespaced hosts (test/helpers/netns.ts) for test/swarm/ and
 * bench/cases/swarm.ts: `tensorswap serve` on a host, `tensorswap get --json` on a host (its
 * wall time measured), a wait until the DHT lists providers, and the bytes a directory holds
 * on disk (to act mid-fetch on real progress, not after a fixed delay). For swarms of Helia 7
 * nodes next to ours: a Helia seeder serving a copy of a repo's blocks and Helia leechers
 * (test/helpers/helia-peer.ts), each on a host.
 *
 * @module
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { BIN } from '../helpers/cli.js'
import { HELIA_PEER } from '../helpers/processes.js'
import { reapOnExit } from '../helpers/reap.js'
import type { TestHost } from '../helpers/netns.js'
import type { ChildProcess } from 'node:child_process'

/** A `tensorswap serve` on a namespaced host. */
export interface HostServe {
  child: ChildProcess
  peerId: string
  /** Its TCP multiaddr on the host's address, with /p2p/<id>. */
  addr: string
  stderr(): string
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>
}

/** The last 4 MB a child wrote to `stream` (enough for a DEBUG log of a bench phase), read as it comes. */
function keepTail (stream: NodeJS.ReadableStream): { text: string } {
  const tail = { text: '' }
  stream.setEncoding('utf8')
  stream.on('data', (d: string) => { tail.text = (tail.text + d).slice(-4_000_000) })
  return tail
}

/**
 * Start `tensorswap --repo REPO serve --listen /ip4/<host ip>/tcp/0 ...extra` on `host` and wait
 * for its `peer` and `listening` lines.
 *
 * @throws Error when it exits first or is not ready in 30 s
 */
export async function serveOn (host: TestHost, repo: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<HostServe> {
  const child = reapOnExit(host.spawn(process.execPath, [BIN, '--repo', repo, 'serve', '--listen', `/ip4/${host.ip}/tcp/0`, ...extra], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }))
  const stderrTail = keepTail(child.stderr!)
  const stderr = (): string => stderrTail.text
  const ready = await new Promise<{ peerId: string, addr: string }>((resolve, reject) => {
    let peerId: string | undefined
    const timer = setTimeout(() => { reject(new Error(`serve on ${host.ip} not ready in 30 s: ${stderr()}`)) }, 30_000)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`serve on ${host.ip} exited ${code}: ${stderr()}`)) })
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (l.startsWith('peer ')) peerId = l.slice(5)
      if (l.startsWith('listening ') && peerId != null) {
        clearTimeout(timer)
        resolve({ peerId, addr: l.slice('listening '.length) })
      }
    })
  })
  return {
    child,
    ...ready,
    stderr,
    stop: async () => {
      if (child.exitCode != null || child.signalCode != null) return
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  }
}

/** What a `get --json` on a host ended with. */
export interface HostGet {
  code: number | null
  /** Wall time of the whole process, ms. */
  ms: number
  /** The parsed `--json` summary (undefined when the get failed). */
  json?: any
  stdout: string
  stderr: string
}

/** A `get` started on a host: the child (to watch or kill), its stderr so far (the last 4 MB) and its end. */
export interface RunningGet { child: ChildProcess, stderr(): string, done: Promise<HostGet> }

/**
 * Start `tensorswap --repo REPO get ROOT --json ...args` on `host`. Killed (SIGKILL) after
 * `limitMs`, which then shows as a non-zero `code`.
 */
export function getOn (host: TestHost, repo: string, root: string, args: string[], limitMs = 60_000, env: NodeJS.ProcessEnv = {}): RunningGet {
  const started = performance.now()
  const child = reapOnExit(host.spawn(process.execPath, [BIN, '--repo', repo, 'get', root, '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }))
  let stdout = ''
  const stderrTail = keepTail(child.stderr!)
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs)
  const done = new Promise<HostGet>(resolve => {
    child.once('exit', (code) => {
      clearTimeout(timer)
      const ms = performance.now() - started
      let json: any
      if (code === 0) {
        try {
          json = JSON.parse(stdout)
        } catch {}
      }
      resolve({ code, ms, json, stdout, stderr: stderrTail.text })
    })
  })
  return { child, stderr: () => stderrTail.text, done }
}

/** Run `tensorswap ARGS` on `host` to its end: exit code and output. */
export async function cliOn (host: TestHost, args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = reapOnExit(host.spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }))
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  return { code, stdout, stderr }
}

/**
 * `providers ROOT --bootstrap BOOT --json` on `host` (a scratch repo) until every peer of
 * `want` is listed as found on the DHT (provides run in the background after `serve` starts).
 *
 * @throws Error when they are not all listed within `ms`
 */
export async function waitForProviders (host: TestHost, repo: string, root: string, boot: string, want: string[], ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  let last = ''
  while (Date.now() < deadline) {
    const r = await cliOn(host, ['--repo', repo, 'providers', root, '--bootstrap', boot, '--find-timeout', '3000', '--json'])
    last = r.stdout + r.stderr
    if (r.code === 0) {
      const found = (JSON.parse(r.stdout) as { providers: Array<{ peerId: string }> }).providers
      if (want.every(id => found.some(p => p.peerId === id))) return
    }
    await new Promise(resolve => setTimeout(resolve, 300))
  }
  throw new Error(`providers never listed ${want.join(', ')}: ${last.slice(-2000)}`)
}

/** Bytes allocated on disk under `dir` (sparse files count what is written), 0 when absent. */
export async function bytesOnDisk (dir: string): Promise<number> {
  let total = 0
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
  for (const e of entries) {
    const p = join(dir, e.name)
    if (e.isDirectory()) total += await bytesOnDisk(p)
    else if (e.isFile()) total += await stat(p).then(s => s.blocks * 512, () => 0)
  }
  return total
}

/** Resolves once `bytesOnDisk(dirs)` reaches `bytes` (polled every 50 ms); rejects after `ms`. */
export async function untilOnDisk (dirs: string[], bytes: number, ms = 30_000): Promise<number> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    let n = 0
    for (const d of dirs) n += await bytesOnDisk(d)
    if (n >= bytes) return n
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`fewer than ${bytes} bytes on disk under ${dirs.join(', ')} after ${ms} ms`)
}

/** A Helia process (test/helpers/helia-peer.ts) on a host, once it printed its `ready` line. */
export interface HostHelia {
  child: ChildProcess
  peerId: string
  /** Its listen multiaddrs, with /p2p/<id>. */
  addrs: string[]
  /** Spawn to `ready`, ms (node and Helia start-up). */
  readyMs: number
  stderr(): string
  /** SIGTERM (a leecher that exited already is left alone) and wait for the exit. */
  stop(): Promise<void>
}

/** What a Helia leecher's fetch ended with. */
export interface HeliaGot {
  code: number | null
  /** Its start-up (spawn to `ready`) plus peer list sent to exit, ms: its whole life without the wait for the other leechers to start. */
  ms: number
  /** Its `fetched` line: `{files:[{path, sha256, bytes}], seconds, fromPeers:{<peer id>: bytes}}` (undefined when it failed). */
  json?: any
  stderr: string
}

/** A Helia leecher started and waiting for its peer list. */
export interface HostHeliaLeech extends HostHelia {
  /** Send the multiaddrs to dial; resolves when the process exits (killed after its limit). */
  go(peers: string[]): Promise<HeliaGot>
}

function startHelia (host: TestHost, args: string[]): { child: ChildProcess, started: number, closed: Promise<number | null>, stderr: () => string, lines: (fn: (evt: any) => void) => void } {
  const started = performance.now()
  const child = reapOnExit(host.spawn(process.execPath, [HELIA_PEER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }))
  // 'close': the exit code once stdout is read to its end (its last line handled)
  const closed = new Promise<number | null>(resolve => child.once('close', resolve))
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-20_000) })
  const listeners: Array<(evt: any) => void> = []
  createInterface({ input: child.stdout! }).on('line', (l) => {
    let evt: any
    try {
      evt = JSON.parse(l)
    } catch {
      stderr += `(stdout) ${l}\n`
      return
    }
    for (const fn of listeners) fn(evt)
  })
  return { child, started, closed, stderr: () => stderr, lines: (fn) => { listeners.push(fn) } }
}

async function heliaReady (host: TestHost, h: ReturnType<typeof startHelia>, what: string): Promise<{ peerId: string, addrs: string[], readyMs: number }> {
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${what} on ${host.ip} not ready in 30 s: ${h.stderr()}`)) }, 30_000)
    h.child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${what} on ${host.ip} exited ${code}: ${h.stderr()}`)) })
    h.lines((evt) => {
      if (evt.event !== 'ready') return
      clearTimeout(timer)
      resolve({ peerId: evt.peerId, addrs: evt.addrs, readyMs: performance.now() - h.started })
    })
  })
}

function heliaStopper (child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode != null || child.signalCode != null) return
    const exited = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
}

/**
 * A Helia 7 node on `host` (TCP+TLS+yamux on the host's address) whose blockstore is the flat
 * FsBlockstore `blocksDir` (test/helpers/store.ts `copyBlocks` of a TensorSwap repo: the same
 * DAG), serving it over Bitswap until stopped.
 *
 * @throws Error when it exits first or is not ready in 30 s
 */
export async function heliaSeedOn (host: TestHost, blocksDir: string, extra: string[] = []): Promise<HostHelia> {
  const h = startHelia(host, ['seed-blocks', blocksDir, '--transport', 'tcp', '--listen', `/ip4/${host.ip}/tcp/0`, ...extra])
  const ready = await heliaReady(host, h, 'helia seeder')
  return { child: h.child, ...ready, stderr: h.stderr, stop: heliaStopper(h.child) }
}

/**
 * Start a Helia 7 leecher of `cid` (its `paths`, `cat` through @helia/unixfs) on `host`,
 * listening on the host's address; it dials the peers given to `go` and serves what it holds
 * over Bitswap while it fetches. Killed (SIGKILL) `limitMs` after `go`, which then shows as a
 * non-zero `code`. `extra`: more helia-peer.ts arguments (`--bitswap '<json>'`).
 *
 * @throws Error when it exits before it is ready or is not ready in 30 s
 */
export async function heliaLeechOn (host: TestHost, cid: string, paths: string[], limitMs = 600_000, extra: string[] = []): Promise<HostHeliaLeech> {
  const h = startHelia(host, ['fetch', cid, '--go', '--transport', 'tcp', '--listen', `/ip4/${host.ip}/tcp/0`, ...paths.flatMap(p => ['--path', p]), ...extra])
  let fetched: any
  h.lines((evt) => { if (evt.event === 'fetched') fetched = evt })
  const ready = await heliaReady(host, h, 'helia leecher')
  return {
    child: h.child,
    ...ready,
    stderr: h.stderr,
    stop: heliaStopper(h.child),
    go: async (peers) => {
      const sent = performance.now()
      const timer = setTimeout(() => h.child.kill('SIGKILL'), limitMs)
      h.child.stdin!.end(JSON.stringify({ peers }) + '\n')
      const code = await h.closed
      clearTimeout(timer)
      return { code, ms: ready.readyMs + performance.now() - sent, json: code === 0 ? fetched : undefined, stderr: h.stderr() }
    }
  }
}

/**
 * Drivers for the hostile-peer and fetch-peer scripts (each in its own process), and a check
 * of what a repo's blockstore holds.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { reapOnExit } from './reap.js'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { getVerifiedBlock, openRepo } from '@tensorswap/blockstore'
import { CID } from 'multiformats/cid'

/** Path of the compiled hostile peer script (test/helpers/hostile-peer.ts). */
export const HOSTILE_PEER = new URL('./hostile-peer.js', import.meta.url).pathname
/** Path of the compiled fetching node script (test/helpers/fetch-peer.ts). */
export const FETCH_PEER = new URL('./fetch-peer.js', import.meta.url).pathname

/** A JSON-lines child process: every event it printed, and a way to wait for one. */
export interface EventProcess {
  child: ChildProcess
  /** Every line parsed, with `atMs`: when it arrived (epoch ms). */
  events: any[]
  /** Resolves with the first event (already seen or to come) matching `pred`; rejects if the process exits first or after `ms`. */
  waitFor(pred: (evt: any) => boolean, ms?: number): Promise<any>
  /** Resolves with the exit code. */
  exited: Promise<number | null>
  stderr(): string
  /** SIGKILL it if still running, and wait for it to exit. */
  kill(): Promise<void>
}

const running = new Set<EventProcess>()

/** SIGKILL every hostile/fetch process still running (an `afterEach` for failed tests). */
export async function killAll (): Promise<void> {
  await Promise.all([...running].map(async p => { await p.kill() }))
}

/** Starts a process (`spawn`, or a namespaced host's `spawn`, test/helpers/netns.ts). */
export type Spawner = (cmd: string, args: string[], options: SpawnOptions) => ChildProcess

function eventProcess (args: string[], spawnIn: Spawner = spawn): EventProcess {
  const child = reapOnExit(spawnIn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }))
  const events: any[] = []
  const listeners = new Set<() => void>()
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    try {
      events.push({ ...JSON.parse(line), atMs: Date.now() })
    } catch {
      events.push({ event: 'non-json', line, atMs: Date.now() })
    }
    for (const l of listeners) l()
  })
  const exited = new Promise<number | null>(resolve => {
    child.once('exit', (code) => {
      // let readline deliver the last lines
      setImmediate(() => {
        resolve(code)
        for (const l of listeners) l()
      })
    })
  })
  let exitCode: number | null | undefined
  void exited.then(c => { exitCode = c ?? -1 })
  const waitFor = async (pred: (evt: any) => boolean, ms = 60_000): Promise<any> => {
    return await new Promise((resolve, reject) => {
      const check = (): void => {
        const found = events.find(pred)
        if (found !== undefined) {
          done()
          resolve(found)
        } else if (exitCode !== undefined) {
          done()
          reject(new Error(`process exited (${exitCode}) without the awaited event; events: ${JSON.stringify(events).slice(0, 2000)}; stderr: ${stderr.slice(-2000)}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out waiting for an event; events: ${JSON.stringify(events).slice(0, 2000)}`))
      }, ms)
      const done = (): void => {
        clearTimeout(timer)
        listeners.delete(check)
      }
      listeners.add(check)
      check()
    })
  }
  const kill = async (): Promise<void> => {
    if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL')
    await exited
  }
  const p: EventProcess = { child, events, waitFor, exited, stderr: () => stderr, kill }
  running.add(p)
  void exited.then(() => { running.delete(p) })
  return p
}

/** A running hostile peer. */
export interface HostilePeer extends EventProcess {
  peerId: string
  addrs: string[]
  /** SIGTERM it and return its `summary` event. */
  stop(): Promise<any>
}

/** Start `hostile-peer.js` with `args` (see its module comment) and wait for `ready`; `spawnIn` runs it elsewhere (a namespaced host). */
export async function startHostile (args: string[], spawnIn?: Spawner): Promise<HostilePeer> {
  const p = eventProcess([HOSTILE_PEER, ...args], spawnIn)
  const ready = await p.waitFor(e => e.event === 'ready', 30_000)
  return {
    ...p,
    peerId: ready.peerId,
    addrs: ready.addrs,
    async stop () {
      if (p.child.exitCode == null && p.child.signalCode == null) p.child.kill('SIGTERM')
      await p.exited
      return p.events.find(e => e.event === 'summary')
    }
  }
}

/** Start `fetch-peer.js` (a `createTensorSwap` node fetching `root` from `peers`). */
export function startFetch (repo: string, root: string, peers: string[], output?: string): EventProcess {
  return eventProcess([FETCH_PEER, '--repo', repo, '--root', root, ...peers.flatMap(p => ['--peer', p]), ...(output != null ? ['--output', output] : [])])
}

/**
 * Read every block of the repo at `repo` and verify it against its multihash.
 *
 * @returns the multihashes (base32 CIDv1 raw strings) of all stored blocks
 * @throws `BlockHashMismatchError` when a stored block does not match its key
 */
export async function verifiedBlockKeys (repo: string): Promise<Set<string>> {
  const keys = new Set<string>()
  const r = await openRepo(repo, { create: false }).catch((err: Error) => {
    if (err.name === 'RepoNotFoundError') return undefined
    throw err
  })
  if (r == null) return keys
  try {
    for await (const { cid } of r.blockstore.getAll()) {
      await getVerifiedBlock(r.blockstore, cid)
      keys.add(cid.toString())
    }
  } finally {
    await r.close()
  }
  return keys
}

/** The repo key (CIDv1 raw, same multihash) of a CID string, to look it up in {@link verifiedBlockKeys}. */
export function blockKeyOf (cid: string): string {
  const c = CID.parse(cid)
  return CID.createV1(0x55, c.multihash).toString()
}

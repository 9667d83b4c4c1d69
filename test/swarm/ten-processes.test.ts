/**
 * A swarm of ten `tensorswap` processes on loopback (issue: swarm; spec/tensorswap.md "Content
 * routing" and §9 Multi-provider sessions): one bootstrap node, one seeder, and 8 leecher daemons
 * (`serve --bootstrap`) that know only the bootstrap address. Every leecher runs `get` with no
 * `--peer` through its own daemon, all at once; one leecher daemon is killed with SIGKILL while
 * the others fetch; every other leecher finishes byte-exact, with its providers found on the
 * DHT or among connected peers. Nothing dials outside this machine.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BIN, runCliJson } from '../helpers/cli.js'
import { digestTree, writeRealWeightsFile } from '../helpers/model.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'
import { reapOnExit } from '../helpers/reap.js'
import { storeBytes } from '../helpers/store.js'

const MiB = 1024 * 1024
const LEECHERS = 8
/** The leecher whose daemon is killed mid-run. */
const VICTIM = 3

/** A `tensorswap get` running as its own process (a client of its repo's daemon). */
interface Get { child: ChildProcess, exited: Promise<number | null>, stdout: () => string, stderr: () => string }

function startGet (repo: string, root: string, out: string): Get {
  const child = reapOnExit(spawn(process.execPath, [BIN, '--repo', repo, 'get', root, '-o', out, '--json', '--timeout', '60'], { stdio: ['ignore', 'pipe', 'pipe'] }))
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-8000) })
  const exited = new Promise<number | null>(resolve => child.once('exit', (code) => { resolve(code) }))
  return { child, exited, stdout: () => stdout, stderr: () => stderr }
}

describe('ten processes on loopback: bootstrap, seeder, 8 leecher daemons fetching at once with no --peer', () => {
  let work: string
  let root: string
  let boot: Running<ServeReady>
  let seeder: Running<ServeReady>
  const leechers: Array<Running<ServeReady>> = []

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-ten-'))
    await mkdir(join(work, 'model'))
    await writeRealWeightsFile(join(work, 'model', 'weights.bin'), 48 * MiB)
    boot = await startServe(join(work, 'boot'), ['/ip4/127.0.0.1/tcp/0'])
    const bootAddr = addrOf(boot.ready, 'tcp')
    const seedRepo = join(work, 'seed')
    root = (await runCliJson(['--repo', seedRepo, 'add', join(work, 'model')])).root
    seeder = await startServe(seedRepo, ['/ip4/127.0.0.1/tcp/0'], ['--bootstrap', bootAddr])
    for (let i = 0; i < LEECHERS; i++) {
      leechers.push(await startServe(join(work, `leech-${i}`), ['/ip4/127.0.0.1/tcp/0'], ['--bootstrap', bootAddr]))
    }
  })
  after(async () => {
    await Promise.all([...leechers, seeder, boot].map(async (p) => await p?.stop()))
    await rm(work, { recursive: true, force: true })
  })

  it('every leecher but the killed one ends byte-exact; providers come from routing, never from a given address', async (t) => {
    const want = await digestTree(join(work, 'model'))
    assert.equal(want.size, 1)
    const gets = leechers.map((_, i) => startGet(join(work, `leech-${i}`), root, join(work, `out-${i}`)))
    try {
      // the victim's daemon dies once its fetch is under way (it has stored part of the file)
      const victimRepo = join(work, `leech-${VICTIM}`)
      const victimOut = join(work, `out-${VICTIM}`)
      while (gets[VICTIM]?.child.exitCode == null && await storeBytes(victimRepo, victimOut) < 4 * MiB) {
        await new Promise(resolve => setTimeout(resolve, 20))
      }
      assert.equal(gets[VICTIM]?.child.exitCode, null, `the victim's get ended before its daemon was killed: ${gets[VICTIM]?.stderr()}`)
      const victim = leechers[VICTIM] as Running<ServeReady>
      const victimExited = new Promise(resolve => victim.child.once('exit', resolve))
      victim.child.kill('SIGKILL')
      await victimExited

      const codes = await Promise.all(gets.map(async g => await g.exited))
      assert.notEqual(codes[VICTIM], 0, 'a get whose daemon was killed does not report success')
      const fromPeers = new Map<string, number>()
      for (let i = 0; i < LEECHERS; i++) {
        if (i === VICTIM) continue
        const g = gets[i] as Get
        assert.equal(codes[i], 0, `leecher ${i}: ${g.stderr()}`)
        assert.deepEqual(await digestTree(join(work, `out-${i}`)), want, `leecher ${i} is byte-exact`)
        const summary = JSON.parse(g.stdout().trim().split('\n').at(-1) as string)
        assert.ok(summary.providers.length >= 1, `leecher ${i} found providers: ${g.stdout()}`)
        for (const p of summary.providers) assert.notEqual(p.source, 'given', JSON.stringify(summary.providers))
        for (const [peer, s] of Object.entries<{ bytesReceived: number }>(summary.peers)) {
          fromPeers.set(peer, (fromPeers.get(peer) ?? 0) + s.bytesReceived)
        }
      }
      const fromSeeder = fromPeers.get(seeder.ready.peerId) ?? 0
      assert.ok(fromSeeder > 0, 'the seeder served')
      const total = [...fromPeers.values()].reduce((a, b) => a + b, 0)
      t.diagnostic(`bytes from leechers: ${((total - fromSeeder) / 1e6).toFixed(1)} MB of ${(total / 1e6).toFixed(1)} MB`)
    } finally {
      for (const g of gets) if (g.child.exitCode == null) g.child.kill('SIGKILL')
    }
  })
})

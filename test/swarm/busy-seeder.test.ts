/**
 * A busy seeder serves all of its peers: one `tensorswap serve` and six `tensorswap get`
 * processes, each on its own namespaced host with its link capped at 100 Mbit/s in both
 * directions, all fetching 48 MiB of real weights (1 MiB blocks) from the seeder at once.
 * Every leecher must finish byte-exact. Before the send deadline followed progress, a leecher
 * whose share of the uplink was slow got `slowReader` penalties for batches that took over 5 s,
 * was banned after four, and failed or hung.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { BIN, runCliJson } from '../helpers/cli.js'
import { digestTree, writeRealWeightsFile } from '../helpers/model.js'
import { mkdir } from 'node:fs/promises'
import { canMakeNamespaces, createTestNet, type TestNet } from '../helpers/netns.js'
import type { ChildProcess } from 'node:child_process'

const LEECHERS = 6
const MODEL_BYTES = 48 * 1024 * 1024
/** Far above the ideal 6 x 50.3 MB / 12.5 MB/s = 24 s: a starved or banned leecher never gets here. */
const LEECHER_LIMIT_MS = 150_000

// CI runs as root: there the test must run, never be skipped
const skip = !canMakeNamespaces() && process.env.CI !== 'true' ? 'needs root for network namespaces' : false

describe('one seeder, six leechers on 100 Mbit/s links', { skip }, () => {
  let work: string
  let net: TestNet
  let model: string
  let root: string
  let seeder: ChildProcess

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-busy-'))
    model = join(work, 'model')
    await mkdir(model)
    await writeRealWeightsFile(join(model, 'weights.bin'), MODEL_BYTES)
    root = (await runCliJson(['--repo', join(work, 'seed'), 'add', model])).root
    net = await createTestNet(LEECHERS + 1, { rateMbit: 100 })
  })
  after(async () => {
    seeder?.kill('SIGKILL')
    await net?.destroy()
    await rm(work, { recursive: true, force: true })
  })

  it('every leecher finishes byte-exact', async () => {
    const host = net.hosts[0]
    seeder = host.spawn(process.execPath, [BIN, '--repo', join(work, 'seed'), 'serve', '--listen', `/ip4/${host.ip}/tcp/4001`], { stdio: ['ignore', 'pipe', 'inherit'] })
    const addr = await new Promise<string>((resolve, reject) => {
      seeder.once('exit', code => { reject(new Error(`seeder exited ${code}`)) })
      createInterface({ input: seeder.stdout! }).on('line', l => { if (l.startsWith('listening ')) resolve(l.slice('listening '.length)) })
    })
    const results = await Promise.all(net.hosts.slice(1).map(async (h, i) => {
      const child = h.spawn(process.execPath, [BIN, '--repo', join(work, `l${i}`), 'get', root, '-o', join(work, `out${i}`), '--peer', addr, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d })
      child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d })
      const timer = setTimeout(() => child.kill('SIGKILL'), LEECHER_LIMIT_MS)
      const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
      clearTimeout(timer)
      return { i, code, stdout, stderr }
    }))
    for (const r of results) assert.equal(r.code, 0, `leecher ${r.i} exited ${r.code}: ${r.stderr.slice(-500)}`)
    const want = await digestTree(model)
    for (let i = 0; i < LEECHERS; i++) assert.deepEqual(await digestTree(join(work, `out${i}`)), want, `leecher ${i} byte-exact`)
  })
})

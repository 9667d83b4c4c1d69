/**
 * Bandwidth limits hold (issue 13 item 3): a ~20 s transfer of a real 27.5 MB model
 * (human-models blazepose-heavy) between two processes, once capped at the seeder
 * (`serve --max-upload-rate`) and once at the fetcher (`get --max-download-rate`); the
 * fetch's paced bytes over its wall time are within 10% of the limit (block bytes at the seeder,
 * wire bytes at the fetcher: spec/tensorswap.md §11), and the files are byte-exact.
 * Timing-bound: run under `flock /tmp/heavy.lock`. Bad limits are usage errors (exit 2).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli, runCliJson } from '../helpers/cli.js'
import { copyHumanModel, digestTree } from '../helpers/model.js'
import { addrOf, startServe } from '../helpers/processes.js'

/** The limit: 27.5 MB at 1.3 MB/s is ~21 s. */
const RATE = 1_300_000

describe('bandwidth limits', () => {
  it('0, negative or garbage limits are usage errors naming the flag', async () => {
    const work = await mkdtemp(join(tmpdir(), 'ts-rate-bad-'))
    try {
      for (const [flag, value] of [['--max-upload-rate', '0'], ['--max-download-rate', '-5'], ['--max-upload-rate-per-peer', 'fast'], ['--max-download-rate-per-peer', '']]) {
        const r = await runCli(['--repo', join(work, 'r'), 'get', 'bafkqaaa', '--peer', '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWAbEqTbhgiP3bv8dGPXQ5zXAHHr9rNrsrBhP1Y3pmN4LP', flag, value])
        assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`)
        assert.match(r.stderr, new RegExp(`^tensorswap: UsageError: ${flag} `), r.stderr)
      }
      const s = await runCli(['--repo', join(work, 'r'), 'serve', '--max-upload-rate', '0'])
      assert.equal(s.code, 2, s.stderr)
    } finally {
      await rm(work, { recursive: true, force: true })
    }
  })

  for (const side of ['upload', 'download'] as const) {
    it(`--max-${side}-rate ${RATE} holds within 10% over a ~20 s transfer`, async () => {
      const work = await mkdtemp(join(tmpdir(), `ts-rate-${side}-`))
      const model = await copyHumanModel('blazepose-heavy', join(work, 'model'))
      const seedRepo = join(work, 'seed')
      const root = (await runCliJson(['--repo', seedRepo, 'add', model])).root
      const seeder = await startServe(seedRepo, undefined, side === 'upload' ? ['--max-upload-rate', String(RATE)] : [])
      try {
        const out = join(work, 'out')
        const got = await runCliJson(['--repo', join(work, 'leech'), 'get', root, '-o', out, '--peer', addrOf(seeder.ready, 'quic'),
          ...(side === 'download' ? ['--max-download-rate', String(RATE)] : [])])
        assert.ok(got.bytes > 27_000_000, `fetched ${got.bytes} bytes`)
        assert.ok(got.seconds > 15, `took ${got.seconds} s`)
        // what each side paces (spec/tensorswap.md §11): the seeder the block bytes it sends
        // (before wire compression), the fetcher the frames it reads (after it: wire bytes)
        const peer = Object.values(got.peers as Record<string, { wireBytesReceived: Record<string, number> }>)[0]
        const wire = Object.values(peer.wireBytesReceived).reduce((n, b) => n + b, 0)
        const paced = side === 'upload' ? got.bytes : wire
        const rate = paced / got.seconds
        assert.ok(Math.abs(rate / RATE - 1) <= 0.10, `${side}: ${Math.round(rate)} B/s (${paced} ${side === 'upload' ? 'block' : 'wire'} bytes) against a limit of ${RATE} (ratio ${(rate / RATE).toFixed(3)}) over ${got.seconds.toFixed(1)} s`)
        console.log(`# ${side} limit ${RATE} B/s: measured ${Math.round(rate)} B/s of ${side === 'upload' ? 'block' : 'wire'} bytes, ratio ${(rate / RATE).toFixed(3)}, ${got.seconds.toFixed(1)} s (block bytes ${got.bytes}, wire bytes ${wire})`)
        assert.deepEqual(await digestTree(out), await digestTree(model))
      } finally {
        await seeder.stop()
        await rm(work, { recursive: true, force: true })
      }
    })
  }
})

/**
 * Fail-over between two seeders, each in its own process: the fetching node (its own process
 * too, test/helpers/fetch-peer.ts) asks both; one of them is killed mid-transfer, stalls
 * (takes wants, never answers) or answers DONT_HAVE. The fetch completes from the other seeder
 * (a real `tensorswap serve`), the files are byte-exact, and no block is fetched twice.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import { killAll, startFetch, startHostile, verifiedBlockKeys, type HostilePeer } from '../helpers/hostile.js'
import { digestTree } from '../helpers/model.js'
import { addrOf, seededServe, type SeededServe } from '../helpers/processes.js'

const MODEL = 'handlandmark-full'

describe('fail-over between two seeders (each in its own process)', () => {
  let seeded: SeededServe
  before(async () => { seeded = await seededServe('ts-failover-', MODEL) })
  afterEach(killAll)
  after(async () => { await seeded?.stop() })

  /**
   * Checks common to every fail-over: byte-exact files, every stored block verified, each block
   * received once, and the blocks credited to the two seeders adding up to what was fetched.
   */
  async function assertCompleteOnce (done: any, repo: string, out: string, other: HostilePeer): Promise<void> {
    assert.equal(seeded.exit(), undefined, 'tensorswap serve is still running')
    assert.equal(done.event, 'done', JSON.stringify(done).slice(0, 2000))
    assert.deepEqual(await digestTree(out), await digestTree(seeded.model))
    const stored = await verifiedBlockKeys(repo)
    assert.equal(stored.size, done.fetch.blocksFetched, 'every stored block verifies; nothing else is stored')
    assert.equal(done.fetch.blocksLocal, 0)
    assert.equal(done.stats.duplicateBlocks, 0, 'no block arrived twice')
    assert.equal(done.stats.blocksReceived, done.fetch.blocksFetched, 'no block was fetched again')
    const fromSeeder = done.stats.ledger[seeded.seeder.ready.peerId]?.blocksReceived ?? 0
    const fromOther = done.stats.ledger[other.peerId]?.blocksReceived ?? 0
    assert.equal(fromSeeder + fromOther, done.fetch.blocksFetched)
  }

  it('a seeder killed mid-transfer: the rest comes from the other, blocks already received are kept', async () => {
    // the first seeder answers 3 wants with real blocks, then goes silent and is killed
    const first = await startHostile(['--mode', 'serve', '--blocks', seeded.seedBlocks, '--hold-after', '3', '--transport', 'tcp'])
    const repo = join(seeded.work, 'leech-killed')
    const out = join(seeded.work, 'out-killed')
    try {
      const fetch = startFetch(repo, seeded.root, [first.addrs[0] as string, addrOf(seeded.seeder.ready, 'tcp')], out)
      const finished = fetch.waitFor(e => e.event === 'done' || e.event === 'error', 120_000)
      finished.catch(() => {})
      const held = await Promise.race([first.waitFor(e => e.event === 'held', 120_000), finished.then(() => undefined)])
      assert.ok(held != null, 'the fetch asked the first seeder for at least 3 blocks before finishing')
      // kill only once the fetcher stored the 3 blocks (a kill can reset the connection and lose bytes in flight)
      await fetch.waitFor(() => fetch.events.filter(e => e.event === 'block' && e.peer === first.peerId).length >= 3, 60_000)
      await first.kill()
      const done = await finished
      await assertCompleteOnce(done, repo, out, first)
      assert.equal(done.stats.ledger[first.peerId]?.blocksReceived, 3, 'the killed seeder\'s blocks were kept')
    } finally {
      await first.kill()
    }
  })

  it('a seeder that takes wants and never answers: its wants time out and move to the other', async () => {
    const staller = await startHostile(['--mode', 'stall', '--transport', 'quic'])
    const repo = join(seeded.work, 'leech-stall')
    const out = join(seeded.work, 'out-stall')
    try {
      const fetch = startFetch(repo, seeded.root, [staller.addrs[0] as string, addrOf(seeded.seeder.ready, 'quic')], out)
      const done = await fetch.waitFor(e => e.event === 'done' || e.event === 'error', 120_000)
      const summary = await staller.stop()
      assert.ok(summary.wantBlocksReceived > 0, 'the staller was asked for blocks')
      await assertCompleteOnce(done, repo, out, staller)
      assert.equal(done.stats.ledger[staller.peerId]?.blocksReceived ?? 0, 0)
      assert.equal(done.stats.ledger[seeded.seeder.ready.peerId].blocksReceived, done.fetch.blocksFetched)
    } finally {
      await staller.stop()
    }
  })

  it('a seeder that answers DONT_HAVE: the wants move to the other at once, the peer is not penalised', async () => {
    const empty = await startHostile(['--mode', 'dont-have', '--transport', 'tcp'])
    const repo = join(seeded.work, 'leech-dont-have')
    const out = join(seeded.work, 'out-dont-have')
    try {
      const fetch = startFetch(repo, seeded.root, [empty.addrs[0] as string, addrOf(seeded.seeder.ready, 'tcp')], out)
      const done = await fetch.waitFor(e => e.event === 'done' || e.event === 'error', 120_000)
      const summary = await empty.stop()
      assert.ok(summary.presencesSent > 0, 'the empty seeder answered DONT_HAVE')
      await assertCompleteOnce(done, repo, out, empty)
      assert.equal(done.stats.penalties[empty.peerId], undefined, 'DONT_HAVE is not an offence')
    } finally {
      await empty.stop()
    }
  })

  it('DONT_HAVE from the only seeder: the fetch fails with BlockUnavailableError, nothing stored', async () => {
    const empty = await startHostile(['--mode', 'dont-have', '--transport', 'tcp'])
    const repo = join(seeded.work, 'leech-unavailable')
    try {
      const fetch = startFetch(repo, seeded.root, [empty.addrs[0] as string])
      const done = await fetch.waitFor(e => e.event === 'done' || e.event === 'error', 60_000)
      assert.equal(done.event, 'error')
      assert.equal(done.name, 'BlockUnavailableError')
      assert.equal(await fetch.exited, 1)
      assert.equal((await verifiedBlockKeys(repo)).size, 0)
    } finally {
      await empty.stop()
    }
  })
})

/**
 * Compressed blocks from a seeder in its own process (test/compression/compressed-seeder.ts)
 * to a fetching node in its own process (test/helpers/fetch-peer.ts), spec/tensorswap.md §12:
 * - honest: the fetcher offers `acceptCodecs`, receives compressed blocks, inflates and
 *   verifies them, and ends byte-exact;
 * - a zip bomb, a declared length over the block limit, a truncated frame, or bytes that do not
 *   hash to the CID: refused, the seeder penalised (banned where the offence says so), nothing
 *   of it stored, and the fetch completes from an honest `tensorswap serve`.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import { SUPPORTED_PLANE_CODECS } from 'tensorswap'
import { blockKeyOf, killAll, startFetch, verifiedBlockKeys, type EventProcess } from '../helpers/hostile.js'
import { digestTree } from '../helpers/model.js'
import { addrOf, seededServe, type SeededServe } from '../helpers/processes.js'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

/** A model of unquantized float32 weights (2.6 MB): its leaves compress. */
const MODEL = 'iris'
const SEEDER = new URL('./compressed-seeder.js', import.meta.url).pathname

interface Seeder { peerId: string, addrs: string[], events: any[], stop: () => Promise<any>, kill: () => void }

async function startSeeder (blocks: string, mode: string): Promise<Seeder> {
  const child = spawn(process.execPath, [SEEDER, '--blocks', blocks, '--mode', mode], { stdio: ['ignore', 'pipe', 'pipe'] })
  const events: any[] = []
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const ready = await new Promise<any>((resolve, reject) => {
    child.once('exit', code => { reject(new Error(`compressed seeder exited ${code}: ${stderr}`)) })
    createInterface({ input: child.stdout }).on('line', (line) => {
      const evt = JSON.parse(line)
      events.push(evt)
      if (evt.event === 'ready') resolve(evt)
    })
  })
  const exited = new Promise(resolve => child.once('exit', resolve))
  return {
    peerId: ready.peerId,
    addrs: ready.addrs,
    events,
    kill: () => { if (child.exitCode == null) child.kill('SIGKILL') },
    stop: async () => {
      if (child.exitCode == null) child.kill('SIGTERM')
      await exited
      return events.find(e => e.event === 'summary')
    }
  }
}

describe('compressed blocks from a seeder in its own process', () => {
  let seeded: SeededServe
  let seeder: Seeder | undefined
  before(async () => { seeded = await seededServe('ts-compress-hostile-', MODEL) })
  afterEach(async () => {
    seeder?.kill()
    await killAll()
  })
  after(async () => { await seeded?.stop() })

  async function fetchDone (fetch: EventProcess): Promise<any> {
    const done = await fetch.waitFor(e => e.event === 'done' || e.event === 'error', 120_000)
    assert.equal(done.event, 'done', JSON.stringify(done).slice(0, 2000))
    assert.equal(await fetch.exited, 0)
    return done
  }

  it('honest: the fetcher offers acceptCodecs, inflates and verifies compressed blocks, ends byte-exact', async () => {
    seeder = await startSeeder(seeded.seedBlocks, 'honest')
    const repo = join(seeded.work, 'leech-honest')
    const out = join(seeded.work, 'out-honest')
    const done = await fetchDone(startFetch(repo, seeded.root, [seeder.addrs[0]], out))
    assert.deepEqual(await digestTree(out), await digestTree(seeded.model))
    const summary = await seeder.stop()
    assert.deepEqual(summary.acceptCodecs, [SUPPORTED_PLANE_CODECS], 'every want-list offered the plane codecs')
    assert.ok(summary.compressed > 0, `blocks sent compressed: ${JSON.stringify(summary)}`)
    const c = done.stats.compression
    assert.equal(c.blocksInflated, summary.compressed, 'every compressed block was inflated')
    assert.ok(c.wireBytesInflated < c.rawBytesInflated, `fewer bytes on the wire: ${c.wireBytesInflated} of ${c.rawBytesInflated}`)
    assert.equal(done.stats.penalties[seeder.peerId], undefined, 'an honest seeder is not penalised')
    const stored = await verifiedBlockKeys(repo)
    assert.equal(stored.size, done.fetch.blocksFetched)
  })

  const cases: Array<{ mode: string, title: string, banned: boolean }> = [
    { mode: 'bomb', title: 'a zip bomb (a plane inflating 10 MiB for a block of at most 1 MiB)', banned: true },
    { mode: 'too-long', title: 'a block declaring 64 MiB decompressed (over the 2 MiB block limit)', banned: true },
    { mode: 'truncated', title: 'a truncated zstd frame', banned: false },
    { mode: 'wrong-bytes', title: 'bytes that inflate fine but do not hash to the CID', banned: false }
  ]
  for (const c of cases) {
    it(`${c.title}: refused, penalised, nothing of it stored, fetch completes from the honest seeder`, async () => {
      seeder = await startSeeder(seeded.seedBlocks, c.mode)
      const repo = join(seeded.work, `leech-${c.mode}`)
      const out = join(seeded.work, `out-${c.mode}`)
      const done = await fetchDone(startFetch(repo, seeded.root, [seeder.addrs[0], addrOf(seeded.seeder.ready, 'tcp')], out))
      assert.deepEqual(await digestTree(out), await digestTree(seeded.model))
      const summary = await seeder.stop()
      assert.ok(summary.compressed > 0, `the seeder sent bad compressed blocks: ${JSON.stringify(summary)}`)

      const stats = done.stats
      assert.equal(stats.ledger[seeder.peerId]?.blocksReceived ?? 0, 0, 'no block credited to it')
      const penalty = stats.penalties[seeder.peerId]
      assert.ok(penalty != null && (penalty.score > 0 || penalty.bannedUntilMs != null), `penalised: ${JSON.stringify(stats.penalties)}`)
      if (c.banned) assert.ok(penalty.bannedUntilMs != null, 'banned at once (oversized)')
      const stored = await verifiedBlockKeys(repo)
      assert.equal(stored.size, done.fetch.blocksFetched, 'only the verified blocks of the fetch are stored')
      for (const cid of summary.badCids) assert.ok(!stored.has(blockKeyOf(cid)), `bad block ${cid} stored`)
      if (c.mode === 'wrong-bytes') assert.ok(stats.unrequestedBlocks >= 1, `counted unrequested: ${stats.unrequestedBlocks}`)
    })
  }
})

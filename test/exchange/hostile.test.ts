/**
 * Bad input from a peer in its own process (test/helpers/hostile-peer.ts), against a real
 * `tensorswap serve` (attacks on the serving side) and against a fetching node in its own
 * process (attacks on the fetching side). In every case: nothing the hostile peer sent is
 * stored, the peer is scored down or disconnected and its new streams refused, and the victim
 * keeps serving (or fetching from) well-behaved peers. Model: a real TF.js model.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { storeBytes } from '../helpers/store.js'
import { blockKeyOf, killAll, startFetch, startHostile, verifiedBlockKeys } from '../helpers/hostile.js'
import { digestTree } from '../helpers/model.js'
import { addrOf, seededServe, type SeededServe } from '../helpers/processes.js'

const MODEL = 'handlandmark-full'

describe('hostile peer against a serving node (tensorswap serve)', () => {
  let leeches = 0
  let seeded: SeededServe
  before(async () => { seeded = await seededServe('ts-hostile-serve-', MODEL) })
  afterEach(killAll)
  after(async () => { await seeded?.stop() })
  let testAbort = new AbortController()
  afterEach(() => {
    // a failed test leaves no `tensorswap get` behind
    testAbort.abort()
    testAbort = new AbortController()
  })

  /** A well-behaved `tensorswap get` of the whole model from the victim, in its own process. */
  async function wellBehavedGet (): Promise<void> {
    const n = leeches++
    const out = join(seeded.work, `out-${n}`)
    assert.equal(seeded.exit(), undefined, 'tensorswap serve is running')
    const r = await runCli(['--repo', join(seeded.work, `leech-${n}`), 'get', seeded.root, '-o', out, '--peer', addrOf(seeded.seeder.ready, n % 2 === 0 ? 'quic' : 'tcp'), '--json'], { signal: AbortSignal.any([testAbort.signal, AbortSignal.timeout(120_000)]) })
      .catch((err: any) => { throw new Error(`tensorswap get failed (${err?.name}); serve: ${seeded.exit() ?? 'running'}`) })
    assert.equal(r.code, 0, r.stderr)
    const summary = JSON.parse(r.stdout)
    assert.equal(summary.blocksLocal, 0)
    assert.deepEqual(await digestTree(out), await digestTree(seeded.model))
  }

  it('control: an honest want-have is answered HAVE (the probe tells a ban from no ban)', async () => {
    const peer = await startHostile(['--mode', 'probe-only', '--dial', addrOf(seeded.seeder.ready, 'tcp'), '--probe', seeded.root])
    try {
      const probe = await peer.waitFor(e => e.event === 'probe')
      assert.deepEqual({ streamReset: probe.streamReset, disconnected: probe.disconnected, haveReceived: probe.haveReceived }, { streamReset: false, disconnected: false, haveReceived: true })
    } finally {
      await peer.stop()
    }
  })

  const attacks: Array<{ title: string, args: string[], transport: 'tcp' | 'quic' }> = [
    { title: 'a frame declaring 5 MiB (over the 4 MiB cap)', args: ['--mode', 'oversize-frame'], transport: 'tcp' },
    { title: 'a frame declaring 5 MiB, over QUIC', args: ['--mode', 'oversize-frame'], transport: 'quic' },
    { title: 'messages that are not a Bitswap protobuf', args: ['--mode', 'malformed'], transport: 'tcp' },
    { title: 'a want-list of 100,000 entries in one message', args: ['--mode', 'huge-wantlist'], transport: 'quic' },
    { title: 'a want-list of 100,000 entries in valid messages of 1024', args: ['--mode', 'huge-wantlist', '--per-message', '1024'], transport: 'tcp' },
    { title: 'a flood of want messages sent back to back', args: ['--mode', 'want-flood', '--count', '20000'], transport: 'tcp' },
    { title: 'blocks nobody asked for', args: ['--mode', 'unrequested-blocks', '--count', '20'], transport: 'quic' }
  ]

  for (const attack of attacks) {
    it(`${attack.title} (${attack.transport}): disconnected, new streams refused, others still served`, async () => {
      // the seeder holds its repo's lock: what it stores shows as bytes written to its store
      const storeBefore = await storeBytes(seeded.seedRepo)
      const hostile = await startHostile([...attack.args, '--transport', attack.transport, '--dial', addrOf(seeded.seeder.ready, attack.transport), '--probe', seeded.root])
      try {
        // a well-behaved peer fetches while the attack runs
        const [done] = await Promise.all([hostile.waitFor(e => e.event === 'attack-done'), wellBehavedGet()])
        assert.equal(done.disconnected, true, `the victim hung up on the hostile peer: ${JSON.stringify(hostile.events).slice(0, 3000)}`)
        const probe = await hostile.waitFor(e => e.event === 'probe')
        assert.equal(probe.redialed, true)
        assert.ok(probe.streamReset === true || probe.disconnected === true, `an exchange stream from the banned peer is refused: ${JSON.stringify(probe)}`)
        assert.equal(probe.haveReceived, false, 'a banned peer is not answered')
        const summary = await hostile.stop()
        if (summary.badCids.length > 0) {
          assert.equal(await storeBytes(seeded.seedRepo), storeBefore, `none of the ${summary.badCids.length} unrequested blocks was stored`)
        }
        // ... and after it, the victim still serves
        await wellBehavedGet()
        assert.equal(seeded.exit(), undefined, 'tensorswap serve is still running')
      } finally {
        await hostile.stop()
      }
    })
  }
})

describe('slow readers against a serving node (tensorswap serve)', () => {
  let seeded: SeededServe
  before(async () => { seeded = await seededServe('ts-hostile-slow-', MODEL) })
  afterEach(killAll)
  after(async () => { await seeded?.stop() })

  // Each serving batch waits for its stream to drain, and at most
  // DEFAULT_ENGINE_CONCURRENCY (8) batches run at once, so 8 peers that want blocks and never read
  // the answers would hold every serving slot; the stall limit (DEFAULT_SEND_STALL_MS) frees them.
  it('8 peers that want every block and never read: their batches time out (send deadline), an honest get still completes', async () => {
    const hostile = await startHostile(['--mode', 'no-read', '--count', '8', '--blocks', seeded.seedBlocks, '--transport', 'tcp', '--dial', addrOf(seeded.seeder.ready, 'tcp')])
    try {
      const done = await hostile.waitFor(e => e.event === 'attack-done', 60_000)
      assert.equal(done.answering, 8, 'the victim started answering every non-reading identity')
      const out = join(seeded.work, 'out')
      const r = await runCli(['--repo', join(seeded.work, 'leech'), 'get', seeded.root, '-o', out, '--peer', addrOf(seeded.seeder.ready, 'quic'), '--json'], { signal: AbortSignal.timeout(120_000) })
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(await digestTree(out), await digestTree(seeded.model))
    } finally {
      await hostile.stop()
    }
  })
})

describe('hostile seeder against a fetching node (createTensorSwap in its own process)', () => {
  let seeded: SeededServe
  before(async () => { seeded = await seededServe('ts-hostile-fetch-', MODEL) })
  afterEach(killAll)
  after(async () => { await seeded?.stop() })

  const cases: Array<{ mode: string, title: string, banned: boolean }> = [
    { mode: 'unrequested-blocks', title: 'pushes 20 blocks nobody asked for', banned: true },
    { mode: 'bad-bytes', title: 'answers wants with bytes that do not match the CID', banned: false }
  ]

  for (const c of cases) {
    it(`a seeder that ${c.title}: nothing of it stored, penalised, fetch completes from the other seeder`, async () => {
      const hostile = await startHostile(['--mode', c.mode, '--count', '20', '--blocks', seeded.seedBlocks, '--transport', 'tcp'])
      const repo = join(seeded.work, `leech-${c.mode}`)
      const out = join(seeded.work, `out-${c.mode}`)
      try {
        const fetch = startFetch(repo, seeded.root, [hostile.addrs[0] as string, addrOf(seeded.seeder.ready, 'tcp')], out)
        const done = await fetch.waitFor(e => e.event === 'done' || e.event === 'error', 120_000)
        assert.equal(done.event, 'done', JSON.stringify(done))
        assert.equal(await fetch.exited, 0)
        assert.deepEqual(await digestTree(out), await digestTree(seeded.model))

        const summary = await hostile.stop()
        assert.ok(summary.badCids.length > 0, 'the hostile seeder did send bad blocks')
        const stored = await verifiedBlockKeys(repo)
        for (const cid of summary.badCids) assert.ok(!stored.has(blockKeyOf(cid)), `bad block ${cid} was stored`)
        assert.equal(stored.size, done.fetch.blocksFetched, 'only the fetched (verified) blocks are stored')

        assert.ok(done.stats.unrequestedBlocks >= Math.min(summary.badCids.length, 10), `unrequested blocks counted (${done.stats.unrequestedBlocks})`)
        const penalty = done.stats.penalties[hostile.peerId]
        assert.ok(penalty != null && (penalty.score > 0 || penalty.bannedUntilMs != null), `penalty visible in stats: ${JSON.stringify(done.stats.penalties)}`)
        if (c.banned || summary.badCids.length >= 10) {
          assert.ok(penalty.bannedUntilMs != null, 'ten bad blocks ban the peer')
          assert.ok(summary.disconnects >= 1, 'the victim hung up')
        }
        assert.equal(done.stats.ledger[hostile.peerId]?.blocksReceived ?? 0, 0, 'no block credited to the hostile seeder')
      } finally {
        await hostile.stop()
      }
    })
  }
})

/**
 * Bad input from a peer in its own process (test/helpers/hostile-peer.ts), against a real
 * `tensorswap serve` (attacks on the serving side) and against a fetching node in its own
 * process (attacks on the fetching side). In every case: nothing the hostile peer sent is
 * stored, the peer is scored down or disconnected and its new streams refused, and the victim
 * keeps serving (or fetching from) well-behaved peers. Model: a real TF.js model.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import { runCli, runCliJson } from '../helpers/cli.js'
import { blockKeyOf, killAll, startFetch, startHostile, verifiedBlockKeys } from '../helpers/hostile.js'
import { copyHumanModel, digestTree } from '../helpers/model.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'

const MODEL = 'handlandmark-full'

describe('hostile peer against a serving node (tensorswap serve)', () => {
  let work: string
  let model: string
  let seedRepo: string
  let root: string
  let seeder: Running<ServeReady>
  let leeches = 0

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-hostile-serve-'))
    model = await copyHumanModel(MODEL, join(work, 'model'))
    seedRepo = join(work, 'seed')
    root = (await runCliJson(['--repo', seedRepo, 'add', model])).root
    seeder = await startServe(seedRepo)
    seeder.child.stderr?.on('data', (d: string) => { seederStderr = (seederStderr + d).slice(-4000) })
    seeder.child.once('exit', (code, signal) => { seederExit = `exited with code ${code}, signal ${signal}: ${seederStderr}` })
  })
  afterEach(killAll)
  after(async () => {
    await seeder?.stop()
    await rm(work, { recursive: true, force: true })
  })
  let testAbort = new AbortController()
  afterEach(() => {
    // a failed test leaves no `tensorswap get` behind
    testAbort.abort()
    testAbort = new AbortController()
  })
  let seederStderr = ''
  let seederExit: string | undefined

  /** A well-behaved `tensorswap get` of the whole model from the victim, in its own process. */
  async function wellBehavedGet (): Promise<void> {
    const n = leeches++
    const out = join(work, `out-${n}`)
    assert.equal(seederExit, undefined, 'tensorswap serve is running')
    const r = await runCli(['--repo', join(work, `leech-${n}`), 'get', root, '-o', out, '--peer', addrOf(seeder.ready, n % 2 === 0 ? 'quic' : 'tcp'), '--json'], { signal: AbortSignal.any([testAbort.signal, AbortSignal.timeout(120_000)]) })
      .catch((err: any) => { throw new Error(`tensorswap get failed (${err?.name}); serve: ${seederExit ?? 'running'}`) })
    assert.equal(r.code, 0, r.stderr)
    const summary = JSON.parse(r.stdout)
    assert.equal(summary.blocksLocal, 0)
    assert.deepEqual(await digestTree(out), await digestTree(model))
  }

  it('control: an honest want-have is answered HAVE (the probe tells a ban from no ban)', async () => {
    const peer = await startHostile(['--mode', 'probe-only', '--dial', addrOf(seeder.ready, 'tcp'), '--probe', root])
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
      const hostile = await startHostile([...attack.args, '--transport', attack.transport, '--dial', addrOf(seeder.ready, attack.transport), '--probe', root])
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
          const stored = await verifiedBlockKeys(seedRepo)
          for (const cid of summary.badCids) assert.ok(!stored.has(blockKeyOf(cid)), `unrequested block ${cid} was stored`)
        }
        // ... and after it, the victim still serves
        await wellBehavedGet()
        assert.equal(seederExit, undefined, 'tensorswap serve is still running')
      } finally {
        await hostile.stop()
      }
    })
  }
})

describe('slow readers against a serving node (tensorswap serve)', () => {
  let work: string
  let model: string
  let seedRepo: string
  let root: string
  let seeder: Running<ServeReady>

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-hostile-slow-'))
    model = await copyHumanModel(MODEL, join(work, 'model'))
    seedRepo = join(work, 'seed')
    root = (await runCliJson(['--repo', seedRepo, 'add', model])).root
    seeder = await startServe(seedRepo)
  })
  afterEach(killAll)
  after(async () => {
    await seeder?.stop()
    await rm(work, { recursive: true, force: true })
  })

  // Known defect: each serving batch waits for its stream to drain with no deadline, and at most
  // DEFAULT_ENGINE_CONCURRENCY (8) batches run at once, so 8 peers that want blocks and never read
  // the answers hold every serving slot forever; honest peers then time out (BlockUnavailableError).
  // Needs a send deadline (or slot release after hand-over) in Exchange#serveBatch.
  it('8 peers that want every block and never read: their batches time out (send deadline), an honest get still completes', async () => {
    const hostile = await startHostile(['--mode', 'no-read', '--count', '8', '--blocks', join(seedRepo, 'blocks'), '--transport', 'tcp', '--dial', addrOf(seeder.ready, 'tcp')])
    try {
      const done = await hostile.waitFor(e => e.event === 'attack-done', 60_000)
      assert.equal(done.answering, 8, 'the victim started answering every non-reading identity')
      const out = join(work, 'out')
      const r = await runCli(['--repo', join(work, 'leech'), 'get', root, '-o', out, '--peer', addrOf(seeder.ready, 'quic'), '--json'], { signal: AbortSignal.timeout(120_000) })
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(await digestTree(out), await digestTree(model))
    } finally {
      await hostile.stop()
    }
  })
})

describe('hostile seeder against a fetching node (createTensorSwap in its own process)', () => {
  let work: string
  let model: string
  let seedRepo: string
  let root: string
  let seeder: Running<ServeReady>

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-hostile-fetch-'))
    model = await copyHumanModel(MODEL, join(work, 'model'))
    seedRepo = join(work, 'seed')
    root = (await runCliJson(['--repo', seedRepo, 'add', model])).root
    seeder = await startServe(seedRepo)
  })
  afterEach(killAll)
  after(async () => {
    await seeder?.stop()
    await rm(work, { recursive: true, force: true })
  })

  const cases: Array<{ mode: string, title: string, banned: boolean }> = [
    { mode: 'unrequested-blocks', title: 'pushes 20 blocks nobody asked for', banned: true },
    { mode: 'bad-bytes', title: 'answers wants with bytes that do not match the CID', banned: false }
  ]

  for (const c of cases) {
    it(`a seeder that ${c.title}: nothing of it stored, penalised, fetch completes from the other seeder`, async () => {
      const hostile = await startHostile(['--mode', c.mode, '--count', '20', '--blocks', join(seedRepo, 'blocks'), '--transport', 'tcp'])
      const repo = join(work, `leech-${c.mode}`)
      const out = join(work, `out-${c.mode}`)
      try {
        const fetch = startFetch(repo, root, [hostile.addrs[0] as string, addrOf(seeder.ready, 'tcp')], out)
        const done = await fetch.waitFor(e => e.event === 'done' || e.event === 'error', 120_000)
        assert.equal(done.event, 'done', JSON.stringify(done))
        assert.equal(await fetch.exited, 0)
        assert.deepEqual(await digestTree(out), await digestTree(model))

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

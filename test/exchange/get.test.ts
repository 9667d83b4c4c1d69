/**
 * `tensorswap serve` and `tensorswap get` in separate processes, over QUIC and TCP, on a real
 * model: byte-exact files, per-peer summary, and resume after the fetching process is killed.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BIN, runCli, runCliJson } from '../helpers/cli.js'
import { copyHumanModel, digestTree } from '../helpers/model.js'
import { storedBlocks, waitForCommittedBlocks } from '../helpers/store.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'

/**
 * `get --json` `messages` (packages/cli/src/commands/get.ts `MessageTotals`) from one honest
 * seeder: every block the DAG needed arrived once per block fetched (plus late duplicates),
 * each asked for by a want sent first.
 */
function assertMessageCounts (summary: any): void {
  const { sent, received } = summary.messages
  const why = JSON.stringify(summary.messages)
  assert.equal(received.blocks, summary.blocks + summary.duplicateBlocks, why)
  assert.ok(sent.wantBlock + sent.wantHave >= received.blocks, why)
  assert.ok(sent.wantBlock > 0 && sent.messages > 0, why)
  assert.ok(received.messages > 0 && received.messages <= received.bytes, why)
  // (fewer bytes than the blocks' when wire compression paid, spec/tensorswap.md §12)
  assert.ok(received.bytes > received.messages, why)
  // presence bytes only where there were presence entries, each at least a CID's 34+ bytes
  assert.equal(sent.presenceBytes > 0, sent.wantHave > 0, why)
  assert.ok(received.presenceBytes >= 34 * (received.have + received.dontHave), why)
  assert.ok(sent.presenceMessages <= sent.messages && received.presenceMessages <= received.messages, why)
}

describe('serve + get between two processes (real model)', () => {
  let work: string
  let model: string
  let root: string
  let seeder: Running<ServeReady>

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-get-'))
    model = await copyHumanModel('blazepose-heavy', join(work, 'model'))
    const seedRepo = join(work, 'seed')
    root = (await runCliJson(['--repo', seedRepo, 'add', model])).root
    seeder = await startServe(seedRepo)
  })
  after(async () => {
    await seeder?.stop()
    await rm(work, { recursive: true, force: true })
  })

  for (const transport of ['quic', 'tcp'] as const) {
    it(`fetches every file byte-exact over ${transport}`, async () => {
      const repo = join(work, `leech-${transport}`)
      const out = join(work, `out-${transport}`)
      const summary = await runCliJson(['--repo', repo, 'get', root, '-o', out, '--peer', addrOf(seeder.ready, transport)])
      assert.deepEqual(await digestTree(out), await digestTree(model))
      assert.ok(summary.blocks > 10)
      assert.equal(summary.blocksLocal, 0)
      assert.ok(summary.peers[seeder.ready.peerId].bytesReceived >= summary.bytes, 'bytes attributed to the seeder')
      // blocks moved to the bulk lane (spec/tensorswap.md section 7) once it was up
      assert.ok(summary.peers[seeder.ready.peerId].wireBytesReceived['/tensorswap/bulk/1.0.0'] > 0, JSON.stringify(summary.peers))
      assertMessageCounts(summary)
    })
  }

  it('with --no-bulk-lane on the seeder, blocks travel on libp2p streams only', async () => {
    // the seed repo is held by the running seeder: serve a copy
    const copyRepo = join(work, 'seed-copy')
    await runCliJson(['--repo', copyRepo, 'add', model])
    // compression off too: wire bytes then equal block bytes plus framing
    const noLane = await startServe(copyRepo, ['/ip4/127.0.0.1/tcp/0'], ['--no-bulk-lane', '--wire-compression', 'off'])
    try {
      const out = join(work, 'out-nolane')
      const summary = await runCliJson(['--repo', join(work, 'leech-nolane'), 'get', root, '-o', out, '--peer', addrOf(noLane.ready, 'tcp')])
      assert.deepEqual(await digestTree(out), await digestTree(model))
      const wire = summary.peers[noLane.ready.peerId].wireBytesReceived
      assert.equal(wire['/tensorswap/bulk/1.0.0'], undefined, JSON.stringify(wire))
      assert.ok(wire['/tensorswap/1.0.0'] >= summary.bytes, `${JSON.stringify(wire)} vs ${summary.bytes} block bytes`)
      assertMessageCounts(summary)
      // one peer, all on /tensorswap/1.0.0 streams: the message bytes are the wire bytes
      assert.equal(summary.messages.received.bytes, wire['/tensorswap/1.0.0'])
      assert.ok(summary.messages.received.bytes >= summary.bytes)
    } finally {
      await noLane.stop()
    }
  })

  it('resumes after the fetching process is killed: stored blocks are not fetched again', async () => {
    const repo = join(work, 'leech-resume')
    const out = join(work, 'out-resume')
    const child = spawn(process.execPath, [BIN, '--repo', repo, 'get', root, '-o', out, '--peer', addrOf(seeder.ready, 'tcp')], { stdio: 'ignore' })
    const exited = new Promise(resolve => child.once('exit', resolve))
    // some blocks committed (durable) first
    await waitForCommittedBlocks(child, repo, 5)
    child.kill('SIGKILL')
    await exited
    const before = await storedBlocks(repo)
    assert.ok(before >= 5, `some blocks stored before the kill (${before})`)
    const summary = await runCliJson(['--repo', repo, 'get', root, '-o', out, '--peer', addrOf(seeder.ready, 'quic')])
    assert.ok(summary.blocksLocal >= before - 1, `blocks found locally (${summary.blocksLocal}) >= blocks stored before the kill (${before})`)
    assert.deepEqual(await digestTree(out), await digestTree(model))
  })

  it('Ctrl-C (SIGINT) stops cleanly: "interrupted, run again to resume", exit 130; the next run resumes', async () => {
    const repo = join(work, 'leech-sigint')
    const out = join(work, 'out-sigint')
    const child = spawn(process.execPath, [BIN, '--repo', repo, 'get', root, '-o', out, '--peer', addrOf(seeder.ready, 'tcp')], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const exited = new Promise<number | null>(resolve => child.once('exit', resolve))
    // Ctrl-C exits at once: what the last commit (DEFAULT_STORE_BATCH_MS) made durable stays.
    // (Waiting for the leveldb log to grow by 500 bytes was not enough: other datastore writes
    // grow it too, and in one CI run the interrupt came before any block was committed.)
    await waitForCommittedBlocks(child, repo, 5)
    assert.equal(child.exitCode, null, 'still fetching when interrupted')
    child.kill('SIGINT')
    assert.equal(await exited, 130, stderr)
    assert.equal(stderr, 'tensorswap: InterruptedError: interrupted, run again to resume\n')
    const again = await runCli(['--repo', repo, 'get', root, '-o', out, '--peer', addrOf(seeder.ready, 'tcp')])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stderr, /^resuming: \d+(\.\d)? (B|kB|MB) already here\n$/, 'the resumed run says what was already here')
    assert.deepEqual(await digestTree(out), await digestTree(model))
  })

  it('serve logs the peers connecting and the transfers it served on stderr', async () => {
    const copyRepo = join(work, 'seed-log')
    await runCliJson(['--repo', copyRepo, 'add', model])
    const logged = await startServe(copyRepo, ['/ip4/127.0.0.1/tcp/0'])
    let stderr = ''
    logged.child.stderr?.on('data', (d: string) => { stderr += d })
    try {
      const repo = join(work, 'leech-log')
      const summary = await runCliJson(['--repo', repo, 'get', root, '-o', join(work, 'out-log'), '--peer', addrOf(logged.ready, 'tcp')])
      const deadline = Date.now() + 10_000
      while (!/^served /m.test(stderr) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
      assert.match(stderr, /^peer connected 12D3Koo\w+$/m)
      const served = /^served (12D3Koo\w+): (\d+) blocks \(.+\) in \d+\.\d s$/m.exec(stderr)
      assert.ok(served != null, stderr)
      assert.equal(Number(served[2]), summary.blocks, 'every block fetched was served in that transfer')
    } finally {
      await logged.stop()
    }
  })

  it('get without --peer is a usage error; an unreachable peer is a runtime error', async () => {
    const r = await runCli(['--repo', join(work, 'x'), 'get', root, '-o', join(work, 'x-out')])
    assert.equal(r.code, 2)
    const dead = addrOf(seeder.ready, 'tcp').replace(/\/tcp\/\d+/, '/tcp/1')
    const r2 = await runCli(['--repo', join(work, 'y'), 'get', root, '-o', join(work, 'y-out'), '--peer', dead])
    assert.equal(r2.code, 1)
    assert.equal(r2.stderr.trim().split('\n').length, 1, r2.stderr)
  })
})

/**
 * Providers found among connected peers (spec/tensorswap.md "Content routing", "Finding
 * providers"): the only peer a node knows is a seeder that is a DHT *client* (`serve
 * --dht-mode client`), so the DHT names nobody; `providers` asks its connected peers for the
 * root and lists the seeder as `connected`, and `get` falls back to the same and fetches from it.
 * Processes on loopback; nothing dials outside this machine.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, runCliJson } from '../helpers/cli.js'
import { copyHumanModel, digestTree } from '../helpers/model.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'

describe('providers among connected peers (a DHT-client seeder as the only bootstrap peer)', () => {
  let work: string
  let model: string
  let root: string
  let seeder: Running<ServeReady>
  let seedAddr: string

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-connected-'))
    model = await copyHumanModel('emotion', join(work, 'model'))
    const seedRepo = join(work, 'seed')
    root = (await runCliJson(['--repo', seedRepo, 'add', model])).root
    seeder = await startServe(seedRepo, undefined, ['--dht-mode', 'client'])
    seedAddr = addrOf(seeder.ready, 'tcp')
  })
  after(async () => {
    await seeder?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('providers lists the seeder as connected', async () => {
    const r = await runCliJson(['--repo', join(work, 'ask'), 'providers', root, '--bootstrap', seedAddr, '--find-timeout', '2000'])
    assert.deepEqual(r.providers.map((p: { peerId: string, source: string }) => [p.peerId, p.source]), [[seeder.ready.peerId, 'connected']])
  })

  it('get with no --peer falls back to connected peers and writes the model byte-exact', async () => {
    const out = join(work, 'out')
    const summary = await runCliJson(['--repo', join(work, 'leech'), 'get', root, '-o', out, '--bootstrap', seedAddr, '--find-timeout', '2000'])
    assert.deepEqual(await digestTree(out), await digestTree(model))
    assert.deepEqual(summary.providers.map((p: { source: string }) => p.source), ['connected'])
    assert.equal(summary.peers[seeder.ready.peerId].source, 'connected')
  })

  it('the repo config\'s "bootstrap" list is used without --bootstrap', async () => {
    const repo = join(work, 'configured')
    await mkdir(repo, { recursive: true })
    await writeFile(join(repo, 'config.json'), JSON.stringify({ version: 1, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [seedAddr] }))
    const r = await runCliJson(['--repo', repo, 'providers', root, '--find-timeout', '2000'])
    assert.deepEqual(r.providers.map((p: { peerId: string }) => p.peerId), [seeder.ready.peerId])
    // and a bad entry there is a one-line error naming it
    await writeFile(join(repo, 'config.json'), JSON.stringify({ version: 1, listen: [], bootstrap: ['/ip4/127.0.0.1/tcp/1'] }))
    const bad = await runCli(['--repo', repo, 'providers', root])
    assert.notEqual(bad.code, 0)
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr)
    assert.match(bad.stderr, /\/ip4\/127\.0\.0\.1\/tcp\/1.*must end in \/p2p\//)
  })

  it('get with only --peer (no search) reports the peer as given', async () => {
    const summary = await runCliJson(['--repo', join(work, 'given'), 'get', root, '-o', join(work, 'out-given'), '--peer', seedAddr])
    assert.equal(summary.peers[seeder.ready.peerId].source, 'given')
    assert.equal(summary.providers, undefined, 'no search ran')
  })
})

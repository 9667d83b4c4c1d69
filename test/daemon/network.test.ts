/**
 * Commands through a daemon that talks to peers (issue 13 items 1-2), separate processes on
 * loopback with real models:
 *
 * - `get --peer` through the leecher's daemon writes the model byte-exact and reports only this
 *   command's bytes per peer; a `get` without `--peer` uses the daemon's connection;
 * - what the daemon fetched, and what `add` put through it, is served at once to a third node;
 * - `stat` and `peers` show the connected seeder and the bytes both ways;
 * - `push` through the daemon moves a DAG to a `--accept-push any` seeder;
 * - four clients at once are all answered.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, runCliJson } from '../helpers/cli.js'
import { copyHumanModel, digestTree } from '../helpers/model.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'

const LISTEN = ['/ip4/127.0.0.1/tcp/0']

describe('a daemon that fetches, serves and pushes', () => {
  let work: string
  let seeder: Running<ServeReady>
  let leecher: Running<ServeReady>
  let m1: string
  let m2: string
  const leech = (): string => join(work, 'leech')

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-daemon-net-'))
    m1 = (await runCliJson(['--repo', join(work, 'seed'), 'add', await copyHumanModel('emotion', join(work, 'emotion'))])).root
    m2 = (await runCliJson(['--repo', join(work, 'seed'), 'add', await copyHumanModel('age', join(work, 'age'))])).root
    seeder = await startServe(join(work, 'seed'), LISTEN, ['--accept-push', 'any'])
    await runCliJson(['--repo', leech(), 'init'])
    leecher = await startServe(leech(), LISTEN)
  })
  after(async () => {
    await leecher?.stop()
    await seeder?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('get through the daemon: byte-exact, this command\'s bytes; then without --peer over its connection', async () => {
    const seed = addrOf(seeder.ready, 'tcp')
    const r = await runCliJson(['--repo', leech(), 'get', m1, '--peer', seed, '-o', join(work, 'out1')])
    assert.deepEqual(await digestTree(join(work, 'out1')), await digestTree(join(work, 'emotion')))
    assert.ok(r.bytes > 0)
    assert.equal(r.peers[seeder.ready.peerId].bytesReceived, r.bytes, 'per-peer bytes are this get\'s (the daemon ran nothing before)')

    // no --peer: the daemon is connected to the seeder and asks it
    const again = await runCliJson(['--repo', leech(), 'get', m2, '-o', join(work, 'out2')])
    assert.deepEqual(await digestTree(join(work, 'out2')), await digestTree(join(work, 'age')))
    assert.ok(again.bytes > 0)
    assert.deepEqual(Object.keys(again.peers), [seeder.ready.peerId])
    assert.equal(again.peers[seeder.ready.peerId].bytesReceived, again.bytes, 'm1\'s bytes are not counted again')

    const stat = await runCliJson(['--repo', leech(), 'stat'])
    assert.equal(stat.online, true)
    assert.ok(stat.peers >= 1)
    assert.ok(stat.blocks > 0)
    assert.ok(stat.bytesReceived >= r.bytes + again.bytes, JSON.stringify(stat))
    const peers = await runCliJson(['--repo', leech(), 'peers'])
    const p = peers.peers.find((x: { peerId: string }) => x.peerId === seeder.ready.peerId)
    assert.ok(p != null, JSON.stringify(peers))
    assert.equal(p.health, 'ok')
    assert.equal(p.bytesReceived, stat.bytesReceived)
    const text = await runCli(['--repo', leech(), 'peers'])
    assert.match(text.stdout, new RegExp(`^${seeder.ready.peerId} /ip4/127\\.0\\.0\\.1/tcp/\\d+\\S* ok sent 0 B received `, 'm'))
  })

  it('fetched and added through the daemon: served at once to a third node', async () => {
    const lee = addrOf(leecher.ready, 'tcp')
    const third = join(work, 'third')
    await runCliJson(['--repo', third, 'get', m1, '--peer', lee, '-o', join(work, 'out3')])
    assert.deepEqual(await digestTree(join(work, 'out3')), await digestTree(join(work, 'emotion')))
    const added = await runCliJson(['--repo', leech(), 'add', await copyHumanModel('blazeface', join(work, 'blazeface'))])
    const got = await runCliJson(['--repo', third, 'get', added.root, '--peer', lee, '-o', join(work, 'out4')])
    assert.deepEqual(await digestTree(join(work, 'out4')), await digestTree(join(work, 'blazeface')))
    assert.ok(got.bytes > 0)

    // push the added model through the daemon to the seeder (serve --accept-push any)
    const pushed = await runCliJson(['--repo', leech(), 'push', added.root, '--peer', addrOf(seeder.ready, 'tcp')])
    assert.ok(pushed.blocks > 0)
    const check = await runCliJson(['--repo', join(work, 'seed'), 'verify', added.root]) // through the seeder's daemon
    assert.equal(check.missing, 0)
    assert.equal(check.corrupt, 0)
  })

  it('four clients at once', async () => {
    const runs = await Promise.all([
      runCli(['--repo', leech(), 'verify', m1, '--json']),
      runCli(['--repo', leech(), 'ls', m2, '--json']),
      runCli(['--repo', leech(), 'export', m1, '-o', join(work, 'out5'), '--json']),
      runCli(['--repo', leech(), 'stat', '--json'])
    ])
    for (const r of runs) assert.equal(r.code, 0, r.stderr)
    assert.equal(JSON.parse(runs[0].stdout).missing, 0)
    assert.equal(JSON.parse(runs[1].stdout).root, m2)
    assert.deepEqual(await digestTree(join(work, 'out5')), await digestTree(join(work, 'emotion')))
    assert.equal(JSON.parse(runs[3].stdout).online, true)
  })
})

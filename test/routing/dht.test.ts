/**
 * Content routing end to end, every node its own `tensorswap` process on loopback
 * (spec/tensorswap.md "Content routing"): a bootstrap node (`serve` with nothing), a seeder
 * (`add` of a real model, then `serve --bootstrap`), and leechers that `get` with no `--peer`
 * and find the seeder on the DHT (`/ipfs/kad/1.0.0`). Nothing dials outside this machine.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { BIN, runCli, runCliJson } from '../helpers/cli.js'
import { copyHumanModel, digestTree } from '../helpers/model.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'

interface Provider { peerId: string, addrs: string[], source: 'dht' | 'connected' | 'given' }

/**
 * `providers <cid> --json` until `want` peers are listed as found on the DHT (provides run in
 * the background; before that a connected seeder may answer the probe as `connected`), at most `ms`.
 */
async function providersUntil (repo: string, cid: string, bootstrap: string, want: string[], ms = 30_000): Promise<Provider[]> {
  const deadline = Date.now() + ms
  let last: Provider[] = []
  while (Date.now() < deadline) {
    const r = await runCli(['--repo', repo, 'providers', cid, '--bootstrap', bootstrap, '--find-timeout', '5000', '--json'])
    if (r.code === 0) {
      last = (JSON.parse(r.stdout) as { providers: Provider[] }).providers
      if (want.every(id => last.some(p => p.peerId === id && p.source === 'dht'))) return last
    }
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  assert.fail(`providers never listed ${want.join(', ')}; last answer: ${JSON.stringify(last)}`)
}

/** Run the CLI with routing logs on stderr (`DEBUG=tensorswap:routing:*`). */
async function runCliLogged (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await runCli(args, { env: { DEBUG: 'tensorswap:routing:router' } })
}

describe('content routing on loopback: bootstrap node, seeder, leechers (real model)', () => {
  let work: string
  let model: string
  let root: string
  let boot: Running<ServeReady>
  let seeder: Running<ServeReady>
  let leecherServe: Running<ServeReady> | undefined
  let bootAddr: string

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-routing-'))
    model = await copyHumanModel('handtrack', join(work, 'model'))
    boot = await startServe(join(work, 'boot'))
    bootAddr = addrOf(boot.ready, 'tcp')
    const seedRepo = join(work, 'seed')
    root = (await runCliJson(['--repo', seedRepo, 'add', model])).root
    seeder = await startServe(seedRepo, undefined, ['--bootstrap', bootAddr])
  })
  after(async () => {
    await leecherServe?.stop()
    await seeder?.stop()
    await boot?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('(b) providers --json lists the seeder, found on the DHT', async () => {
    const providers = await providersUntil(join(work, 'ask'), root, bootAddr, [seeder.ready.peerId])
    const p = providers.find(x => x.peerId === seeder.ready.peerId)
    assert.equal(p?.source, 'dht')
    assert.ok(p.addrs.some(a => seeder.ready.addrs.some(s => s.startsWith(a))), `addresses ${JSON.stringify(p.addrs)} are the seeder's ${JSON.stringify(seeder.ready.addrs)}`)
    assert.ok(!providers.some(x => x.peerId === boot.ready.peerId), 'the bootstrap node has nothing')
    // text output: one line per provider, `<peer id> <source> <addrs>`
    const text = await runCli(['--repo', join(work, 'ask'), 'providers', root, '--bootstrap', bootAddr])
    assert.equal(text.code, 0, text.stderr)
    assert.ok(text.stdout.split('\n').some(l => l.startsWith(`${seeder.ready.peerId} dht /ip4/127.0.0.1/`)), text.stdout)
  })

  it('(a) get with no --peer finds the seeder on the DHT and writes the model byte-exact', async () => {
    const out = join(work, 'out-leech')
    const summary = await runCliJson(['--repo', join(work, 'leech'), 'get', root, '-o', out, '--bootstrap', bootAddr])
    assert.deepEqual(await digestTree(out), await digestTree(model))
    assert.ok(summary.blocks > 3)
    assert.deepEqual(summary.providers.map((p: Provider) => [p.peerId, p.source]), [[seeder.ready.peerId, 'dht']])
    assert.equal(summary.peers[seeder.ready.peerId].source, 'dht')
    assert.ok(summary.peers[seeder.ready.peerId].bytesReceived >= summary.bytes)
    assert.equal(typeof summary.searchedMs, 'number')
  })

  it('(c) once the leecher serves, a fourth get finds and fetches from both', async () => {
    leecherServe = await startServe(join(work, 'leech'), undefined, ['--bootstrap', bootAddr])
    await providersUntil(join(work, 'ask'), root, bootAddr, [seeder.ready.peerId, leecherServe.ready.peerId])
    const out = join(work, 'out-fourth')
    const summary = await runCliJson(['--repo', join(work, 'fourth'), 'get', root, '-o', out, '--bootstrap', bootAddr])
    assert.deepEqual(await digestTree(out), await digestTree(model))
    const found = new Map<string, string>(summary.providers.map((p: Provider) => [p.peerId, p.source]))
    assert.equal(found.get(seeder.ready.peerId), 'dht', JSON.stringify(summary.providers))
    assert.equal(found.get(leecherServe.ready.peerId), 'dht', JSON.stringify(summary.providers))
  })

  it('(d) an unreachable --peer and a dead provider record are skipped with a log line; the fetch goes on from the others', async () => {
    // a third provider that announces the root, then dies: its record (and addresses) stay on the bootstrap node
    const deadRepo = join(work, 'dead')
    await runCliJson(['--repo', deadRepo, 'add', model])
    const dead = spawn(process.execPath, [BIN, '--repo', deadRepo, 'serve', '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', bootAddr], { stdio: ['ignore', 'pipe', 'pipe'] })
    const deadId = await new Promise<string>((resolve, reject) => {
      let buf = ''
      dead.stdout.setEncoding('utf8').on('data', (d: string) => {
        buf += d
        const m = /^peer (\S+)$/m.exec(buf)
        if (m != null) resolve(m[1])
      })
      dead.once('exit', (code) => { reject(new Error(`dead-to-be provider exited ${code}`)) })
    })
    await providersUntil(join(work, 'ask'), root, bootAddr, [deadId])
    const exited = new Promise(resolve => dead.once('exit', resolve))
    dead.kill('SIGKILL')
    await exited

    // a closed port and a peer id nobody has (libp2p would reuse a connection to a known peer id, whatever the address)
    const unreachable = `/ip4/127.0.0.1/tcp/1/p2p/${peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()}`
    const out = join(work, 'out-d')
    const r = await runCliLogged(['--repo', join(work, 'd'), 'get', root, '-o', out, '--bootstrap', bootAddr, '--peer', unreachable, '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(await digestTree(out), await digestTree(model))
    const summary = JSON.parse(r.stdout)
    assert.ok(!summary.providers.some((p: Provider) => p.peerId === deadId), 'the dead provider is not fetched from')
    assert.ok(summary.providers.some((p: Provider) => p.source === 'dht'), JSON.stringify(summary.providers))
    assert.match(r.stderr, /skipping given peer \/ip4\/127\.0\.0\.1\/tcp\/1\//)
    assert.match(r.stderr, new RegExp(`dial attempt 1/\\d+ to ${deadId} failed`))
  })

  it('(d) a --bootstrap that is not a multiaddr is a one-line usage error (exit 2)', async () => {
    const cases: Array<[string, string[]]> = [
      ['not-a-multiaddr', ['get', root, '-o', join(work, 'x')]],
      ['/ip4/127.0.0.1/tcp/4001', ['get', root, '-o', join(work, 'x')]], // no /p2p/<id>
      ['/ip4/999.1.1.1/tcp/1/p2p/x', ['providers', root]],
      ['not-a-multiaddr', ['serve']]
    ]
    for (const [bad, cmd] of cases) {
      {
        const r = await runCli(['--repo', join(work, 'bad'), ...cmd, '--bootstrap', bad])
        assert.equal(r.code, 2, `${cmd[0]} --bootstrap ${bad}: ${r.stderr}`)
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
        assert.match(r.stderr, /^tensorswap: UsageError: --bootstrap: /)
      }
    }
  })

  it('a get that finds no provider succeeds when every block is local already (a rerun)', async () => {
    const solo = join(work, 'solo')
    const other = await copyHumanModel('age', join(work, 'model-age'))
    const ageRoot: string = (await runCliJson(['--repo', solo, 'add', other])).root // nobody serves it
    const summary = await runCliJson(['--repo', solo, 'get', ageRoot, '-o', join(work, 'out-solo'), '--bootstrap', bootAddr, '--find-timeout', '3000'])
    assert.deepEqual(await digestTree(join(work, 'out-solo')), await digestTree(other))
    assert.equal(summary.blocks, 0)
    assert.ok(summary.blocksLocal > 1)
    assert.deepEqual(summary.providers, [])
  })

  it('a get that finds no provider fails with one NoProvidersError line naming the CID and the time searched', async () => {
    // a CID nobody has: the fetched copy's raw root would be found, so take the identity of nothing
    const nobody = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    const r = await runCli(['--repo', join(work, 'none'), 'get', nobody, '-o', join(work, 'none-out'), '--bootstrap', bootAddr, '--find-timeout', '5000'])
    assert.equal(r.code, 1, r.stderr)
    const lines = r.stderr.trim().split('\n')
    assert.equal(lines.length, 1, r.stderr)
    assert.match(lines[0], new RegExp(`^tensorswap: NoProvidersError: no provider of ${nobody} found in \\d+\\.\\d s`))
  })
})

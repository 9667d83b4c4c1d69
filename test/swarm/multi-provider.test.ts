/**
 * A multi-provider session on namespaced hosts (every link capped at 100 Mbit/s, separate
 * processes): three `serve` providers of the same 48 MiB of real weights, a leecher that knows
 * only the first one's address (`--bootstrap`) and finds the others on the DHT while it
 * fetches. One provider that has served the leecher is killed with SIGKILL once a quarter of
 * the bytes are on the leecher's disk: the fetch completes byte-exact from the other two, each provider served some of it, the
 * killed one's wants went to the others and no block came twice.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCliJson } from '../helpers/cli.js'
import { digestTree, writeRealWeightsFile } from '../helpers/model.js'
import { canMakeNamespaces, createTestNet, type TestNet } from '../helpers/netns.js'
import { getOn, serveOn, untilOnDisk, waitForProviders, type HostServe, type RunningGet } from './swarm-net.js'

const MiB = 1024 * 1024
const MODEL_BYTES = 48 * MiB

// CI runs as root: there the test must run, never be skipped
const skip = !canMakeNamespaces() && process.env.CI !== 'true' ? 'needs root for network namespaces' : false

/**
 * The first provider, in `order`, that the leecher has stored a block from: read from its
 * session log (`tensorswap:exchange:session:trace`, one "stored <cid> (<n> bytes) from <peer>"
 * line per block), every 20 ms. (Asking each daemon's `peers --json` started a CLI process per
 * ask; under a running fetch on 2 cores the answers came after the fetch had ended.)
 *
 * @throws Error when the leecher stored nothing from any of them within `ms`
 */
async function servedAlready (get: RunningGet, providers: HostServe[], order: number[], ms = 20_000): Promise<HostServe> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const stored = get.stderr().split('\n').filter(l => l.includes(' stored '))
    for (const i of order) if (stored.some(l => l.endsWith(`from ${providers[i].peerId}`))) return providers[i]
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`the leecher stored no block from a provider within ${ms} ms`)
}

describe('three providers found by routing, one killed mid-fetch (100 Mbit/s hosts)', { skip }, () => {
  let work: string
  let net: TestNet
  let model: string
  let root: string
  const providers: HostServe[] = []

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-multi-'))
    model = join(work, 'model')
    await mkdir(model)
    await writeRealWeightsFile(join(model, 'weights.bin'), MODEL_BYTES)
    for (let i = 0; i < 3; i++) root = (await runCliJson(['--repo', join(work, `p${i}`), 'add', model])).root
    net = await createTestNet(4, { rateMbit: 100, prefix: 'swm' })
  })
  after(async () => {
    for (const p of providers) p.child.kill('SIGKILL')
    await net?.destroy()
    await rm(work, { recursive: true, force: true })
  })

  it('completes byte-exact from the survivors; the killed one\'s wants moved, no block twice', async () => {
    const [h0, h1, h2, leecher] = net.hosts
    providers.push(await serveOn(h0, join(work, 'p0')))
    const boot = providers[0].addr
    providers.push(await serveOn(h1, join(work, 'p1'), ['--bootstrap', boot]))
    providers.push(await serveOn(h2, join(work, 'p2'), ['--bootstrap', boot]))
    const ids = providers.map(p => p.peerId)
    await waitForProviders(leecher, join(work, 'probe'), root, boot, ids)

    const repo = join(work, 'leecher')
    const out = join(work, 'out')
    // the routing log (which provider was found when, which dial failed) goes into any failure's
    // message; the session's per-block log says who served what (the victim is chosen by it),
    // the exchange's which want went where and which block came twice
    const get = getOn(leecher, repo, root, ['-o', out, '--bootstrap', boot], 50_000, { DEBUG: 'tensorswap:routing*,tensorswap:exchange:session:trace,tensorswap:exchange:exchange:trace,tensorswap:exchange:network' })
    // a quarter of the weights are stored: the fetch is spread and running. The victim is a
    // provider that has served the leecher already (the leecher's session log): one found on the DHT
    // after the first quarter would be killed before it was ever asked
    await untilOnDisk([repo, out], MODEL_BYTES / 4)
    const victim = await servedAlready(get, providers, [1, 2, 0])
    victim.child.kill('SIGKILL')
    const r = await get.done
    assert.equal(r.code, 0, `get exited ${r.code}: ${r.stderr.slice(-3000)}`)
    assert.deepEqual(await digestTree(out), await digestTree(model), 'byte-exact')

    const peers = r.json.peers as Record<string, { bytesReceived: number, blocksReceived: number, source: string }>
    for (const id of ids) {
      assert.ok((peers[id]?.bytesReceived ?? 0) > 0, `provider ${id} (${id === victim.peerId ? 'the killed one' : 'a survivor'}) served part of the fetch: ${JSON.stringify(peers)}\nrouting log:\n${r.stderr.slice(-8000)}`)
      assert.ok(['dht', 'connected'].includes(peers[id].source), `provider ${id} found by routing: ${peers[id].source}`)
    }
    const killed = peers[victim.peerId].bytesReceived
    assert.ok(killed < 0.75 * MODEL_BYTES, `the killed provider sent ${killed} bytes: its wants went elsewhere`)
    // every block fetched came from exactly one peer, and none came again
    const blocks = Object.values(peers).reduce((n, p) => n + p.blocksReceived, 0)
    const bytes = Object.values(peers).reduce((n, p) => n + p.bytesReceived, 0)
    assert.equal(blocks, r.json.blocks)
    assert.equal(bytes, r.json.bytes)
    // only blocks small enough to be sent in place of a HAVE (Bitswap 1.2.0) may come twice
    const log = r.stderr.split('\n').filter(l => / (want-block|late duplicate|stored|gone) /.test(l)).join('\n')
    assert.ok(r.json.duplicateBytes <= 64 * 1024, `duplicates: ${r.json.duplicateBlocks} blocks, ${r.json.duplicateBytes} bytes\n${log.slice(-20_000)}`)
    console.log(`# multi-provider: ${(r.ms / 1000).toFixed(1)} s; per peer MiB ${Object.entries(peers).map(([id, p]) => `${id.slice(-6)}=${(p.bytesReceived / MiB).toFixed(1)}${id === victim.peerId ? '(killed)' : ''}`).join(' ')}; duplicates ${r.json.duplicateBlocks} blocks ${r.json.duplicateBytes} bytes`)
  })
})

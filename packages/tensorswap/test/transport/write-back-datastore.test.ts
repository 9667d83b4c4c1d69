import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { openRepo } from '@tensorswap/blockstore'
import { Key } from 'interface-datastore'
import { createTensorSwap } from '../../src/tensorswap.js'
import { WriteBackDatastore } from '../../src/transport/write-back-datastore.js'
import type { Batch, Datastore } from 'interface-datastore'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

/** The repo's real leveldb datastore, counting the batches committed to it; `failNext` makes the next commit throw. */
async function countedRepo (dir: string): Promise<{ datastore: Datastore, commits: () => number, failNext: () => void, close: () => Promise<void> }> {
  const repo = await openRepo(join(dir, 'repo'))
  let commits = 0
  let fail = false
  const counted = Object.create(repo.datastore) as Datastore
  counted.batch = (): Batch => {
    const inner = repo.datastore.batch()
    return {
      put: (k, v) => { inner.put(k, v) },
      delete: (k) => { inner.delete(k) },
      commit: async () => {
        if (fail) { fail = false; throw Object.assign(new Error('disk full'), { code: 'ENOSPC' }) }
        commits++
        await inner.commit()
      }
    }
  }
  return { datastore: counted, commits: () => commits, failNext: () => { fail = true }, close: async () => { await repo.close() } }
}

/** Run `fn` with a counted repo datastore in a temp dir, then close and remove it. */
async function withRepo (fn: (repo: Awaited<ReturnType<typeof countedRepo>>) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ts-wb-'))
  const repo = await countedRepo(dir)
  try {
    await fn(repo)
  } finally {
    await repo.close()
    await rm(dir, { recursive: true, force: true })
  }
}

describe('WriteBackDatastore (libp2p state in front of the repo datastore)', () => {
  it('reads its own writes and deletes at once, and writes them to leveldb in one batch per flush', async () => {
    await withRepo(async (repo) => {
      const ds = new WriteBackDatastore(repo.datastore, { flushIntervalMs: 60_000 })
      const a = new Key('/peers/a')
      const b = new Key('/peers/b')
      for (let i = 0; i < 50; i++) await ds.put(a, bytes(`a${i}`))
      await ds.put(b, bytes('b'))
      assert.equal(text(await ds.get(a)), 'a49')
      assert.equal(ds.pending, 2)
      await assert.rejects(async () => await repo.datastore.get(a), { name: 'NotFoundError' }) // not written yet
      await ds.delete(b)
      await assert.rejects(ds.get(b), { name: 'NotFoundError' })
      assert.equal(await ds.has(b), false)
      await ds.flush()
      assert.equal(repo.commits(), 1)
      assert.equal(ds.pending, 0)
      assert.equal(text(await repo.datastore.get(a)), 'a49')
      assert.equal(await repo.datastore.has(b), false)
      await ds.flush() // nothing pending: no batch
      assert.equal(repo.commits(), 1)
    })
  })

  it('flushes on its own after flushIntervalMs; a query sees pending writes', async () => {
    await withRepo(async (repo) => {
      const ds = new WriteBackDatastore(repo.datastore, { flushIntervalMs: 50 })
      await ds.put(new Key('/dht/provider/x'), bytes('x'))
      await new Promise(resolve => setTimeout(resolve, 200))
      assert.equal(repo.commits(), 1)
      assert.equal(text(await repo.datastore.get(new Key('/dht/provider/x'))), 'x')
      await ds.put(new Key('/dht/provider/y'), bytes('y'))
      const keys: string[] = []
      for await (const { key } of ds.query({ prefix: '/dht/provider' })) keys.push(key.toString())
      assert.deepEqual(keys.sort(), ['/dht/provider/x', '/dht/provider/y'])
      await ds.close()
    })
  })

  it('a failed flush keeps its writes pending (a newer write wins) and the next flush writes them', async () => {
    await withRepo(async (repo) => {
      const ds = new WriteBackDatastore(repo.datastore, { flushIntervalMs: 60_000 })
      await ds.put(new Key('/peers/a'), bytes('1'))
      await ds.put(new Key('/peers/b'), bytes('1'))
      repo.failNext()
      await assert.rejects(ds.flush(), { code: 'ENOSPC' })
      assert.equal(ds.pending, 2)
      await ds.put(new Key('/peers/a'), bytes('2'))
      await ds.close()
      assert.equal(ds.pending, 0)
      assert.equal(text(await repo.datastore.get(new Key('/peers/a'))), '2')
      assert.equal(text(await repo.datastore.get(new Key('/peers/b'))), '1')
    })
  })

  it('keeps at most maxEntries clean records, never drops a pending one, reads evicted ones from leveldb', async () => {
    await withRepo(async (repo) => {
      const ds = new WriteBackDatastore(repo.datastore, { flushIntervalMs: 60_000, maxEntries: 4 })
      for (let i = 0; i < 10; i++) await ds.put(new Key(`/peers/${i}`), bytes(String(i)))
      assert.equal(ds.pending, 10) // over the limit, but pending: all kept
      await ds.flush()
      for (let i = 0; i < 10; i++) assert.equal(text(await ds.get(new Key(`/peers/${i}`))), String(i))
      await assert.rejects(ds.get(new Key('/peers/none')), { name: 'NotFoundError' })
    })
  })

  it('a node keeps libp2p\'s peer records across a restart: stop flushes them before the repo closes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ts-wb-node-'))
    try {
      const opts = { listen: ['/ip4/127.0.0.1/tcp/0'], transports: ['tcp' as const], graphsync: false }
      const a = await createTensorSwap({ ...opts, repo: join(dir, 'a') })
      const b = await createTensorSwap({ ...opts, repo: join(dir, 'b') })
      try {
        await a.libp2p.dial(b.libp2p.getMultiaddrs()[0])
        // identify has run: b's record (its protocols) is in a's peer store
        let tries = 0
        while ((await a.libp2p.peerStore.get(b.libp2p.peerId)).protocols.length === 0 && tries++ < 50) await new Promise(resolve => setTimeout(resolve, 50))
      } finally {
        await b.stop()
        await a.stop()
      }
      const repo = await openRepo(join(dir, 'a'))
      try {
        let records = 0
        for await (const { key } of repo.datastore.query({ prefix: '/peers/' })) if (key.toString().endsWith(b.libp2p.peerId.toCID().toString())) records++
        assert.equal(records, 1, 'b\'s peer record reached leveldb')
      } finally {
        await repo.close()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

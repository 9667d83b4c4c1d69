import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { base32upper } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import { FsBlockstore, blockSize, getBlockUnverified, hashBlock, verifyBlock } from '../src/index.js'
import { pseudoRandomBytes, rmDir, tmpDir } from './helpers.js'

describe('FsBlockstore', () => {
  let dir: string
  let store: FsBlockstore
  const block = pseudoRandomBytes(100_000, 7)
  const cid = hashBlock(block)

  before(async () => {
    dir = await tmpDir()
    store = new FsBlockstore(path.join(dir, 'blocks'))
    await store.open()
  })
  after(async () => { await store.close(); await rmDir(dir) })

  it('put/has/get/delete round trip', async () => {
    assert.equal(await store.has(cid), false)
    assert.equal((await store.put(cid, block)).toString(), cid.toString())
    assert.equal(await store.has(cid), true)
    const back = await getBlockUnverified(store, cid)
    assert.deepEqual(back, block)
    await store.delete(cid)
    assert.equal(await store.has(cid), false)
    await store.delete(cid) // deleting a missing block is fine
  })

  it('size tells a stored block\'s bytes without reading it; blockSize also for identity CIDs and unsized stores', async () => {
    const { identity } = await import('multiformats/hashes/identity')
    const { MemoryBlockstore } = await import('blockstore-core')
    const other = hashBlock(pseudoRandomBytes(10, 8))
    assert.equal(await store.size(other), undefined)
    await store.put(cid, block)
    assert.equal(await store.size(cid), 100_000)
    assert.equal(await blockSize(store, cid), 100_000)
    assert.equal(await blockSize(store, CID.createV1(0x55, identity.digest(Uint8Array.of(1, 2, 3)))), 3)
    const mem = new MemoryBlockstore()
    await mem.put(cid, block)
    assert.equal(await blockSize(mem, cid), undefined)
  })

  it('uses the Kubo flatfs next-to-last/2 layout keyed by multihash', async () => {
    await store.put(cid, block)
    const key = base32upper.baseEncode(cid.multihash.bytes)
    const file = path.join(dir, 'blocks', key.slice(-3, -1), key + '.data')
    assert.deepEqual(new Uint8Array(await fs.readFile(file)), block)
    assert.equal(store.blockPath(cid), file)
    assert.equal((await fs.readFile(path.join(dir, 'blocks', 'SHARDING'), 'utf8')).trim(), '/repo/flatfs/shard/v1/next-to-last/2')
    // the same multihash under CIDv0 / another codec is the same block
    assert.equal(await store.has(CID.createV1(0x71, cid.multihash)), true)
    assert.deepEqual(await fs.readdir(path.join(dir, 'blocks', '.temp')), [])
  })

  it('put of an existing block is a no-op (file untouched)', async () => {
    await store.put(cid, block)
    const before = await fs.stat(store.blockPath(cid))
    await store.put(cid, new Uint8Array([1, 2, 3])) // would corrupt if it rewrote
    const after = await fs.stat(store.blockPath(cid))
    assert.equal(after.ino, before.ino)
    assert.deepEqual(await getBlockUnverified(store, cid), block)
  })

  it('put accepts sync and async chunk iterables', async () => {
    const b2 = pseudoRandomBytes(5000, 8)
    const c2 = hashBlock(b2)
    await store.put(c2, [b2.subarray(0, 10), b2.subarray(10)])
    assert.deepEqual(await getBlockUnverified(store, c2), b2)
    const b3 = pseudoRandomBytes(5000, 9)
    const c3 = hashBlock(b3)
    await store.put(c3, (async function * () { yield b3.subarray(0, 1); yield b3.subarray(1) })())
    assert.deepEqual(await getBlockUnverified(store, c3), b3)
  })

  it('get of a missing block throws NotFoundError', async () => {
    const missing = hashBlock(new Uint8Array([9, 9, 9]))
    await assert.rejects(getBlockUnverified(store, missing), { name: 'NotFoundError' })
  })

  it('putMany / getMany / getAll / deleteMany', async () => {
    const d = await tmpDir()
    const s = new FsBlockstore(d, { putManyConcurrency: 3 })
    await s.open()
    const blocks = Array.from({ length: 20 }, (_, i) => pseudoRandomBytes(1000 + i, 100 + i))
    const cids = blocks.map(b => hashBlock(b))
    const put: string[] = []
    for await (const c of s.putMany(blocks.map((bytes, i) => ({ cid: cids[i], bytes })))) put.push(c.toString())
    assert.deepEqual(put, cids.map(c => c.toString()))
    let i = 0
    for await (const pair of s.getMany(cids)) {
      const chunks: Uint8Array[] = []
      for await (const chunk of pair.bytes) chunks.push(chunk)
      assert.deepEqual(chunks[0], blocks[i++])
    }
    const all = new Set<string>()
    for await (const pair of s.getAll()) {
      const chunks: Uint8Array[] = []
      for await (const chunk of pair.bytes) chunks.push(chunk)
      verifyBlock(pair.cid, chunks[0])
      assert.equal(pair.cid.code, 0x55)
      all.add(pair.cid.toString())
    }
    assert.deepEqual([...all].sort(), cids.map(c => c.toString()).sort())
    const deleted: CID[] = []
    for await (const c of s.deleteMany(cids.slice(0, 5))) deleted.push(c)
    assert.equal(deleted.length, 5)
    assert.equal(await s.has(cids[0]), false)
    assert.equal(await s.has(cids[5]), true)
    await rmDir(d)
  })

  it('verifyOnRead detects a corrupted file', async () => {
    const d = await tmpDir()
    const s = new FsBlockstore(d, { verifyOnRead: true })
    await s.open()
    await s.put(cid, block)
    assert.deepEqual(await getBlockUnverified(s, cid), block)
    const bad = block.slice()
    bad[500] ^= 0xff
    await fs.writeFile(s.blockPath(cid), bad)
    await assert.rejects(getBlockUnverified(s, cid), { name: 'BlockHashMismatchError' })
    // without verifyOnRead the corrupted bytes are returned as stored
    assert.deepEqual(await getBlockUnverified(new FsBlockstore(d), cid), bad)
    await rmDir(d)
  })

  it('open removes stale temp files and rejects a different shard function', async () => {
    const d = await tmpDir()
    const s = new FsBlockstore(d)
    await s.open()
    const stale = path.join(d, '.temp', 'X.data.1.0.tmp')
    const fresh = path.join(d, '.temp', 'Y.data.1.1.tmp')
    await fs.writeFile(stale, 'partial')
    await fs.writeFile(fresh, 'in flight')
    const old = new Date(Date.now() - 3600_000)
    await fs.utimes(stale, old, old)
    await new FsBlockstore(d).open()
    assert.deepEqual(await fs.readdir(path.join(d, '.temp')), ['Y.data.1.1.tmp'])
    await fs.writeFile(path.join(d, 'SHARDING'), '/repo/flatfs/shard/v1/prefix/2\n')
    await assert.rejects(new FsBlockstore(d).open(), { name: 'OpenFailedError' })
    await rmDir(d)
  })

  it('honours an aborted signal', async () => {
    const signal = AbortSignal.abort()
    const other = hashBlock(new Uint8Array([4, 5, 6]))
    await assert.rejects(store.put(other, new Uint8Array([4, 5, 6]), { signal }), { name: 'AbortError' })
    assert.equal(await store.has(other), false)
    await assert.rejects(store.has(cid, { signal }), { name: 'AbortError' })
    await assert.rejects(getBlockUnverified(store, cid, { signal }), { name: 'AbortError' })
    await assert.rejects(store.delete(cid, { signal }), { name: 'AbortError' })
    const controller = new AbortController()
    const slow = (async function * () { yield new Uint8Array([4]); controller.abort(); yield new Uint8Array([5, 6]) })()
    await assert.rejects(store.put(other, slow, { signal: controller.signal }), { name: 'AbortError' })
    assert.equal(await store.has(other), false)
    assert.deepEqual(await fs.readdir(path.join(dir, 'blocks', '.temp')), [])
  })
})

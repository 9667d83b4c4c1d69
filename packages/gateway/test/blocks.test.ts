/**
 * The gateway's verified-block cache (`VerifiedBlockCache`, blocks.ts): readers sharing it read
 * and hash a block once; what it serves is the bytes that verified, even once the store's copy
 * is corrupt; it holds at most its byte cap, least recently used out first; a block read from
 * the store after eviction is verified again. Blocks are real weights (human-models) cut into
 * 256 KiB pieces. Bytes are compared with `Buffer.equals` and asserted with `assert.ok`: a
 * failing `deepEqual` on a 256 KiB array takes minutes to print.
 */

import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { BlockReader } from '../src/blocks.js'
import { VerifiedBlockCache, DEFAULT_VERIFIED_BLOCK_CACHE_BYTES } from '../src/index.js'
import { HUMAN_MODELS_DIR } from './helpers.js'

const KiB = 1024

/** Byte equality of two blocks. */
function same (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a != null && b != null && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

/** A store of `blocks` whose `get` counts reads and hands out a flipped copy of the bytes when `corrupt` holds the CID. */
function countingStore (blocks: Map<string, Uint8Array>): { get: (cid: CID) => AsyncGenerator<Uint8Array>, reads: () => number, corrupt: Set<string> } {
  let reads = 0
  const corrupt = new Set<string>()
  return {
    corrupt,
    reads: () => reads,
    get: async function * (cid: CID) {
      reads++
      const bytes = blocks.get(cid.toString())
      if (bytes == null) throw Object.assign(new Error(`no block ${cid}`), { name: 'NotFoundError' })
      if (!corrupt.has(cid.toString())) {
        yield bytes
        return
      }
      const flipped = new Uint8Array(bytes)
      flipped[flipped.byteLength >> 1] ^= 0xff
      yield flipped
    }
  }
}

describe('gateway verified-block cache', () => {
  const blocks = new Map<string, Uint8Array>()
  const cids: CID[] = []
  before(async () => {
    const weights = await readFile(join(HUMAN_MODELS_DIR, 'movenet-lightning.bin'))
    for (let off = 0; off + 256 * KiB <= weights.byteLength && cids.length < 5; off += 256 * KiB) {
      const bytes = new Uint8Array(weights.subarray(off, off + 256 * KiB))
      const cid = CID.createV1(0x55, await sha256.digest(bytes))
      blocks.set(cid.toString(), bytes)
      cids.push(cid)
    }
    assert.equal(cids.length, 5, 'five 256 KiB blocks of real weights')
  })

  it('readers sharing it read a block once; a corrupt store copy is not served from it, nor after eviction', async () => {
    const store = countingStore(blocks)
    const cache = new VerifiedBlockCache(1024 * KiB)
    const reader = (): BlockReader => new BlockReader({ blockstore: store, fetchTimeoutMs: 1000, localOnly: true, cache })
    const c0 = cids[0] as CID
    const first = await reader().getBlock(c0)
    assert.ok(same(first, blocks.get(c0.toString())))
    for (let i = 0; i < 5; i++) assert.ok(same(await reader().getBlock(c0), first))
    assert.equal(store.reads(), 1, 'six readers, one read of the store')

    // the store's copy goes bad: the kept bytes (which verified) are still what is served
    store.corrupt.add(c0.toString())
    assert.ok(same(await reader().getBlock(c0), blocks.get(c0.toString())), 'the verified bytes')

    // four more blocks of 256 KiB over a 1 MiB cap: c0 (least recently used) goes, and its next
    // read comes from the store and fails verification
    for (const c of cids.slice(1)) await reader().getBlock(c)
    assert.ok(cache.bytes <= cache.maxBytes, `${cache.bytes} bytes kept, cap ${cache.maxBytes}`)
    // (assert.ok, not equal: a failure would print the 256 KiB block)
    assert.ok(cache.get(c0) === undefined, 'the least recently used block was evicted')
    assert.equal(cache.size, 4)
    await reader().getBlock(cids[1] as CID)
    await assert.rejects(reader().getBlock(c0), (err: Error) => err.name === 'BlockHashMismatchError')
  })

  it('keeps nothing at 0 bytes, skips blocks over a quarter of the cap, and has a 16 MiB default', async () => {
    const store = countingStore(blocks)
    const none = new VerifiedBlockCache(0)
    const c1 = cids[1] as CID
    for (let i = 0; i < 3; i++) await new BlockReader({ blockstore: store, fetchTimeoutMs: 1000, localOnly: true, cache: none }).getBlock(c1)
    assert.equal(store.reads(), 3)
    assert.equal(none.size, 0)
    const small = new VerifiedBlockCache(512 * KiB)
    small.set(c1, blocks.get(c1.toString()) as Uint8Array)
    assert.equal(small.size, 0, 'a 256 KiB block is over a quarter of 512 KiB')
    assert.throws(() => new VerifiedBlockCache(-1), RangeError)
    assert.equal(DEFAULT_VERIFIED_BLOCK_CACHE_BYTES, 16 * 1024 * KiB)
  })
})

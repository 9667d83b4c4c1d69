/**
 * The UnixFS reads the gateway uses (`walkFileRange`, `directoryEntries`, `hamtShardBlocks`,
 * `entityKind`) against `ipfs-unixfs-importer` DAGs, with `ipfs-unixfs-exporter` (Helia's
 * reader) as the reference for the bytes of a range and the entries of a HAMT directory.
 */

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it, before } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { MemoryBlockstore } from 'blockstore-core'
import fc from 'fast-check'
import { exporter } from 'ipfs-unixfs-exporter'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { directoryEntries, entityKind, getVerifiedBlock, hamtShardBlocks, verifiedSource, walkFileRange } from '../src/index.js'
import type { UnixfsNode } from '../src/index.js'
import type { CID } from 'multiformats/cid'

async function collect<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

async function exporterBytes (store: MemoryBlockstore, cid: CID, offset: number, length: number): Promise<Uint8Array> {
  const entry = await exporter(cid, store)
  assert.ok(entry.type === 'file' || entry.type === 'raw')
  return Buffer.concat(await collect(entry.content({ offset, length })))
}

describe('walkFileRange', () => {
  const store = new MemoryBlockstore()
  const bytes = randomBytes(300_000)
  let root: CID

  before(async () => {
    // 4 KiB leaves, 8 links per node: a three-level balanced DAG
    for await (const e of importer([{ content: bytes }], store, {
      cidVersion: 1, rawLeaves: true, reduceSingleLeafToSelf: true, layout: balanced({ maxChildrenPerNode: 8 }), chunker: fixedSize({ chunkSize: 4096 })
    })) root = e.cid
  })

  it('property: the content of a range is the file bytes of that range, as ipfs-unixfs-exporter reads them', async () => {
    const source = verifiedSource(store)
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: bytes.byteLength - 1 }), fc.integer({ min: 1, max: 70_000 }), async (start, length) => {
      const end = Math.min(start + length, bytes.byteLength)
      const steps = await collect(walkFileRange(source, root, start, end))
      const got = Buffer.concat(steps.map(s => s.content))
      assert.deepEqual(got, bytes.subarray(start, end))
      assert.deepEqual(got, await exporterBytes(store, root, start, end - start))
      assert.equal(steps[0].cid.toString(), root.toString())
      // only the nodes on the paths to the range's leaves: far fewer than the whole DAG (~85
      // blocks). An unaligned range touches one leaf more than its length fills; above the
      // leaves, the range's parents (8 leaves each, plus one at an unaligned edge), theirs, and
      // the root (a bound of 2 per level failed: 67,198 bytes from 227,715 read 18 leaves and 7 nodes)
      const leaves = Math.ceil((end - start) / 4096) + 1
      const nodes = (Math.ceil(leaves / 8) + 1) + (Math.ceil(leaves / 64) + 1) + 1
      assert.ok(steps.length <= leaves + nodes, `${steps.length} blocks for ${end - start} bytes`)
    }), { numRuns: 30 })
  })

  it('entityKind gives the file size; the whole range visits every block once', async () => {
    const kind = entityKind(root, await getVerifiedBlock(store, root))
    assert.equal(kind.kind, 'file')
    assert.equal(kind.size, bytes.byteLength)
    const steps = await collect(walkFileRange(verifiedSource(store), root, 0, bytes.byteLength))
    assert.equal(new Set(steps.map(s => s.cid.toString())).size, steps.length)
    assert.deepEqual(Buffer.concat(steps.map(s => s.content)), bytes)
  })

  it('every block is verified: a corrupt leaf is BlockHashMismatchError', async () => {
    const steps = await collect(walkFileRange(verifiedSource(store), root, 0, 10))
    const leaf = steps[steps.length - 1].cid
    const bad = new MemoryBlockstore()
    for await (const { cid, bytes: b } of store.getAll()) {
      const copy = Buffer.concat(await collect(b as AsyncIterable<Uint8Array>))
      await bad.put(cid, cid.equals(leaf) ? Buffer.from('not the leaf') : copy)
    }
    await assert.rejects(collect(walkFileRange(verifiedSource(bad), root, 0, 10)), { name: 'BlockHashMismatchError' })
  })
})

describe('directoryEntries and hamtShardBlocks', () => {
  const store = new MemoryBlockstore()
  const names = Array.from({ length: 300 }, (_, i) => `file-${i}.txt`)
  let root: CID
  let node: UnixfsNode

  before(async () => {
    for await (const e of importer(names.map(name => ({ path: `dir/${name}`, content: Buffer.from(name) })), store, {
      cidVersion: 1, rawLeaves: true, shardSplitThresholdBytes: 100
    })) {
      if (e.path === 'dir') root = e.cid
    }
    const k = entityKind(root, await getVerifiedBlock(store, root))
    assert.equal(k.kind, 'hamt-directory')
    node = k.node as UnixfsNode
  })

  it('lists a HAMT directory with the same entries as ipfs-unixfs-exporter', async () => {
    const source = verifiedSource(store)
    const ours = await collect(directoryEntries(source, root, node))
    const dir = await exporter(root, store)
    assert.ok(dir.type === 'directory')
    const theirs = await collect(dir.entries())
    assert.deepEqual(ours.map(e => e.name).sort(), names.slice().sort())
    assert.deepEqual(new Map(ours.map(e => [e.name, e.cid.toString()])), new Map(theirs.map(e => [e.name, e.cid.toString()])))
  })

  it('hamtShardBlocks yields each sub-shard once, and they are the shards entries were reached through', async () => {
    const source = verifiedSource(store)
    const shards = await collect(hamtShardBlocks(source, root, node))
    assert.ok(shards.length > 0)
    for (const s of shards) assert.equal(s.cid.code, dagPb.code)
    const crossed = new Set((await collect(directoryEntries(source, root, node))).flatMap(e => e.shards.map(String)))
    assert.deepEqual(new Set(shards.map(s => s.cid.toString())), crossed)
  })
})

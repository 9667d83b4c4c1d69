/**
 * The UnixFS reader against hand-built hostile dag-pb nodes (`@ipld/dag-pb` + `ipfs-unixfs`):
 * HAMT fanouts outside the spec rule, file nodes whose links and blocksizes disagree, whose
 * recorded `filesize` is not the computed size, or whose chunk links carry names. Every reader
 * (`walkUnixfs` for list/export, `fileContent`, `entityKind` and `walkFileRange` for the gateway)
 * must reject them with `InvalidDagError`, and a file node's structure must be rejected before
 * any of its bytes is yielded. Each case has a well-formed twin that reads, so a rejection is
 * the rule at work and not a broken fixture.
 */

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { hashBlock } from '@tensorswap/blockstore'
import { MemoryBlockstore } from 'blockstore-core'
import { UnixFS } from 'ipfs-unixfs'
import { exporter } from 'ipfs-unixfs-exporter'
import * as raw from 'multiformats/codecs/raw'
import { directoryEntries, entityKind, fileContent, getVerifiedBlock, verifiedSource, walkFileRange, walkUnixfs } from '../src/index.js'
import type { UnixfsNode } from '../src/index.js'
import type { CID } from 'multiformats/cid'

async function collect<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

async function putRaw (store: MemoryBlockstore, bytes: Uint8Array): Promise<CID> {
  const cid = hashBlock(bytes, raw.code)
  await store.put(cid, bytes)
  return cid
}

async function putPb (store: MemoryBlockstore, data: Uint8Array, links: dagPb.PBLink[]): Promise<CID> {
  const bytes = dagPb.encode(dagPb.prepare({ Data: data, Links: links }))
  const cid = hashBlock(bytes, dagPb.code)
  await store.put(cid, bytes)
  return cid
}

/** `Data` with a protobuf field 3 (`filesize`) appended: the last occurrence is the recorded one. */
function withFileSize (data: Uint8Array, size: number): Uint8Array {
  const varint: number[] = []
  let v = size
  while (v >= 0x80) { varint.push((v & 0x7f) | 0x80); v = Math.floor(v / 128) }
  varint.push(v)
  return Uint8Array.from([...data, 0x18, ...varint])
}

const leafA = new TextEncoder().encode('hello, ')
const leafB = new TextEncoder().encode('world')

/** A two-leaf file root; `mutate` changes its Data and links before encoding. */
async function twoLeafFile (store: MemoryBlockstore, mutate: { blockSizes?: bigint[], fileSize?: number, names?: [string, string], inline?: Uint8Array<ArrayBuffer> } = {}): Promise<CID> {
  const a = await putRaw(store, leafA)
  const b = await putRaw(store, leafB)
  const unixfs = new UnixFS({ type: 'file', blockSizes: mutate.blockSizes ?? [BigInt(leafA.byteLength), BigInt(leafB.byteLength)] })
  if (mutate.inline !== undefined) unixfs.data = mutate.inline
  let data = unixfs.marshal()
  if (mutate.fileSize !== undefined) data = withFileSize(data, mutate.fileSize)
  const [na, nb] = mutate.names ?? ['', '']
  return await putPb(store, data, [{ Hash: a, Name: na, Tsize: leafA.byteLength }, { Hash: b, Name: nb, Tsize: leafB.byteLength }])
}

/** Every file read must reject `cid` with InvalidDagError, before yielding a byte. */
async function assertFileRejected (store: MemoryBlockstore, cid: CID, why: RegExp): Promise<void> {
  const bytes = await getVerifiedBlock(store, cid)
  assert.throws(() => entityKind(cid, bytes), { name: 'InvalidDagError', message: why })
  const yielded: Uint8Array[] = []
  await assert.rejects(async () => { for await (const c of fileContent(store, cid)) yielded.push(c) }, { name: 'InvalidDagError', message: why })
  assert.equal(yielded.length, 0, 'no byte before the structural error')
  const steps: unknown[] = []
  await assert.rejects(async () => { for await (const s of walkFileRange(verifiedSource(store), cid, 0, 12)) steps.push(s) }, { name: 'InvalidDagError', message: why })
  assert.equal(steps.length, 0, 'no step before the structural error')
  await assert.rejects(collect(walkUnixfs(store, cid)), { name: 'InvalidDagError', message: why })
}

describe('UnixFS file nodes: structure checked before any byte', () => {
  it('a well-formed two-leaf file (with inline data and an explicit filesize) reads as ipfs-unixfs-exporter reads it', async () => {
    const store = new MemoryBlockstore()
    const inline = new TextEncoder().encode('>> ')
    const cid = await twoLeafFile(store, { inline, fileSize: inline.byteLength + leafA.byteLength + leafB.byteLength })
    const k = entityKind(cid, await getVerifiedBlock(store, cid))
    assert.equal(k.kind, 'file')
    assert.equal(k.size, 15)
    const ours = Buffer.concat(await collect(fileContent(store, cid))).toString()
    assert.equal(ours, '>> hello, world')
    const entry = await exporter(cid, store)
    assert.ok(entry.type === 'file')
    assert.equal(Buffer.concat(await collect(entry.content())).toString(), ours)
  })

  it('links/blocksizes count mismatch is InvalidDagError (more links than sizes, and sizes without links)', async () => {
    const store = new MemoryBlockstore()
    const cid = await twoLeafFile(store, { blockSizes: [BigInt(leafA.byteLength)] })
    await assertFileRejected(store, cid, /2 links but 1 blocksizes/)
    const orphanSizes = await putPb(store, new UnixFS({ type: 'file', data: leafA, blockSizes: [5n] }).marshal(), [])
    await assertFileRejected(store, orphanSizes, /0 links but 1 blocksizes/)
  })

  it('a recorded filesize other than inline data plus blocksizes is InvalidDagError', async () => {
    const store = new MemoryBlockstore()
    for (const wrong of [13, 11, 0]) {
      const cid = await twoLeafFile(store, { fileSize: wrong })
      await assertFileRejected(store, cid, new RegExp(`filesize ${wrong} is not the computed size 12`))
    }
  })

  it('a named file-chunk link is InvalidDagError', async () => {
    const store = new MemoryBlockstore()
    const cid = await twoLeafFile(store, { names: ['', 'evil.bin'] })
    await assertFileRejected(store, cid, /chunk link 1 is named "evil.bin"/)
  })

  it('a hostile node below a sound root is caught when reached, by the same check', async () => {
    const store = new MemoryBlockstore()
    const bad = await twoLeafFile(store, { fileSize: 99 })
    const root = await putPb(store, new UnixFS({ type: 'file', blockSizes: [12n] }).marshal(), [{ Hash: bad, Name: '', Tsize: 100 }])
    await assert.rejects(collect(fileContent(store, root)), { name: 'InvalidDagError', message: /filesize 99/ })
  })
})

/** A one-level HAMT shard with `fanout` holding one file `name` (link name: hex prefix + name). */
async function shard (store: MemoryBlockstore, fanout: number, name: string): Promise<{ cid: CID, node: UnixfsNode }> {
  const file = await putRaw(store, leafA)
  const pad = (fanout - 1).toString(16).length
  const data = new UnixFS({ type: 'hamt-sharded-directory', fanout: BigInt(fanout), hashType: 0x22n, data: new Uint8Array([1]) }).marshal()
  const cid = await putPb(store, data, [{ Hash: file, Name: '0'.repeat(pad) + name, Tsize: leafA.byteLength }])
  const k = entityKind(cid, await getVerifiedBlock(store, cid))
  assert.equal(k.kind, 'hamt-directory')
  return { cid, node: k.node as UnixfsNode }
}

describe('HAMT fanout: a power of two in [2, 1024] for every reader', () => {
  it('fanouts 2, 4, 256 and 1024 list (walkUnixfs, as list/export use it) and enumerate (directoryEntries)', async () => {
    const store = new MemoryBlockstore()
    for (const fanout of [2, 4, 256, 1024]) {
      const { cid, node } = await shard(store, fanout, 'a.txt')
      const walked = await collect(walkUnixfs(store, cid))
      assert.deepEqual(walked.map(e => [e.type, e.path]), [['directory', ''], ['file', 'a.txt']], `fanout ${fanout}`)
      assert.deepEqual((await collect(directoryEntries(verifiedSource(store), cid, node))).map(e => e.name), ['a.txt'])
    }
  })

  it('fanouts 3, 1000, 2048 and 65536 are InvalidDagError for list/export as for the gateway', async () => {
    const store = new MemoryBlockstore()
    for (const fanout of [3, 1000, 2048, 65536]) {
      const { cid, node } = await shard(store, fanout, 'a.txt')
      await assert.rejects(collect(walkUnixfs(store, cid)), { name: 'InvalidDagError', message: /is not a power of two in \[2, 1024\]/ }, `walkUnixfs fanout ${fanout}`)
      await assert.rejects(collect(directoryEntries(verifiedSource(store), cid, node)), { name: 'InvalidDagError' }, `directoryEntries fanout ${fanout}`)
    }
  })
})

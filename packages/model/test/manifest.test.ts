import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, before, after } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { MemoryBlockstore } from 'blockstore-core'
import fc from 'fast-check'
import { UnixFS } from 'ipfs-unixfs'
import { importer } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { importModel, exportModel, listModel, readManifest, decodeManifest, encodeManifest, validateManifest, manifestOfBlock } from '../src/index.js'
import { sha256Hex, tempDir } from './fixtures.js'
import type { Manifest } from '../src/index.js'

async function put (store: MemoryBlockstore, codec: number, bytes: Uint8Array): Promise<CID> {
  const cid = CID.createV1(codec, await sha256.digest(bytes))
  await store.put(cid, bytes)
  return cid
}

describe('manifest, list and export', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let manifest: Manifest
  let root: CID
  const store = new MemoryBlockstore()
  before(async () => {
    tmp = await tempDir()
    const dir = join(tmp.dir, 'model')
    await mkdir(dir)
    const bin = randomBytes(40)
    await writeFile(join(dir, 'w.bin'), bin)
    await writeFile(join(dir, 'model.json'), JSON.stringify({
      modelTopology: { node: [{ name: 'b', op: 'Const' }, { name: 'a', op: 'Const' }, { name: 'mul', op: 'Mul', input: ['a', 'b:0'] }] },
      weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'b', shape: [2, 2], dtype: 'float32' }, { name: 'a', shape: [3], dtype: 'int32' }, { name: 'q', shape: [6], dtype: 'float32', quantization: { dtype: 'float16', original_dtype: 'float32' } }] }]
    }))
    const r = await importModel(store, dir)
    manifest = r.manifest
    root = r.root
  })
  after(async () => { await tmp.cleanup() })

  it('round-trips through DAG-CBOR and readManifest', async () => {
    const back = await readManifest(store, root)
    assert.deepEqual(encodeManifest(back).cid.toString(), root.toString())
    assert.deepEqual(back.tensors.map(t => t.name), ['a', 'b', 'q'])
    assert.deepEqual(back.tensors[2].quantization, { dtype: 'float16', original_dtype: 'float32' })
    assert.equal(back.tensors[2].length, 12)
  })

  it('decodes a manifest once per CID: readManifest and manifestOfBlock share one frozen decode', async () => {
    const a = await readManifest(store, root)
    const b = await readManifest(store, root)
    assert.equal(a, b, 'the second read returns the same decode')
    assert.ok(Object.isFrozen(a) && Object.isFrozen(a.tensors) && Object.isFrozen(a.tensors[0]) && Object.isFrozen(a.tensors[0].chunks))
    assert.throws(() => { (a.tensors as any).push(a.tensors[0]) }, TypeError)
    const bytes = dagCbor.encode(dagCbor.decode(encodeManifest(a).bytes))
    assert.equal(manifestOfBlock(root, bytes), a)
    // DAG-CBOR that is not a manifest, and other codecs: not manifests
    const other = dagCbor.encode({ hello: 'world' })
    assert.equal(manifestOfBlock(await put(store, dagCbor.code, other), other), undefined)
    assert.equal(manifestOfBlock(manifest.files, new Uint8Array(0)), undefined)
  })

  it('rejects blocks that are not manifests', async () => {
    const rawCid = await put(store, raw.code, Buffer.from('hello'))
    await assert.rejects(readManifest(store, rawCid), { name: 'NotAManifestError' })
    await assert.rejects(readManifest(store, manifest.files), { name: 'NotAManifestError' })
    const other = await put(store, dagCbor.code, dagCbor.encode({ hello: 'world' }))
    await assert.rejects(readManifest(store, other), { name: 'NotAManifestError' })
    const notCbor = await put(store, dagCbor.code, Buffer.from([0xff, 0x00]))
    await assert.rejects(readManifest(store, notCbor), { name: 'NotAManifestError' })
  })

  it('validates strictly: each mutation of a valid manifest is rejected', () => {
    const base = (): any => ({ ...manifest, tensors: manifest.tensors.map(t => ({ ...t, shape: [...t.shape], chunks: [...t.chunks] })) })
    const pbCid = manifest.files
    const mutations: Array<[string, (m: any) => void]> = [
      ['format', m => { m.format = 'other' }],
      ['version', m => { m.version = 2 }],
      ['extra key', m => { m.extra = 1 }],
      ['files not a CID', m => { m.files = 'bafy' }],
      ['tensors not an array', m => { m.tensors = {} }],
      ['negative offset', m => { m.tensors[0].offset = -1 }],
      ['fractional length', m => { m.tensors[0].length = 1.5 }],
      ['shape of strings', m => { m.tensors[0].shape = ['3'] }],
      ['chunk that is dag-pb', m => { m.tensors[0].chunks = [pbCid] }],
      ['chunks without length', m => { m.tensors[0].length = 0 }],
      ['unsafe file path', m => { m.tensors[0].file = '../etc/passwd' }],
      ['spans of one part', m => { m.tensors[0].spans = [{ file: 'w.bin', offset: 0, length: 12 }] }],
      ['spans not adding up', m => { m.tensors[0].spans = [{ file: m.tensors[0].file, offset: m.tensors[0].offset, length: 1 }, { file: 'x', offset: 0, length: 1 }] }],
      ['tensor extra key', m => { m.tensors[0].weird = true }],
      ['name not a string', m => { m.name = 5 }]
    ]
    assert.doesNotThrow(() => validateManifest(base()))
    for (const [title, mutate] of mutations) {
      const m = base()
      mutate(m)
      assert.throws(() => validateManifest(m), { name: 'NotAManifestError' }, title)
    }
  })

  it('property: arbitrary DAG-CBOR never decodes to anything but a manifest or NotAManifestError', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      const bytes = dagCbor.encode(value as any)
      try {
        decodeManifest(bytes)
      } catch (err: any) {
        assert.equal(err.name, 'NotAManifestError')
      }
    }), { numRuns: 200 })
  })

  it('lists a manifest, a UnixFS directory and a UnixFS file', async () => {
    const fromManifest = await listModel(store, root)
    assert.deepEqual(fromManifest.files.map(f => [f.path, f.size]), [['model.json', fromManifest.files[0].size], ['w.bin', 40]])
    assert.equal(fromManifest.tensors.length, 3)
    const fromDir = await listModel(store, manifest.files)
    assert.deepEqual(fromDir.files.map(f => f.path), ['model.json', 'w.bin'])
    assert.equal(fromDir.tensors.length, 0)
    const fromFile = await listModel(store, fromDir.files[1].cid)
    assert.deepEqual(fromFile.files.map(f => [f.path, f.size]), [['', 40]])
  })

  it('reads HAMT-sharded directories written by ipfs-unixfs-importer', async () => {
    const s = new MemoryBlockstore()
    const files = Array.from({ length: 40 }, (_, i) => ({ path: `f${i}.txt`, content: Buffer.from(`file ${i}`) }))
    let last: CID | undefined
    for await (const e of importer(files, s, { wrapWithDirectory: true, shardSplitThresholdBytes: 100, cidVersion: 1, rawLeaves: true })) last = e.cid
    const listing = await listModel(s, last as CID)
    assert.equal(listing.files.length, 40)
    const out = join(tmp.dir, 'hamt')
    await exportModel(s, last as CID, out)
    for (const f of files) assert.equal(await readFile(join(out, f.path), 'utf8'), f.content.toString())
  })

  it('export: a missing block -> BlockNotFoundError, a corrupt block -> BlockHashMismatchError', async () => {
    const s = new MemoryBlockstore()
    const p = join(tmp.dir, 'three-leaves.bin')
    await writeFile(p, randomBytes(2 * 1_048_576 + 5))
    const r = await importModel(s, p)
    const leaf = (dagPb.decode(await concat(s.get(r.files)))).Links[1].Hash
    const bytes = await concat(s.get(leaf))
    await s.delete(leaf)
    await assert.rejects(exportModel(s, r.root, join(tmp.dir, 'missing')), { name: 'BlockNotFoundError' })
    const corrupt = Uint8Array.from(bytes)
    corrupt[0] ^= 1
    await s.put(leaf, corrupt)
    await assert.rejects(exportModel(s, r.root, join(tmp.dir, 'corrupt')), { name: 'BlockHashMismatchError' })
    await assert.rejects(readManifest(new MemoryBlockstore(), r.root), { name: 'BlockNotFoundError' })
  })

  it('export refuses entry names that escape the output directory', async () => {
    const s = new MemoryBlockstore()
    const file = await put(s, raw.code, Buffer.from('pwned'))
    const dirBytes = dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: [{ Name: '..', Hash: file, Tsize: 5 }] }))
    const dir = await put(s, dagPb.code, dirBytes)
    await assert.rejects(exportModel(s, dir, join(tmp.dir, 'evil')), { name: 'InvalidDagError' })
  })

  it('export of a single-file model writes <outDir>/<manifest name>', async () => {
    const p = join(tmp.dir, 'single.bin')
    const bytes = randomBytes(1000)
    await writeFile(p, bytes)
    const s = new MemoryBlockstore()
    const r = await importModel(s, p, { name: 'renamed.bin' })
    const out = join(tmp.dir, 'single-out')
    assert.deepEqual(await exportModel(s, r.root, out), { files: 1, bytes: 1000 })
    assert.equal(sha256Hex(await readFile(join(out, 'renamed.bin'))), sha256Hex(bytes))
  })
})

async function concat (gen: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const p of gen) parts.push(p)
  return Buffer.concat(parts)
}

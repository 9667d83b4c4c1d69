import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, before, after } from 'node:test'
import { MemoryBlockstore } from 'blockstore-core'
import { exporter } from 'ipfs-unixfs-exporter'
import { importModel, exportModel, listModel, parseSafetensors, openFileReader, getVerifiedBlock, bufferReader, SAFETENSORS_DTYPE_BITS, MAX_LEAF_SIZE } from '../src/index.js'
import { realFloat32Weights, safetensorsFixtureTensors, sha256Hex, tempDir, writeSafetensors } from './fixtures.js'
import { countBlocks, fileLeaves } from './helpers.js'
import type { RealWeight, WrittenTensor } from './fixtures.js'
import type { ManifestTensor } from '../src/index.js'

async function tensorBytes (store: MemoryBlockstore, t: ManifestTensor): Promise<Buffer> {
  return Buffer.concat(await Promise.all(t.chunks.map(async c => getVerifiedBlock(store, c))))
}

describe('safetensors', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let weights: RealWeight[]
  let path: string
  let written: { headerLength: number, tensors: WrittenTensor[] }
  const metadata = { format: 'pt', source: 'human-models faceres-deep' }
  before(async () => {
    tmp = await tempDir()
    weights = await realFloat32Weights()
    path = join(tmp.dir, 'model.safetensors')
    written = await writeSafetensors(path, safetensorsFixtureTensors(weights), metadata)
  })
  after(async () => { await tmp.cleanup() })

  it('the fixture has every dtype the format defines, a zero-size tensor and one over 1 MiB', () => {
    const dtypes = new Set(written.tensors.map(t => t.dtype))
    for (const d of SAFETENSORS_DTYPE_BITS.keys()) assert.ok(dtypes.has(d), d)
    assert.ok(written.tensors.some(t => t.length === 0))
    assert.ok(written.tensors.some(t => t.length > MAX_LEAF_SIZE))
  })

  it('parses header, metadata, dtypes, shapes and absolute offsets', async () => {
    const reader = await openFileReader(path)
    try {
      const header = await parseSafetensors(reader, path)
      assert.equal(header.headerLength, written.headerLength)
      assert.deepEqual({ ...header.metadata }, metadata)
      const byName = new Map(header.tensors.map(t => [t.name, t]))
      for (const w of written.tensors) {
        const t = byName.get(w.name)
        assert.ok(t !== undefined, w.name)
        assert.deepEqual({ dtype: t.dtype, shape: t.shape, offset: t.offset, length: t.length }, { dtype: w.dtype, shape: w.shape, offset: w.offset, length: w.length })
      }
    } finally {
      await reader.close()
    }
  })

  it('imports with tensor-aligned leaves, a correct manifest and byte-exact export', async () => {
    const store = new MemoryBlockstore()
    const result = await importModel(store, path)
    const { manifest } = result
    assert.equal(manifest.name, 'model.safetensors')
    assert.equal(manifest.tensors.length, written.tensors.length)
    const byName = new Map(manifest.tensors.map(t => [t.name, t]))
    for (const w of written.tensors) {
      const t = byName.get(w.name) as ManifestTensor
      assert.deepEqual({ file: t.file, dtype: t.dtype, shape: t.shape, offset: t.offset, length: t.length },
        { file: '', dtype: w.dtype, shape: w.shape, offset: w.offset, length: w.length }, w.name)
      assert.equal(sha256Hex(await tensorBytes(store, t)), w.sha256, w.name)
      assert.equal(t.chunks.length, Math.ceil(w.length / MAX_LEAF_SIZE))
    }

    // leaves: the header is its own leaf, no leaf crosses a tensor boundary, none over 1 MiB,
    // and the tensors' chunks are exactly the file's leaves inside their range
    const leaves = await fileLeaves(store, result.files)
    assert.deepEqual([leaves[0].start, leaves[0].end], [0, written.headerLength])
    const boundaries = new Set([written.headerLength, ...written.tensors.flatMap(t => [t.offset, t.offset + t.length])])
    for (const leaf of leaves) {
      assert.ok(leaf.end - leaf.start <= MAX_LEAF_SIZE)
      for (const b of boundaries) assert.ok(!(leaf.start < b && b < leaf.end), `leaf [${leaf.start}, ${leaf.end}) crosses ${b}`)
    }
    for (const t of manifest.tensors) {
      const inside = leaves.filter(l => l.start >= t.offset && l.end <= t.offset + t.length && l.end > l.start)
      assert.deepEqual(t.chunks.map(String), inside.map(l => l.cid.toString()), t.name)
    }

    // computation order: embeddings, layers by numeric index, other (final norm), head
    const names = manifest.tensors.map(t => t.name)
    assert.equal(names[0], 'model.embed_tokens.weight')
    assert.equal(names[names.length - 1], 'lm_head.weight')
    assert.equal(names[names.length - 2], 'model.norm.weight')
    const layerIdx = names.slice(1, -2).map(n => Number(n.split('.')[2]))
    assert.deepEqual(layerIdx, [...layerIdx].sort((a, b) => a - b))
    assert.ok(names.indexOf('model.layers.2.u8.weight') < names.indexOf('model.layers.10.mlp.weight'))

    // any UnixFS reader gets the bytes back: ipfs-unixfs-exporter (Helia's) reads our tensor-aligned DAG
    const entry = await exporter(result.files, store)
    assert.equal(entry.type, 'file')
    const parts: Uint8Array[] = []
    for await (const chunk of entry.content()) parts.push(chunk)
    assert.equal(sha256Hex(Buffer.concat(parts)), sha256Hex(await readFile(path)))

    const out = join(tmp.dir, 'st-out')
    await exportModel(store, result.root, out)
    assert.equal(sha256Hex(await readFile(join(out, 'model.safetensors'))), sha256Hex(await readFile(path)))
  })

  it('identical tensors in two files (a fine-tune) share leaves; changed ones do not', async () => {
    const dir = join(tmp.dir, 'finetunes')
    await mkdir(dir)
    const base = safetensorsFixtureTensors(weights)
    const tuned = base.map(t => t.name === 'lm_head.weight' ? { ...t, data: t.data.map(b => b ^ 1) } : t)
    await writeSafetensors(join(dir, 'base.safetensors'), base, metadata)
    await writeSafetensors(join(dir, 'tuned.safetensors'), tuned, { ...metadata, tuned: 'yes' })
    const store = new MemoryBlockstore()
    const { manifest } = await importModel(store, dir)
    const get = (file: string, name: string): ManifestTensor => manifest.tensors.find(t => t.file === file && t.name === name) as ManifestTensor
    assert.deepEqual(get('base.safetensors', 'model.layers.10.mlp.weight').chunks.map(String), get('tuned.safetensors', 'model.layers.10.mlp.weight').chunks.map(String))
    assert.notDeepEqual(get('base.safetensors', 'lm_head.weight').chunks.map(String), get('tuned.safetensors', 'lm_head.weight').chunks.map(String))
  })

  it('a tensor whose data offset lies beyond 4 GiB (sparse file) imports', async (t) => {
    const shm = await tempDir('tensorswap-sparse-', true)
    t.after(async () => { await shm.cleanup() })
    const big = join(shm.dir, 'sparse.safetensors')
    const hole = 4 * 1024 ** 3 + 12_345
    const tensors = [
      { name: 'a.weight', dtype: 'F32', shape: [64], data: new Uint8Array(weights[0].values.buffer.slice(0, 256)) },
      { name: 'far.weight', dtype: 'F32', shape: [weights[1].values.length], data: new Uint8Array(weights[1].values.buffer.slice(0)) }
    ]
    const w = await writeSafetensors(big, tensors, metadata, { hole: { before: 'far.weight', bytes: hole } })
    const far = w.tensors.find(t => t.name === 'far.weight') as WrittenTensor
    assert.ok(far.offset > 2 ** 32)
    const store = new MemoryBlockstore()
    const result = await importModel(store, big)
    const got = result.manifest.tensors.find(t => t.name === 'far.weight') as ManifestTensor
    assert.equal(got.offset, far.offset)
    assert.equal(sha256Hex(await tensorBytes(store, got)), far.sha256)
    const listing = await listModel(store, result.root)
    assert.equal(listing.files[0].size, far.offset + far.length)
  })

  it('a manifest over the block limit -> ManifestTooLargeError, nothing stored', async () => {
    const many = join(tmp.dir, 'many.safetensors')
    const tensors = Array.from({ length: 40_000 }, (_, i) => ({ name: `model.layers.${i}.some_long_tensor_name.weight`, dtype: 'F32', shape: [0], data: new Uint8Array(0) }))
    await writeSafetensors(many, tensors, {})
    const store = new MemoryBlockstore()
    await assert.rejects(importModel(store, many), { name: 'ManifestTooLargeError' })
    assert.equal(await countBlocks(store), 0)
  })

  it('parses 64-bit offsets beyond 4 GiB from a virtual reader', async () => {
    const header = Buffer.from(JSON.stringify({ x: { dtype: 'U8', shape: [5 * 2 ** 30], data_offsets: [0, 5 * 2 ** 30] }, y: { dtype: 'F64', shape: [2], data_offsets: [5 * 2 ** 30, 5 * 2 ** 30 + 16] } }))
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(header.length))
    const prefix = Buffer.concat([len, header])
    const size = prefix.length + 5 * 2 ** 30 + 16
    const reader = { size, read: async (o: number, l: number) => bufferReader(prefix).read(o, l) }
    const parsed = await parseSafetensors(reader, 'virtual')
    assert.equal(parsed.tensors[1].offset, prefix.length + 5 * 2 ** 30)
  })

  describe('bad headers -> InvalidSafetensorsError, nothing stored', () => {
    const header = (obj: unknown, extra = 0): Buffer => {
      const json = Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj))
      const len = Buffer.alloc(8)
      len.writeBigUInt64LE(BigInt(json.length + extra))
      return Buffer.concat([len, json])
    }
    const f32 = (n: number, at: number): object => ({ dtype: 'F32', shape: [n], data_offsets: [at, at + n * 4] })
    const cases: Array<[string, Buffer]> = [
      ['shorter than 8 bytes', Buffer.from([1, 2, 3])],
      ['header length past EOF', header({ a: f32(1, 0) }, 1000)],
      ['header length over the 100 MB limit', Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 1, 0, 0]), Buffer.alloc(8)])],
      ['invalid JSON', Buffer.concat([header('{"a": {"dtype": "F32", '), Buffer.alloc(16)])],
      ['invalid UTF-8', Buffer.concat([header('{"\xff": 1}').subarray(0, 8), Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])])],
      ['JSON array header', Buffer.concat([header([1, 2])])],
      ['offsets out of range', Buffer.concat([header({ a: f32(4, 0) }), Buffer.alloc(12)])],
      ['offsets reversed', Buffer.concat([header({ a: { dtype: 'U8', shape: [0], data_offsets: [8, 4] } }), Buffer.alloc(12)])],
      ['overlapping tensors', Buffer.concat([header({ a: f32(2, 0), b: f32(2, 4) }), Buffer.alloc(12)])],
      ['length != prod(shape) * dtype size', Buffer.concat([header({ a: { dtype: 'F16', shape: [2, 3], data_offsets: [0, 10] } }), Buffer.alloc(10)])],
      ['unknown dtype', Buffer.concat([header({ a: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }), Buffer.alloc(16)])],
      ['sub-byte dtype not filling whole bytes', Buffer.concat([header({ a: { dtype: 'F4', shape: [3], data_offsets: [0, 2] } }), Buffer.alloc(2)])],
      ['__metadata__ with a non-string value', Buffer.concat([header({ __metadata__: { a: 1 } })])]
    ]
    for (const [title, bytes] of cases) {
      it(title, async () => {
        const dir = join(tmp.dir, `bad-${title.replace(/\W+/g, '-')}`)
        await mkdir(dir)
        await writeFile(join(dir, 'a-readme.txt'), 'sorted before the model, so a late check would store it')
        await writeFile(join(dir, 'model.safetensors'), bytes)
        const store = new MemoryBlockstore()
        await assert.rejects(importModel(store, dir), { name: 'InvalidSafetensorsError' })
        assert.equal(await countBlocks(store), 0)
      })
    }
  })
})

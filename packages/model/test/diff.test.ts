/**
 * `diffManifests` and the import result's `tensors`: two safetensors checkpoints of real
 * weights (human-models `faceres-deep`), the second with one tensor replaced, one removed and
 * one added.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { MemoryBlockstore } from 'blockstore-core'
import { diffManifests, getVerifiedBlock, importModel, type ImportResult } from '../src/index.js'
import { realFloat32Weights, tempDir, writeSafetensors, type FixtureTensor, type RealWeight } from './fixtures.js'

describe('diffManifests', () => {
  let dir: { dir: string, cleanup(): Promise<void> }
  let weights: RealWeight[]
  let a: ImportResult
  let b: ImportResult
  let base: FixtureTensor[]
  const store = new MemoryBlockstore()

  before(async () => {
    dir = await tempDir('ts-diff-')
    weights = (await realFloat32Weights()).filter(w => w.values.length >= 64).slice(0, 8)
    base = weights.slice(0, 6).map((w, i) => ({ name: `layers.${i}.weight`, dtype: 'F32', shape: [w.values.length], data: new Uint8Array(w.values.buffer.slice(0)) }))
    await writeSafetensors(join(dir.dir, 'a.safetensors'), base, {})
    const next = base.filter(t => t.name !== 'layers.5.weight').map(t => t.name === 'layers.2.weight'
      ? { ...t, shape: [weights[6].values.length], data: new Uint8Array(weights[6].values.buffer.slice(0)) }
      : t)
    next.push({ name: 'layers.6.weight', dtype: 'F32', shape: [weights[7].values.length], data: new Uint8Array(weights[7].values.buffer.slice(0)) })
    await writeSafetensors(join(dir.dir, 'b.safetensors'), next, {})
    a = await importModel(store, join(dir.dir, 'a.safetensors'))
    b = await importModel(store, join(dir.dir, 'b.safetensors'))
  })
  after(async () => { await dir.cleanup() })

  it('the import result lists each tensor with its chunks and bytes, as the manifest does', () => {
    assert.deepEqual(a.tensors.map(t => t.name).sort(), base.map(t => t.name).sort())
    for (const t of a.tensors) {
      const m = a.manifest.tensors.find(x => x.name === t.name)
      assert.ok(m != null)
      assert.equal(t.bytes, m.length)
      assert.deepEqual(t.chunks.map(String), m.chunks.map(String))
      assert.ok(t.chunks.length > 0)
    }
    // unchanged tensors keep their chunks across checkpoints
    const a0 = a.tensors.find(t => t.name === 'layers.0.weight')
    const b0 = b.tensors.find(t => t.name === 'layers.0.weight')
    assert.deepEqual(a0?.chunks.map(String), b0?.chunks.map(String))
  })

  it('names the added, removed and changed tensors and counts the new chunk bytes', async () => {
    const sizes = async (cid: import('multiformats/cid').CID): Promise<number> => (await getVerifiedBlock(store, cid)).byteLength
    const d = await diffManifests(a.manifest, b.manifest, sizes)
    const len = (i: number): number => weights[i].values.byteLength
    assert.deepEqual(d.changed, [{ name: 'layers.2.weight', bytes: len(6) }])
    assert.deepEqual(d.removed, [{ name: 'layers.5.weight', bytes: len(5) }])
    assert.deepEqual(d.added, [{ name: 'layers.6.weight', bytes: len(7) }])
    assert.equal(d.unchanged, 4)
    assert.equal(d.newChunkBytes, len(6) + len(7))
    assert.equal(d.totalBytes, b.manifest.tensors.reduce((s, t) => s + t.length, 0))
    const same = await diffManifests(a.manifest, a.manifest, sizes)
    assert.deepEqual([same.added, same.removed, same.changed, same.newChunkBytes, same.unchanged], [[], [], [], 0, 6])
  })
})

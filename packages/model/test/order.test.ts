import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, before, after } from 'node:test'
import { MemoryBlockstore } from 'blockstore-core'
import { nameOrder, tfjsTopologyOrder, globToRegExp, importModel, selectTensors, dagOrder } from '../src/index.js'
import { realFloat32Weights, safetensorsFixtureTensors, tempDir, writeSafetensors } from './fixtures.js'
import { countBlocks } from './helpers.js'

const ordered = (names: string[]): string[] => nameOrder(names).map(i => names[i])

describe('computation order', () => {
  it('llama-style names: embed, layers by numeric index, final norm, head', () => {
    const names = ['lm_head.weight', 'model.layers.10.mlp.w', 'model.layers.2.attn.q', 'model.norm.weight', 'model.layers.2.attn.k', 'model.embed_tokens.weight', 'model.layers.1.mlp.w']
    assert.deepEqual(ordered(names), ['model.embed_tokens.weight', 'model.layers.1.mlp.w', 'model.layers.2.attn.q', 'model.layers.2.attn.k', 'model.layers.10.mlp.w', 'model.norm.weight', 'lm_head.weight'])
  })

  it('gguf and gpt-2 style names', () => {
    assert.deepEqual(ordered(['output.weight', 'blk.11.ffn_up.weight', 'output_norm.weight', 'blk.2.ffn_up.weight', 'token_embd.weight']),
      ['token_embd.weight', 'blk.2.ffn_up.weight', 'blk.11.ffn_up.weight', 'output_norm.weight', 'output.weight'])
    assert.deepEqual(ordered(['ln_f.weight', 'h.1.attn.c_attn.weight', 'wpe.weight', 'h.0.attn.c_attn.weight', 'wte.weight']),
      ['wpe.weight', 'wte.weight', 'h.0.attn.c_attn.weight', 'h.1.attn.c_attn.weight', 'ln_f.weight'])
  })

  it('encoder stacks before decoder stacks, whatever the file order', () => {
    assert.deepEqual(ordered(['decoder.block.0.w', 'decoder.block.1.w', 'encoder.block.1.w', 'encoder.block.0.w', 'shared.embed.weight']),
      ['shared.embed.weight', 'encoder.block.0.w', 'encoder.block.1.w', 'decoder.block.0.w', 'decoder.block.1.w'])
  })

  it('file order when no name has a layer index', () => {
    const names = ['unknown_3', 'unknown', 'lm_head', 'embed']
    assert.deepEqual(ordered(names), names)
  })

  it('TF.js: weights in order of first consumption, unconsumed ones last', () => {
    const nodes = [
      { name: 'w2', op: 'Const', input: [] },
      { name: 'w1', op: 'Const', input: [] },
      { name: 'out', op: 'Add', input: ['mm', 'w2'] },
      { name: 'x', op: 'Placeholder', input: [] },
      { name: 'mm', op: 'MatMul', input: ['x', 'w1:0', '^w3'] },
      { name: 'w3', op: 'Const', input: [] }
    ]
    const weights = ['w1', 'w2', 'w3', 'unused']
    assert.deepEqual(tfjsTopologyOrder(nodes, weights).map(i => weights[i]), ['w1', 'w3', 'w2', 'unused'])
  })

  it('TF.js: cycles (loop back-edges) terminate', () => {
    const nodes = [{ name: 'a', op: 'Merge', input: ['b', 'w'] }, { name: 'b', op: 'NextIteration', input: ['a'] }, { name: 'w', op: 'Const', input: [] }]
    assert.deepEqual(tfjsTopologyOrder(nodes, ['w']), [0])
  })

  it('globs', () => {
    const re = globToRegExp('model.layers.[0-3].*')
    assert.ok(re.test('model.layers.2.attn.q'))
    assert.ok(!re.test('model.layers.12.attn.q'))
    assert.ok(!re.test('modelXlayers.2.attn'))
    assert.ok(globToRegExp('{lm_head,model.norm}.*').test('model.norm.weight'))
    assert.ok(globToRegExp('blk.?.ffn_*').test('blk.7.ffn_up.weight'))
    assert.ok(!globToRegExp('blk.[!0-3].x').test('blk.2.x'))
  })

  describe('with a real safetensors model', () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>
    let path: string
    before(async () => {
      tmp = await tempDir()
      path = join(tmp.dir, 'm.safetensors')
      await writeSafetensors(path, safetensorsFixtureTensors(await realFloat32Weights()), {})
    })
    after(async () => { await tmp.cleanup() })

    it('the order option puts the named tensors first', async () => {
      const { manifest } = await importModel(new MemoryBlockstore(), path, { order: ['lm_head.weight', 'model.layers.2.f6_e2m3.weight'] })
      assert.deepEqual(manifest.tensors.slice(0, 3).map(t => t.name), ['lm_head.weight', 'model.layers.2.f6_e2m3.weight', 'model.embed_tokens.weight'])
    })

    it('an order naming an unknown tensor -> InvalidOrderError, nothing stored', async () => {
      const store = new MemoryBlockstore()
      await assert.rejects(importModel(store, path, { order: ['nope'] }), { name: 'InvalidOrderError' })
      await assert.rejects(importModel(store, path, { order: ['lm_head.weight', 'lm_head.weight'] }), { name: 'InvalidOrderError' })
      assert.equal(await countBlocks(store), 0)
    })

    it('selectTensors / dagOrder give the leaves of a subgraph in computation order', async () => {
      const { manifest } = await importModel(new MemoryBlockstore(), path)
      const first = selectTensors(manifest, 'model.layers.[0-3].*')
      assert.deepEqual(first.map(t => Number(t.name.split('.')[2])), [0, 1, 2, 2, 3])
      const cids = dagOrder(manifest, { tensors: 'model.layers.[0-3].*' })
      assert.deepEqual(cids.map(String), [...new Set(first.flatMap(t => t.chunks.map(String)))])
      assert.equal(dagOrder(manifest)[0].toString(), manifest.tensors[0].chunks[0].toString())
    })
  })

  it('a file given as model.json alone is a plain file', async () => {
    const tmp = await tempDir()
    try {
      await writeFile(join(tmp.dir, 'model.json'), '{"weightsManifest": [{"paths": ["missing.bin"], "weights": []}]}')
      const { manifest } = await importModel(new MemoryBlockstore(), join(tmp.dir, 'model.json'))
      assert.equal(manifest.tensors.length, 0)
    } finally {
      await tmp.cleanup()
    }
  })
})

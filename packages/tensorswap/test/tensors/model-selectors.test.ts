import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { MAX_UNION_MEMBERS, canonicalizeSelector, selectorFromDagCbor, selectorToDagCbor, traverse, validateSelector } from '@tensorswap/graphsync'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import {
  layerIndex, parseLayerRange, selectTensorIndices, tensorSelectors, wholeModelSelector, MAX_RUNS_PER_SELECTOR
} from '../../src/tensors/index.js'
import type { Manifest } from '@tensorswap/model'

const NAMES = [
  'model.embed_tokens.weight',
  'model.layers.0.attn.q.weight', 'model.layers.0.mlp.weight',
  'model.layers.1.attn.q.weight', 'model.layers.1.mlp.weight',
  'model.layers.2.attn.q.weight', 'model.layers.2.mlp.weight',
  'model.norm.weight', 'lm_head.weight'
]

/** A manifest (in memory) whose tensors each have one raw chunk; blocks in `blocks`. */
async function manifestOf (names: string[]): Promise<{ manifest: Manifest, root: CID, blocks: Map<string, Uint8Array> }> {
  const blocks = new Map<string, Uint8Array>()
  const tensors = []
  for (const name of names) {
    const bytes = new TextEncoder().encode(`bytes of ${name}`)
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    blocks.set(cid.toString(), bytes)
    tensors.push({ name, file: 'm.safetensors', dtype: 'F32', shape: [bytes.length / 4], offset: 0, length: bytes.length, chunks: [cid] })
  }
  const files = CID.createV1(raw.code, await sha256.digest(new Uint8Array(1)))
  blocks.set(files.toString(), new Uint8Array(1))
  const manifest = { format: 'tensorswap-model', version: 1, files, tensors } as unknown as Manifest
  const bytes = dagCbor.encode(manifest)
  const root = CID.createV1(dagCbor.code, await sha256.digest(bytes))
  blocks.set(root.toString(), bytes)
  return { manifest, root, blocks }
}

describe('model selectors', () => {
  it('layerIndex: model package rule, then layer_N style names', () => {
    assert.equal(layerIndex('model.layers.12.mlp.weight'), 12)
    assert.equal(layerIndex('blk.3.attn_q.weight'), 3)
    assert.equal(layerIndex('transformer.h.7.attn'), 7)
    assert.equal(layerIndex('model/layer_4/kernel'), 4)
    assert.equal(layerIndex('model.embed_tokens.weight'), undefined)
    assert.equal(layerIndex('conv2d_1/weights'), undefined)
  })

  it('parseLayerRange accepts A-B and N, rejects the rest with InvalidLayerRangeError', () => {
    assert.deepEqual(parseLayerRange('0-3'), [0, 3])
    assert.deepEqual(parseLayerRange('5'), [5, 5])
    for (const bad of ['3-1', 'a-b', '-1', '1-', '']) assert.throws(() => parseLayerRange(bad), { name: 'InvalidLayerRangeError' })
  })

  it('selects by glob and by layers (embeddings with layer 0, head with the last layer)', async () => {
    const { manifest } = await manifestOf(NAMES)
    const names = (sel: Parameters<typeof selectTensorIndices>[1]): string[] => selectTensorIndices(manifest, sel).map(i => NAMES[i])
    assert.deepEqual(names({ glob: 'model.layers.[0-1].mlp.*' }), ['model.layers.0.mlp.weight', 'model.layers.1.mlp.weight'])
    assert.deepEqual(names({ layers: '0-0' }), NAMES.slice(0, 3))
    assert.deepEqual(names({ layers: [1, 1] }), NAMES.slice(3, 5))
    assert.deepEqual(names({ layers: '1-2' }), NAMES.slice(3))
    assert.deepEqual(names({ layers: '0-2', glob: '*.mlp.*' }), ['model.layers.0.mlp.weight', 'model.layers.1.mlp.weight', 'model.layers.2.mlp.weight'])
    // two stages hold every tensor exactly once
    assert.deepEqual([...names({ layers: '0-0' }), ...names({ layers: '1-2' })], NAMES)
  })

  it('a tensor selector visits the manifest first, then exactly the selected chunks in manifest order', async () => {
    const { manifest, root, blocks } = await manifestOf(NAMES)
    const indices = [1, 2, 3, 6, 8]
    const [sel] = tensorSelectors(indices)
    validateSelector(sel)
    const wire = canonicalizeSelector(selectorFromDagCbor(selectorToDagCbor(sel)))
    const loaded: string[] = []
    for await (const v of traverse(root, wire, async (cid) => blocks.get(cid.toString()) as Uint8Array)) {
      if (v.block != null) loaded.push(v.block.cid.toString())
    }
    assert.deepEqual(loaded, [root.toString(), ...indices.map(i => manifest.tensors[i].chunks[0].toString())])
  })

  it('splits long selections, nests long unions, and stays within selector limits', async () => {
    const names = Array.from({ length: 3000 }, (_, i) => `t.${i}`)
    const { manifest, root, blocks } = await manifestOf(names)
    const every2nd = names.map((_, i) => i).filter(i => i % 2 === 0) // 1500 runs
    const sels = tensorSelectors(every2nd)
    assert.equal(sels.length, Math.ceil(1500 / MAX_RUNS_PER_SELECTOR))
    const loaded: string[] = []
    for (const sel of sels) {
      validateSelector(sel)
      const wire = selectorFromDagCbor(selectorToDagCbor(sel)) // parses: every union <= MAX_UNION_MEMBERS
      for await (const v of traverse(root, wire, async (cid) => blocks.get(cid.toString()) as Uint8Array)) {
        if (v.block != null && v.block.cid.code === raw.code) loaded.push(v.block.cid.toString())
      }
    }
    assert.deepEqual(loaded, every2nd.map(i => manifest.tensors[i].chunks[0].toString()))
    assert.ok(MAX_UNION_MEMBERS < MAX_RUNS_PER_SELECTOR)
    assert.throws(() => tensorSelectors([]), { name: 'InvalidTensorSelectionError' })
    assert.throws(() => tensorSelectors([2, 1]), { name: 'InvalidTensorSelectionError' })
  })

  it('the whole-model selector keeps tensors before files on the wire', async () => {
    const { manifest, root, blocks } = await manifestOf(NAMES)
    const wire = canonicalizeSelector(selectorFromDagCbor(selectorToDagCbor(wholeModelSelector())))
    const loaded: string[] = []
    for await (const v of traverse(root, wire, async (cid) => blocks.get(cid.toString()) as Uint8Array)) {
      if (v.block != null) loaded.push(v.block.cid.toString())
    }
    assert.deepEqual(loaded, [root.toString(), ...manifest.tensors.map(t => t.chunks[0].toString()), manifest.files.toString()])
  })
})

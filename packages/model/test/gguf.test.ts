import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, before, after } from 'node:test'
import { gguf } from '@huggingface/gguf'
import { MemoryBlockstore } from 'blockstore-core'
import { importModel, exportModel, parseGguf, bufferReader, getVerifiedBlock, GGML_TYPES, MAX_LEAF_SIZE } from '../src/index.js'
import { ggufFixtureKvs, ggufFixtureTensors, realFloat32Weights, sha256Hex, tempDir, writeGguf } from './fixtures.js'
import { countBlocks, fileLeaves } from './helpers.js'
import type { WrittenTensor } from './fixtures.js'
import type { ManifestTensor } from '../src/index.js'

describe('GGUF', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let path: string
  let bytes: Buffer
  let written: { dataOffset: number, tensors: WrittenTensor[] }
  before(async () => {
    tmp = await tempDir()
    path = join(tmp.dir, 'model.gguf')
    written = await writeGguf(path, ggufFixtureKvs(), ggufFixtureTensors(await realFloat32Weights()), 64)
    bytes = await readFile(path)
  })
  after(async () => { await tmp.cleanup() })

  it('parses metadata of every value type, alignment and tensor infos', async () => {
    const h = await parseGguf(bufferReader(bytes), 'model.gguf')
    assert.equal(h.version, 3)
    assert.equal(h.alignment, 64)
    assert.equal(h.dataOffset, written.dataOffset)
    assert.equal(h.dataOffset % 64, 0)
    const m = h.metadata
    assert.equal(m.get('general.architecture'), 'llama')
    assert.equal(m.get('llama.context_length'), 4096n)
    assert.equal(m.get('test.i64'), -(2n ** 40n))
    assert.equal(m.get('test.u8'), 200)
    assert.equal(m.get('test.i8'), -5)
    assert.equal(m.get('test.u16'), 60000)
    assert.equal(m.get('test.i16'), -30000)
    assert.equal(m.get('test.i32'), -123456)
    assert.equal(m.get('test.bool'), true)
    assert.equal(m.get('llama.attention.layer_norm_rms_epsilon'), 1e-5)
    assert.equal(m.get('llama.rope.freq_base'), 10000)
    assert.deepEqual(m.get('tokenizer.ggml.tokens'), ['<s>', '</s>', 'hello', 'wörld'])
    assert.deepEqual(m.get('tokenizer.ggml.scores'), [0, -1.5, 2.25, 3])
    assert.deepEqual(m.get('test.nested'), [[1, 2, 3], []])
    assert.deepEqual(h.tensors.map(t => ({ name: t.name, dtype: t.dtype, shape: t.shape, offset: t.offset, length: t.length })),
      written.tensors.map(t => ({ name: t.name, dtype: t.dtype, shape: t.shape, offset: t.offset, length: t.length })))
    for (const t of h.tensors) assert.equal((t.offset - h.dataOffset) % 64, 0)
  })

  it('agrees with an independent parser (@huggingface/gguf) on the fixture', async () => {
    const theirs = await gguf(path, { allowLocalFile: true })
    const ours = await parseGguf(bufferReader(bytes), 'model.gguf')
    assert.equal(Number(theirs.tensorDataOffset), ours.dataOffset)
    assert.equal(theirs.metadata.version, 3)
    assert.equal(theirs.metadata['general.architecture'], 'llama')
    assert.deepEqual((theirs.metadata as Record<string, unknown>)['tokenizer.ggml.tokens'], ['<s>', '</s>', 'hello', 'wörld'])
    assert.deepEqual(theirs.tensorInfos.map(t => ({ name: t.name, dtype: GGML_TYPES.get(t.dtype)?.[0], shape: t.shape.map(Number), offset: Number(t.offset) + ours.dataOffset })),
      ours.tensors.map(t => ({ name: t.name, dtype: t.dtype, shape: t.shape, offset: t.offset })))
  })

  it('imports with the header, padding and each tensor in their own leaves; order and export', async () => {
    const store = new MemoryBlockstore()
    const result = await importModel(store, path)
    const names = result.manifest.tensors.map(t => t.name)
    assert.deepEqual(names, ['token_embd.weight', 'blk.0.attn_q.weight', 'blk.0.ffn_norm.weight', 'blk.1.attn_q.weight', 'output_norm.weight', 'output.weight'])
    const byName = new Map(result.manifest.tensors.map(t => [t.name, t]))
    for (const w of written.tensors) {
      const t = byName.get(w.name) as ManifestTensor
      assert.deepEqual({ dtype: t.dtype, shape: t.shape, offset: t.offset, length: t.length }, { dtype: w.dtype, shape: w.shape, offset: w.offset, length: w.length })
      const data = Buffer.concat(await Promise.all(t.chunks.map(async c => getVerifiedBlock(store, c))))
      assert.equal(sha256Hex(data), w.sha256, w.name)
    }
    assert.ok(written.tensors.some(t => t.length > MAX_LEAF_SIZE))
    const leaves = await fileLeaves(store, result.files)
    assert.deepEqual([leaves[0].start, leaves[0].end], [0, written.dataOffset])
    const boundaries = new Set([written.dataOffset, ...written.tensors.flatMap(t => [t.offset, t.offset + t.length])])
    for (const leaf of leaves) {
      assert.ok(leaf.end - leaf.start <= MAX_LEAF_SIZE)
      for (const b of boundaries) assert.ok(!(leaf.start < b && b < leaf.end), `leaf [${leaf.start}, ${leaf.end}) crosses ${b}`)
    }
    // padding between tensors became leaves of their own
    const covered = (l: { start: number, end: number }): boolean => written.tensors.some(t => l.start >= t.offset && l.end <= t.offset + t.length)
    assert.ok(leaves.slice(1).some(l => !covered(l)))
    const out = join(tmp.dir, 'gguf-out')
    await exportModel(store, result.root, out)
    assert.equal(sha256Hex(await readFile(join(out, 'model.gguf'))), sha256Hex(bytes))
  })

  it('is detected by magic without the .gguf extension', async () => {
    const p = join(tmp.dir, 'weights.bin')
    await writeFile(p, bytes)
    const { manifest } = await importModel(new MemoryBlockstore(), p)
    assert.equal(manifest.tensors.length, written.tensors.length)
  })

  describe('truncated or malformed -> InvalidGgufError, nothing stored', () => {
    const cases: Array<[string, () => Buffer]> = [
      ['truncated in the magic', () => bytes.subarray(0, 3)],
      ['truncated in the counts', () => bytes.subarray(0, 20)],
      ['truncated in a metadata key', () => bytes.subarray(0, 30)],
      ['truncated in the metadata arrays', () => bytes.subarray(0, bytes.indexOf('wörld') + 2)],
      ['truncated in the tensor infos', () => bytes.subarray(0, bytes.indexOf('output_norm.weight') + 4)],
      ['truncated before the data section', () => bytes.subarray(0, written.dataOffset - 3)],
      ['truncated in tensor data', () => bytes.subarray(0, bytes.length - 1)],
      ['version 1', () => { const b = Buffer.from(bytes); b.writeUInt32LE(1, 4); return b }],
      ['unknown metadata value type', () => { const b = Buffer.from(bytes); b.writeUInt32LE(99, 24 + 8 + 'general.architecture'.length); return b }],
      ['unknown ggml type', () => {
        const b = Buffer.from(bytes)
        const at = b.indexOf('output_norm.weight') + 'output_norm.weight'.length + 4 + 8
        b.writeUInt32LE(4, at) // Q4_2, removed
        return b
      }],
      ['misaligned tensor offset', () => {
        const b = Buffer.from(bytes)
        const at = b.indexOf('output_norm.weight') + 'output_norm.weight'.length + 4 + 8 + 4
        b.writeBigUInt64LE(b.readBigUInt64LE(at) + 4n, at)
        return b
      }],
      ['alignment not a power of two', () => {
        const b = Buffer.from(bytes)
        b.writeUInt32LE(48, b.indexOf('general.alignment') + 'general.alignment'.length + 4)
        return b
      }],
      ['huge array count', () => {
        const b = Buffer.from(bytes)
        b.writeBigUInt64LE(2n ** 52n, b.indexOf('tokenizer.ggml.tokens') + 'tokenizer.ggml.tokens'.length + 4 + 4)
        return b
      }]
    ]
    for (const [title, make] of cases) {
      it(title, async () => {
        const dir = join(tmp.dir, `bad-${title.replace(/\W+/g, '-')}`)
        await mkdir(dir)
        await writeFile(join(dir, 'a.txt'), 'stored first if validation came late')
        await writeFile(join(dir, 'model.gguf'), make())
        const store = new MemoryBlockstore()
        await assert.rejects(importModel(store, dir), { name: 'InvalidGgufError' })
        assert.equal(await countBlocks(store), 0)
      })
    }
  })
})

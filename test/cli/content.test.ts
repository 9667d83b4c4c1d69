/**
 * End-to-end tests of the content commands (add, ls, export, car) running the built binary on
 * real models.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { copyFile, mkdtemp, readFile, rm, writeFile, mkdir, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { HUMAN_MODELS, runCli, runCliJson } from '../helpers/cli.js'

const sha256 = async (path: string): Promise<string> => createHash('sha256').update(await readFile(path)).digest('hex')

describe('tensorswap add/ls/export/car (built binary, real TF.js model)', () => {
  let work: string
  let repo: string
  let model: string

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-cli-'))
    repo = join(work, 'repo')
    model = join(work, 'emotion')
    await mkdir(model)
    // one real model: model.json + its shard
    await copyFile(join(HUMAN_MODELS, 'emotion.json'), join(model, 'model.json'))
    const manifest = JSON.parse(await readFile(join(HUMAN_MODELS, 'emotion.json'), 'utf8'))
    for (const group of manifest.weightsManifest) {
      for (const p of group.paths) await copyFile(join(HUMAN_MODELS, p), join(model, p))
    }
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('add prints the root CID as the last stdout line, and is deterministic across repos', async () => {
    const a = await runCli(['--repo', repo, 'add', model])
    assert.equal(a.code, 0, a.stderr)
    const rootA = a.stdout.trim().split('\n').at(-1)
    const b = await runCli(['--repo', join(work, 'repo2'), 'add', model])
    assert.equal(b.stdout.trim().split('\n').at(-1), rootA)
    assert.match(rootA ?? '', /^bafy/)
  })

  it('ls --json lists files with UnixFS CIDs and tensors with dtype and shape from model.json', async () => {
    const { root } = await runCliJson(['--repo', repo, 'add', model])
    const listing = await runCliJson(['--repo', repo, 'ls', root])
    const manifest = JSON.parse(await readFile(join(model, 'model.json'), 'utf8'))
    const expected = manifest.weightsManifest.flatMap((g: any) => g.weights)
    assert.equal(listing.tensors.length, expected.length)
    const byName = new Map(listing.tensors.map((t: any) => [t.name, t]))
    for (const w of expected) {
      const t: any = byName.get(w.name)
      assert.ok(t, `tensor ${w.name} listed`)
      assert.deepEqual(t.shape, w.shape)
      assert.equal(t.dtype, w.dtype)
    }
    const paths = listing.files.map((f: any) => f.path).sort()
    assert.deepEqual(paths, (await readdir(model)).sort())
    for (const f of listing.files) assert.match(f.cid, /^baf/)
  })

  it('export writes every file byte-exact', async () => {
    const { root } = await runCliJson(['--repo', repo, 'add', model])
    const out = join(work, 'out')
    const r = await runCli(['--repo', repo, 'export', root, '-o', out])
    assert.equal(r.code, 0, r.stderr)
    for (const name of await readdir(model)) {
      assert.equal(await sha256(join(out, name)), await sha256(join(model, name)), name)
    }
  })

  it('car export then car import into a fresh repo reproduces the model', async () => {
    const { root } = await runCliJson(['--repo', repo, 'add', model])
    const car = join(work, 'm.car')
    const ex = await runCliJson(['--repo', repo, 'car', 'export', root, '-o', car])
    assert.ok(ex.blocks > 1)
    const fresh = join(work, 'repo-car')
    assert.equal((await runCli(['--repo', fresh, 'init'])).code, 0)
    const im = await runCliJson(['--repo', fresh, 'car', 'import', car])
    assert.deepEqual(im.roots, [root])
    assert.equal(im.blocks, ex.blocks)
    const out = join(work, 'out-car')
    const r = await runCli(['--repo', fresh, 'export', root, '-o', out])
    assert.equal(r.code, 0, r.stderr)
    for (const name of await readdir(model)) {
      assert.equal(await sha256(join(out, name)), await sha256(join(model, name)), name)
    }
  })

  it('a corrupted CAR fails with a one-line error and exit 1', async () => {
    const { root } = await runCliJson(['--repo', repo, 'add', model])
    const car = join(work, 'bad.car')
    await runCliJson(['--repo', repo, 'car', 'export', root, '-o', car])
    const bytes = await readFile(car)
    bytes[bytes.length - 10] ^= 0xff // flip a byte inside the last block
    await writeFile(car, bytes)
    assert.equal((await runCli(['--repo', join(work, 'repo-bad'), 'init'])).code, 0)
    const r = await runCli(['--repo', join(work, 'repo-bad'), 'car', 'import', car])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^tensorswap: BlockHashMismatchError: /)
    assert.equal(r.stderr.trim().split('\n').length, 1)
  })

  it('usage errors exit 2', async () => {
    const r = await runCli(['--repo', repo, 'ls', 'not-a-cid'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /UsageError/)
    const r2 = await runCli(['--repo', repo, 'frobnicate'])
    assert.equal(r2.code, 2)
  })

  it('a missing file is a runtime error, exit 1', async () => {
    const r = await runCli(['--repo', repo, 'add', join(work, 'does-not-exist')])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^tensorswap: /)
  })
})

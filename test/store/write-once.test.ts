/**
 * Write once (issue 12): `get -o DIR` fetches each verified leaf straight into its place in the
 * output file and the repo serves it from there (no second copy); `add --no-copy` references the
 * source files in place. A file the store does not own is re-checked on read (size and mtime,
 * re-hashed on doubt): an edited file's blocks are DONT_HAVE to peers, never wrong bytes, and
 * `verify` reports them; a deleted one's are missing.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, open, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, runCliJson } from '../helpers/cli.js'
import { copyHumanModel, digestTree, writeRealWeightsFile } from '../helpers/model.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'
import { storeBytes } from '../helpers/store.js'

/** Flip one byte at `offset` of `file`, in place. */
async function flipByte (file: string, offset: number): Promise<void> {
  const fh = await open(file, 'r+')
  try {
    const b = Buffer.alloc(1)
    await fh.read(b, 0, 1, offset)
    b[0] ^= 0xff
    await fh.write(b, 0, 1, offset)
  } finally {
    await fh.close()
  }
}

describe('write once: get -o serves from the output, add --no-copy from the source', () => {
  let work: string
  let model: string
  let root: string
  let modelBytes: number
  let seeder: Running<ServeReady>

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-store-once-'))
    model = join(work, 'model')
    await mkdir(model)
    await copyHumanModel('emotion', join(model, 'emotion'))
    await writeRealWeightsFile(join(model, 'weights.bin'), 12 * 1024 * 1024)
    const added = await runCliJson(['--repo', join(work, 'seed'), 'add', model])
    root = added.root
    modelBytes = added.bytes
    seeder = await startServe(join(work, 'seed'))
  })
  after(async () => {
    await seeder?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('get -o: one copy on disk; the leech serves from its output; an edited output is DONT_HAVE, a deleted one missing', async () => {
    const leech = join(work, 'leech')
    const out = join(work, 'out')
    await runCliJson(['--repo', leech, 'get', root, '-o', out, '--peer', addrOf(seeder.ready, 'tcp')])
    assert.deepEqual(await digestTree(out), await digestTree(model))
    const repoBytes = await storeBytes(leech)
    assert.ok(repoBytes + modelBytes <= modelBytes * 1.15, `repo ${repoBytes} + output ${modelBytes} bytes: at most 1.15x the model`)
    assert.deepEqual((await readdir(out)).filter(f => f.endsWith('.part')), [], 'every NAME.part was finished')

    // a third node fetches from the leech alone: its blocks come out of the output files
    let served = await startServe(leech, ['/ip4/127.0.0.1/tcp/0'])
    try {
      const third = join(work, 'out-third')
      await runCliJson(['--repo', join(work, 'third'), 'get', root, '-o', third, '--peer', addrOf(served.ready, 'tcp')])
      assert.deepEqual(await digestTree(third), await digestTree(model))
    } finally {
      await served.stop()
    }

    // the user edits an output file: verify names the block, peers get DONT_HAVE for it
    await flipByte(join(out, 'weights.bin'), 5 * 1024 * 1024 + 17)
    const bad = await runCli(['--repo', leech, 'verify', root, '--json'])
    assert.equal(bad.code, 1, bad.stdout + bad.stderr)
    assert.equal(JSON.parse(bad.stdout).corrupt, 1)
    served = await startServe(leech, ['/ip4/127.0.0.1/tcp/0'])
    try {
      const fourth = join(work, 'fourth')
      const r = await runCli(['--repo', fourth, 'get', root, '--peer', addrOf(served.ready, 'tcp'), '--timeout', '3'])
      assert.notEqual(r.code, 0, 'the edited block is not served')
      assert.doesNotMatch(r.stderr, /HashMismatch/, 'no wrong bytes were sent')
      const check = await runCliJson(['--repo', fourth, 'verify'])
      assert.equal(check.corrupt, 0)
      assert.ok(check.blocks > 10, 'everything else was served')
    } finally {
      await served.stop()
    }

    // ... and deletes one: its blocks are missing, `get` fetches them again into a new output
    await rm(join(out, 'emotion'), { recursive: true })
    const gone = await runCli(['--repo', leech, 'verify', root, '--json'])
    assert.equal(gone.code, 1)
    assert.ok(JSON.parse(gone.stdout).missing > 0, gone.stdout)
    await runCliJson(['--repo', leech, 'get', root, '-o', out, '--peer', addrOf(seeder.ready, 'tcp')])
    assert.deepEqual(await digestTree(out), await digestTree(model))
    const fixed = await runCliJson(['--repo', leech, 'verify', root])
    assert.equal(fixed.corrupt + fixed.missing, 0)
  })

  it('add --no-copy: leaves stay in the source files, are served from them, and an edit is caught', async () => {
    const src = join(work, 'src')
    await copyHumanModel('emotion', src)
    await writeRealWeightsFile(join(src, 'weights.bin'), 4 * 1024 * 1024)
    const repo = join(work, 'nocopy')
    const added = await runCliJson(['--repo', repo, 'add', '--no-copy', src])
    assert.ok(await storeBytes(repo) < added.bytes * 0.1, 'only the small blocks are copied')
    const served = await startServe(repo, ['/ip4/127.0.0.1/tcp/0'])
    try {
      const out = join(work, 'out-nocopy')
      await runCliJson(['--repo', join(work, 'from-nocopy'), 'get', added.root, '-o', out, '--peer', addrOf(served.ready, 'tcp')])
      assert.deepEqual(await digestTree(out), await digestTree(src))
    } finally {
      await served.stop()
    }
    await flipByte(join(src, 'weights.bin'), 1000)
    const bad = await runCli(['--repo', repo, 'verify', added.root, '--json'])
    assert.equal(bad.code, 1)
    assert.equal(JSON.parse(bad.stdout).corrupt, 1)
  })
})

/**
 * `export` (and `get`, which writes through the same code) into a directory that already has
 * files: right files are kept, wrong or missing ones written, other files left alone; files are
 * written as NAME.part and renamed when complete, so a killed run leaves no truncated NAME.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BIN, runCli, runCliJson } from '../helpers/cli.js'
import { copyHumanModel, digestTree, writeRealWeightsFile } from '../helpers/model.js'

describe('export into a directory that has files', () => {
  let work: string
  let repo: string
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-export-files-'))
    repo = join(work, 'repo')
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('keeps the files whose bytes are right, rewrites a changed one, leaves other files alone', async () => {
    const model = await copyHumanModel('emotion', join(work, 'emotion'))
    const { root } = await runCliJson(['--repo', repo, 'add', model])
    const out = join(work, 'out')
    const first = await runCliJson(['--repo', repo, 'export', root, '-o', out])
    assert.equal(first.filesWritten, 2)
    assert.equal(first.filesKept, 0)
    const names = (await readdir(model)).sort()
    const shard = names.find(n => n.endsWith('.bin')) as string
    const bytes = await readFile(join(out, shard))
    bytes[100] ^= 0xff // same size, one byte wrong
    await writeFile(join(out, shard), bytes)
    await writeFile(join(out, 'notes.txt'), 'mine')
    const again = await runCli(['--repo', repo, 'export', root, '-o', out])
    assert.equal(again.code, 0, again.stderr)
    assert.equal(again.stdout, `exported 1 files, ${bytes.length} bytes to ${out}, 1 already there\n`)
    assert.equal(await readFile(join(out, 'notes.txt'), 'utf8'), 'mine')
    const tree = await digestTree(out)
    tree.delete('notes.txt')
    assert.deepEqual(tree, await digestTree(model))
    const third = await runCliJson(['--repo', repo, 'export', root, '-o', out])
    assert.deepEqual([third.filesWritten, third.filesKept, third.bytes], [0, 2, 0])
  })

  it('a killed export leaves NAME.part, never a truncated NAME; the next run completes it', async () => {
    const dir = join(work, 'big')
    await mkdir(dir)
    await writeRealWeightsFile(join(dir, 'weights.bin'), 256 * 1024 * 1024)
    const { root } = await runCliJson(['--repo', repo, 'add', dir])
    const out = join(work, 'out-big')
    const child = spawn(process.execPath, [BIN, '--repo', repo, 'export', root, '-o', out], { stdio: 'ignore' })
    const exited = new Promise(resolve => child.once('exit', resolve))
    const partSize = async (): Promise<number> => await stat(join(out, 'weights.bin.part')).then(s => s.size, () => 0)
    while (child.exitCode == null && await partSize() === 0) await new Promise(resolve => setTimeout(resolve, 5))
    child.kill('SIGKILL')
    await exited
    assert.ok(await partSize() > 0, 'the kill came while the file was being written')
    await assert.rejects(stat(join(out, 'weights.bin')), { code: 'ENOENT' })
    const r = await runCliJson(['--repo', repo, 'export', root, '-o', out])
    assert.equal(r.filesWritten, 1)
    assert.deepEqual(await readdir(out), ['weights.bin'])
    assert.deepEqual(await digestTree(out), await digestTree(dir))
  })
})

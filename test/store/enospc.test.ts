/**
 * A full disk (issue 12): `get` and `add` into a repo on a small tmpfs stop with a one-line error
 * naming the path, leave the store consistent, and finish once space is freed (the tmpfs is
 * remounted larger). Needs root to mount a tmpfs; skipped otherwise.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, runCliJson } from '../helpers/cli.js'
import { digestTree, writeRealWeightsFile } from '../helpers/model.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'

const MiB = 1024 * 1024

function tryMount (dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

describe('ENOSPC during get and add', () => {
  let work: string
  let disk: string
  let mounted = false
  let root: string
  let model: string
  let seeder: Running<ServeReady> | undefined

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-store-enospc-'))
    disk = join(work, 'disk')
    await mkdir(disk)
    mounted = tryMount(disk, '16m')
    // skipped only off CI as a non-root user: as root (and in CI, which runs as root) it must run
    if (!mounted && (process.env.CI != null || process.getuid?.() === 0)) throw new Error(`cannot mount a tmpfs at ${disk} as root: this test must run here`)
    model = join(work, 'model')
    await mkdir(model)
    await writeRealWeightsFile(join(model, 'weights.bin'), 28 * MiB)
    if (!mounted) return
    root = (await runCliJson(['--repo', join(work, 'seed'), 'add', model])).root
    seeder = await startServe(join(work, 'seed'), ['/ip4/127.0.0.1/tcp/0'])
  })
  after(async () => {
    await seeder?.stop()
    if (mounted) execFileSync('umount', [disk])
    await rm(work, { recursive: true, force: true })
  })

  it('get: one-line error naming the path; resumes to a complete, verified model once space is freed', async (t) => {
    if (!mounted) { t.skip('cannot mount a tmpfs (not root?)'); return }
    const repo = join(disk, 'leech')
    const out = join(disk, 'out')
    const args = ['--repo', repo, 'get', root, '-o', out, '--peer', addrOf((seeder as Running<ServeReady>).ready, 'tcp')]
    const full = await runCli(args)
    assert.equal(full.code, 1, full.stderr)
    const lines = full.stderr.trim().split('\n')
    assert.equal(lines.length, 1, full.stderr)
    assert.match(lines[0], /^tensorswap: \w+: .*(No space left on device|ENOSPC)/)
    assert.ok(lines[0].includes(disk), `names the path: ${lines[0]}`)
    execFileSync('mount', ['-o', 'remount,size=128m', disk])
    const again = await runCli(args)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stderr, /resuming: /, 'what was stored before the disk filled is kept')
    assert.deepEqual(await digestTree(out), await digestTree(model))
    const check = await runCliJson(['--repo', repo, 'verify', root])
    assert.equal(check.corrupt + check.missing, 0)
    await rm(repo, { recursive: true, force: true })
    await rm(out, { recursive: true, force: true })
    execFileSync('mount', ['-o', 'remount,size=16m', disk])
  })

  it('add: one-line error naming the path; the retry stores the model', async (t) => {
    if (!mounted) { t.skip('cannot mount a tmpfs (not root?)'); return }
    const repo = join(disk, 'adder')
    const full = await runCli(['--repo', repo, 'add', model])
    assert.equal(full.code, 1, full.stderr)
    const lines = full.stderr.trim().split('\n')
    assert.equal(lines.length, 1, full.stderr)
    assert.match(lines[0], /(No space left on device|ENOSPC)/)
    assert.ok(lines[0].includes(disk), `names the path: ${lines[0]}`)
    execFileSync('mount', ['-o', 'remount,size=128m', disk])
    const added = await runCliJson(['--repo', repo, 'add', model])
    assert.equal(added.root, root)
    const check = await runCliJson(['--repo', repo, 'verify', added.root])
    assert.equal(check.corrupt + check.missing, 0)
  })
})

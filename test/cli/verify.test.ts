/**
 * `tensorswap verify`: a clean repo verifies; a flipped byte in a stored block is reported
 * (exit 1, its CID named); `--repair` removes it, after which the DAG reports it missing.
 */
import assert from 'node:assert/strict'
import { readdir, readFile, stat, writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, runCliJson } from '../helpers/cli.js'
import { copyHumanModel } from '../helpers/model.js'

/** The largest data file of a repo's store (a file of the model, laid out as itself). */
async function largestBlockFile (repo: string): Promise<string> {
  let best = ''
  let size = -1
  const dir = join(repo, 'store', 'data')
  for (const f of await readdir(dir)) {
    const s = (await stat(join(dir, f))).size
    if (s > size) { size = s; best = join(dir, f) }
  }
  return best
}

describe('tensorswap verify', () => {
  let work: string
  let repo: string
  let root: string

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-verify-'))
    repo = join(work, 'repo')
    root = (await runCliJson(['--repo', repo, 'add', await copyHumanModel('emotion', join(work, 'model'))])).root
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('passes on a clean repo, finds a flipped byte, repairs it', async () => {
    const clean = await runCliJson(['--repo', repo, 'verify', root])
    assert.equal(clean.corrupt, 0)
    assert.equal(clean.missing, 0)
    assert.ok(clean.blocks > 1)

    const file = await largestBlockFile(repo)
    const bytes = await readFile(file)
    bytes[bytes.length >> 1] ^= 0xff
    await writeFile(file, bytes)

    const bad = await runCli(['--repo', repo, 'verify', root, '--json'])
    assert.equal(bad.code, 1)
    const report = JSON.parse(bad.stdout)
    assert.equal(report.corrupt, 1)
    assert.equal(report.corruptCids.length, 1)

    const repaired = await runCli(['--repo', repo, 'verify', root, '--repair', '--json'])
    assert.equal(repaired.code, 1, 'still incomplete: the block is gone until fetched again')
    const r = JSON.parse(repaired.stdout)
    assert.equal(r.repaired, true)
    assert.equal(r.missing, 1)

    const after = JSON.parse((await runCli(['--repo', repo, 'verify', '--json'])).stdout)
    assert.equal(after.corrupt, 0, 'the corrupt block was removed')
    assert.equal(after.blocks, clean.blocks - 1)
  })
})

/**
 * A model's CAR from `car export --files <manifest>` unpacks with the tool users have: the
 * real `ipfs-car unpack` (a devDependency, which takes a CAR with one root) writes the model's
 * files byte-exact.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ROOT, runCliJson } from '../helpers/cli.js'
import { copyHumanModel, digestTree } from '../helpers/model.js'

const IPFS_CAR = join(ROOT, 'node_modules', 'ipfs-car', 'bin.js')

describe('car export --files of a model unpacks with ipfs-car', () => {
  let work: string
  before(async () => { work = await mkdtemp(join(tmpdir(), 'ts-car-unpack-')) })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('ipfs-car unpack writes the files byte-exact', async () => {
    const model = await copyHumanModel('emotion', join(work, 'model'))
    const repo = join(work, 'repo')
    const added = await runCliJson(['--repo', repo, 'add', model])
    const car = join(work, 'model.car')
    const ex = await runCliJson(['--repo', repo, 'car', 'export', '--files', added.root, '-o', car])
    assert.equal(ex.root, added.filesRoot)
    const out = join(work, 'unpacked')
    const child = spawn(process.execPath, [IPFS_CAR, 'unpack', car, '--output', out], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const code = await new Promise<number | null>(resolve => child.on('close', resolve))
    assert.equal(code, 0, stderr)
    assert.deepEqual(await digestTree(out), await digestTree(model))
  })
})

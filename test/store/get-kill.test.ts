/**
 * The model-shaped store under a real fetch (issue 12): `tensorswap get` of three human models
 * (many tensors, small blocks, several files) killed with SIGKILL at random moments, then run to
 * the end. Every block is verified, the output is byte-exact, and the leaves were written once,
 * straight into the output files (the repo keeps only the small blocks and the index).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BIN, runCli, runCliJson } from '../helpers/cli.js'
import { copyHumanModel, digestTree } from '../helpers/model.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'
import { storeBytes, storedBlocks } from '../helpers/store.js'

const KILLS = 12

const MODELS = ['movenet-thunder', 'faceres-deep', 'nanodet']

describe('get of small-block models killed -9, then resumed', () => {
  let work: string
  let model: string
  let root: string
  let seeder: Running<ServeReady>
  let modelBytes = 0

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-store-kill-'))
    model = join(work, 'model')
    await mkdir(model)
    for (const m of MODELS) await copyHumanModel(m, join(model, m))
    const added = await runCliJson(['--repo', join(work, 'seed'), 'add', model])
    root = added.root
    modelBytes = added.bytes
    // the seeder's uplink is capped so the transfer takes ~4 s on any machine: a kill at a random
    // moment then lands mid-way (uncapped, a fast machine finished before the first kill)
    seeder = await startServe(join(work, 'seed'), undefined, ['--max-upload-rate', String(Math.ceil(modelBytes / 4))])
  })
  after(async () => {
    await seeder?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('resumes to a verified, byte-exact, model-shaped repo', async () => {
    const repo = join(work, 'leech')
    const out = join(work, 'out')
    const args = ['--repo', repo, 'get', root, '-o', out, '--peer', addrOf(seeder.ready, 'tcp')]
    const counts: number[] = []
    for (let i = 0; i < KILLS; i++) {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' })
      const exited = new Promise(resolve => child.once('exit', resolve))
      if (i % 2 === 0) {
        // a random moment from start-up (~1 s on this machine) into the transfer
        const timer = setTimeout(() => child.kill('SIGKILL'), 300 + Math.floor(Math.random() * 1500))
        await exited
        clearTimeout(timer)
      } else {
        // a random point of the transfer: once the store has grown by a random share of the model
        const target = await storeBytes(repo, out) + Math.floor(Math.random() * modelBytes / 3)
        while (child.exitCode == null && await storeBytes(repo, out) < target) await new Promise(resolve => setTimeout(resolve, 5))
        child.kill('SIGKILL')
        await exited
      }
      counts.push(await storedBlocks(repo))
    }
    const done = await runCli([...args, '--json'])
    assert.equal(done.code, 0, done.stderr)
    const summary = JSON.parse(done.stdout)
    assert.deepEqual(await digestTree(out), await digestTree(model))
    const check = await runCliJson(['--repo', repo, 'verify', root])
    assert.equal(check.corrupt, 0)
    assert.equal(check.missing, 0)
    assert.ok(counts.some(c => c > 0 && c < check.blocks), `some run was killed mid-way with blocks committed (${counts.join(', ')} of ${check.blocks})`)
    assert.ok(summary.blocksLocal > 0, 'the last run resumed')

    // write once: the leaves went straight into the output files; the repo holds the small blocks only
    const repoBytes = await storeBytes(repo)
    assert.ok(repoBytes < modelBytes * 0.15, `repo store ${repoBytes} bytes for a ${modelBytes}-byte model`)
  })
})

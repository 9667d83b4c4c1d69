/**
 * Crash safety of a fetch: `tensorswap get` killed with SIGKILL at 20 random moments, then run
 * to the end. The output must be byte-exact and `tensorswap verify <root>` must find every
 * block of the DAG present and none corrupt: a kill anywhere loses at most work in flight,
 * never correctness (a block is in the store only once it is whole).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BIN, runCli, runCliJson } from '../helpers/cli.js'
import { digestTree, writeRealWeightsFile } from '../helpers/model.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'

const KILLS = 20

describe('get killed -9 twenty times, then resumed', () => {
  let work: string
  let model: string
  let root: string
  let seeder: Running<ServeReady>

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-crash-'))
    model = join(work, 'model')
    await mkdir(model)
    await writeRealWeightsFile(join(model, 'weights.bin'), 96 * 1024 * 1024)
    root = (await runCliJson(['--repo', join(work, 'seed'), 'add', model])).root
    seeder = await startServe(join(work, 'seed'))
  })
  after(async () => {
    await seeder?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('ends byte-exact with nothing corrupt or missing', async () => {
    const repo = join(work, 'leech')
    const args = ['--repo', repo, 'get', root, '-o', join(work, 'out'), '--peer', addrOf(seeder.ready, 'tcp')]
    let finishedEarly = 0
    for (let i = 0; i < KILLS; i++) {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' })
      // a random moment from start-up through the transfer
      const killAt = 150 + Math.floor(Math.random() * 1500)
      const timer = setTimeout(() => child.kill('SIGKILL'), killAt)
      const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
      clearTimeout(timer)
      if (code === 0) finishedEarly++
    }
    const done = await runCli(args)
    assert.equal(done.code, 0, done.stderr)
    assert.deepEqual(await digestTree(join(work, 'out')), await digestTree(model))
    const check = await runCli(['--repo', repo, 'verify', root, '--json'])
    assert.equal(check.code, 0, check.stdout + check.stderr)
    const report = JSON.parse(check.stdout)
    assert.equal(report.corrupt, 0)
    assert.equal(report.missing, 0)
    assert.ok(report.blocks > 90, `the DAG's blocks are stored (${report.blocks})`)
    assert.ok(finishedEarly < KILLS, 'at least one run was really killed mid-way')
  })
})

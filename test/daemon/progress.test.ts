/**
 * Progress a person can read (issue 13, items 2 and 5), as the `progress`/`log` events a
 * daemon sends for `get` (spec/api.md §3; the client draws them with the same cli-progress
 * bars, local or through the daemon): a model of two files with no tensor layout, half of it
 * already in the leecher's repo (fetched before with `--include`). The resumed `get` says
 * `resuming: N MB already here`; its bar has a total (the UnixFS sizes) while it moves, counts
 * the blocks already here as `local` (not in its rate) and the fetched ones as `moved`; the
 * file-writing phase has its own bar. The seeder's upload is capped so the transfer lasts a
 * couple of seconds.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCliJson } from '../helpers/cli.js'
import { rawApi } from '../helpers/daemon.js'
import { digestTree, writeRealWeightsFile } from '../helpers/model.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'

const MiB = 1024 * 1024

describe('get\'s progress through the daemon: totals, resume, local bytes, the write phase', () => {
  let work: string
  let model: string
  let seeder: Running<ServeReady>
  let leecher: Running<ServeReady>

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-daemon-progress-'))
    model = join(work, 'model')
    await mkdir(model)
    // 5 MiB of real weights, cut in two files that share no 1 MiB chunk
    const all = await readFile(await writeRealWeightsFile(join(work, 'all.bin'), 5 * MiB))
    await writeFile(join(model, 'a.bin'), all.subarray(0, 3 * MiB))
    await writeFile(join(model, 'b.bin'), all.subarray(3 * MiB))
    seeder = await startServe(join(work, 'seed'), ['/ip4/127.0.0.1/tcp/0'], ['--max-upload-rate', '1MiB/s'])
    await runCliJson(['--repo', join(work, 'leech'), 'init'])
    leecher = await startServe(join(work, 'leech'), ['/ip4/127.0.0.1/tcp/0'])
  })
  after(async () => {
    await leecher?.stop()
    await seeder?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('a resumed get of files with no tensor layout: resume line, total while moving, local apart, write bar', async () => {
    const { root } = await runCliJson(['--repo', join(work, 'seed'), 'add', model])
    const seed = addrOf(seeder.ready, 'tcp')
    const first = await runCliJson(['--repo', join(work, 'leech'), 'get', root, '--peer', seed, '--include', 'a.bin'])
    assert.ok(first.bytes > 3 * MiB && first.bytes < 3 * MiB + 16 * 1024, String(first.bytes))

    const out = join(work, 'out')
    const answer = await rawApi(join(work, 'leech', 'api.sock'), '/api/v1/get', JSON.stringify({ cid: root, peer: [seed], output: out }))
    assert.equal(answer.status, 200, answer.text)
    const last = answer.events.at(-1)
    assert.equal(last.type, 'result', answer.text)
    const result = last.result.json
    assert.deepEqual(await digestTree(out), await digestTree(model))

    // what was already here is said once, before the bar moves
    const logs = answer.events.filter(e => e.type === 'log').map(e => e.line)
    assert.deepEqual(logs, ['resuming: 3.1 MB already here'])

    const frames = answer.events.filter(e => e.type === 'progress' && e.label === 'get')
    const done = frames.at(-1)
    assert.equal(done.done, true)
    assert.equal(done.extra, ' | peers {peers}')
    assert.equal(done.fields.peers, 1)
    // local: a.bin's blocks (not fetched, not in the rate); moved: what came from the peer
    assert.equal(done.moved, result.bytes)
    assert.ok(done.local >= 3 * MiB && done.local < 3 * MiB + 16 * 1024, String(done.local))
    assert.equal(done.total, done.moved + done.local, 'the total is every block of the DAG, from the UnixFS sizes')
    // the total was known while the transfer moved (no `17.9 MB/?`): every frame that moved
    // has it, and one came before the end
    const moving = frames.filter(f => f.moved > 0)
    assert.ok(moving.every(f => f.total === done.total), JSON.stringify(frames))
    assert.ok(moving.some(f => f.done !== true && f.moved + f.local < f.total), JSON.stringify(frames))

    const write = answer.events.filter(e => e.type === 'progress' && e.label === 'write')
    assert.ok(write.length >= 2, 'the file-writing phase has its own bar')
    assert.equal(write.at(-1).done, true)
    assert.equal(write.at(-1).moved + write.at(-1).local, 5 * MiB, 'every byte of the files written or kept')
    assert.ok(write.every(f => f.total === 5 * MiB || (f.total === 0 && f.moved === 0)), 'the write bar has the files\' total')
  })
})

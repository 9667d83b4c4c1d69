/**
 * Progress bars on a terminal (issue 13, item 5): `get` run on a pseudo-terminal (util-linux
 * `script`), from a seeder whose upload is capped so the bars draw several frames. No frame
 * shows a literal `{peers}` (the first frame included), each bar leaves a one-line summary
 * (bytes, time, MB/s, peers), and no bar is drawn after the result line, with `--tensors` too.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BIN, runCliJson } from '../helpers/cli.js'
import { copyHumanModel, digestTree } from '../helpers/model.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'

/** Run `tensorswap ...args` with stdout and stderr on a pseudo-terminal; its whole output. */
async function onTty (args: string[]): Promise<{ code: number | null, out: string }> {
  const cmd = [process.execPath, BIN, ...args].map(a => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
  const child = spawn('script', ['-qefc', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COLUMNS: '160' } })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  return { code, out }
}

describe('progress bars on a terminal', () => {
  let work: string
  let model: string
  let root: string
  let seeder: Running<ServeReady>

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-tty-'))
    model = await copyHumanModel('emotion', join(work, 'emotion'))
    root = (await runCliJson(['--repo', join(work, 'seed'), 'add', model])).root
    seeder = await startServe(join(work, 'seed'), ['/ip4/127.0.0.1/tcp/0'], ['--max-upload-rate', '400KiB/s'])
  })
  after(async () => {
    await seeder?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('get: frames with the peers count, none after the summary', async () => {
    const r = await onTty(['--repo', join(work, 'leech1'), 'get', root, '-o', join(work, 'out1'), '--peer', addrOf(seeder.ready, 'tcp')])
    assert.equal(r.code, 0, r.out)
    assert.deepEqual(await digestTree(join(work, 'out1')), await digestTree(model))
    assert.doesNotMatch(r.out, /\{peers\}/)
    assert.match(r.out, /get \[[^\]]*\] \d+% \| [^|]+ \| [0-9.]+ MB\/s \| ETA \S+ \| peers [01]/, 'the bar drew')
    assert.match(r.out, /get: [0-9.]+ kB in [0-9.]+ s, [0-9.]+ MB\/s, 1 peer\r?\n/, 'the summary line')
    const summary = r.out.lastIndexOf('fetched ')
    assert.ok(summary >= 0, r.out)
    assert.doesNotMatch(r.out.slice(summary), /\[[░█]+\]/, 'no bar after the result')
  })

  it('get --tensors: no bar drawn after the summary', async () => {
    const r = await onTty(['--repo', join(work, 'leech2'), 'get', root, '-o', join(work, 'out2'), '--peer', addrOf(seeder.ready, 'tcp'), '--tensors', '*'])
    assert.equal(r.code, 0, r.out)
    assert.match(r.out, /tensors \[[░█]*\]/, 'the bar drew')
    const summary = r.out.lastIndexOf('fetched ')
    assert.ok(summary >= 0, r.out)
    assert.match(r.out.slice(summary), /^fetched \d+ tensors \(\d+ bytes\) over graphsync in [0-9.]+ s into \S+\r?\n$/, JSON.stringify(r.out.slice(summary)))
  })
})

/**
 * Every command that takes `--repo` prints the same through a running daemon as without one
 * (issue 13 "Tests"): two repos made alike, one served by `tensorswap serve`, the same command
 * lines run on each from its own directory with relative paths (the client makes them absolute
 * for the daemon); stdout, `--json`, stderr's error line and the exit code must match once
 * timings and the directory are normalised.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { copyHumanModel, digestTree } from '../helpers/model.js'
import { normalise, run, type RunResult } from '../helpers/daemon.js'
import { startServe, type Running, type ServeReady } from '../helpers/processes.js'

/** A block nobody has (the sha2-256 of "not here"), to make a DAG with a missing link. */
const ABSENT = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
/** The explore-all selector (every node, every link). */
const ALL = '{"R":{"l":{"none":{}},":>":{"a":{">":{"@":{}}}}}}'

describe('each command through a daemon and without one: same output', () => {
  let work: string
  let local: string
  let served: string
  let daemon: Running<ServeReady>

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-daemon-same-'))
    local = join(work, 'local')
    served = join(work, 'served')
    for (const dir of [local, served]) {
      await mkdir(dir)
      await copyHumanModel('emotion', join(dir, 'model'))
      await copyHumanModel('age', join(dir, 'model2'))
      const init = await run(['--repo', join(dir, 'repo'), 'init'])
      assert.equal(init.code, 0, init.stderr)
    }
    daemon = await startServe(join(served, 'repo'), ['/ip4/127.0.0.1/tcp/0'])
  })
  after(async () => {
    await daemon?.stop()
    await rm(work, { recursive: true, force: true })
  })

  /** Run `args` on both sides; assert the same exit code, stdout and error line; return both. */
  async function both (args: string[], stdin?: Uint8Array | string): Promise<[RunResult, RunResult]> {
    const [a, b] = await Promise.all([run(['--repo', 'repo', ...args], { cwd: local, stdin }), run(['--repo', 'repo', ...args], { cwd: served, stdin })])
    const what = `tensorswap ${args.join(' ')}`
    assert.equal(b.code, a.code, `${what}: exit code (local ${a.stderr}, daemon ${b.stderr})`)
    assert.equal(normalise(b.stdout, [served]), normalise(a.stdout, [local]), `${what}: stdout`)
    // error lines (one line, `tensorswap: Name: message`) are the same too
    const errLine = (r: RunResult, dir: string): string[] => normalise(r.stderr, [dir]).split('\n').filter(l => l.startsWith('tensorswap: ') || l.startsWith('{"error"'))
    assert.deepEqual(errLine(b, served), errLine(a, local), `${what}: stderr`)
    return [a, b]
  }

  it('add, ls, export, car, dag, verify, diff, get, stat and their errors', async () => {
    // the daemon really serves this repo: its api file is there, and it ran every command below
    assert.ok((await stat(join(served, 'repo', 'api'))).isFile())

    const [added] = await both(['add', 'model', '--json'])
    const root: string = JSON.parse(added.stdout).root
    assert.equal(added.code, 0, added.stderr)
    const [q] = await both(['add', '-q', 'model2'])
    const root2 = q.stdout.trim()
    assert.match(root2, /^bafy/)
    await both(['ls', root])
    const [exported] = await both(['export', root, '-o', 'out', '--json'])
    assert.equal(JSON.parse(exported.stdout).filesWritten > 0, true)
    assert.deepEqual(await digestTree(join(served, 'out')), await digestTree(join(served, 'model')))
    const [car] = await both(['car', 'export', root, '-o', 'x.car', '--json'])
    assert.equal(car.code, 0)
    const [carOutA, carOutB] = await both(['car', 'export', root, '-o', '-'])
    assert.ok(carOutB.stdoutBytes.equals(carOutA.stdoutBytes), 'car export -o -: the same CAR bytes')
    assert.ok(carOutB.stdoutBytes.equals(await readFile(join(served, 'x.car'))))
    await both(['car', 'import', 'x.car', '--json'])
    await both(['car', 'import', '-', '--json'], await readFile(join(local, 'x.car')))
    const [put] = await both(['dag', 'put'], JSON.stringify({ hello: 'daemon', model: { '/': root } }))
    const linked = put.stdout.trim()
    await both(['dag', 'get', linked, '--json'])
    const [walk] = await both(['dag', 'walk', linked, '-s', ALL])
    assert.ok(walk.stdout.split('\n').length > 3, walk.stdout)
    await both(['verify', root, '--json'])
    const [broken] = await both(['dag', 'put'], JSON.stringify({ missing: { '/': ABSENT } }))
    const [v] = await both(['verify', broken.stdout.trim(), '--json'])
    assert.equal(v.code, 1, 'a DAG with a missing block: exit 1 either way')
    await both(['diff', root, root2])
    await both(['get', root, '--json']) // every block local: no peer needed
    await both(['get', root, '-o', 'out2'])

    // errors: runtime (exit 1), usage (exit 2), under --json too
    const [missing] = await both(['ls', ABSENT])
    assert.equal(missing.code, 1)
    await both(['ls', ABSENT, '--json'])
    const [bad] = await both(['ls', 'not-a-cid'])
    assert.equal(bad.code, 2)
    await both(['get', root, '--tensors', 'x*'])
    await both(['push', root, '--peer', '/ip4/127.0.0.1/tcp/1'])
    await both(['export', root, '-o', '-']) // a directory root to stdout: usage error

    // stat: the same repo contents; online and peers say where it ran
    const sa = await run(['--repo', 'repo', 'stat', '--json'], { cwd: local })
    const sb = await run(['--repo', 'repo', 'stat', '--json'], { cwd: served })
    const [ja, jb] = [JSON.parse(sa.stdout), JSON.parse(sb.stdout)]
    assert.equal(jb.blocks, ja.blocks)
    assert.equal(jb.bytes, ja.bytes)
    assert.equal(ja.online, false)
    assert.equal(jb.online, true)

    // providers with nobody to ask: a usage error either way (the daemon says it has no one)
    const pa = await run(['--repo', 'repo', 'providers', root], { cwd: local })
    const pb = await run(['--repo', 'repo', 'providers', root], { cwd: served })
    assert.equal(pa.code, 2, pa.stderr)
    assert.equal(pb.code, 2, pb.stderr)
  })
})

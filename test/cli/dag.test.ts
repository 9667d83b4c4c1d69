/**
 * End-to-end tests of `tensorswap dag put|get|walk` on the built binary.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'

describe('tensorswap dag', () => {
  let work: string
  let repo: string
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-dag-'))
    repo = join(work, 'repo')
    assert.equal((await runCli(['--repo', repo, 'init'])).code, 0)
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('put stores DAG-JSON as DAG-CBOR, get prints it back, walk visits in selector order', async () => {
    const leafFile = join(work, 'leaf.json')
    await writeFile(leafFile, JSON.stringify({ name: 'leaf', n: 1 }))
    const leaf = await runCli(['--repo', repo, 'dag', 'put', leafFile])
    assert.equal(leaf.code, 0, leaf.stderr)
    const leafCid = leaf.stdout.trim().split('\n').at(-1) as string
    assert.match(leafCid, /^bafyrei/)

    const rootFile = join(work, 'root.json')
    await writeFile(rootFile, JSON.stringify({ a: [{ '/': leafCid }, 2], b: 'x' }))
    const root = await runCli(['--repo', repo, 'dag', 'put', rootFile])
    const rootCid = root.stdout.trim().split('\n').at(-1) as string

    const got = await runCli(['--repo', repo, 'dag', 'get', rootCid])
    assert.equal(got.code, 0, got.stderr)
    assert.deepEqual(JSON.parse(got.stdout), { a: [{ '/': leafCid }, 2], b: 'x' })

    // ExploreRecursive over everything: every node, in data order, links followed
    const sel = '{"R":{"l":{"none":{}},":>":{"a":{">":{"@":{}}}}}}'
    const walk = await runCli(['--repo', repo, 'dag', 'walk', rootCid, '--selector', sel])
    assert.equal(walk.code, 0, walk.stderr)
    const visits = walk.stdout.trim().split('\n').map(l => JSON.parse(l))
    const paths = visits.map(v => v.path)
    assert.deepEqual(paths, ['', 'a', 'a/0', 'a/0/n', 'a/0/name', 'a/1', 'b'])
    assert.deepEqual(visits[0].node, { map: null })
    assert.deepEqual(visits.at(-1).node, { string: 'x' })
  })

  it('an invalid selector is a clear error', async () => {
    const f = join(work, 'x.json')
    await writeFile(f, '{"x":1}')
    const put = await runCli(['--repo', repo, 'dag', 'put', f])
    const cid = put.stdout.trim()
    const r = await runCli(['--repo', repo, 'dag', 'walk', cid, '--selector', '{"R":{}}'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^tensorswap: UsageError: --selector: InvalidSelectorError: /)
  })
})

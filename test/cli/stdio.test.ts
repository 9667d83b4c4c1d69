/**
 * `export -o -`, `car export -o -`, `car import -`, `get` with every block local (no peer),
 * `get` without `-o` of a non-UnixFS DAG (into the repo only), and the fixed default listen
 * port a created repo gets (read from config; nothing binds it here).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BIN, HUMAN_MODELS, runCli, runCliJson } from '../helpers/cli.js'
import { copyHumanModel, digestTree } from '../helpers/model.js'
import { addrOf, startServe } from '../helpers/processes.js'

/** Run the CLI with binary stdin/stdout. */
async function runBinary (args: string[], stdin?: Buffer): Promise<{ code: number | null, stdout: Buffer, stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => out.push(d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  child.stdin.end(stdin)
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  return { code, stdout: Buffer.concat(out), stderr }
}

describe('stdin/stdout, local-only get, get into the repo only', () => {
  let work: string
  let repo: string
  let model: string
  let root: string
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-stdio-'))
    repo = join(work, 'repo')
    model = await copyHumanModel('emotion', join(work, 'model'))
    root = (await runCliJson(['--repo', repo, 'add', model])).root
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('a created repo listens on fixed ports by default (UDP/TCP 4001), kept in config.json', async () => {
    const made = await runCliJson(['--repo', join(work, 'fresh'), 'init'])
    assert.deepEqual(made.listen, ['/ip4/0.0.0.0/udp/4001/quic-v1', '/ip4/0.0.0.0/tcp/4001'])
    const config = JSON.parse(await readFile(join(work, 'fresh', 'config.json'), 'utf8'))
    assert.deepEqual(config.listen, made.listen)
  })

  it('export -o - writes a single-file root to stdout; a directory root is a usage error', async () => {
    const file = join(HUMAN_MODELS, 'emotion.bin')
    const single = (await runCliJson(['--repo', repo, 'add', file])).root
    const r = await runBinary(['--repo', repo, 'export', single, '-o', '-'])
    assert.equal(r.code, 0, r.stderr)
    assert.ok(r.stdout.equals(await readFile(file)), 'stdout is the file, byte-exact')
    const d = await runBinary(['--repo', repo, 'export', root, '-o', '-'])
    assert.equal(d.code, 2)
    assert.match(d.stderr, /^tensorswap: UsageError: export -o -: .* is a directory/)
    assert.equal(d.stdout.length, 0)
  })

  it('car export -o - | car import - moves the model; the copy exports byte-exact', async () => {
    const ex = await runBinary(['--repo', repo, 'car', 'export', root, '-o', '-'])
    assert.equal(ex.code, 0, ex.stderr)
    const fileCar = join(work, 'm.car')
    await runCliJson(['--repo', repo, 'car', 'export', root, '-o', fileCar])
    assert.ok(ex.stdout.equals(await readFile(fileCar)), 'the same CAR as -o FILE')
    const copy = join(work, 'copy')
    await runCliJson(['--repo', copy, 'init'])
    const im = await runBinary(['--repo', copy, 'car', 'import', '-', '--json'], ex.stdout)
    assert.equal(im.code, 0, im.stderr)
    assert.deepEqual(JSON.parse(im.stdout.toString()).roots, [root])
    const out = join(work, 'out-copy')
    await runCliJson(['--repo', copy, 'export', root, '-o', out])
    assert.deepEqual(await digestTree(out), await digestTree(model))
  })

  it('get with every block local needs no --peer', async () => {
    const out = join(work, 'out-local')
    const got = await runCliJson(['--repo', repo, 'get', root, '-o', out])
    assert.equal(got.blocks, 0)
    assert.ok(got.blocksLocal > 1)
    assert.deepEqual(await digestTree(out), await digestTree(model))
  })

  it('get without -o fetches a DAG-CBOR DAG into the repo only', async () => {
    const seedRepo = join(work, 'dag-seed')
    await runCliJson(['--repo', seedRepo, 'init'])
    await writeFile(join(work, 'leaf.json'), '{"leaf":true}')
    const leaf = (await runCliJson(['--repo', seedRepo, 'dag', 'put', join(work, 'leaf.json')])).root
    await writeFile(join(work, 'top.json'), JSON.stringify({ child: { '/': leaf }, n: 1 }))
    const top = (await runCliJson(['--repo', seedRepo, 'dag', 'put', join(work, 'top.json')])).root
    const seeder = await startServe(seedRepo, ['/ip4/127.0.0.1/tcp/0'])
    try {
      const leech = join(work, 'dag-leech')
      const got = await runCliJson(['--repo', leech, 'get', top, '--peer', addrOf(seeder.ready, 'tcp')])
      assert.equal(got.root, top)
      assert.equal(got.blocks, 2)
      assert.deepEqual(got.files, [])
      const r = await runCli(['--repo', leech, 'dag', 'get', leaf])
      assert.equal(r.stdout.trim(), '{"leaf":true}')
    } finally {
      await seeder.stop()
    }
  })
})

/**
 * The README's library example is run as written: its ```ts block is extracted, its paths
 * pointed at a temp directory, and it runs in its own process with two nodes (a seeder and a
 * leecher) on an HF-style safetensors model. Also: the library takes root CIDs as strings.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createTensorSwap } from 'tensorswap'
import { HUMAN_MODELS, ROOT } from '../helpers/cli.js'
import { digestTree } from '../helpers/model.js'

/** The README's first ```ts block (the library example). */
async function readmeSnippet (): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const m = /```ts\n(import \{ createTensorSwap \} from 'tensorswap'\n[\s\S]*?)```\n/.exec(readme)
  assert.ok(m != null, 'README.md has the library example')
  return m[1]
}

/** HF-style names: embeddings, 8 layers of two projections, final norm, head. */
function hfNames (): string[] {
  const names = ['model.embed_tokens.weight']
  for (let n = 0; n < 8; n++) names.push(`model.layers.${n}.self_attn.q_proj.weight`, `model.layers.${n}.mlp.up_proj.weight`)
  names.push('model.norm.weight', 'lm_head.weight')
  return names
}

/** Write a safetensors file of F32 [16, 16] tensors named {@link hfNames}, holding real weight bytes (a human-models shard). */
async function writeHfSafetensors (path: string): Promise<void> {
  const shard = await readFile(join(HUMAN_MODELS, (await readdir(HUMAN_MODELS)).filter(n => n.endsWith('.bin')).sort()[0]))
  const header: Record<string, unknown> = {}
  const size = 16 * 16 * 4
  hfNames().forEach((name, i) => { header[name] = { dtype: 'F32', shape: [16, 16], data_offsets: [i * size, (i + 1) * size] } })
  let json = JSON.stringify(header)
  json += ' '.repeat((8 - (json.length % 8)) % 8)
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length))
  const data = Buffer.alloc(size * hfNames().length)
  for (let at = 0; at < data.length;) at += shard.copy(data, at, 0, Math.min(shard.length, data.length - at))
  await writeFile(path, Buffer.concat([len, Buffer.from(json), data]))
}

describe('README library example', () => {
  let work: string
  before(async () => { work = await mkdtemp(join(tmpdir(), 'ts-readme-')) })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('runs as written with two nodes: files byte-exact, the glob picks layers 0-3 of HF-style names', async () => {
    const model = join(work, 'model')
    await mkdir(model)
    await writeHfSafetensors(join(model, 'model.safetensors'))
    let code = await readmeSnippet()
    for (const [from, to] of [['/data/seed', join(work, 'seed')], ['/data/leech', join(work, 'leech')], ['./model', model], ['./out', join(work, 'out')]]) {
      assert.ok(code.includes(`'${from}'`), `the snippet uses '${from}'`)
      code = code.replaceAll(`'${from}'`, JSON.stringify(to))
    }
    // next to the built tests, so `import 'tensorswap'` resolves to the workspace package
    const script = join(ROOT, 'dist-test', 'test', 'readme', `snippet-${process.pid}.mjs`)
    await writeFile(script, code)
    try {
      const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
      child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
      const exit = await new Promise<number | null>(resolve => child.on('close', resolve))
      assert.equal(exit, 0, stderr)
      assert.deepEqual(await digestTree(join(work, 'out')), await digestTree(model))
      const lines = stdout.trim().split('\n')
      assert.match(lines[0], /^\d+ bytes in \d+\.\d\d s$/)
      const expected = hfNames().filter(n => /^model\.layers\.[0-3]\./.test(n))
      assert.equal(expected.length, 8)
      assert.deepEqual(lines.slice(1), expected.map(n => `${n} [ 16, 16 ]`))
    } finally {
      await rm(script, { force: true })
    }
  })

  it('get, tensors and exportCar take a root CID as a string; a bad string is InvalidCidError', async () => {
    const node = await createTensorSwap({ repo: join(work, 'strings'), listen: [] })
    try {
      await node.start()
      const model = join(work, 'one.safetensors')
      await writeHfSafetensors(model)
      const { root } = await node.add(model)
      const got = await node.get(root.toString())
      assert.equal(got.fetch.blocksFetched, 0, 'every block is local')
      const chunks: Uint8Array[] = []
      const car = await node.exportCar(`/ipfs/${root.toString()}`, async (b: Uint8Array) => { chunks.push(b) })
      assert.ok(car.blocks > 1)
      await assert.rejects(node.get('bafy-not-a-cid'), { name: 'InvalidCidError' })
      await assert.rejects(async () => { for await (const _ of node.tensors('nope', { peer: node.peerId })) break }, { name: 'InvalidCidError' })
    } finally {
      await node.stop()
    }
  })
})

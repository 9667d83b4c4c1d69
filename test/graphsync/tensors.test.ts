/**
 * `tensorswap get --tensors GLOB` / `--layers A-B` between processes, on real TF.js models:
 * against `tensorswap serve` (GraphSync) and `tensorswap serve --no-graphsync` (Bitswap
 * fallback), resume after the fetching process is killed, hostile GraphSync responders, and
 * hostile GraphSync requests (selector bombs, request floods) against a real `serve`.
 */
import assert from 'node:assert/strict'
import { storedBlocks, waitForCommittedBlocks } from '../helpers/store.js'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_MAX_REQUESTS_PER_PEER, PROTOCOL_ID, decodeMessage, isTerminalStatus, ResponseStatusCode } from '@tensorswap/graphsync'
import { CID } from 'multiformats/cid'
import { layerIndex, selectTensorIndices } from 'tensorswap/tensors'
import { createLibp2pNode, FrameWriter, readFrames } from 'tensorswap/transport'
import { BIN, runCli, runCliJson } from '../helpers/cli.js'
import { copyHumanModel } from '../helpers/model.js'
import { addrOf, type Running, type ServeReady } from '../helpers/processes.js'
import type { Manifest } from '@tensorswap/model'

const HOSTILE = new URL('./fixtures/hostile-responder.js', import.meta.url).pathname

/** Tensor bytes straight from a TF.js model directory: weights laid out in order across each group's shards. */
async function sourceTensors (dir: string): Promise<Map<string, { dtype: string, shape: number[], bytes: Buffer }>> {
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'))
  const out = new Map<string, { dtype: string, shape: number[], bytes: Buffer }>()
  for (const group of json.weightsManifest) {
    const data = Buffer.concat(await Promise.all(group.paths.map(async (p: string) => await readFile(join(dir, p)))))
    let offset = 0
    for (const w of group.weights) {
      assert.equal(w.quantization, undefined, 'test models are unquantized')
      const n = w.shape.reduce((a: number, b: number) => a * b, 1) * 4 // float32 / int32
      out.set(w.name, { dtype: w.dtype, shape: w.shape, bytes: data.subarray(offset, offset + n) })
      offset += n
    }
  }
  return out
}

/** Wait for the first stdout line that `parse` accepts. */
async function waitLine<T> (child: ChildProcess, parse: (line: string, lines: string[]) => T | undefined): Promise<T> {
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const lines: string[] = []
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  return await new Promise<T>((resolve, reject) => {
    const onExit = (code: number | null): void => { reject(new Error(`process exited ${code} before it was ready: ${stderr}`)) }
    child.once('exit', onExit)
    rl.on('line', (line) => {
      lines.push(line)
      const v = parse(line, lines)
      if (v !== undefined) { child.off('exit', onExit); resolve(v) }
    })
  })
}

async function stopChild (child: ChildProcess, how: 'SIGTERM' | 'stdin' = 'SIGTERM'): Promise<void> {
  if (child.exitCode != null || child.signalCode != null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  if (how === 'stdin') child.stdin?.end()
  else child.kill('SIGTERM')
  await exited
}

/** `tensorswap serve` on loopback TCP with extra flags (e.g. `--no-graphsync`). */
async function serve (repo: string, extra: string[] = []): Promise<Running<ServeReady>> {
  const child = spawn(process.execPath, [BIN, '--repo', repo, 'serve', '--listen', '/ip4/127.0.0.1/tcp/0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
  const ready = await waitLine(child, (_l, lines) => {
    const peer = lines.find(l => l.startsWith('peer '))
    const addrs = lines.filter(l => l.startsWith('listening ')).map(l => l.slice(10))
    return peer != null && addrs.length > 0 ? { peerId: peer.slice(5), addrs } : undefined
  })
  return { child, ready, stop: async () => { await stopChild(child); return child.exitCode } }
}

interface TensorsJson { root: string, tensors: Array<{ name: string, file: string, dtype: string, shape: number[], bytes: number }> }

describe('get --tensors / --layers between processes (efficientpose, real TF.js model)', () => {
  let work: string
  let model: string
  let root: string
  let manifestNames: string[]
  let source: Awaited<ReturnType<typeof sourceTensors>>
  let gs: Running<ServeReady>
  let bitswapOnly: Running<ServeReady>
  let manifest: Manifest

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-tensors-'))
    model = await copyHumanModel('efficientpose', join(work, 'model'))
    source = await sourceTensors(model)
    root = (await runCliJson(['--repo', join(work, 'seed-gs'), 'add', model])).root
    assert.equal((await runCliJson(['--repo', join(work, 'seed-bs'), 'add', model])).root, root)
    const ls = await runCliJson(['--repo', join(work, 'seed-gs'), 'ls', root])
    manifestNames = ls.tensors.map((t: { name: string }) => t.name)
    // the selection rule needs only names; chunks are irrelevant to it
    manifest = { tensors: ls.tensors.map((t: any) => ({ ...t, chunks: [] })) } as unknown as Manifest
    gs = await serve(join(work, 'seed-gs'))
    bitswapOnly = await serve(join(work, 'seed-bs'), ['--no-graphsync'])
  })
  after(async () => {
    await gs?.stop()
    await bitswapOnly?.stop()
    await rm(work, { recursive: true, force: true })
  })

  /** Check what `get --tensors/--layers` wrote against the source files. */
  async function checkOutput (out: string, summary: any, expected: string[]): Promise<void> {
    const index = JSON.parse(await readFile(join(out, 'tensors.json'), 'utf8')) as TensorsJson
    assert.equal(index.root, root)
    assert.deepEqual(index.tensors.map(t => t.name), expected, 'exactly the selected tensors, in computation order')
    assert.deepEqual(summary.tensors.map((t: { name: string }) => t.name), expected)
    assert.deepEqual((await readdir(out)).sort(), [...index.tensors.map(t => t.file), 'tensors.json'].sort(), 'no other files')
    for (const t of index.tensors) {
      const src = source.get(t.name)
      assert.ok(src != null, t.name)
      assert.equal(t.file, `${encodeURIComponent(t.name)}.bin`)
      assert.equal(t.dtype, src.dtype)
      assert.deepEqual(t.shape, src.shape)
      assert.equal(t.bytes, src.bytes.byteLength)
      assert.ok(Buffer.from(await readFile(join(out, t.file))).equals(src.bytes), `bytes of ${t.name} equal the source shard range`)
    }
  }

  const glob = 'efficientnet-lite4/model/blocks_1/*'
  const globExpected = (): string[] => manifestNames.filter(n => n.startsWith('efficientnet-lite4/model/blocks_1/'))
  const layersExpected = (): string[] => selectTensorIndices(manifest, { layers: '2-4' }).map(i => manifestNames[i])

  for (const [peerName, protocol] of [['serve', 'graphsync'], ['serve --no-graphsync', 'bitswap']] as const) {
    const peer = (): string => addrOf(protocol === 'graphsync' ? gs.ready : bitswapOnly.ready, 'tcp')

    it(`--tensors GLOB from \`${peerName}\` uses ${protocol} and writes exactly the matching tensors`, async () => {
      const out = join(work, `glob-${protocol}`)
      const summary = await runCliJson(['--repo', join(work, `leech-glob-${protocol}`), 'get', root, '-o', out, '--peer', peer(), '--tensors', glob])
      assert.equal(summary.protocol, protocol)
      assert.equal(globExpected().length, 6)
      await checkOutput(out, summary, globExpected())
      // the manifest and the selected chunks only
      assert.equal(await storedBlocks(join(work, `leech-glob-${protocol}`)), summary.blocks)
      assert.ok(summary.blocks <= 1 + 6, `${summary.blocks} blocks`)
    })

    it(`--layers A-B from \`${peerName}\` uses ${protocol} and writes exactly those layers`, async () => {
      const out = join(work, `layers-${protocol}`)
      const summary = await runCliJson(['--repo', join(work, `leech-layers-${protocol}`), 'get', root, '-o', out, '--peer', peer(), '--layers', '2-4'])
      assert.equal(summary.protocol, protocol)
      const expected = layersExpected()
      assert.ok(expected.some(n => n.includes('/blocks_2/')) && expected.some(n => n.includes('/blocks_4/')))
      assert.ok(!expected.some(n => /\/blocks_(0|1|5|6)\//.test(n)))
      await checkOutput(out, summary, expected)
    })
  }

  it('a --layers range holding none of the model\'s layers is a usage error naming its range; nothing is written', async () => {
    const layers = manifestNames.map(layerIndex).filter((i): i is number => i !== undefined)
    const out = join(work, 'layers-none-out')
    const r = await runCli(['--repo', join(work, 'leech-layers-none'), 'get', root, '-o', out, '--peer', addrOf(gs.ready, 'tcp'), '--layers', '100-200'])
    assert.equal(r.code, 2, r.stderr)
    assert.equal(r.stderr, `tensorswap: UsageError: --layers 100-200: no layer in 100-200; the model's layers are ${Math.min(...layers)}-${Math.max(...layers)}\n`)
    await assert.rejects(stat(out), { code: 'ENOENT' })
  })

  it('a --tensors glob matching nothing is a usage error naming it and a few tensor names; nothing is written', async () => {
    const out = join(work, 'glob-none-out')
    const r = await runCli(['--repo', join(work, 'leech-glob-none'), 'get', root, '-o', out, '--peer', addrOf(gs.ready, 'tcp'), '--tensors', 'nomatch*'])
    assert.equal(r.code, 2, r.stderr)
    assert.equal(r.stderr, `tensorswap: UsageError: --tensors "nomatch*" matches no tensor of this model; its tensors are named like ${manifestNames.slice(0, 3).join(', ')}, ... (${manifestNames.length} tensors)\n`)
    await assert.rejects(stat(out), { code: 'ENOENT' })
  })

  it('a malformed --layers is a usage error before any network work', async () => {
    const dead = addrOf(gs.ready, 'tcp').replace(/\/tcp\/\d+/, '/tcp/1')
    const r = await runCli(['--repo', join(work, 'bad-layers'), 'get', root, '-o', join(work, 'bad-layers-out'), '--peer', dead, '--layers', '5-2'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /InvalidLayerRangeError|UsageError/)
  })

  describe('hostile GraphSync requests against a real `tensorswap serve`', () => {
    /** Send one raw message on a fresh node; collect terminal statuses of responses until `settle` says stop. */
    async function sendRaw (bytes: Uint8Array, expectResponses: number): Promise<{ statuses: number[], streamError: boolean }> {
      const node = await createLibp2pNode({ transports: ['tcp'], listen: [] })
      const statuses: number[] = []
      let done: () => void = () => {}
      const finished = new Promise<void>(resolve => { done = resolve })
      await node.handle(PROTOCOL_ID, (stream) => {
        void (async () => {
          for await (const frame of readFrames(stream)) {
            for (const r of decodeMessage(frame.subarray()).responses) {
              if (isTerminalStatus(r.status)) statuses.push(r.status)
            }
            if (statuses.length >= expectResponses) done()
          }
        })().catch(() => {})
      }, { maxInboundStreams: 2 * DEFAULT_MAX_REQUESTS_PER_PEER }) // the responder opens one stream per response
      let streamError = false
      try {
        const stream = await node.dialProtocol(multiaddr(addrOf(gs.ready, 'tcp')), PROTOCOL_ID)
        const closed = new Promise<void>(resolve => {
          stream.addEventListener('close', (evt: any) => { if (evt.error != null) streamError = true; resolve() })
        })
        await new FrameWriter(stream).write(bytes)
        await stream.close().catch(() => { streamError = true })
        await Promise.race([closed, new Promise(resolve => setTimeout(resolve, 2000))])
        if (expectResponses > 0) await finished
        return { statuses, streamError }
      } finally {
        await node.stop()
      }
    }

    function request (sel: unknown, n = 1): Uint8Array {
      const reqs = Array.from({ length: n }, (_, i) => ({ id: Uint8Array.from({ length: 16 }, (_, j) => (i * 31 + j) & 0xff), type: 'n', root: CID.parse(root), sel }))
      return dagCbor.encode({ gs2: { req: reqs } })
    }

    it('rejects a nesting bomb, a huge union and a request flood, and keeps serving', async () => {
      // 50,000 levels of {"a": {">": ...}} spliced in by hand (cborg cannot encode that deep)
      const placeholder = dagCbor.encode({ '.': {} })
      const template = request({ '.': {} })
      const at = Buffer.from(template).indexOf(Buffer.from(placeholder))
      assert.ok(at > 0)
      const level = [0xa1, 0x61, 0x61, 0xa1, 0x61, 0x3e]
      const bomb = new Uint8Array(50_000 * level.length + placeholder.length)
      for (let i = 0; i < 50_000; i++) bomb.set(level, i * level.length)
      bomb.set(placeholder, 50_000 * level.length)
      const deep = Buffer.concat([template.subarray(0, at), bomb, template.subarray(at + placeholder.length)])
      const r1 = await sendRaw(deep, 0)
      assert.deepEqual(r1.statuses, [], 'no response to an undecodable request')
      assert.equal(r1.streamError, true, 'the request stream was reset')

      const union = request({ '|': Array.from({ length: 5000 }, () => ({ '.': {} })) })
      const r2 = await sendRaw(union, 0)
      assert.deepEqual(r2.statuses, [])
      assert.equal(r2.streamError, true)

      // a flood of DEFAULT_MAX_REQUESTS_PER_PEER (100) + 12 requests in one message (root-only, cheap
      // to serve): the first 100 are served, the 12 past the per-peer limit get 31 (busy), no penalty
      const flood = DEFAULT_MAX_REQUESTS_PER_PEER + 12
      const r3 = await sendRaw(request({ '.': {} }, flood), flood)
      assert.equal(r3.statuses.length, flood)
      const busy = r3.statuses.filter(s => s === ResponseStatusCode.RequestFailedBusy).length
      const full = r3.statuses.filter(s => s === ResponseStatusCode.RequestCompletedFull).length
      assert.ok(busy >= 12 && busy + full === flood, `statuses ${r3.statuses.join(',')}`)

      // the node still serves
      assert.equal(gs.child.exitCode, null)
      const out = join(work, 'after-bombs')
      const summary = await runCliJson(['--repo', join(work, 'leech-after-bombs'), 'get', root, '-o', out, '--peer', addrOf(gs.ready, 'tcp'), '--tensors', glob])
      assert.equal(summary.protocol, 'graphsync')
      await checkOutput(out, summary, globExpected())
    })
  })
})

describe('get --tensors: resume after the fetching process is killed (blazepose-heavy)', () => {
  it('fetches only the blocks that were not stored, none twice', async () => {
    const work = await mkdtemp(join(tmpdir(), 'ts-tensors-resume-'))
    const model = await copyHumanModel('blazepose-heavy', join(work, 'model'))
    const root = (await runCliJson(['--repo', join(work, 'seed'), 'add', model])).root
    const seeder = await serve(join(work, 'seed'))
    try {
      const repo = join(work, 'leech')
      const out = join(work, 'out')
      const args = ['--repo', repo, 'get', root, '-o', out, '--peer', addrOf(seeder.ready, 'tcp'), '--tensors', '*']
      const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' })
      const exited = new Promise(resolve => child.once('exit', resolve))
      // some blocks committed (durable) first
      await waitForCommittedBlocks(child, repo, 5)
      child.kill('SIGKILL')
      await exited
      const storedBefore = await storedBlocks(repo)
      const summary = await runCliJson(args)
      const storedAfter = await storedBlocks(repo)
      assert.equal(summary.protocol, 'graphsync')
      assert.ok(storedBefore >= 5 && storedBefore < storedAfter, `interrupted mid-fetch (${storedBefore} of ${storedAfter} blocks)`)
      assert.equal(summary.blocks, storedAfter - storedBefore, 'every block received was new: none sent twice')
      assert.ok(summary.blocksLocal >= storedBefore, `${summary.blocksLocal} read locally`)
      const src = await sourceTensors(model).catch(() => undefined)
      const index = JSON.parse(await readFile(join(out, 'tensors.json'), 'utf8')) as TensorsJson
      assert.equal(index.tensors.length, JSON.parse(await readFile(join(model, 'model.json'), 'utf8')).weightsManifest.flatMap((g: any) => g.weights).length)
      if (src != null) {
        for (const t of index.tensors) assert.ok(Buffer.from(await readFile(join(out, t.file))).equals(src.get(t.name)?.bytes as Buffer), t.name)
      }
    } finally {
      await seeder.stop()
      await rm(work, { recursive: true, force: true })
    }
  })
})

describe('get --tensors from a hostile GraphSync responder process', () => {
  for (const [mode, errorName] of [['unreached', 'TraversalMismatchError'], ['corrupt', 'BlockHashMismatchError']] as const) {
    it(`${mode} block: fails with ${errorName}, stores nothing unverified, writes no tensor`, async () => {
      const work = await mkdtemp(join(tmpdir(), `ts-tensors-hostile-${mode}-`))
      const model = await copyHumanModel('emotion', join(work, 'model'))
      const child = spawn(process.execPath, [HOSTILE, model, mode], { stdio: ['pipe', 'pipe', 'pipe'] })
      try {
        const ready = await waitLine(child, line => JSON.parse(line) as { addrs: string[], root: string, junk: string })
        const peer = `${ready.addrs[0]}`
        const repo = join(work, 'leech')
        const out = join(work, 'out')
        const r = await runCli(['--repo', repo, 'get', ready.root, '-o', out, '--peer', peer, '--tensors', '*'])
        assert.equal(r.code, 1, r.stderr)
        assert.match(r.stderr, new RegExp(`tensorswap: ${errorName}: `))
        assert.deepEqual((await readdir(out).catch(() => [] as string[])).filter(f => f.endsWith('.bin')), [], 'no tensor written')
        assert.equal(await storedBlocks(repo), 1, 'only the (verified) manifest is stored')
      } finally {
        await stopChild(child, 'stdin')
        await rm(work, { recursive: true, force: true })
      }
    })
  }
})

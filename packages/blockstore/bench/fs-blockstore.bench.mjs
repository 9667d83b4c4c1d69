// Put/get throughput of 1 MiB blocks: our FsBlockstore vs blockstore-fs (optional).
// Usage (from /work/main, after `npx tsc -b packages/blockstore`):
//   node packages/blockstore/bench/fs-blockstore.bench.mjs
//   BLOCKSTORE_FS=/path/to/node_modules/blockstore-fs/dist/src/index.js node packages/blockstore/bench/fs-blockstore.bench.mjs
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { FsBlockstore, getBlock, hashBlock } from '../dist/src/index.js'

const N = Number(process.env.BLOCKS ?? 128)
const SIZE = 1 << 20
const blocks = Array.from({ length: N }, () => new Uint8Array(randomBytes(SIZE)))
const cids = blocks.map(b => hashBlock(b))

async function run (name, make) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bs-bench-'))
  const store = make(dir)
  await store.open()
  let t = performance.now()
  for (let i = 0; i < N; i++) await store.put(cids[i], blocks[i])
  const putSeq = performance.now() - t
  t = performance.now()
  for (let i = 0; i < N; i++) await store.put(cids[i], blocks[i])
  const putExisting = performance.now() - t
  t = performance.now()
  for (let i = 0; i < N; i++) await getBlock(store, cids[i])
  const get = performance.now() - t
  await fs.rm(dir, { recursive: true, force: true })
  const mbps = ms => ((N * SIZE) / (1 << 20) / (ms / 1000)).toFixed(0)
  console.log(`${name.padEnd(34)} put ${mbps(putSeq).padStart(5)} MiB/s   re-put ${(putExisting / N).toFixed(3)} ms/block   get ${mbps(get).padStart(5)} MiB/s`)
}

await run('FsBlockstore (fsync)', d => new FsBlockstore(d))
await run('FsBlockstore (no fsync)', d => new FsBlockstore(d, { fsync: false }))
await run('FsBlockstore (verifyOnRead)', d => new FsBlockstore(d, { verifyOnRead: true }))
if (process.env.BLOCKSTORE_FS != null) {
  const { FsBlockstore: Upstream } = await import(pathToFileURL(process.env.BLOCKSTORE_FS).href)
  await run('blockstore-fs 4.0.1 (no fsync)', d => new Upstream(d))
}

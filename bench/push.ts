/**
 * One-off measurement of push (spec/tensorswap.md §8), not part of `npm run bench`:
 * `node dist-bench/bench/push.js`. A receiver runs as `tensorswap serve --accept-push any` in its
 * own process on loopback TCP; the pusher is an in-process node. A safetensors checkpoint of 20
 * tensors x 512 KiB (10 MiB, real weights) is pushed; then 2 tensors (10% of the bytes) are
 * replaced and the new checkpoint pushed. Prints the round trip of each push (call to the
 * receiver's answer that it holds the DAG, ms) and the bytes moved / DAG size of the second.
 *
 * @module
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createTensorSwap } from 'tensorswap'
import { realShapedData } from './lib/data.js'

const BIN = fileURLToPath(new URL('../../packages/cli/dist/src/bin.js', import.meta.url))
const TENSORS = 20
const TENSOR_BYTES = 512 * 1024

async function safetensors (path: string, tensors: Uint8Array[]): Promise<void> {
  const header: Record<string, unknown> = {}
  let at = 0
  tensors.forEach((t, i) => { header[`model.layers.${i}.weight`] = { dtype: 'F32', shape: [t.byteLength / 4], data_offsets: [at, at + t.byteLength] }; at += t.byteLength })
  let json = JSON.stringify(header)
  json += ' '.repeat((8 - (json.length % 8)) % 8)
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length))
  await writeFile(path, Buffer.concat([len, Buffer.from(json), ...tensors]))
}

const work = await mkdtemp(join(tmpdir(), 'ts-bench-push-'))
const child = spawn(process.execPath, [BIN, '--repo', join(work, 'receiver'), 'serve', '--listen', '/ip4/127.0.0.1/tcp/0', '--accept-push', 'any'], { stdio: ['ignore', 'pipe', 'inherit'] })
const addr = await new Promise<string>((resolve) => {
  createInterface({ input: child.stdout }).on('line', (l) => { if (l.startsWith('listening ')) resolve(l.slice(10)) })
})
const node = await createTensorSwap({ repo: join(work, 'pusher'), listen: [] })
try {
  await node.start()
  const chunks: Uint8Array[] = []
  for await (const c of realShapedData((TENSORS + 2) * TENSOR_BYTES, TENSOR_BYTES)) chunks.push(c)
  const a = chunks.slice(0, TENSORS)
  await safetensors(join(work, 'a.safetensors'), a)
  const b = a.map((t, i) => i === 3 ? chunks[TENSORS] : i === 11 ? chunks[TENSORS + 1] : t)
  await safetensors(join(work, 'b.safetensors'), b)
  const ra = await node.add(join(work, 'a.safetensors'))
  const rb = await node.add(join(work, 'b.safetensors'))
  const first = await node.push(ra.root, { peer: addr })
  const second = await node.push(rb.root, { peer: addr })
  const line = (name: string, r: typeof first): string =>
    `${name}: DAG ${r.announced.bytes} bytes in ${r.announced.blocks} blocks; moved ${r.bytes} bytes in ${r.blocks} blocks (${(100 * r.bytes / r.announced.bytes).toFixed(1)}%), ${r.blocksAlreadyThere} already there; round trip ${(r.seconds * 1000).toFixed(0)} ms (receiver ${(r.receiverSeconds * 1000).toFixed(0)} ms)`
  process.stdout.write(line('checkpoint A', first) + '\n' + line('checkpoint B (2 of 20 tensors changed)', second) + '\n')
} finally {
  await node.stop()
  child.kill('SIGTERM')
  await new Promise(resolve => child.once('exit', resolve))
  await rm(work, { recursive: true, force: true })
}

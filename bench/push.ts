/**
 * One-off measurement of push (spec/tensorswap.md §8), not part of `npm run bench`:
 *
 *   flock /tmp/heavy.lock node dist-bench/bench/push.js [--rounds 8] [--receiver-prof DIR]
 *
 * (`--receiver-prof DIR`: the receiver runs with `--cpu-prof`, its profile written to DIR at exit.)
 *
 * A receiver runs as `tensorswap serve --accept-push any` in its own process on loopback TCP;
 * the pusher is an in-process node (a training loop's node). Each round is a new "gradient": a
 * safetensors file of 40 tensors x 256 KiB of real F32 weights (10 MiB), every leaf changed
 * (one byte in 4096 flipped by the round number), added, then pushed to the same receiver. The
 * first push is cold (first dial), the others warm (the connection stays up, as when a training
 * loop pushes to the same peer every step). Before each push the raw transfer of the same bytes
 * over one fresh TCP connection between two processes is measured (connect to the last byte
 * read), so every ratio is of the same run. Prints per round: round trip (call to the
 * receiver's answer that it holds the DAG, ms), its phases (the pusher's count of the DAG, the
 * dial and stream open, the wait for the answer; the receiver's fetch as it reports it), the
 * raw TCP ms and the ratio; then the cold ratio and the median warm ratio.
 *
 * @module
 */
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createTensorSwap } from 'tensorswap'
import { realTensors, writeTensorsSafetensors } from '../test/helpers/model.js'

const BIN = fileURLToPath(new URL('../../packages/cli/bin/tensorswap.js', import.meta.url))
const TENSORS = 40
const TENSOR_BYTES = 256 * 1024

/** Raw transfer of `bytes` over one fresh loopback TCP connection between two processes (ms from connect to the last byte read). */
async function rawTcp (bytes: number): Promise<number> {
  const port = 30_000 + Math.floor(Math.random() * 20_000)
  const recv = spawn(process.execPath, ['-e', `const n=${bytes};let got=0,t0;require('net').createServer(s=>{t0=performance.now();s.on('data',d=>{got+=d.length;if(got>=n){process.stdout.write(String(performance.now()-t0));process.exit(0)}})}).listen(${port},'127.0.0.1',()=>console.error('up'))`], { stdio: ['ignore', 'pipe', 'pipe'] })
  await new Promise<void>(resolve => { recv.stderr.once('data', () => { resolve() }) })
  let out = ''
  recv.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  const done = new Promise(resolve => recv.once('exit', resolve))
  const send = spawn(process.execPath, ['-e', `const s=require('net').connect(${port},'127.0.0.1',()=>{const b=Buffer.alloc(1<<20,7);let left=${bytes};const w=()=>{while(left>0){const n=Math.min(left,b.length);left-=n;if(!s.write(b.subarray(0,n))){s.once('drain',w);return}}s.end()};w()})`], { stdio: 'ignore' })
  await Promise.all([done, new Promise(resolve => send.once('exit', resolve))])
  return Number(out)
}

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '8' }, 'receiver-prof': { type: 'string' } } })
const rounds = Number(values.rounds)
const work = await mkdtemp(join(tmpdir(), 'ts-bench-push-'))
const prof = values['receiver-prof'] == null ? [] : ['--cpu-prof', '--cpu-prof-dir', values['receiver-prof']]
const child = spawn(process.execPath, [...prof, BIN, '--repo', join(work, 'receiver'), 'serve', '--listen', '/ip4/127.0.0.1/tcp/0', '--accept-push', 'any'], { stdio: ['ignore', 'pipe', 'inherit'] })
const addr = await new Promise<string>((resolve) => {
  createInterface({ input: child.stdout }).on('line', (l) => { if (l.startsWith('listening ')) resolve(l.slice(10)) })
})
const node = await createTensorSwap({ repo: join(work, 'pusher'), listen: [] })
try {
  await node.start()
  const base = (await realTensors('F32', TENSORS * TENSOR_BYTES + 1, 0)).map(t => t.bytes)
  const flat = Buffer.concat(base).subarray(0, TENSORS * TENSOR_BYTES)
  const roots = []
  let size = 0
  for (let r = 0; r < rounds; r++) {
    const step = Buffer.from(flat)
    for (let i = 0; i < step.length; i += 4096) step[i] ^= (r + 1)
    const dir = join(work, `g${r}`)
    await mkdir(dir)
    size = await writeTensorsSafetensors(join(dir, 'grads.safetensors'), 'F32', Array.from({ length: TENSORS }, (_, i) => ({ name: `grad.${i}`, bytes: step.subarray(i * TENSOR_BYTES, (i + 1) * TENSOR_BYTES) })))
    roots.push((await node.add(dir)).root)
  }
  const ratios: number[] = []
  const trips: number[] = []
  const raws: number[] = []
  for (let r = 0; r < rounds; r++) {
    const raw = await rawTcp(size)
    const t0 = performance.now()
    let announced = 0
    const res = await node.push(roots[r], {
      peer: addr,
      onProgress: (e) => { if (e.type === 'tensorswap:push:announced') announced = performance.now() }
    })
    const ms = performance.now() - t0
    const ratio = ms / raw
    ratios.push(ratio)
    trips.push(ms)
    raws.push(raw)
    const fetchMs = res.receiverSeconds * 1000
    process.stdout.write(`${r === 0 ? 'cold' : 'warm'} ${r}: ${res.bytes} bytes in ${res.blocks} blocks (${res.blocksAlreadyThere} there); round trip ${ms.toFixed(0)} ms = count ${(announced - t0).toFixed(0)} + dial, request and answer ${(t0 + ms - announced).toFixed(0)} (receiver's fetch ${fetchMs.toFixed(0)}); raw TCP ${raw.toFixed(0)} ms; round trip / raw ${ratio.toFixed(2)}\n`)
  }
  process.stdout.write(`\nDAG ${size} bytes file; cold round trip / raw ${ratios[0].toFixed(2)}; warm: median round trip ${median(trips.slice(1)).toFixed(0)} ms / median raw TCP ${median(raws).toFixed(0)} ms = ${(median(trips.slice(1)) / median(raws)).toFixed(2)} (median of the per-round ratios ${median(ratios.slice(1)).toFixed(2)})\n`)
} finally {
  await node.stop()
  child.kill('SIGTERM')
  await new Promise(resolve => child.once('exit', resolve))
  await rm(work, { recursive: true, force: true })
}

/**
 * One-off measurement of push (spec/tensorswap.md §8), not part of `npm run bench`:
 *
 *   flock /tmp/heavy.lock node dist-bench/bench/push.js [--rounds 8] [--receiver-prof DIR]
 *
 * (`--receiver-prof DIR`: the receiver runs with `--cpu-prof`, its profile written to DIR at exit.)
 *
 * A receiver runs as `tensorswap serve --accept-push any` in its own process on loopback TCP;
 * the pusher is an in-process node (a training loop's node, its GC tuned as the CLI's: without
 * `tuneGcForBulkTransfer` it spent a fifth of each warm push in mark-compacts). Each round is a
 * new "gradient": a safetensors file of 40 tensors x 256 KiB of real F32 weights (10 MiB),
 * every leaf changed (one byte in 4096 flipped by the round number), added, then pushed to the
 * same receiver. The first push is cold (first dial), the others warm (the connection stays up,
 * as when a training loop pushes to the same peer every step). Before each push the raw
 * transfer of the same bytes between two processes over one fresh loopback connection is
 * measured twice, by the roles of
 * bench/cases/raw-tcp.ts: plain TCP, and Node TLS 1.3 (the bulk lane's channel); each from the
 * request on the open connection to the last byte read (the TLS handshake is reported apart and
 * counted in the cold push's TLS ratio only: a warm push's lane is up), so every ratio is of
 * the same run. Prints per round: round trip (call to the receiver's answer that it holds the
 * DAG, ms), its phases (the pusher's count of the DAG, the dial and stream open, the wait for
 * the answer; the receiver's fetch as it reports it), the raw TCP and TLS ms and the ratios;
 * then the cold ratios and the median warm ones.
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
import { createTensorSwap, tuneGcForBulkTransfer } from 'tensorswap'
import { realTensors, writeTensorsSafetensors } from '../test/helpers/model.js'

const BIN = fileURLToPath(new URL('../../packages/cli/bin/tensorswap.js', import.meta.url))
const TENSORS = 40
const TENSOR_BYTES = 256 * 1024

const RAW_CASE = fileURLToPath(new URL('./cases/raw-tcp.js', import.meta.url))

/**
 * Raw transfer of `bytes` between two processes over one fresh loopback connection, by the roles
 * of bench/cases/raw-tcp.ts: plain Node TCP, or (`tls`) Node TLS 1.3 with libp2p certificates,
 * the bulk lane's secure channel. Returns, in ms as the leecher measures them, `connectMs` (TCP
 * connect, and for TLS the handshake) and `transferMs` (request written to the last byte read).
 */
async function rawTransfer (bytes: number, tls: boolean): Promise<{ connectMs: number, transferMs: number }> {
  const params = JSON.stringify({ sizeBytes: bytes, tls, preload: true })
  const role = (args: string[]): { child: ReturnType<typeof spawn>, lines: AsyncIterableIterator<string>, exited: Promise<unknown> } => {
    const child = spawn(process.execPath, [RAW_CASE, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
    const exited = new Promise(resolve => child.once('exit', resolve))
    return { child, lines: createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator](), exited }
  }
  const next = async (r: ReturnType<typeof role>, event: string): Promise<any> => {
    for (let l = await r.lines.next(); l.done !== true; l = await r.lines.next()) {
      const evt = JSON.parse(l.value)
      if (evt.event === event) return evt
    }
    throw new Error(`raw-tcp ${event} line missing`)
  }
  const seeder = role(['seeder', params])
  try {
    const ready = await next(seeder, 'ready')
    const leecher = role(['leecher', params, JSON.stringify(ready)])
    const result = await next(leecher, 'result')
    await leecher.exited
    if (result.bytes !== bytes) throw new Error(`raw-tcp leecher got ${result.bytes as number} bytes, expected ${bytes}`)
    return { connectMs: result.connectMs, transferMs: result.elapsedMs }
  } finally {
    seeder.child.stdin?.end('stop\n')
    await seeder.exited
  }
}

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '8' }, 'receiver-prof': { type: 'string' } } })
const rounds = Number(values.rounds)
tuneGcForBulkTransfer()
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
  const tlsRatios: number[] = []
  const trips: number[] = []
  const raws: number[] = []
  const tlss: number[] = []
  let coldTls = 0
  for (let r = 0; r < rounds; r++) {
    const raw = (await rawTransfer(size, false)).transferMs
    const tlsRun = await rawTransfer(size, true)
    const tls = tlsRun.transferMs
    const t0 = performance.now()
    let announced = 0
    const res = await node.push(roots[r], {
      peer: addr,
      onProgress: (e) => { if (e.type === 'tensorswap:push:announced') announced = performance.now() }
    })
    const ms = performance.now() - t0
    // cold: against TLS with its handshake (the push dials too); warm: the lane is up already
    const tlsRef = r === 0 ? tlsRun.connectMs + tls : tls
    if (r === 0) coldTls = tlsRef
    ratios.push(ms / raw)
    tlsRatios.push(ms / tlsRef)
    trips.push(ms)
    raws.push(raw)
    tlss.push(tls)
    const fetchMs = res.receiverSeconds * 1000
    process.stdout.write(`${r === 0 ? 'cold' : 'warm'} ${r}: ${res.bytes} bytes in ${res.blocks} blocks (${res.blocksAlreadyThere} there); round trip ${ms.toFixed(0)} ms = count ${(announced - t0).toFixed(0)} + dial, request and answer ${(t0 + ms - announced).toFixed(0)} (receiver's fetch ${fetchMs.toFixed(0)}); raw TCP ${raw.toFixed(0)} ms, raw TLS ${tls.toFixed(0)} ms (+ ${tlsRun.connectMs.toFixed(0)} ms connect and handshake); round trip / raw TCP ${(ms / raw).toFixed(2)}, / raw TLS ${(ms / tlsRef).toFixed(2)}${r === 0 ? ' (with its handshake)' : ''}\n`)
  }
  const warm = trips.slice(1)
  process.stdout.write(`\nDAG ${size} bytes file; cold round trip / raw TCP ${ratios[0].toFixed(2)}, / raw TLS with handshake (${coldTls.toFixed(0)} ms) ${tlsRatios[0].toFixed(2)}\n`)
  if (warm.length > 0) {
    process.stdout.write(`warm: median round trip ${median(warm).toFixed(0)} ms; median raw TCP ${median(raws).toFixed(0)} ms (ratio ${(median(warm) / median(raws)).toFixed(2)}, median of the per-round ratios ${median(ratios.slice(1)).toFixed(2)}); median raw TLS ${median(tlss).toFixed(0)} ms (ratio ${(median(warm) / median(tlss)).toFixed(2)}, median of the per-round ratios ${median(tlsRatios.slice(1)).toFixed(2)})\n`)
  }
} finally {
  await node.stop()
  child.kill('SIGTERM')
  await new Promise(resolve => child.once('exit', resolve))
  await rm(work, { recursive: true, force: true })
}

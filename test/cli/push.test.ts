/**
 * `tensorswap push` and `tensorswap diff` (spec/tensorswap.md §8 "Push"): between `serve`
 * processes, with a safetensors checkpoint cut from real weights (the human-models shards).
 *
 * - a receiver with `--accept-push any` ends with the whole DAG (`verify` exits 0);
 * - a receiver without `--accept-push` refuses: exit 1, its reason printed;
 * - a checkpoint with 2 of its 20 tensors replaced moves at most 15% of its bytes on the
 *   second push, and `diff` names exactly those 2 tensors;
 * - a pusher without listen addresses (in-process) opens the bulk lane to the receiver itself
 *   during its first push, and its next push travels on that lane;
 * - a request that is not DAG-CBOR, one announcing an absurd size, one from a peer not allowed
 *   are refused with a reason, the pusher penalised (`peers` shows its score), nothing stored,
 *   and the receiver keeps serving.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { createLibp2pNode, encodeVarint, readFrames } from 'tensorswap/transport'
import { PUSH_PROTOCOL, createTensorSwap, decodePushResponse, type PushResponse } from 'tensorswap'
import { multiaddr } from '@multiformats/multiaddr'
import { runCli, runCliJson } from '../helpers/cli.js'
import { writeRealWeightsFile } from '../helpers/model.js'
import { storeBytes } from '../helpers/store.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'

const TENSORS = 20
const TENSOR_BYTES = 512 * 1024

/**
 * Write a safetensors file of `tensors` (F32, 1-D), in the given order: the 8-byte LE header
 * length, the JSON header (padded with spaces to 8 bytes), the data.
 */
async function writeSafetensors (path: string, tensors: Array<{ name: string, data: Uint8Array }>): Promise<void> {
  const header: Record<string, unknown> = {}
  let at = 0
  for (const t of tensors) {
    header[t.name] = { dtype: 'F32', shape: [t.data.byteLength / 4], data_offsets: [at, at + t.data.byteLength] }
    at += t.data.byteLength
  }
  let json = JSON.stringify(header)
  json += ' '.repeat((8 - (json.length % 8)) % 8)
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length))
  await writeFile(path, Buffer.concat([len, Buffer.from(json), ...tensors.map(t => t.data)]))
}

/** Send one raw frame on the push protocol and read the answer (undefined when the stream ends without one). */
async function rawPush (libp2p: Pick<Awaited<ReturnType<typeof createLibp2pNode>>, 'dialProtocol'>, addr: string, body: Uint8Array): Promise<PushResponse | undefined> {
  const stream = await libp2p.dialProtocol(multiaddr(addr), PUSH_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
  stream.send(encodeVarint(body.byteLength))
  stream.send(body)
  try {
    for await (const f of readFrames(stream, { signal: AbortSignal.timeout(20_000) })) return decodePushResponse(f.subarray())
    return undefined
  } finally {
    await stream.close().catch(() => {})
  }
}

describe('tensorswap push', () => {
  let work: string
  let weights: Buffer
  let tensors: Array<{ name: string, data: Uint8Array }>
  let receiver: Running<ServeReady>
  let refuser: Running<ServeReady>
  const pusherRepo = (): string => join(work, 'pusher')
  const receiverRepo = (): string => join(work, 'receiver')

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-push-'))
    await mkdir(join(work, 'ckpt'))
    // real weights, enough for the checkpoint and the replacement tensors
    const { readFile } = await import('node:fs/promises')
    weights = await readFile(await writeRealWeightsFile(join(work, 'weights.bin'), (TENSORS + 4) * TENSOR_BYTES))
    tensors = Array.from({ length: TENSORS }, (_, i) => ({ name: `model.layers.${i}.weight`, data: weights.subarray(i * TENSOR_BYTES, (i + 1) * TENSOR_BYTES) }))
    receiver = await startServe(receiverRepo(), undefined, ['--accept-push', 'any'])
    refuser = await startServe(join(work, 'refuser'))
  })
  after(async () => {
    await receiver?.stop()
    await refuser?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('pushes a checkpoint, then moves only the changed tensors of the next one; diff names them', async () => {
    const a = join(work, 'ckpt', 'a.safetensors')
    await writeSafetensors(a, tensors)
    const rootA = (await runCliJson(['--repo', pusherRepo(), 'add', a])).root
    const first = await runCliJson(['--repo', pusherRepo(), 'push', rootA, '--peer', addrOf(receiver.ready, 'tcp')])
    assert.equal(first.cid, rootA)
    assert.equal(first.peer, receiver.ready.peerId)
    assert.ok(first.bytes >= TENSORS * TENSOR_BYTES, `first push moved ${first.bytes} bytes`)
    assert.ok(first.blocks >= TENSORS + 2)
    assert.equal(first.blocksAlreadyThere, 0)
    assert.equal(typeof first.seconds, 'number')
    // the receiver holds the whole DAG: verify exits 0 (the serve process holds its repo lock,
    // so it is checked after the receiver stops, below)

    // checkpoint B: tensors 3 and 11 replaced by other real weights (2 of 20 = 10% of the bytes)
    const changed = [3, 11]
    const next = tensors.map((t, i) => changed.includes(i) ? { name: t.name, data: weights.subarray((TENSORS + changed.indexOf(i)) * TENSOR_BYTES, (TENSORS + changed.indexOf(i) + 1) * TENSOR_BYTES) } : t)
    const b = join(work, 'ckpt', 'b.safetensors')
    await writeSafetensors(b, next)
    const added = await runCliJson(['--repo', pusherRepo(), 'add', b])
    const rootB = added.root
    const dagBytes = first.bytes
    const second = await runCliJson(['--repo', pusherRepo(), 'push', rootB, '--peer', addrOf(receiver.ready, 'quic')])
    assert.ok(second.bytes <= 0.15 * dagBytes, `second push moved ${second.bytes} of ${dagBytes} bytes`)
    assert.ok(second.bytes >= changed.length * TENSOR_BYTES, `the changed tensors moved (${second.bytes} bytes)`)
    assert.ok(second.blocksAlreadyThere >= TENSORS - changed.length)

    const d = await runCliJson(['--repo', pusherRepo(), 'diff', rootA, rootB])
    assert.deepEqual(d.changed, changed.map(i => ({ name: `model.layers.${i}.weight`, bytes: TENSOR_BYTES })))
    assert.deepEqual(d.added, [])
    assert.deepEqual(d.removed, [])
    assert.equal(d.unchanged, TENSORS - changed.length)
    assert.equal(d.newChunkBytes, changed.length * TENSOR_BYTES)
    assert.equal(d.totalBytes, TENSORS * TENSOR_BYTES)
    const text = await runCli(['--repo', pusherRepo(), 'diff', rootA, rootB])
    assert.equal(text.code, 0)
    assert.match(text.stdout, /~ model\.layers\.3\.weight/)

    // the receiver holds both checkpoints whole
    assert.equal(await receiver.stop(), 0)
    const v = await runCli(['--repo', receiverRepo(), 'verify', rootA, rootB, '--json'])
    assert.equal(v.code, 0, v.stderr)
    assert.equal(JSON.parse(v.stdout).missing, 0)
    receiver = await startServe(receiverRepo(), undefined, ['--accept-push', 'any'])
  })

  it('a receiver without --accept-push refuses: exit 1, reason printed', async () => {
    const rootA = (await runCliJson(['--repo', pusherRepo(), 'add', join(work, 'ckpt', 'a.safetensors')])).root
    const r = await runCli(['--repo', pusherRepo(), 'push', rootA, '--peer', addrOf(refuser.ready, 'tcp')])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /PushRefusedError: push refused: pushes from this peer are not accepted/)
    assert.equal(r.stdout, '')
    const usage = await runCli(['--repo', join(work, 'unused'), 'serve', '--accept-push', 'not-a-peer'])
    assert.equal(usage.code, 2)
    assert.match(usage.stderr, /UsageError: --accept-push "not-a-peer" is not a peer id or 'any'/)
  })

  it('aborts and refuses a push whose DAG is larger than announced', async () => {
    const c = join(work, 'ckpt', 'c.safetensors')
    await writeSafetensors(c, [0, 1].map(i => ({ name: `c.${i}`, data: weights.subarray((TENSORS + 2 + i) * TENSOR_BYTES, (TENSORS + 3 + i) * TENSOR_BYTES) })))
    // an in-process pusher that understates the size (the receiver fetches from its exchange)
    const node = await createTensorSwap({ repo: join(work, 'liar'), listen: [] })
    try {
      await node.start()
      const { root } = await node.add(c)
      const answer = await rawPush(node.libp2p, addrOf(receiver.ready, 'tcp'), dagCbor.encode({ root, bytes: 1000, blocks: 2 }))
      assert.deepEqual(answer, { ok: false, reason: 'the DAG is larger than the 1000 bytes announced' })
      const peers = await runCliJson(['--repo', receiverRepo(), 'peers'])
      const score = peers.peers.find((p: { peerId: string }) => p.peerId === node.libp2p.peerId.toString())?.penaltyScore ?? 0
      assert.ok(score > 45 && score <= 50, `a false size is penalised as malformed: ${score}`)
      // told the truth, the same push goes through
      const r = await node.push(root, { peer: addrOf(receiver.ready, 'tcp') })
      assert.equal(r.announced.bytes >= 2 * TENSOR_BYTES, true)
      assert.ok(r.blocks + r.blocksAlreadyThere === r.announced.blocks, JSON.stringify(r))
    } finally {
      await node.stop()
    }
  })

  it('a pusher without listen addresses opens the bulk lane itself: the next push travels on it', async () => {
    // the receiver cannot open a lane to a node that accepts none: the pusher opens it
    // (spec/tensorswap.md §7); the bytes it sends are counted per protocol by its exchange
    const node = await createTensorSwap({ repo: join(work, 'lane-pusher'), listen: [] })
    const sent = (): { lane: number, stream: number } => {
      const wire = node.exchange.stats().wire[receiver.ready.peerId] ?? {}
      return { lane: wire['/tensorswap/bulk/1.0.0']?.bytesSent ?? 0, stream: wire['/tensorswap/1.0.0']?.bytesSent ?? 0 }
    }
    try {
      await node.start()
      const pushed: number[] = []
      const counts: Array<{ lane: number, stream: number }> = []
      for (const flip of [0x5a, 0xa5]) {
        // 8 tensors not pushed before: real weights with one byte in 4096 flipped
        const c = join(work, 'ckpt', `lane-${flip}.safetensors`)
        await writeSafetensors(c, tensors.slice(0, 8).map(t => ({ name: t.name, data: Buffer.from(t.data).map((x, j) => j % 4096 === 0 ? x ^ flip : x) })))
        const { root } = await node.add(c)
        const r = await node.push(root, { peer: addrOf(receiver.ready, 'tcp') })
        assert.ok(r.bytes >= 8 * TENSOR_BYTES, JSON.stringify(r))
        pushed.push(r.bytes)
        // the exchange counts a batch once its write has drained, which can be after the receiver
        // read it and answered the push: wait (at most 2 s) until what was pushed is counted
        const before = counts.at(-1) ?? { lane: 0, stream: 0 }
        const counted = (): number => sent().lane + sent().stream - before.lane - before.stream
        for (const deadline = Date.now() + 2000; counted() < r.bytes && Date.now() < deadline;) await new Promise(resolve => setTimeout(resolve, 20))
        counts.push(sent())
      }
      assert.ok(counts[0].lane > 0, `the first push opened the lane: ${JSON.stringify(counts[0])}`)
      // what the second push sent is on the lane, none of it on the stream. Its last batch can be
      // counted late (in 2 CI runs 3.1 of 4.2 MB were counted 2 s after the answer; unexplained),
      // so the lane's share is asserted of what was counted, and at least half was
      const second = counts[1].lane - counts[0].lane
      const onStream = counts[1].stream - counts[0].stream
      const why = `the second push sent ${second} bytes on the lane, ${onStream} on the stream, of ${pushed[1]}`
      assert.ok(onStream <= 0.05 * pushed[1], why)
      assert.ok(second >= 0.5 * pushed[1], why)
    } finally {
      await node.stop()
    }
  })

  it('refuses bad requests with a reason and keeps serving', async () => {
    const libp2p = await createLibp2pNode({ listen: [], transports: ['tcp'] })
    try {
      const addr = addrOf(receiver.ready, 'tcp')
      const notCbor = await rawPush(libp2p, addr, new TextEncoder().encode('{"root":"bafy"}'))
      assert.equal(notCbor?.ok, false)
      assert.match((notCbor as { reason: string }).reason, /not DAG-CBOR/)

      // a checkpoint neither node holds: a refused push must store nothing of it
      const d = join(work, 'ckpt', 'd.safetensors')
      await writeSafetensors(d, [{ name: 'd.0', data: weights.subarray((TENSORS + 3) * TENSOR_BYTES, (TENSORS + 4) * TENSOR_BYTES) }])
      const root = CID.parse((await runCliJson(['--repo', pusherRepo(), 'add', d])).root)
      const before = { receiver: await storeBytes(receiverRepo()), refuser: await storeBytes(join(work, 'refuser')) }
      const absurd = await rawPush(libp2p, addr, dagCbor.encode({ root, bytes: 2 ** 50, blocks: 1 }))
      assert.deepEqual(absurd, { ok: false, reason: `announced DAG of ${2 ** 50} bytes exceeds the limit of ${64 * 2 ** 30} bytes` })

      const notAllowed = await rawPush(libp2p, addrOf(refuser.ready, 'tcp'), dagCbor.encode({ root, bytes: 1000, blocks: 1 }))
      assert.deepEqual(notAllowed, { ok: false, reason: 'pushes from this peer are not accepted' })

      // both penalised the pusher (receiver: malformed 50 + pushRefused 10; refuser: pushRefused 10), neither stored anything
      const score = async (repo: string): Promise<number> => {
        const peers = await runCliJson(['--repo', repo, 'peers'])
        return peers.peers.find((p: { peerId: string }) => p.peerId === libp2p.peerId.toString())?.penaltyScore ?? 0
      }
      const [onReceiver, onRefuser] = [await score(receiverRepo()), await score(join(work, 'refuser'))]
      assert.ok(onReceiver > 55 && onReceiver <= 60, `receiver's score of the pusher: ${onReceiver}`)
      assert.ok(onRefuser > 5 && onRefuser <= 10, `refuser's score of the pusher: ${onRefuser}`)
      assert.deepEqual({ receiver: await storeBytes(receiverRepo()), refuser: await storeBytes(join(work, 'refuser')) }, before)
    } finally {
      await libp2p.stop()
    }

    // a request frame over the 4 KiB cap: no answer, the stream is reset and the peer banned
    // (§5 oversized), so its next push gets no answer either
    const flooder = await createLibp2pNode({ listen: [], transports: ['tcp'] })
    try {
      const addr = addrOf(receiver.ready, 'tcp')
      const answer = async (body: Uint8Array): Promise<string> => await rawPush(flooder, addr, body).then(r => r == null ? 'ended' : `answered ${JSON.stringify(r)}`, (err: Error) => `failed ${err.name}`)
      assert.doesNotMatch(await answer(new Uint8Array(5000)), /^answered/)
      const root = CID.parse((await runCliJson(['--repo', pusherRepo(), 'add', join(work, 'ckpt', 'a.safetensors')])).root)
      assert.doesNotMatch(await answer(dagCbor.encode({ root, bytes: 1000, blocks: 1 })), /^answered/, 'banned')
    } finally {
      await flooder.stop()
    }
    // both still serve: a push from the real pusher goes through
    assert.equal(receiver.child.exitCode, null)
    assert.equal(refuser.child.exitCode, null)
    const rootA = (await runCliJson(['--repo', pusherRepo(), 'add', join(work, 'ckpt', 'a.safetensors')])).root
    const again = await runCliJson(['--repo', pusherRepo(), 'push', rootA, '--peer', addrOf(receiver.ready, 'tcp')])
    assert.equal(again.cid, rootA)
    assert.equal(again.bytes, 0, 'already there')
  })
})

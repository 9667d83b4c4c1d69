/**
 * The push driver over real libp2p nodes (loopback TCP), with a stand-in exchange whose fetch
 * the test releases: the pending cap holds across streams, a closed pusher stream aborts the
 * fetch, bad requests are penalised (`malformed`, `oversized`, `pushRefused`) and answered or reset.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { encodeVarint, readFrames } from '@tensorswap/transport'
import { createLibp2pNode } from '../../src/transport/node.js'
import { PenaltyBox, type Offence } from '../../src/penalties.js'
import { PUSH_PROTOCOL, PushService, decodePushResponse, encodePushRequest, type PushResponse } from '../../src/push/index.js'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { SessionResult } from '../../src/session-core.js'

const ROOT = CID.parse('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')

describe('PushService', () => {
  let receiver: Libp2p
  let pusher: Libp2p
  let service: PushService
  const offences: Offence[] = []
  const fetches: Array<{ release: (r: SessionResult) => void, signal: AbortSignal, peers: unknown[] }> = []

  before(async () => {
    receiver = await createLibp2pNode({ transports: ['tcp'], listen: ['/ip4/127.0.0.1/tcp/0'] })
    pusher = await createLibp2pNode({ transports: ['tcp'], listen: [] })
    const exchange = {
      penalties: new PenaltyBox(),
      penalize: (_peer: PeerId, offence: Offence) => { offences.push(offence); return false },
      fetch: async (_root: CID, o: { signal?: AbortSignal, peers?: unknown[] } = {}): Promise<SessionResult> => await new Promise((resolve, reject) => {
        fetches.push({ release: resolve, signal: o.signal as AbortSignal, peers: o.peers ?? [] })
        o.signal?.addEventListener('abort', () => { reject(o.signal?.reason) })
      })
    }
    service = new PushService({ libp2p: receiver, exchange: exchange as any }, { accept: 'any', maxPendingPerPeer: 2 })
    await service.start()
  })
  after(async () => {
    await service.stop()
    await pusher.stop()
    await receiver.stop()
  })

  async function open (): Promise<{ send: (body: Uint8Array) => void, answer: () => Promise<PushResponse | undefined>, close: () => void }> {
    const stream = await pusher.dialProtocol(receiver.getMultiaddrs()[0], PUSH_PROTOCOL)
    return {
      send: (body) => { stream.send(encodeVarint(body.byteLength)); stream.send(body) },
      answer: async () => {
        for await (const f of readFrames(stream, { signal: AbortSignal.timeout(10_000) })) return decodePushResponse(f.subarray())
        return undefined
      },
      close: () => { stream.abort(new Error('pusher went away')) }
    }
  }
  const waitFor = async (n: number): Promise<void> => { while (fetches.length < n) await new Promise(resolve => setTimeout(resolve, 5)) }

  it('fetches from the pusher and answers what moved; a third concurrent push is refused', async () => {
    const one = await open()
    one.send(encodePushRequest({ root: ROOT, bytes: 100, blocks: 2 }))
    const two = await open()
    two.send(encodePushRequest({ root: ROOT, bytes: 100, blocks: 2 }))
    await waitFor(2)
    assert.equal(String(fetches[0].peers[0]), pusher.peerId.toString(), 'fetched from the pusher')
    const three = await open()
    three.send(encodePushRequest({ root: ROOT, bytes: 100, blocks: 2 }))
    assert.deepEqual(await three.answer(), { ok: false, reason: 'too many pending pushes (2 of at most 2)' })
    fetches[0].release({ blocksFetched: 2, bytesFetched: 100, blocksLocal: 0, bytesLocalRead: 0 })
    const a = await one.answer()
    assert.equal(a?.ok, true)
    assert.deepEqual({ ...a, seconds: 0 }, { ok: true, blocks: 2, bytes: 100, blocksAlreadyThere: 0, seconds: 0 })
    // a pusher that goes away aborts its fetch, and frees its slot
    two.close()
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.equal(fetches[1].signal.aborted, true)
    assert.equal(service.policy.pending(pusher.peerId.toString()), 0)
  })

  it('penalises a request that does not decode (answered) and an oversized frame (reset)', async () => {
    offences.length = 0
    const bad = await open()
    bad.send(dagCbor.encode({ root: ROOT, bytes: 'many', blocks: 1 }))
    const r = await bad.answer()
    assert.equal(r?.ok, false)
    assert.match((r as { reason: string }).reason, /bytes many is not a non-negative safe integer/)
    const big = await open()
    big.send(new Uint8Array(5000))
    await assert.rejects(big.answer())
    assert.deepEqual(offences, ['malformed', 'oversized'])
  })

  it('penalises an announced DAG over the limit (answered, nothing fetched); a full queue is not penalised', async () => {
    offences.length = 0
    const fetched = fetches.length
    const absurd = await open()
    absurd.send(encodePushRequest({ root: ROOT, bytes: 2 ** 50, blocks: 1 }))
    assert.deepEqual(await absurd.answer(), { ok: false, reason: `announced DAG of ${2 ** 50} bytes exceeds the limit of ${64 * 2 ** 30} bytes` })
    assert.equal(fetches.length, fetched, 'no fetch started')
    assert.deepEqual(offences, ['pushRefused'])
  })
})

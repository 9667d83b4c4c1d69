/**
 * Responder limits: concurrent requests per peer (31 RequestFailedBusy past 100, another peer
 * unaffected) and responder memory (the allocator's bounds and back-pressure, and a real
 * GraphSyncNetwork whose requestor stops reading: queued response bytes stay under the per-peer
 * limit and the responses finish once it reads again).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { FsBlockstore } from '@tensorswap/blockstore'
import { FrameWriter, readFrames } from '@tensorswap/transport'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import {
  DEFAULT_MAX_MEMORY_PER_PEER_RESPONDER, DEFAULT_MAX_MEMORY_RESPONDER, DEFAULT_MAX_REQUESTS, DEFAULT_MAX_REQUESTS_PER_PEER, PROTOCOL_ID,
  GraphSyncNetwork, ResponderMemory, ResponseManager, RequestType, ResponseStatusCode, allSelector, decodeMessage, encodeMessage
} from '../src/index.js'
import { createTestNode, fileBytes } from './helpers.js'
import type { GraphSyncMessage, GraphSyncRequest } from '../src/index.js'
import type { Stream } from '@libp2p/interface'

describe('responder concurrent requests', () => {
  it(`by default a peer gets ${DEFAULT_MAX_REQUESTS_PER_PEER} requests in progress, the next is answered 31 (busy); another peer still starts`, async () => {
    assert.equal(DEFAULT_MAX_REQUESTS_PER_PEER, 100)
    assert.ok(DEFAULT_MAX_REQUESTS > DEFAULT_MAX_REQUESTS_PER_PEER)
    const root = CID.createV1(raw.code, await sha256.digest(new Uint8Array([1])))
    const mgr = new ResponseManager()
    const req = (n: number): GraphSyncRequest => ({ id: Uint8Array.from({ length: 16 }, (_, i) => i === 0 ? n & 0xff : i === 1 ? n >> 8 : 0), type: RequestType.New, root, selector: allSelector })
    const loader = async (): Promise<Uint8Array | undefined> => undefined
    for (let i = 0; i < DEFAULT_MAX_REQUESTS_PER_PEER; i++) assert.equal(mgr.receive('p1', req(i), loader).type, 'start')
    const busy = mgr.receive('p1', req(1000), loader)
    assert.ok(busy.type === 'reply')
    assert.equal(busy.message.responses[0].status, ResponseStatusCode.RequestFailedBusy)
    assert.equal(mgr.receive('p2', req(1001), loader).type, 'start')
    assert.equal(mgr.activeFor('p1'), DEFAULT_MAX_REQUESTS_PER_PEER)
    mgr.assertInvariants()
  })
})

describe('ResponderMemory', () => {
  it('defaults are go-graphsync\'s 256 MiB total and 16 MiB per peer', () => {
    const m = new ResponderMemory()
    assert.equal(m.maxTotal, DEFAULT_MAX_MEMORY_RESPONDER)
    assert.equal(m.maxPerPeer, DEFAULT_MAX_MEMORY_PER_PEER_RESPONDER)
    assert.equal(DEFAULT_MAX_MEMORY_RESPONDER, 256 << 20)
    assert.equal(DEFAULT_MAX_MEMORY_PER_PEER_RESPONDER, 16 << 20)
    assert.throws(() => new ResponderMemory({ maxMemoryPerPeerResponder: 0 }), { name: 'RangeError' })
  })

  it('an allocation over the per-peer limit waits for a release; other peers are not delayed; the total bounds all peers', async () => {
    const m = new ResponderMemory({ maxMemoryPerPeerResponder: 100, maxMemoryResponder: 150 })
    await m.allocate('a', 80)
    let granted = false
    const waiting = m.allocate('a', 30).then(() => { granted = true })
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(granted, false)
    assert.equal(m.waiting, 1)
    await m.allocate('b', 60) // fits b's limit and the total (140 <= 150)
    let bGranted = false
    const bWaits = m.allocate('b', 20).then(() => { bGranted = true }) // 160 > 150: the total limit
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(bGranted, false)
    m.release('a', 80)
    await waiting
    await bWaits
    assert.equal(m.allocatedTo('a'), 30)
    assert.equal(m.allocatedTo('b'), 80)
    assert.ok(m.peak <= 150)
    m.release('a', 30)
    m.release('b', 80)
    assert.equal(m.total, 0)
  })

  it('one allocation larger than a limit is granted when nothing is held (progress); an aborted wait holds nothing', async () => {
    const m = new ResponderMemory({ maxMemoryPerPeerResponder: 10, maxMemoryResponder: 10 })
    await m.allocate('a', 50)
    const ac = new AbortController()
    const p = m.allocate('b', 1, { signal: ac.signal })
    ac.abort(new Error('stop'))
    await assert.rejects(p, { message: 'stop' })
    assert.equal(m.waiting, 0)
    assert.equal(m.allocatedTo('b'), 0)
    m.release('a', 50)
    assert.equal(m.total, 0)
  })
})

describe('GraphSyncNetwork inbound streams', () => {
  it('passes maxInboundStreams to libp2p: a peer past it gets its stream refused', async () => {
    const a = await createTestNode()
    const b = await createTestNode()
    const gs = new GraphSyncNetwork({ libp2p: a, blockstore: new FsBlockstore(join(tmpdir(), 'ts-gs-unused'), { fsync: false }) }, { maxInboundStreams: 3 })
    await gs.start()
    try {
      const conn = await b.dial(a.getMultiaddrs())
      const open: Stream[] = []
      for (let i = 0; i < 3; i++) open.push(await conn.newStream(PROTOCOL_ID))
      // the fourth concurrent inbound stream is reset by a's registrar; a stream closed frees a slot
      const fourth = await conn.newStream(PROTOCOL_ID).then(async s => {
        await new Promise(resolve => setTimeout(resolve, 200))
        return s
      }).catch((err: Error) => err)
      assert.ok(fourth instanceof Error || fourth.status !== 'open', 'the fourth stream is refused')
      for (const s of open) await s.close()
      await new Promise(resolve => setTimeout(resolve, 200))
      const again = await conn.newStream(PROTOCOL_ID)
      await new Promise(resolve => setTimeout(resolve, 200))
      assert.equal(again.status, 'open')
      await again.close()
    } finally {
      await gs.stop()
      await a.stop()
      await b.stop()
    }
  })
})

describe('GraphSyncNetwork responder memory', () => {
  it('a requestor that stops reading makes the responder wait under maxMemoryPerPeerResponder; reading again completes every response', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ts-graphsync-mem-'))
    const a = await createTestNode()
    const b = await createTestNode()
    const blockstore = new FsBlockstore(join(dir, 'served'), { fsync: false })
    await blockstore.open()
    let root: CID | undefined
    for await (const e of importer([{ content: fileBytes() }], blockstore, { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: 256 * 1024 }) })) root = e.cid
    const perPeer = 1536 * 1024
    const gs = new GraphSyncNetwork({ libp2p: a, blockstore }, { maxMemoryPerPeerResponder: perPeer, flushBytes: 1024 * 1024 })
    await gs.start()
    // b: a bare GraphSync peer that collects the response streams a opens and does not read them yet
    const responseStreams: Stream[] = []
    await b.handle(PROTOCOL_ID, (stream) => { responseStreams.push(stream) })
    try {
      const ids = [1, 2, 3].map(n => Uint8Array.from({ length: 16 }, () => n))
      const out = await b.dialProtocol(a.getMultiaddrs(), PROTOCOL_ID)
      await new FrameWriter(out).write(encodeMessage({
        requests: ids.map(id => ({ id, type: RequestType.New, root: root as CID, selector: allSelector, priority: 0 })),
        responses: [],
        blocks: []
      }))
      let mem = gs.responderMemory
      // `waits` counts every allocation that had to wait: a wait between two polls is not missed
      for (let i = 0; i < 200 && mem.waits === 0; i++) {
        await new Promise(resolve => setTimeout(resolve, 25))
        mem = gs.responderMemory
      }
      assert.ok(mem.waits > 0, 'a response waits for responder memory')
      assert.ok(mem.total <= perPeer, `held ${mem.total} bytes, limit ${perPeer}`)
      // read every response stream to its end
      const done = new Map<string, number>()
      const readAll = async (s: Stream): Promise<void> => {
        for await (const frame of readFrames(s, { maxFrameBytes: 4 * 1024 * 1024 })) {
          const msg: GraphSyncMessage = decodeMessage(frame.subarray())
          for (const r of msg.responses) if (r.status !== ResponseStatusCode.PartialResponse) done.set(String(r.requestId[0]), r.status)
        }
      }
      const readers: Array<Promise<void>> = []
      const started = new Set<Stream>()
      for (let i = 0; i < 400 && done.size < 3; i++) {
        for (const s of responseStreams) if (!started.has(s)) { started.add(s); readers.push(readAll(s)) }
        await new Promise(resolve => setTimeout(resolve, 25))
      }
      await Promise.all(readers)
      assert.deepEqual([...done.entries()].sort(), [['1', 20], ['2', 20], ['3', 20]])
      assert.ok(gs.responderMemory.peak <= perPeer, `peak ${gs.responderMemory.peak} bytes, limit ${perPeer}`)
      assert.equal(gs.responderMemory.total, 0)
      await out.close()
    } finally {
      await gs.stop()
      await a.stop()
      await b.stop()
      await blockstore.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { MemoryBlockstore } from 'blockstore-core'
import { IdentityBlockstore } from 'blockstore-core/identity'
import { FsBlockstore } from '@tensorswap/blockstore'
import { MemoryDatastore } from 'datastore-core'
import { importBytes } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { Key } from 'interface-datastore'
import { BITSWAP_120, TENSORSWAP_100 } from '../src/constants.js'
import { createExchange } from '../src/exchange.js'
import { readBlock } from '../src/session.js'
import { defaultChildren } from '../src/tensors/manifest-children.js'
import { createLibp2pNode } from '../src/transport/node.js'
import { FrameWriter, readFrames } from '@tensorswap/transport'
import { decodeMessage, encodeMessage, encodePrefix } from '../src/wire/codec.js'
import { Message } from '../src/wire/bitswap.js'
import type { Exchange } from '../src/exchange.js'
import type { Libp2p } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { WantEntry } from '../src/wire/codec.js'

const TCP = { transports: ['tcp' as const], listen: ['/ip4/127.0.0.1/tcp/0'] }

/** Every CID of the DAG under `root` in `store`, DFS. */
async function dagCids (store: MemoryBlockstore, root: CID): Promise<CID[]> {
  const out: CID[] = []
  const stack = [root]
  while (stack.length > 0) {
    const cid = stack.pop() as CID
    out.push(cid)
    const children = defaultChildren(cid, await readBlock(store, cid)).map(c => c.cid)
    stack.push(...children.reverse())
  }
  return out
}

describe('exchange between two libp2p nodes over TCP', () => {
  let seederNode: Libp2p
  let leecherNode: Libp2p
  let seeder: Exchange
  let leecher: Exchange
  const seederStore = new MemoryBlockstore()
  const leecherStore = new MemoryBlockstore()
  const datastore = new MemoryDatastore()
  let root: CID
  let data: Uint8Array

  before(async () => {
    seederNode = await createLibp2pNode(TCP)
    leecherNode = await createLibp2pNode(TCP)
    // 3 MiB in 64 KiB raw leaves, 8 links per node: a three-level dag-pb tree of 57 blocks
    data = randomBytes(3 * 1024 * 1024)
    const result = await importBytes(data, seederStore, { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: 64 * 1024 }), layout: balanced({ maxChildrenPerNode: 8 }) })
    root = result.cid
    seeder = createExchange({ libp2p: seederNode, blockstore: seederStore })
    leecher = createExchange({ libp2p: leecherNode, blockstore: leecherStore, datastore }, { maxPeerBytesInFlight: 512 * 1024 })
    await seeder.start()
    await leecher.start()
  })

  after(async () => {
    await leecher?.stop()
    await seeder?.stop()
    await leecherNode?.stop()
    await seederNode?.stop()
  })

  it('fetches a multi-block UnixFS DAG, byte-exact, over /tensorswap/1.0.0', async () => {
    const cids = await dagCids(seederStore, root)
    assert.ok(cids.length > 50)
    // resume: the leecher already holds the first 10 leaves
    const leaves = cids.filter(c => c.code === 0x55).slice(0, 10)
    for (const c of leaves) await leecherStore.put(c, await readBlock(seederStore, c))

    const events: string[] = []
    const result = await leecher.fetch(root, {
      peers: [seederNode.getMultiaddrs()[0].toString()],
      signal: AbortSignal.timeout(30_000),
      onProgress: (evt) => { events.push(evt.type) }
    })
    assert.equal(result.blocksLocal, 10)
    assert.equal(result.blocksFetched, cids.length - 10)
    assert.equal(events.filter(e => e === 'tensorswap:session:block').length, cids.length)
    // every block present and equal; file bytes reassemble from the leaves in DFS order
    const chunks: Uint8Array[] = []
    for (const c of cids) {
      const bytes = await readBlock(leecherStore, c)
      assert.ok(Buffer.from(bytes).equals(Buffer.from(await readBlock(seederStore, c))))
      if (c.code === 0x55) chunks.push(bytes)
    }
    assert.deepEqual(Buffer.concat(chunks), Buffer.from(data))

    const stats = leecher.stats()
    const seederId = seederNode.peerId.toString()
    assert.ok(stats.wire[seederId]?.[TENSORSWAP_100] != null, 'negotiated /tensorswap/1.0.0')
    assert.equal(stats.ledger[seederId]?.blocksReceived, cids.length - 10)
    assert.equal(stats.unrequestedBlocks, 0)
    // the seeder counts a batch once its stream drained, which may be just after the leecher is done
    for (let i = 0; i < 100 && seeder.stats().blocksSent < cids.length - 10; i++) await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(seeder.stats().blocksSent, cids.length - 10)
    assert.equal(leecher.wantList.size, 0)
    leecher.wantList.assertInvariants()
    seeder.engine.assertInvariants()
  })

  it('persists the ledger to the datastore at stop', async () => {
    await leecher.stop()
    const raw = await datastore.get(new Key('/tensorswap/ledger/' + seederNode.peerId.toString()))
    const entry = JSON.parse(new TextDecoder().decode(raw))
    assert.ok(entry.bytesReceived > 0)
    await leecher.start()
  })

  it('fetch aborts with the signal reason', async () => {
    const missing = (await importBytes(randomBytes(1000), new MemoryBlockstore(), { cidVersion: 1, rawLeaves: true })).cid
    const controller = new AbortController()
    const p = leecher.fetch(missing, { signal: controller.signal, failOnUnavailable: false })
    setTimeout(() => { controller.abort(new Error('stop now')) }, 50)
    await assert.rejects(p, { message: 'stop now' })
    assert.equal(leecher.wantList.size, 0)
  })

  it('reports BlockUnavailableError when the only peer answers DONT_HAVE', async () => {
    const missing = (await importBytes(randomBytes(1000), new MemoryBlockstore(), { cidVersion: 1, rawLeaves: true })).cid
    await assert.rejects(leecher.fetch(missing, { peers: [seederNode.peerId], signal: AbortSignal.timeout(10_000) }), (err: any) => {
      assert.equal(err.name, 'BlockUnavailableError')
      // the documented `.cid`: the block that could not be fetched
      assert.ok(missing.equals(err.cid), `err.cid is ${String(err.cid)}`)
      return true
    })
  })
})

describe('exchange against a lying peer', () => {
  it('never stores a block whose bytes do not match its CID, and bans the sender', async () => {
    const liar = await createLibp2pNode(TCP)
    const victimNode = await createLibp2pNode(TCP)
    const victimStore = new MemoryBlockstore()
    const victim = createExchange({ libp2p: victimNode, blockstore: victimStore }, { peerIdleTimeoutMs: 300, tickIntervalMs: 50 })
    let lies = 0
    // the liar answers every want-block with the right prefix and the wrong bytes, on its own stream
    await liar.handle(BITSWAP_120, (stream, connection) => {
      void (async () => {
        await stream.close()
        for await (const frame of readFrames(stream)) {
          const msg = decodeMessage(frame)
          const wants = (msg.wantlist?.entries ?? []).filter(e => !e.cancel)
          if (wants.length === 0) continue
          const out = await liar.dialProtocol(connection.remotePeer, BITSWAP_120)
          const writer = new FrameWriter(out)
          const payload = wants.map(e => ({ prefix: encodePrefix(e.cid) as Uint8Array<ArrayBuffer>, data: randomBytes(100) as Uint8Array<ArrayBuffer> }))
          await writer.write(Message.encode({ blocks: [], payload, blockPresences: [], pendingBytes: 0 }))
          lies += wants.length
          await out.close()
        }
      })().catch(() => {})
    })
    await victim.start()
    try {
      const real = randomBytes(100)
      const cid = (await importBytes(real, new MemoryBlockstore(), { cidVersion: 1, rawLeaves: true })).cid
      await assert.rejects(victim.fetch(cid, { peers: [liar.getMultiaddrs()[0].toString()], signal: AbortSignal.timeout(10_000) }), { name: 'BlockUnavailableError' })
      assert.ok(lies >= 1)
      assert.equal(await victimStore.has(cid), false)
      let stored = 0
      for await (const _ of victimStore.getAll()) stored++
      assert.equal(stored, 0)
      assert.ok(victim.stats().unrequestedBlocks >= 1)
      // every lie costs PENALTY.unrequestedBlock (10) points: ten more wants, ten more lies, and
      // the liar reaches the ban threshold (100)
      const liarId = liar.peerId.toString()
      const more = await Promise.all(Array.from({ length: 10 }, async () => (await importBytes(randomBytes(100), new MemoryBlockstore(), { cidVersion: 1, rawLeaves: true })).cid))
      const controller = new AbortController()
      const fetches = Promise.allSettled(more.map(async c => await victim.fetch(c, { peers: [liar.getMultiaddrs()[0].toString()], signal: controller.signal })))
      const deadline = Date.now() + 10_000
      while (!victim.penalties.isBanned(liarId, Date.now()) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
      controller.abort()
      await fetches
      assert.equal(victim.penalties.isBanned(liarId, Date.now()), true, 'the liar is banned')
      const penalty = victim.stats().penalties[liarId]
      assert.ok(penalty?.bannedUntilMs != null && penalty.bannedUntilMs > Date.now(), 'stats report the ban')
      assert.equal(victim.peerSelector.has(liarId), false, 'a banned peer is not asked for blocks')
      for (const c of more) assert.equal(await victimStore.has(c), false)
      // well-formed messages from a peer with nothing to offer: encodeMessage still round-trips
      assert.equal(decodeMessage(encodeMessage({ blocks: [], presences: [], pendingBytes: 0 }, BITSWAP_120)).blocks.length, 0)
    } finally {
      await victim.stop()
      await victimNode.stop()
      await liar.stop()
    }
  })
})

describe('exchange API guards', () => {
  it('refuses calls before start and CIDs it cannot verify; answers identity CIDs locally', async () => {
    const node = await createLibp2pNode(TCP)
    const exchange = createExchange({ libp2p: node, blockstore: new MemoryBlockstore() })
    try {
      const cid = (await importBytes(Uint8Array.of(1), new MemoryBlockstore(), { cidVersion: 1, rawLeaves: true })).cid
      await assert.rejects(exchange.want(cid), { name: 'NotStartedError' })
      await exchange.start()
      const { CID } = await import('multiformats/cid')
      const Digest = await import('multiformats/hashes/digest')
      const { identity } = await import('multiformats/hashes/identity')
      const { BlockVerificationError } = await import('../src/index.js')
      // identity: the block is the digest, no peer is asked (there is none here)
      assert.deepEqual(await exchange.want(CID.createV1(0x55, identity.digest(Uint8Array.of(1, 2, 3)))), Uint8Array.of(1, 2, 3))
      assert.equal(exchange.wantList.state(CID.createV1(0x55, identity.digest(Uint8Array.of(1, 2, 3)))), undefined)
      // sha3-256 and a truncated sha2-256 digest cannot be verified
      for (const mh of [Digest.create(0x16, new Uint8Array(32)), Digest.create(0x12, new Uint8Array(20))]) {
        await assert.rejects(exchange.want(CID.createV1(0x55, mh)), (err: any) => err.name === 'UnsupportedHashError' && err instanceof BlockVerificationError)
      }
    } finally {
      await exchange.stop()
      await node.stop()
    }
  })
})

/**
 * A bare Bitswap 1.2.0 peer: sends raw want-lists to `target` and collects what comes back (the
 * exchange answers on a stream it opens to us).
 */
async function rawPeer (): Promise<{ node: Libp2p, received: ReturnType<typeof decodeMessage>[], send: (target: Libp2p, entries: WantEntry[]) => Promise<void> }> {
  const node = await createLibp2pNode(TCP)
  const received: Array<ReturnType<typeof decodeMessage>> = []
  await node.handle(BITSWAP_120, (stream) => {
    void (async () => {
      for await (const frame of readFrames(stream)) received.push(decodeMessage(frame))
    })().catch(() => {})
  })
  let writer: FrameWriter | undefined
  return {
    node,
    received,
    async send (target, entries) {
      if (writer == null) writer = new FrameWriter(await node.dialProtocol(target.getMultiaddrs()[0], BITSWAP_120))
      await writer.write(encodeMessage({ wantlist: { full: false, entries }, blocks: [], presences: [], pendingBytes: 0 }, BITSWAP_120))
    }
  }
}

async function until (what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

describe('exchange serving a bare Bitswap 1.2.0 peer', () => {
  it('answers a want-have for a small block with the block, for a large one with HAVE (sized blockstore)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ts-serve-'))
    const store = new FsBlockstore(dir)
    await store.open()
    const seederNode = await createLibp2pNode(TCP)
    const seeder = createExchange({ libp2p: seederNode, blockstore: store })
    const peer = await rawPeer()
    try {
      await seeder.start()
      const small = randomBytes(1024)
      const large = randomBytes(1025)
      const smallCid = (await importBytes(small, store, { cidVersion: 1, rawLeaves: true })).cid
      const largeCid = (await importBytes(large, store, { cidVersion: 1, rawLeaves: true })).cid
      const want = (cid: CID): WantEntry => ({ cid, priority: 1, cancel: false, wantType: 'have', sendDontHave: true })
      await peer.send(seederNode, [want(smallCid), want(largeCid)])
      await until('the answers', () => peer.received.some(m => m.blocks.length > 0) && peer.received.some(m => m.presences.length > 0))
      const blocks = peer.received.flatMap(m => m.blocks)
      const presences = peer.received.flatMap(m => m.presences)
      assert.deepEqual(blocks.map(b => b.cid.toString()), [smallCid.toString()])
      assert.deepEqual(Buffer.from(blocks[0]?.bytes ?? []), Buffer.from(small))
      assert.deepEqual(presences.map(p => [p.cid.toString(), p.type]), [[largeCid.toString(), 'have']])
      assert.equal(seeder.engine.wantlistSize(peer.node.peerId.toString()), 0)
    } finally {
      await seeder.stop()
      await seederNode.stop()
      await peer.node.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('serves a peer whose one want-list has 3000 entries (truncated to 1024, not banned); bans a peer that floods', async () => {
    const store = new MemoryBlockstore()
    const seederNode = await createLibp2pNode(TCP)
    const seeder = createExchange({ libp2p: seederNode, blockstore: store })
    const peer = await rawPeer()
    const flooder = await rawPeer()
    try {
      await seeder.start()
      const data = randomBytes(100)
      const cid = (await importBytes(data, store, { cidVersion: 1, rawLeaves: true })).cid
      const missing = async (i: number): Promise<CID> => (await importBytes(new TextEncoder().encode(`missing ${i}`), new MemoryBlockstore(), { cidVersion: 1, rawLeaves: true })).cid
      const others = await Promise.all(Array.from({ length: 2999 }, async (_, i) => await missing(i)))
      const entries: WantEntry[] = [cid, ...others].map((c, i) => ({ cid: c, priority: i === 0 ? 10 : 1, cancel: false, wantType: 'block', sendDontHave: false }))
      await peer.send(seederNode, entries)
      await until('the block', () => peer.received.some(m => m.blocks.length > 0))
      assert.deepEqual(Buffer.from(peer.received.flatMap(m => m.blocks)[0]?.bytes ?? []), Buffer.from(data))
      const id = peer.node.peerId.toString()
      assert.equal(seeder.penalties.isBanned(id, Date.now()), false, 'one large want-list is not abuse')
      assert.ok(seeder.penalties.score(id, Date.now()) < 100)
      assert.equal(seeder.engine.wantlistSize(id), 1023)
      // the same 3000-entry want-list eleven times in a row: a flood (10 points each, decaying)
      for (let i = 0; i < 11; i++) await flooder.send(seederNode, entries.slice(1))
      await until('the flooder banned', () => seeder.penalties.isBanned(flooder.node.peerId.toString(), Date.now()))
      assert.equal(seeder.penalties.isBanned(id, Date.now()), false)
    } finally {
      await seeder.stop()
      await seederNode.stop()
      await peer.node.stop()
      await flooder.node.stop()
    }
  })

  it('passes maxInboundStreams to libp2p: a peer past it gets its stream refused, a closed stream frees its slot', async () => {
    const seederNode = await createLibp2pNode(TCP)
    const seeder = createExchange({ libp2p: seederNode, blockstore: new MemoryBlockstore() }, { maxInboundStreams: 2 })
    const other = await createLibp2pNode(TCP)
    try {
      await seeder.start()
      const conn = await other.dial(seederNode.getMultiaddrs()[0])
      const open = [await conn.newStream(BITSWAP_120), await conn.newStream(BITSWAP_120)]
      const third = await conn.newStream(BITSWAP_120).then(async s => {
        await new Promise(resolve => setTimeout(resolve, 200))
        return s
      }).catch((err: Error) => err)
      assert.ok(third instanceof Error || third.status !== 'open', 'the third stream is refused')
      for (const s of open) await s.close()
      await new Promise(resolve => setTimeout(resolve, 200))
      const again = await conn.newStream(BITSWAP_120)
      await new Promise(resolve => setTimeout(resolve, 200))
      assert.equal(again.status, 'open')
      await again.close()
    } finally {
      await seeder.stop()
      await seederNode.stop()
      await other.stop()
    }
  })

  it('drops want-list messages over the per-peer message rate (token bucket) with a small penalty; another peer is unaffected', async () => {
    const store = new MemoryBlockstore()
    const seederNode = await createLibp2pNode(TCP)
    // burst 5, and (almost) no refill during the test
    const seeder = createExchange({ libp2p: seederNode, blockstore: store }, { inboundRateLimit: { ratePerSecond: 0.001, burst: 5 } })
    const fast = await rawPeer()
    const calm = await rawPeer()
    try {
      await seeder.start()
      const missing = async (i: number): Promise<CID> => (await importBytes(new TextEncoder().encode(`absent ${i}`), new MemoryBlockstore(), { cidVersion: 1, rawLeaves: true })).cid
      const cids = await Promise.all(Array.from({ length: 10 }, async (_, i) => await missing(i)))
      const want = (cid: CID): WantEntry => ({ cid, priority: 1, cancel: false, wantType: 'have', sendDontHave: false })
      // ten want-list messages of one entry each: five are within the burst, five are dropped
      for (const cid of cids) await fast.send(seederNode, [want(cid)])
      const id = fast.node.peerId.toString()
      await until('five messages over the rate penalised', () => seeder.penalties.score(id, Date.now()) >= 4.9)
      assert.equal(seeder.engine.wantlistSize(id), 5)
      assert.equal(seeder.penalties.isBanned(id, Date.now()), false, 'a burst is not a ban')
      await calm.send(seederNode, [want(cids[0])])
      await until('the calm peer\'s want', () => seeder.engine.wantlistSize(calm.node.peerId.toString()) === 1)
      assert.equal(seeder.penalties.score(calm.node.peerId.toString(), Date.now()), 0)
    } finally {
      await seeder.stop()
      await seederNode.stop()
      await fast.node.stop()
      await calm.node.stop()
    }
  })
})

describe('exchange fetching a DAG with an identity-hash link', () => {
  it('fetches a dag-cbor DAG whose root links an identity CID and a sha2-256 block', async () => {
    const dagCbor = await import('@ipld/dag-cbor')
    const { sha256 } = await import('multiformats/hashes/sha2')
    const { identity } = await import('multiformats/hashes/identity')
    const { CID } = await import('multiformats/cid')
    const seederNode = await createLibp2pNode(TCP)
    const leecherNode = await createLibp2pNode(TCP)
    const seederStore = new IdentityBlockstore(new MemoryBlockstore())
    const leecherStore = new IdentityBlockstore(new MemoryBlockstore())
    const seeder = createExchange({ libp2p: seederNode, blockstore: seederStore })
    const leecher = createExchange({ libp2p: leecherNode, blockstore: leecherStore })
    try {
      await seeder.start()
      await leecher.start()
      const leafBytes = dagCbor.encode({ leaf: 'stored' })
      const leaf = CID.createV1(dagCbor.code, await sha256.digest(leafBytes))
      // an inline dag-cbor block that itself links the stored leaf
      const inlineBytes = dagCbor.encode({ inline: true, next: leaf })
      const inline = CID.createV1(dagCbor.code, identity.digest(inlineBytes))
      const rootBytes = dagCbor.encode({ a: inline, b: leaf })
      const root = CID.createV1(dagCbor.code, await sha256.digest(rootBytes))
      await seederStore.put(leaf, leafBytes)
      await seederStore.put(root, rootBytes)
      const result = await leecher.fetch(root, { peers: [seederNode.getMultiaddrs()[0].toString()], signal: AbortSignal.timeout(20_000) })
      assert.ok(result.blocksFetched >= 2)
      assert.deepEqual(Buffer.from(await readBlock(leecherStore, root)), Buffer.from(rootBytes))
      assert.deepEqual(Buffer.from(await readBlock(leecherStore, leaf)), Buffer.from(leafBytes))
      assert.deepEqual(Buffer.from(await readBlock(leecherStore, inline)), Buffer.from(inlineBytes))
      // never asked for on the wire: the seeder saw wants only for the two hashed blocks
      assert.equal(seeder.stats().blocksSent, 2)
    } finally {
      await leecher.stop()
      await seeder.stop()
      await leecherNode.stop()
      await seederNode.stop()
    }
  })
})

describe('exchange fetching a generic IPLD DAG (issue 14, deviation 5)', () => {
  it('fetches a DAG that mixes dag-json, dag-cbor, dag-pb and raw blocks: every block, byte-exact', async () => {
    const dagJson = await import('@ipld/dag-json')
    const dagCbor = await import('@ipld/dag-cbor')
    const dagPb = await import('@ipld/dag-pb')
    const { sha256 } = await import('multiformats/hashes/sha2')
    const { CID } = await import('multiformats/cid')
    const seederNode = await createLibp2pNode(TCP)
    const leecherNode = await createLibp2pNode(TCP)
    const seederStore = new MemoryBlockstore()
    const leecherStore = new MemoryBlockstore()
    const seeder = createExchange({ libp2p: seederNode, blockstore: seederStore })
    const leecher = createExchange({ libp2p: leecherNode, blockstore: leecherStore })
    const blocks: Array<[CID, Uint8Array]> = []
    const put = async (codec: number, bytes: Uint8Array): Promise<CID> => {
      const cid = CID.createV1(codec, await sha256.digest(bytes))
      await seederStore.put(cid, bytes)
      blocks.push([cid, bytes])
      return cid
    }
    try {
      await seeder.start()
      await leecher.start()
      const raw = await put(0x55, randomBytes(3000))
      const pb = await put(dagPb.code, dagPb.encode(dagPb.prepare({ Data: new Uint8Array([8, 1]), Links: [{ Name: 'r', Hash: raw, Tsize: 3000 }] })))
      const cbor = await put(dagCbor.code, dagCbor.encode({ pb, n: 1 }))
      const root = await put(dagJson.code, dagJson.encode({ cbor, raw, list: [pb] }))
      const result = await leecher.fetch(root, { peers: [seederNode.getMultiaddrs()[0].toString()], signal: AbortSignal.timeout(20_000) })
      assert.equal(result.blocksFetched, blocks.length)
      for (const [cid, bytes] of blocks) assert.deepEqual(Buffer.from(await readBlock(leecherStore, cid)), Buffer.from(bytes), cid.toString())
    } finally {
      await leecher.stop()
      await seeder.stop()
      await leecherNode.stop()
      await seederNode.stop()
    }
  })
})

describe('swarm session: prompt redial of its session peers (spec/tensorswap.md section 4, "Prompt redial")', () => {
  it('the only provider (found as connected, no DHT) stops mid-fetch and comes back on the same address and key: the fetch redials it at once, not at its 60 s deadline', async () => {
    const { generateKeyPair } = await import('@libp2p/crypto/keys')
    const { SessionPeers } = await import('../src/session-peers.js')
    const privateKey = await generateKeyPair('Ed25519')
    const seederStore = new MemoryBlockstore()
    const leecherStore = new MemoryBlockstore()
    // 32 MiB in 256 KiB leaves: long enough to stop the seeder part-way
    const data = randomBytes(32 * 1024 * 1024)
    const root = (await importBytes(data, seederStore, { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: 256 * 1024 }), layout: balanced({ maxChildrenPerNode: 64 }) })).cid
    let seederNode = await createLibp2pNode({ ...TCP, privateKey })
    const addr = seederNode.getMultiaddrs()[0]
    let seeder = createExchange({ libp2p: seederNode, blockstore: seederStore })
    await seeder.start()
    const leecherNode = await createLibp2pNode(TCP)
    const leecher = createExchange({ libp2p: leecherNode, blockstore: leecherStore }, { maxPeerBytesInFlight: 512 * 1024 })
    await leecher.start()
    try {
      await leecherNode.dial(addr)
      // a swarm session: its one peer found as `connected` (no DHT pass will dial it again)
      const swarm = new SessionPeers()
      swarm.add(seederNode.peerId.toString(), 'connected')
      let blocks = 0
      let stopped: Promise<void> | undefined
      let restartedAt = 0
      const fetched = leecher.fetch(root, {
        swarm,
        progressTimeoutMs: 60_000,
        signal: AbortSignal.timeout(30_000),
        onProgress: (evt) => {
          if (evt.type !== 'tensorswap:session:block' || ++blocks !== 20) return
          stopped = (async () => {
            await seeder.stop()
            await seederNode.stop()
            await new Promise(resolve => setTimeout(resolve, 1000))
            seederNode = await createLibp2pNode({ ...TCP, listen: [addr.toString()], privateKey })
            seeder = createExchange({ libp2p: seederNode, blockstore: seederStore })
            await seeder.start()
            restartedAt = Date.now()
          })()
        }
      })
      const result = await fetched
      await stopped
      const tookMs = Date.now() - restartedAt
      assert.ok(restartedAt > 0, 'the seeder was stopped and restarted mid-fetch')
      assert.ok(blocks > 20)
      assert.equal(result.blocksFetched + result.blocksLocal, blocks)
      // back within one prompt-redial wait (at most 4 s), far inside the 60 s deadline
      assert.ok(tookMs < 10_000, `fetch finished ${tookMs} ms after the seeder came back`)
      const chunks: Uint8Array[] = []
      for (const c of await dagCids(leecherStore, root)) if (c.code === 0x55) chunks.push(await readBlock(leecherStore, c))
      assert.deepEqual(Buffer.concat(chunks), Buffer.from(data))
    } finally {
      await leecher.stop()
      await leecherNode.stop()
      await seeder.stop()
      await seederNode.stop()
    }
  })
})

describe('exchange: inbound exchange streams per peer (spec/tensorswap.md §3, §5 tooManyStreams)', () => {
  it('answers a peer up to the limit of open streams, frees a slot when one ends, resets streams over it unread, and bans a peer that keeps opening them', async () => {
    const store = new MemoryBlockstore()
    const seederNode = await createLibp2pNode(TCP)
    const seeder = createExchange({ libp2p: seederNode, blockstore: store }, { maxInboundStreamsPerPeer: 8 })
    const peer = await rawPeer()
    const other = await rawPeer()
    try {
      await seeder.start()
      const missing = async (i: number): Promise<CID> => (await importBytes(new TextEncoder().encode(`absent ${i}`), new MemoryBlockstore(), { cidVersion: 1, rawLeaves: true })).cid
      const wantHave = async (i: number): Promise<Uint8Array> => encodeMessage({ wantlist: { full: false, entries: [{ cid: await missing(i), priority: 1, cancel: false, wantType: 'have', sendDontHave: true }] }, blocks: [], presences: [], pendingBytes: 0 }, BITSWAP_120)
      const dontHaves = (p: typeof peer): number => p.received.flatMap(m => m.presences).filter(x => x.type === 'dont-have').length
      const open = async (i: number): Promise<{ writer: FrameWriter, close: () => Promise<void> }> => {
        const stream = await peer.node.dialProtocol(seederNode.getMultiaddrs()[0], BITSWAP_120)
        const writer = new FrameWriter(stream)
        await writer.write(await wantHave(i))
        return { writer, close: async () => { await stream.close() } }
      }
      const key = peer.node.peerId.toString()
      // 8 streams held open: each answered
      const held = []
      for (let i = 0; i < 8; i++) held.push(await open(i))
      await until('8 DONT_HAVEs', () => dontHaves(peer) === 8)
      assert.equal(seeder.penalties.isBanned(key, Date.now()), false)
      // one ends: its slot is free again, the next stream is answered, nothing penalised
      await held.shift()?.close()
      assert.equal(seeder.stats().penalties[key], undefined, 'nothing penalised')
      await new Promise(resolve => setTimeout(resolve, 200))
      held.push(await open(8))
      await until('the 9th DONT_HAVE', () => dontHaves(peer) === 9)
      assert.equal(seeder.penalties.isBanned(key, Date.now()), false)
      // over the limit: reset unread (never answered); the eleventh refused stream in a row bans the peer (scores decay)
      for (let i = 100; i < 120 && !seeder.penalties.isBanned(key, Date.now()); i++) await open(i).catch(() => {})
      await until('the ban', () => seeder.penalties.isBanned(key, Date.now()))
      await until('the hang-up', () => seederNode.getConnections(peer.node.peerId).length === 0)
      assert.equal(dontHaves(peer), 9, 'no stream over the limit was answered')
      // another peer is served as before
      await other.send(seederNode, [{ cid: await missing(1000), priority: 1, cancel: false, wantType: 'have', sendDontHave: true }])
      await until('the other peer\'s DONT_HAVE', () => dontHaves(other) === 1)
    } finally {
      await seeder.stop()
      await seederNode.stop()
      await peer.node.stop()
      await other.node.stop()
    }
  })
})

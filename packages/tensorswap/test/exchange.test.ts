import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { importBytes } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { Key } from 'interface-datastore'
import { BITSWAP_120, TENSORSWAP_100 } from '../src/constants.js'
import { createExchange } from '../src/exchange.js'
import { readBlock, defaultChildren } from '../src/session.js'
import { createLibp2pNode } from '../src/transport/node.js'
import { FrameWriter, readFrames } from '../src/transport/framing.js'
import { decodeMessage, encodeMessage, encodePrefix } from '../src/wire/codec.js'
import { Message } from '../src/wire/bitswap.js'
import type { Exchange } from '../src/exchange.js'
import type { Libp2p } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

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
    await assert.rejects(leecher.fetch(missing, { peers: [seederNode.peerId], signal: AbortSignal.timeout(10_000) }), { name: 'BlockUnavailableError' })
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
  it('refuses calls before start and CIDs it cannot verify', async () => {
    const node = await createLibp2pNode(TCP)
    const exchange = createExchange({ libp2p: node, blockstore: new MemoryBlockstore() })
    try {
      const cid = (await importBytes(Uint8Array.of(1), new MemoryBlockstore(), { cidVersion: 1, rawLeaves: true })).cid
      await assert.rejects(exchange.want(cid), { name: 'NotStartedError' })
      await exchange.start()
      const { CID } = await import('multiformats/cid')
      const { identity } = await import('multiformats/hashes/identity')
      await assert.rejects(exchange.want(CID.createV1(0x55, identity.digest(Uint8Array.of(1)))), { name: 'BlockVerificationError' })
    } finally {
      await exchange.stop()
      await node.stop()
    }
  })
})

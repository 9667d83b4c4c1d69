import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { importBytes } from 'ipfs-unixfs-importer'
import { PROTOCOL_ID as GRAPHSYNC_PROTOCOL_ID } from '@tensorswap/graphsync'
import { FrameWriter } from '@tensorswap/transport'
import { createTensorSwap } from '../src/tensorswap.js'
import { createLibp2pNode } from '../src/transport/node.js'
import type { GetProgressEvents } from '../src/tensorswap.js'
import type { BlockProgressDetail as StoreDetail } from '@tensorswap/blockstore'
import type { BlockProgressDetail as GraphSyncDetail } from '@tensorswap/graphsync'
import type { CID } from 'multiformats/cid'

/** Compile-time: `A` and `B` are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
const sameDetail: Equal<StoreDetail, GraphSyncDetail> = true
// every block event of a `get` carries the one detail shape
type GetBlockDetail = Extract<GetProgressEvents, { type: `${string}:block` }>['detail']
const getBlockDetail: Equal<GetBlockDetail, StoreDetail> = true

describe('TensorSwap node', () => {
  it('connections limits reach the transport: a per-host pending limit of 0 is refused (RangeError), the repo is released', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ts-node-limits-'))
    try {
      await assert.rejects(createTensorSwap({ repo: join(dir, 'repo'), listen: ['/ip4/127.0.0.1/tcp/0'], transports: ['tcp'], connections: { maxIncomingPendingPerHost: 0 } }), RangeError)
      // the repo lock was released: the same repo opens with a valid limit
      const node = await createTensorSwap({ repo: join(dir, 'repo'), listen: ['/ip4/127.0.0.1/tcp/0'], transports: ['tcp'], graphsync: false, connections: { maxIncomingPendingPerHost: 2, maxConnections: 50 }, graphsyncLimits: { maxRequestsPerPeer: 10 } })
      await node.stop()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('one block progress detail type across packages', () => {
    assert.equal(sameDetail, true)
    assert.equal(getBlockDetail, true)
  })

  it('start, stop, exportCar and importCar honour { signal }', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ts-node-signal-'))
    const node = await createTensorSwap({ repo: join(dir, 'repo'), listen: ['/ip4/127.0.0.1/tcp/0'], transports: ['tcp'], graphsync: false })
    let stopped = false
    try {
      await assert.rejects(node.start({ signal: AbortSignal.abort() }), { name: 'AbortError' })
      assert.equal(node.exchange.running, false, 'an aborted start leaves nothing started')
      await node.start({ signal: AbortSignal.timeout(10_000) })
      assert.equal(node.exchange.running, true)
      const { cid } = await importBytes(Uint8Array.of(1, 2, 3), node.repo.blockstore, { cidVersion: 1, rawLeaves: true })
      const chunks: Uint8Array[] = []
      const blocks: string[] = []
      await node.exportCar(cid, async (chunk: Uint8Array) => { chunks.push(chunk) }, { onProgress: e => { blocks.push(`${e.type}:${e.detail.from}`) } })
      assert.deepEqual(blocks, ['tensorswap:car:export:block:local'])
      await assert.rejects(node.exportCar(cid, async () => {}, { signal: AbortSignal.abort() }), { name: 'AbortError' })
      await assert.rejects(node.importCar((async function * () { yield * chunks })(), { signal: AbortSignal.abort() }), { name: 'AbortError' })
      const imported = await node.importCar((async function * () { yield * chunks })(), { signal: AbortSignal.timeout(10_000) })
      assert.deepEqual(imported.roots.map(String), [cid.toString()])
      stopped = true
      await assert.rejects(node.stop({ signal: AbortSignal.abort() }), { name: 'AbortError' })
      assert.equal(node.exchange.running, false, 'an aborted stop still stops the node')
      assert.equal(node.libp2p.status, 'stopped')
    } finally {
      if (!stopped) await node.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('a GraphSync offence that bans a peer also hangs up on it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ts-node-gs-ban-'))
    const node = await createTensorSwap({ repo: join(dir, 'repo'), listen: ['/ip4/127.0.0.1/tcp/0'], transports: ['tcp'] })
    const hostile = await createLibp2pNode({ transports: ['tcp'], listen: ['/ip4/127.0.0.1/tcp/0'] })
    try {
      await node.start({ signal: AbortSignal.timeout(10_000) })
      // each undecodable GraphSync message is `malformed` (50 points, decaying): the third bans (100)
      for (let i = 0; i < 3; i++) {
        const stream = await hostile.dialProtocol(node.getMultiaddrs()[0], GRAPHSYNC_PROTOCOL_ID)
        const writer = new FrameWriter(stream)
        await writer.write(Uint8Array.of(0xff, 0xff, 0xff, 0x01))
        await stream.close().catch(() => {})
        const deadline = Date.now() + 10_000
        while (node.exchange.penalties.score(hostile.peerId.toString(), Date.now()) < 40 * (i + 1) - 1 && !node.exchange.penalties.isBanned(hostile.peerId.toString(), Date.now())) {
          if (Date.now() > deadline) assert.fail(`offence ${i + 1} not scored`)
          await new Promise(resolve => setTimeout(resolve, 20))
        }
      }
      assert.equal(node.exchange.penalties.isBanned(hostile.peerId.toString(), Date.now()), true, JSON.stringify(node.exchange.stats().penalties))
      const deadline = Date.now() + 10_000
      while (node.libp2p.getConnections(hostile.peerId).length > 0) {
        if (Date.now() > deadline) assert.fail('the banned peer is still connected')
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    } finally {
      await hostile.stop()
      await node.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

export type { CID }

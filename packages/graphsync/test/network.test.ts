/**
 * The libp2p driver over real libp2p: a responder in another process serving a UnixFS file
 * (fetched whole, resumed, a root it lacks, an aborted request), and a hostile responder whose
 * blocks the requestor rejects and reports through the `penalties` component. The same driver
 * fetching model tensors is tested in the `tensorswap` package (test/tensors/).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { FsBlockstore } from '@tensorswap/blockstore'
import { FrameWriter, readFrames } from '@tensorswap/transport'
import { exporter } from 'ipfs-unixfs-exporter'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { allSelector } from '../src/selector/builder.js'
import { PROTOCOL_ID } from '../src/constants.js'
import { LinkAction, ResponseStatusCode } from '../src/message/types.js'
import { blockToWire, decodeMessage, encodeMessage } from '../src/message/codec.js'
import { GraphSyncNetwork } from '../src/network.js'
import { createTestNode, fileBytes } from './helpers.js'
import type { ChildProcess } from 'node:child_process'
import type { Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const FIXTURE = join(fileURLToPath(import.meta.url), '../fixtures/responder-process.js')

describe('GraphSyncNetwork: two processes, a UnixFS file', () => {
  let dir: string
  let child: ChildProcess
  let served: { root: string, multiaddrs: string[] }
  let libp2p: Libp2p
  let gs: GraphSyncNetwork

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ts-graphsync-'))
    child = spawn(process.execPath, [FIXTURE, join(dir, 'served')], { stdio: ['pipe', 'pipe', 'inherit'] })
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
    served = await new Promise((resolve, reject) => {
      child.once('exit', code => { reject(new Error(`responder process exited with ${String(code)}`)) })
      lines.once('line', line => { resolve(JSON.parse(line)) })
    })
    libp2p = await createTestNode()
    gs = new GraphSyncNetwork({ libp2p, blockstore: new FsBlockstore(join(dir, 'unused'), { fsync: false }) })
    await gs.start()
  })

  after(async () => {
    await gs?.stop()
    await libp2p?.stop()
    if (child != null && child.exitCode == null) {
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.stdin?.end()
      await exited
    }
    await rm(dir, { recursive: true, force: true })
  })

  const peer = (): Multiaddr[] => served.multiaddrs.map(a => multiaddr(a))

  it('fetches the whole DAG byte-exact, and a second fetch finds everything local', async () => {
    const store = new FsBlockstore(join(dir, 'fetch-all'), { fsync: false })
    await store.open()
    const root = CID.parse(served.root)
    const stored: string[] = []
    const first = await gs.request(peer(), root, allSelector, { blockstore: store, onStored: cid => { stored.push(cid.toString()) } })
    assert.equal(first.status, ResponseStatusCode.RequestCompletedFull)
    assert.equal(first.complete, true)
    assert.ok(first.blocksReceived > 1)
    assert.equal(new Set(stored).size, first.blocksReceived, 'onStored once per fetched block')
    const entry = await exporter(root, store)
    assert.equal(entry.type, 'file')
    const parts: Uint8Array[] = []
    for await (const b of entry.content()) parts.push(b)
    assert.deepEqual(new Uint8Array(Buffer.concat(parts)), fileBytes())
    const again = await gs.request(peer(), root, allSelector, { blockstore: store })
    assert.equal(again.blocksReceived, 0, 'everything was local')
  })

  it('fails with RequestFailedError 34 for a root the responder does not have', async () => {
    const missing = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode('nobody has this')))
    const store = new FsBlockstore(join(dir, 'fetch-missing'), { fsync: false })
    await assert.rejects(gs.request(peer(), missing, allSelector, { blockstore: store }), (err: any) => {
      assert.equal(err.name, 'RequestFailedError')
      assert.equal(err.status, ResponseStatusCode.RequestFailedContentNotFound)
      return true
    })
  })

  it('aborts through its signal', async () => {
    const store = new FsBlockstore(join(dir, 'fetch-abort'), { fsync: false })
    const controller = new AbortController()
    controller.abort()
    await assert.rejects(gs.request(peer(), CID.parse(served.root), allSelector, { blockstore: store, signal: controller.signal }), { name: 'AbortError' })
  })
})

describe('GraphSyncNetwork: a hostile responder', () => {
  it('rejects blocks the traversal does not reach, stores nothing of them and reports the peer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ts-graphsync-hostile-'))
    const a = await createTestNode()
    const b = await createTestNode()
    const reports: Array<{ peer: string, offence: string, name: string }> = []
    const gs = new GraphSyncNetwork({
      libp2p: a,
      blockstore: new FsBlockstore(join(dir, 'a')),
      penalties: { onOffence: (peer, offence, err) => { reports.push({ peer: peer.toString(), offence, name: err.name }) } }
    })
    await gs.start()
    const root = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode('the root')))
    const junk = new TextEncoder().encode('junk nobody asked for')
    const junkCid = CID.createV1(raw.code, await sha256.digest(junk))
    // b answers every request with a junk block announced as present, instead of the root
    await b.handle(PROTOCOL_ID, (stream, connection) => {
      void (async () => {
        for await (const frame of readFrames(stream)) {
          const req = decodeMessage(frame.subarray()).requests[0]
          if (req?.type !== 'n') continue
          const out = await connection.newStream(PROTOCOL_ID)
          await new FrameWriter(out).write(encodeMessage({
            requests: [],
            responses: [{ requestId: req.id, status: ResponseStatusCode.RequestCompletedFull, metadata: [{ link: junkCid, action: LinkAction.Present }] }],
            blocks: [blockToWire(junkCid, junk)]
          }))
          await out.close()
        }
      })().catch(() => {})
    })
    try {
      const store = new FsBlockstore(join(dir, 'fetch'), { fsync: false })
      await store.open()
      await assert.rejects(gs.request(b.getMultiaddrs(), root, allSelector, { blockstore: store }), { name: 'TraversalMismatchError' })
      assert.equal(await store.has(junkCid), false)
      assert.equal(await store.has(root), false)
      assert.deepEqual(reports, [{ peer: b.peerId.toString(), offence: 'unrequestedBlock', name: 'TraversalMismatchError' }])
    } finally {
      await gs.stop()
      await a.stop()
      await b.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

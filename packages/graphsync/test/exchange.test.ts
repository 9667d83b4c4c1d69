/**
 * Responder and requestor state machines against each other, without sockets: every
 * message goes through encodeMessage/decodeMessage and blockFromWire, as on the wire.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { identity } from 'multiformats/hashes/identity'
import * as dagCbor from '@ipld/dag-cbor'
import {
  GraphSyncRequestor, RequestResponder, ResponseManager, ResponseStatusCode, LinkAction, RequestType, Extension,
  allSelector, blockFromWire, decodeMessage, encodeMessage, s, traverse, MAX_UNION_MEMBERS
} from '../src/index.js'
import { MemoryStore, collect } from './helpers.js'
import type { GraphSyncMessage, GraphSyncRequest, ResponseEnvelope, RequestResult, Selector, RequestorEvent } from '../src/index.js'

/** A store with the RequestorStore and responder-loader shapes. */
class Store extends MemoryStore {
  puts: string[] = []
  async has (cid: CID): Promise<boolean> { return this.blocks.has(cid.toString()) }
  async get (cid: CID): Promise<Uint8Array> {
    const b = this.blocks.get(cid.toString())
    if (b === undefined) throw new Error(`missing ${cid}`)
    return b
  }

  async putBlock (cid: CID, bytes: Uint8Array): Promise<void> {
    this.puts.push(cid.toString())
    this.blocks.set(cid.toString(), bytes)
  }

  /** The blockstore shape ipfs-unixfs-importer writes to. */
  get importerStore (): any {
    return { put: async (cid: CID, bytes: Uint8Array) => { this.blocks.set(cid.toString(), bytes); return cid } }
  }

  responderLoader = async (cid: CID): Promise<Uint8Array | undefined> => this.blocks.get(cid.toString())
  requestorStore = {
    has: async (cid: CID) => await this.has(cid),
    get: async (cid: CID) => await this.get(cid),
    put: async (cid: CID, bytes: Uint8Array) => { await this.putBlock(cid, bytes) }
  }
}

/** A real UnixFS directory: two multi-level files (16 KiB raw leaves, 4 links per node), one of repeated chunks. */
async function unixfsDag (): Promise<{ store: Store, root: CID }> {
  const store = new Store()
  const entries = [
    { path: 'dir/random.bin', content: new Uint8Array(randomBytes(300 * 1024)) },
    { path: 'dir/zeros.bin', content: new Uint8Array(5 * 16 * 1024) },
    { path: 'dir/small.txt', content: new TextEncoder().encode('hello graphsync') }
  ]
  let root: CID | undefined
  for await (const entry of importer(entries, store.importerStore, {
    cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: 16 * 1024 }), layout: balanced({ maxChildrenPerNode: 4 }), wrapWithDirectory: false
  })) {
    if (entry.path === 'dir') root = entry.cid
  }
  assert.ok(root != null)
  return { store, root }
}

/** Wire round trip of one message; returns the response envelope for `id` and the wire blocks' CIDs. */
async function overWire (msg: GraphSyncMessage): Promise<ResponseEnvelope> {
  const bytes = encodeMessage(msg)
  const back = decodeMessage(bytes)
  assert.equal(back.responses.length, 1)
  const blocks = await Promise.all(back.blocks.map(async b => await blockFromWire(b)))
  return { response: back.responses[0], blocks }
}

interface Run {
  result?: RequestResult
  error?: Error
  events: RequestorEvent[]
  sent: string[]
  messages: GraphSyncMessage[]
  request: GraphSyncRequest
}

/** Run a request from `dest` against `src`, optionally tampering with each message. */
async function fetchVia (src: Store, dest: Store, root: CID, selector: Selector, opts: {
  tamper?: (msg: GraphSyncMessage, i: number) => GraphSyncMessage | Promise<GraphSyncMessage>
  responder?: ConstructorParameters<typeof RequestResponder>[2]
  resume?: boolean
} = {}): Promise<Run> {
  const requestor = new GraphSyncRequestor({ root, selector, store: dest.requestorStore, ...(opts.resume !== undefined ? { resume: opts.resume } : {}) })
  const request = await requestor.request()
  // the responder sees the request as decoded from the wire
  const wireReq = decodeMessage(encodeMessage({ requests: [request], responses: [], blocks: [] })).requests[0]
  // small messages (a few blocks each) so tampering can pick the second or third one
  const responder = new RequestResponder(wireReq, src.responderLoader, { flushBytes: 40 * 1024, ...opts.responder })
  const run: Run = { events: [], sent: [], messages: [], request }
  async function * envelopes (): AsyncGenerator<ResponseEnvelope> {
    let i = 0
    for await (let msg of responder.messages()) {
      run.messages.push(msg)
      if (opts.tamper != null) msg = await opts.tamper(msg, i++)
      const env = await overWire(msg)
      for (const b of env.blocks) run.sent.push(b.cid.toString())
      yield env
    }
  }
  const gen = requestor.run(envelopes())
  try {
    while (true) {
      const n = await gen.next()
      if (n.done === true) { run.result = n.value; break }
      run.events.push(n.value)
    }
  } catch (err: any) {
    run.error = err
  }
  return run
}

async function allCids (store: Store, root: CID, selector: Selector = allSelector): Promise<string[]> {
  const out: string[] = []
  for await (const v of traverse(root, selector, store.loader)) if (v.block != null) out.push(v.block.cid.toString())
  return out
}

async function rawBlock (bytes: Uint8Array): Promise<{ cid: CID, bytes: Uint8Array }> {
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

describe('requestor <-> responder (UnixFS DAG)', () => {
  it('fetches the whole DAG: every block verified and stored once, visits equal a local traversal', async () => {
    const { store: src, root } = await unixfsDag()
    const dest = new Store()
    const run = await fetchVia(src, dest, root, allSelector)
    assert.equal(run.error, undefined)
    assert.equal(run.result?.status, ResponseStatusCode.RequestCompletedFull)
    assert.equal(run.result?.complete, true)
    const expected = await allCids(src, root)
    assert.deepEqual(new Set(dest.puts), new Set(expected))
    assert.equal(dest.puts.length, new Set(dest.puts).size, 'each block stored once')
    assert.equal(run.sent.length, new Set(run.sent).size, 'each block sent once (zeros.bin repeats one leaf)')
    assert.ok(expected.length > run.sent.length, 'the DAG has repeated blocks')
    const visits = run.events.filter(e => e.type === 'visit').length
    assert.equal(visits, (await collect(traverse(root, allSelector, src.loader))).length)
    for (const [k, v] of dest.blocks) assert.deepEqual(v, src.blocks.get(k))
    // intermediate messages are 14, the last one terminal
    assert.ok(run.messages.slice(0, -1).every(m => m.responses[0].status === ResponseStatusCode.PartialResponse))
  })

  it('reports missing blocks: status 21, the rest stored, missing listed', async () => {
    const { store: src, root } = await unixfsDag()
    const cids = await allCids(src, root)
    const gone = cids.filter(c => cids.indexOf(c) === cids.lastIndexOf(c) && c.startsWith('bafkrei'))[3]
    src.blocks.delete(gone)
    const dest = new Store()
    const run = await fetchVia(src, dest, root, allSelector)
    assert.equal(run.error, undefined)
    assert.equal(run.result?.status, ResponseStatusCode.RequestCompletedPartial)
    assert.equal(run.result?.complete, false)
    assert.deepEqual(run.result?.missing.map(String), [gone])
    assert.ok(!dest.blocks.has(gone))
    assert.equal(dest.blocks.size, src.blocks.size)
  })

  it('fails with RequestFailedError 34 when the responder lacks the root', async () => {
    const { store: src, root } = await unixfsDag()
    src.blocks.delete(root.toString())
    const dest = new Store()
    const run = await fetchVia(src, dest, root, allSelector)
    assert.equal(run.error?.name, 'RequestFailedError')
    assert.equal((run.error as any).status, ResponseStatusCode.RequestFailedContentNotFound)
    assert.equal(dest.blocks.size, 0)
  })

  it('resumes: blocks already held are announced and never sent again', async () => {
    const { store: src, root } = await unixfsDag()
    const order = [...new Set(await allCids(src, root))]
    const visits: Array<{ path: string, cid: string }> = []
    for await (const v of traverse(root, allSelector, src.loader)) if (v.block != null) visits.push({ path: v.path, cid: v.block.cid.toString() })
    for (const split of [Math.floor(order.length / 2), 1]) {
      const dest = new Store()
      // the first `split` blocks in traversal order (a prefix) and every third one after, with
      // its ancestors (a requestor can only know of blocks whose parents it has)
      const held = new Set(order.slice(0, split))
      for (const c of order.slice(split).filter((_, i) => i % 3 === 0)) {
        for (const { path } of visits.filter(v => v.cid === c)) {
          for (const a of visits) if (a.path === '' || path === a.path || path.startsWith(a.path + '/')) held.add(a.cid)
        }
      }
      for (const c of held) dest.blocks.set(c, src.blocks.get(c) as Uint8Array)
      const run = await fetchVia(src, dest, root, allSelector)
      assert.equal(run.error, undefined)
      assert.equal(run.result?.status, ResponseStatusCode.RequestCompletedFull)
      const ext = run.request.extensions ?? {}
      assert.ok(typeof ext[Extension.DoNotSendFirstBlocks] === 'number' && ext[Extension.DoNotSendFirstBlocks] as number >= split)
      assert.ok(Array.isArray(ext[Extension.DoNotSendCids]))
      for (const c of run.sent) assert.ok(!held.has(c), `held block ${c} was sent`)
      assert.equal(run.sent.length, new Set(run.sent).size, 'no block sent twice')
      assert.deepEqual(new Set(run.sent), new Set(order.filter(c => !held.has(c))))
      assert.equal(dest.blocks.size, src.blocks.size)
      assert.equal(run.result?.blocksLocal, run.events.filter(e => e.type === 'block' && e.source === 'local').length)
    }
  })

  it('rejects a block no metadata announces (unreached): UnexpectedBlockError, nothing of it stored', async () => {
    const { store: src, root } = await unixfsDag()
    const extra = await rawBlock(new TextEncoder().encode('not part of this DAG'))
    const dest = new Store()
    const run = await fetchVia(src, dest, root, allSelector, {
      tamper: async (msg, i) => i === 1 ? { ...msg, blocks: [...msg.blocks, { prefix: Uint8Array.from([1, 0x55, 0x12, 32]), data: extra.bytes }] } : msg
    })
    assert.equal(run.error?.name, 'UnexpectedBlockError')
    assert.ok(!dest.blocks.has(extra.cid.toString()))
  })

  it('rejects an announced block our traversal does not reach: TraversalMismatchError, nothing of it stored', async () => {
    const { store: src, root } = await unixfsDag()
    const extra = await rawBlock(new TextEncoder().encode('off the selector path'))
    const dest = new Store()
    const run = await fetchVia(src, dest, root, allSelector, {
      tamper: async (msg, i) => {
        if (i !== 1) return msg
        const r = msg.responses[0]
        return {
          ...msg,
          responses: [{ ...r, metadata: [{ link: extra.cid, action: LinkAction.Present }, ...(r.metadata ?? [])] }],
          blocks: [{ prefix: Uint8Array.from([1, 0x55, 0x12, 32]), data: extra.bytes }, ...msg.blocks]
        }
      }
    })
    assert.equal(run.error?.name, 'TraversalMismatchError')
    assert.ok(!dest.blocks.has(extra.cid.toString()))
    assert.ok(!dest.puts.includes(extra.cid.toString()))
  })

  it('rejects a corrupt block: BlockHashMismatchError, neither the corrupt nor the announced block stored', async () => {
    const { store: src, root } = await unixfsDag()
    const dest = new Store()
    let victim: string | undefined
    const run = await fetchVia(src, dest, root, allSelector, {
      tamper: async (msg, i) => {
        if (i !== 2 || msg.blocks.length === 0) return msg
        const data = Uint8Array.from(msg.blocks[0].data)
        data[data.length >> 1] ^= 0xff
        victim = (await blockFromWire(msg.blocks[0])).cid.toString()
        return { ...msg, blocks: [{ prefix: msg.blocks[0].prefix, data }, ...msg.blocks.slice(1)] }
      }
    })
    assert.ok(victim != null)
    assert.equal(run.error?.name, 'BlockHashMismatchError')
    assert.ok(!dest.blocks.has(victim))
    for (const [k, v] of dest.blocks) assert.deepEqual(v, src.blocks.get(k), `stored ${k} is verified`)
  })

  it('fails with MissingBlockError when a present block is announced but withheld', async () => {
    const { store: src, root } = await unixfsDag()
    const dest = new Store()
    const run = await fetchVia(src, dest, root, allSelector, { tamper: (msg, i) => i === 1 ? { ...msg, blocks: [] } : msg })
    assert.equal(run.error?.name, 'MissingBlockError')
  })

  it('fails with ResponseIncompleteError when responses stop before a terminal status', async () => {
    const { store: src, root } = await unixfsDag()
    const dest = new Store()
    const requestor = new GraphSyncRequestor({ root, selector: allSelector, store: dest.requestorStore })
    const req = await requestor.request()
    const responder = new RequestResponder(req, src.responderLoader, { flushBytes: 16 * 1024 })
    const first = (await responder.messages().next()).value as GraphSyncMessage
    async function * one (): AsyncGenerator<ResponseEnvelope> { yield await overWire(first) }
    await assert.rejects(collect(requestor.run(one())), { name: 'ResponseIncompleteError' })
  })

  it('splits blocks across messages under the size cap, and refuses a block larger than a message (32)', async () => {
    const { store: src, root } = await unixfsDag()
    const dest = new Store()
    const run = await fetchVia(src, dest, root, allSelector, { responder: { maxMessageSize: 40 * 1024, flushBytes: 1 << 30 } })
    assert.equal(run.error, undefined)
    assert.ok(run.messages.length > 5)
    for (const m of run.messages) assert.ok(encodeMessage(m).byteLength <= 40 * 1024)
    assert.ok(run.messages.some(m => m.blocks.length >= 2), 'several blocks share a message')
    const small = await fetchVia(src, new Store(), root, allSelector, { responder: { maxMessageSize: 8 * 1024 } })
    assert.equal(small.error?.name, 'RequestFailedError')
    assert.equal((small.error as any).status, ResponseStatusCode.RequestFailedUnknown)
  })
})

describe('identity-hash links', () => {
  it('the responder lists an identity link as present without a block; the requestor accepts it, stores nothing for it', async () => {
    const src = new Store()
    const leaf = await src.putCbor({ leaf: 'stored' })
    const inlineBytes = dagCbor.encode({ inline: true, next: leaf })
    const inline = CID.createV1(dagCbor.code, identity.digest(inlineBytes))
    const root = await src.putCbor({ a: inline, b: leaf })
    const dest = new Store()
    const run = await fetchVia(src, dest, root, allSelector)
    assert.equal(run.error, undefined)
    assert.equal(run.result?.status, ResponseStatusCode.RequestCompletedFull)
    const meta = run.messages.flatMap(m => m.responses[0].metadata ?? [])
    // traversal order: root, a (identity) -> its next (leaf), b (leaf again: d)
    assert.deepEqual(meta.map(m => [m.link.toString(), m.action]), [
      [root.toString(), LinkAction.Present], [inline.toString(), LinkAction.Present],
      [leaf.toString(), LinkAction.Present], [leaf.toString(), LinkAction.DuplicateNotSent]
    ])
    assert.deepEqual(run.sent.sort(), [root.toString(), leaf.toString()].sort(), 'no block on the wire for the identity link')
    assert.deepEqual(dest.puts.sort(), [root.toString(), leaf.toString()].sort(), 'the identity block is not stored')
    const visited = run.events.filter(e => e.type === 'visit').map(e => e.type === 'visit' ? e.visit.path : '')
    assert.ok(visited.includes('a/next'), 'the traversal went through the identity block')
    // resume: an identity link counts as a load and as local (the requestor holds it in the CID)
    const again = await fetchVia(src, dest, root, allSelector)
    assert.equal(again.error, undefined)
    assert.deepEqual(again.sent, [])
  })

  it('the requestor rejects metadata that names another link where its traversal reaches an identity link', async () => {
    const src = new Store()
    const leaf = await src.putCbor({ leaf: 1 })
    const inline = CID.createV1(dagCbor.code, identity.digest(dagCbor.encode({ x: 1 })))
    const root = await src.putCbor({ a: inline, b: leaf })
    const run = await fetchVia(src, new Store(), root, allSelector, {
      tamper: (msg) => ({ ...msg, responses: msg.responses.map(r => ({ ...r, metadata: (r.metadata ?? []).filter(m => m.link.multihash.code !== identity.code) })) })
    })
    assert.equal(run.error?.name, 'TraversalMismatchError')
  })
})

describe('UnixFS file ADL over the wire', () => {
  it('InterpretAs unixfs on a file: the responder sends every block the ADL reads, the requestor verifies and stores them', async () => {
    const src = new Store()
    const content = new Uint8Array(randomBytes(100 * 1024))
    let root: CID | undefined
    for await (const entry of importer([{ content }], src.importerStore, { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: 16 * 1024 }), layout: balanced({ maxChildrenPerNode: 4 }) })) root = entry.cid
    assert.ok(root != null)
    const dest = new Store()
    const run = await fetchVia(src, dest, root, s.interpretAs('unixfs', s.matcher()))
    assert.equal(run.error, undefined)
    assert.equal(run.result?.status, ResponseStatusCode.RequestCompletedFull)
    const all = await allCids(src, root)
    assert.deepEqual(new Set(dest.puts), new Set(all), 'every block of the file stored')
    const visits = run.events.filter(e => e.type === 'visit')
    assert.equal(visits.length, 1)
    assert.deepEqual(Buffer.from(visits[0].type === 'visit' ? visits[0].visit.node as Uint8Array : []), Buffer.from(content))
  })
})

describe('ExploreConditional (go-ipld-prime does not parse it)', () => {
  it('the requestor refuses to send it: UnsupportedSelectorError naming where it is', () => {
    const leaf = CID.createV1(raw.code, identity.digest(Uint8Array.of(1)))
    const sel = s.exploreRecursive(s.exploreAll(s.union(s.matcher(), s.conditional(s.isLink(leaf), s.recursiveEdge()))), { depth: 3 })
    assert.throws(() => new GraphSyncRequestor({ root: leaf, selector: sel, store: new Store().requestorStore }), (err: any) =>
      err.name === 'UnsupportedSelectorError' && /ExploreConditional/.test(err.message) && err.message.includes('selector/R/:>/a/>/|/1/&'))
  })

  it('the responder answers an inbound one with a status (here 20 RequestCompletedFull), never a crash', async () => {
    const src = new Store()
    const leaf = await src.putCbor({ leaf: true })
    const root = await src.putCbor({ a: leaf })
    const sel = s.exploreFields({ a: s.conditional(s.isLink(leaf), s.matcher()) })
    const bytes = encodeMessage({ requests: [{ id: new Uint8Array(16), type: RequestType.New, root, selector: sel }], responses: [], blocks: [] })
    const responder = new RequestResponder(decodeMessage(bytes).requests[0], src.responderLoader)
    const messages = await collect(responder.messages())
    assert.equal(messages.at(-1)?.responses[0].status, ResponseStatusCode.RequestCompletedFull)
    assert.deepEqual(messages.flatMap(m => m.responses[0].metadata ?? []).map(m => m.link.toString()), [root.toString(), leaf.toString()])
  })
})

describe('responder limits and bookkeeping', () => {
  /** A chain of n dag-cbor blocks, each linking the next. */
  async function chain (store: Store, n: number): Promise<CID> {
    let next: CID | null = null
    for (let i = 0; i < n; i++) next = await store.putCbor({ i, next })
    return next as CID
  }

  const deep = s.exploreRecursive(s.union(s.matcher(), s.exploreAll(s.recursiveEdge())))

  it('rejects (30) a traversal over its depth or block budget, after the blocks within it', async () => {
    const src = new Store()
    const root = await chain(src, 60)
    for (const budget of [{ depth: 10 }, { blocks: 7 }]) {
      const dest = new Store()
      const run = await fetchVia(src, dest, root, deep, { responder: { budget } })
      assert.equal(run.error?.name, 'RequestFailedError')
      assert.equal((run.error as any).status, ResponseStatusCode.RequestRejected)
      assert.ok(dest.blocks.size < 60)
      const last = run.messages[run.messages.length - 1].responses[0].status
      assert.equal(last, ResponseStatusCode.RequestRejected)
    }
  })

  it('rejects a union over MAX_UNION_MEMBERS when the request is decoded', async () => {
    const src = new Store()
    const root = await chain(src, 2)
    const members = Array.from({ length: MAX_UNION_MEMBERS + 1 }, (_, i) => s.exploreIndex(i, s.matcher()))
    const bomb = { kind: 'exploreUnion', members } as unknown as Selector
    const bytes = encodeMessage({ requests: [{ id: new Uint8Array(16), type: RequestType.New, root, selector: bomb }], responses: [], blocks: [] })
    assert.throws(() => decodeMessage(bytes), { name: 'InvalidMessageError' })
  })

  it('bounds a recursive selector on a wide DAG by its block budget', async () => {
    const src = new Store()
    const leaves = await Promise.all(Array.from({ length: 50 }, async (_, i) => await src.putCbor({ leaf: i })))
    const root = await src.putCbor({ a: leaves, b: leaves, c: leaves })
    const responder = new RequestResponder({ id: new Uint8Array(16), type: RequestType.New, root, selector: deep }, src.responderLoader, { budget: { blocks: 20 } })
    const msgs = await collect(responder.messages())
    assert.equal(msgs.at(-1)?.responses[0].status, ResponseStatusCode.RequestRejected)
    const links = msgs.flatMap(m => m.responses[0].metadata ?? [])
    assert.ok(links.length <= 20)
  })

  it('ResponseManager: busy past the per-peer limit (31), duplicate ids rejected (30), cancel ends with 35', async () => {
    const { store: src, root } = await unixfsDag()
    const mgr = new ResponseManager({ maxRequestsPerPeer: 2, maxRequests: 3, flushBytes: 16 * 1024 })
    const req = (n: number): GraphSyncRequest => ({ id: Uint8Array.from({ length: 16 }, () => n), type: RequestType.New, root, selector: allSelector })
    const a = mgr.receive('p1', req(1), src.responderLoader)
    const b = mgr.receive('p1', req(2), src.responderLoader)
    assert.equal(a.type, 'start')
    assert.equal(b.type, 'start')
    const dup = mgr.receive('p2', req(3), src.responderLoader)
    assert.equal(dup.type, 'start')
    const again = mgr.receive('p2', req(3), src.responderLoader)
    assert.equal(again.type === 'reply' && again.message.responses[0].status, ResponseStatusCode.RequestRejected)
    const busy = mgr.receive('p1', req(4), src.responderLoader)
    assert.equal(busy.type === 'reply' && busy.message.responses[0].status, ResponseStatusCode.RequestFailedBusy)
    const busyTotal = mgr.receive('p3', req(5), src.responderLoader)
    assert.equal(busyTotal.type === 'reply' && busyTotal.message.responses[0].status, ResponseStatusCode.RequestFailedBusy)
    mgr.assertInvariants()
    assert.equal(mgr.active, 3)

    // cancel a running response after its first message
    assert.ok(a.type === 'start')
    const it1 = a.responder.messages()
    const first = await it1.next()
    assert.equal(first.value?.responses[0].status, ResponseStatusCode.PartialResponse)
    assert.equal(mgr.receive('p1', { id: req(1).id, type: RequestType.Cancel }, src.responderLoader).type, 'none')
    const rest: GraphSyncMessage[] = []
    for await (const m of it1) rest.push(m)
    assert.equal(rest.at(-1)?.responses[0].status, ResponseStatusCode.RequestCancelled)
    mgr.finish('p1', a.responder)
    mgr.assertInvariants()
    assert.equal(mgr.activeFor('p1'), 1)
    assert.equal(mgr.receive('p1', req(6), src.responderLoader).type, 'start')
    mgr.assertInvariants()
  })

  it('ends with 32 on a malformed do-not-send-cids extension', async () => {
    const { store: src, root } = await unixfsDag()
    const responder = new RequestResponder({
      id: new Uint8Array(16), type: RequestType.New, root, selector: allSelector, extensions: { [Extension.DoNotSendCids]: 'nope' }
    }, src.responderLoader)
    const msgs = await collect(responder.messages())
    assert.equal(msgs.length, 1)
    assert.equal(msgs[0].responses[0].status, ResponseStatusCode.RequestFailedUnknown)
    assert.equal(msgs[0].blocks.length, 0)
  })
})

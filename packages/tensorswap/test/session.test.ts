import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { MemoryBlockstore } from 'blockstore-core'
import { importBytes } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { linkChildren, readBlock, Session } from '../src/session.js'
import type { SessionBlockDetail, SessionComponents } from '../src/session.js'
import type { CID } from 'multiformats/cid'

const KiB = 1024

/** A dag-pb tree of 64 KiB raw leaves, 4 links per node. */
async function tree (bytes: number): Promise<{ source: MemoryBlockstore, root: CID, cids: CID[] }> {
  const source = new MemoryBlockstore()
  const { cid: root } = await importBytes(randomBytes(bytes), source, { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: 64 * KiB }), layout: balanced({ maxChildrenPerNode: 4 }) })
  const cids: CID[] = []
  const stack = [root]
  while (stack.length > 0) {
    const cid = stack.pop() as CID
    cids.push(cid)
    stack.push(...linkChildren(cid, await readBlock(source, cid)).map(c => c.cid).reverse())
  }
  return { source, root, cids }
}

/** A `want` answered from `source` after `delayMs`, recording what was asked. */
function fakeWant (source: MemoryBlockstore, asked: string[], delayMs = 1): SessionComponents['want'] {
  return async (cid, options) => {
    asked.push(cid.toString())
    await new Promise(resolve => setTimeout(resolve, delayMs))
    options.signal.throwIfAborted()
    return { bytes: await readBlock(source, cid), peer: 'peerA' }
  }
}

describe('Session (driver)', () => {
  it('fetches a DAG in DFS order with a window of one, and resumes without asking for stored blocks', async () => {
    const { source, root, cids } = await tree(1024 * KiB)
    const store = new MemoryBlockstore()
    const asked: string[] = []
    const events: SessionBlockDetail[] = []
    const first = await new Session({ blockstore: store, want: fakeWant(source, asked) }, { id: 1, maxWantsAhead: 1 }).run(root, { onProgress: e => { events.push(e.detail) } })
    assert.deepEqual(asked, cids.map(String), 'DFS pre-order')
    assert.equal(first.blocksFetched, cids.length)
    assert.ok(events.every(d => d.from === 'network' && d.peer === 'peerA'))
    // drop half the leaves, fetch again: only those are asked for
    const dropped = cids.filter(c => c.code === 0x55).filter((_, i) => i % 2 === 0)
    for (const c of dropped) await store.delete(c)
    asked.length = 0
    events.length = 0
    const second = await new Session({ blockstore: store, want: fakeWant(source, asked) }, { id: 2 }).run(root, { onProgress: e => { events.push(e.detail) } })
    assert.deepEqual(new Set(asked), new Set(dropped.map(String)))
    assert.equal(second.blocksFetched, dropped.length)
    assert.equal(second.blocksLocal, cids.length - dropped.length)
    assert.equal(events.filter(d => d.from === 'local').length, cids.length - dropped.length)
    for (const c of cids) assert.ok(await store.has(c))
  })

  it('wants a node\'s missing children together, in one turn of the event loop (one want-list message), whatever the store\'s has() costs', async () => {
    // one file node over 40 leaves; a store whose has() completes in a later turn, as leveldb's does
    const source = new MemoryBlockstore()
    const { cid: root } = await importBytes(randomBytes(40 * 64 * KiB), source, { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: 64 * KiB }), layout: balanced({ maxChildrenPerNode: 1024 }) })
    const store = new MemoryBlockstore()
    const has = store.has.bind(store)
    store.has = async (cid, o) => { await new Promise(resolve => setImmediate(resolve)); return await has(cid, o) }
    let turn = 0
    let ticking = true
    const tick = (): void => { turn++; if (ticking) setImmediate(tick) }
    setImmediate(tick)
    const turns: number[] = []
    const want: SessionComponents['want'] = async (cid, options) => {
      if (cid.code === 0x55) turns.push(turn)
      return await fakeWant(source, [], 1)(cid, options)
    }
    try {
      const result = await new Session({ blockstore: store, want }, { id: 1 }).run(root)
      assert.equal(result.blocksFetched, 41)
    } finally {
      ticking = false
    }
    assert.equal(turns.length, 40)
    assert.equal(new Set(turns).size, 1, `the 40 leaf wants were made in ${new Set(turns).size} turns`)
  })

  it('keeps puts within their count and byte bounds, and wants within the window', async () => {
    const { source, root, cids } = await tree(2048 * KiB)
    const inner = new MemoryBlockstore()
    let puts = 0
    let putBytes = 0
    let maxPuts = 0
    let maxPutBytes = 0
    const store = new Proxy(inner, {
      get (target, prop) {
        if (prop === 'put') {
          return async (cid: CID, bytes: Uint8Array, options?: unknown) => {
            puts++
            putBytes += bytes.byteLength
            maxPuts = Math.max(maxPuts, puts)
            maxPutBytes = Math.max(maxPutBytes, putBytes)
            await new Promise(resolve => setTimeout(resolve, 5))
            puts--
            putBytes -= bytes.byteLength
            return await target.put(cid, bytes, options as any)
          }
        }
        const v = Reflect.get(target, prop)
        return typeof v === 'function' ? v.bind(target) : v
      }
    })
    const asked: string[] = []
    let outstanding = 0
    let maxOutstanding = 0
    const want = fakeWant(source, asked, 2)
    const result = await new Session({
      blockstore: store,
      want: async (cid, o) => { outstanding++; maxOutstanding = Math.max(maxOutstanding, outstanding); try { return await want(cid, o) } finally { outstanding-- } }
    }, { id: 3, maxWantsAhead: 6, maxConcurrentPuts: 3, maxPutBytes: 128 * KiB }).run(root)
    assert.equal(result.blocksFetched, cids.length)
    assert.ok(maxPuts <= 3, `at most 3 puts at once, saw ${maxPuts}`)
    assert.ok(maxPutBytes <= 128 * KiB, `at most 128 KiB being written, saw ${maxPutBytes}`)
    assert.ok(maxPuts >= 2, 'puts do overlap')
    assert.ok(maxOutstanding <= 6, `at most 6 wants outstanding, saw ${maxOutstanding}`)
  })

  it('rejects with the want error and with the signal reason', async () => {
    const { source, root } = await tree(512 * KiB)
    const boom = Object.assign(new Error('nobody has it'), { name: 'BlockUnavailableError' })
    let calls = 0
    await assert.rejects(new Session({
      blockstore: new MemoryBlockstore(),
      want: async (cid, o) => { if (++calls === 3) throw boom; return await fakeWant(source, [])(cid, o) }
    }, { id: 4 }).run(root), { name: 'BlockUnavailableError' })
    const controller = new AbortController()
    const run = new Session({ blockstore: new MemoryBlockstore(), want: fakeWant(source, [], 50) }, { id: 5 }).run(root, { signal: controller.signal })
    setTimeout(() => { controller.abort(new Error('enough')) }, 10)
    await assert.rejects(run, { message: 'enough' })
  })

  it('redials promptly when the candidates are lost while blocks are wanted (not at the deadline), and stops once one is back', async () => {
    const { source, root, cids } = await tree(512 * KiB)
    const store = new MemoryBlockstore()
    let connected = true
    let listener: ((n: number) => void) | undefined
    const redials: number[] = []
    let recovered = 0
    let resume: (() => void) | undefined
    const back = new Promise<void>(resolve => { resume = resolve })
    let served = 0
    const lostAt = { ms: 0 }
    const components: SessionComponents = {
      blockstore: store,
      want: async (cid, options) => {
        // the peer goes away after 3 blocks; wants wait until it is back
        if (++served === 4) {
          connected = false
          lostAt.ms = Date.now()
          listener?.(0)
        }
        if (!connected) await back
        options.signal.throwIfAborted()
        return { bytes: await readBlock(source, cid), peer: 'peerA' }
      },
      watchCandidates: (l) => {
        listener = l
        l(connected ? 1 : 0)
        return () => { listener = undefined }
      },
      redial: async (attempt) => {
        redials.push(attempt)
        if (attempt < 2) return // the first dial fails: the core redials after a back-off
        connected = true
        listener?.(1)
        resume?.()
      },
      recover: async () => { recovered++ }
    }
    const started = Date.now()
    const result = await new Session(components, { id: 7, progressTimeoutMs: 60_000, maxWantsAhead: 1 }).run(root)
    assert.equal(result.blocksFetched, cids.length)
    assert.deepEqual(redials, [1, 2], 'redialled until the peer was back, then no more')
    assert.equal(recovered, 0, 'the progress deadline was not needed')
    // two waits of at most 250 ms and 500 ms (jittered down): far below the 60 s deadline
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`)
    assert.ok(lostAt.ms > 0)
    for (const c of cids) assert.ok(await store.has(c))
  })
})

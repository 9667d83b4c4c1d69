import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { SessionCore } from '../src/session-core.js'
import type { Child, SessionEffect, SessionVisit } from '../src/session-core.js'

const MiB = 1024 * 1024

function cidOf (i: number): CID {
  return CID.createV1(0x55, Digest.create(0x12, createHash('sha256').update(`node ${i}`).digest()))
}

/** A random DAG over nodes 0..n-1 rooted at 0: children have larger indices (no cycles), maybe shared. */
const dagArb = (shared: boolean): fc.Arbitrary<{ children: number[][], sizes: Array<number | undefined>, local: boolean[] }> =>
  fc.integer({ min: 1, max: 40 }).chain(n => fc.record({
    children: shared
      ? fc.tuple(...Array.from({ length: n }, (_, i) => fc.uniqueArray(fc.integer({ min: i + 1, max: Math.max(i + 1, n - 1) }), { maxLength: i + 1 < n ? 4 : 0 })))
      // a tree: each node i > 0 gets one parent < i
      : fc.tuple(...Array.from({ length: n }, (_, i) => i === 0 ? fc.constant(-1) : fc.nat(i - 1))).map(parents => {
        const out: number[][] = Array.from({ length: n }, () => [])
        parents.forEach((p, i) => { if (i > 0) (out[p] as number[]).push(i) })
        return out
      }),
    sizes: fc.tuple(...Array.from({ length: n }, () => fc.option(fc.integer({ min: 1, max: 3 * MiB }), { nil: undefined }))),
    local: fc.tuple(...Array.from({ length: n }, () => fc.boolean()))
  })).map(d => ({ ...d, children: d.children as number[][] }))

const index = new Map<string, number>()
const cids: CID[] = Array.from({ length: 64 }, (_, i) => { const c = cidOf(i); index.set(c.toString(), i); return c })
const nodeOf = (cid: CID): number => index.get(cid.toString()) as number

function childrenOf (dag: { children: number[][], sizes: Array<number | undefined> }, i: number): Child[] {
  return (dag.children[i] ?? []).map(c => ({ cid: cids[c] as CID, sizeHint: dag.sizes[c] }))
}

/** Nodes reachable from 0. */
function reachable (children: number[][]): Set<number> {
  const out = new Set<number>()
  const stack = [0]
  while (stack.length > 0) {
    const i = stack.pop() as number
    if (out.has(i)) continue
    out.add(i)
    stack.push(...(children[i] ?? []))
  }
  return out
}

function preOrder (children: number[][]): number[] {
  const out: number[] = []
  const visit = (i: number): void => { out.push(i); for (const c of children[i] ?? []) visit(c) }
  visit(0)
  return out
}

describe('SessionCore', () => {
  it('walks a tree in DFS pre-order with a window of one block', () => {
    fc.assert(fc.property(dagArb(false), (dag) => {
      const core = new SessionCore(cids[0] as CID, { maxWantsAhead: 1 })
      const order: number[] = []
      for (let v = core.next(); v != null; v = core.next()) {
        assert.equal(core.next(), undefined, 'window of one: nothing more until this block is done')
        const i = nodeOf(v.cid)
        order.push(i)
        if (dag.local[i] === true) {
          core.local(v.key, childrenOf(dag, i), 10)
        } else {
          core.want(v.key)
          core.arrived(v.key, childrenOf(dag, i), 10, 'A')
          core.stored(v.key)
        }
        core.assertInvariants()
      }
      assert.deepEqual(order, preOrder(dag.children))
      assert.equal(core.state, 'done')
    }), { numRuns: 200 })
  })

  it('under any interleaving: hands out each CID once, stays in its window, fetches every reachable block once, ends done once (property)', () => {
    const step = fc.constantFrom('next', 'arrive', 'store', 'next', 'arrive', 'store')
    fc.assert(fc.property(dagArb(true), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 * MiB }), fc.array(step, { maxLength: 400 }), fc.array(fc.nat(), { minLength: 1, maxLength: 50 }), (dag, maxWantsAhead, maxBytesAhead, steps, picks) => {
      const core = new SessionCore(cids[0] as CID, { maxWantsAhead, maxBytesAhead })
      const handedOut = new Set<number>()
      const wanted: SessionVisit[] = []
      const arrived: SessionVisit[] = []
      const seen: number[] = []
      let lastPriority = Infinity
      let dones = 0
      let p = 0
      const pick = (n: number): number => (picks[p++ % picks.length] as number) % n
      const count = (effects: SessionEffect[]): void => {
        for (const e of effects) {
          if (e.type === 'done') dones++
          if (e.type === 'progress') seen.push(nodeOf(e.detail.cid))
          assert.notEqual(e.type, 'failed')
        }
      }
      const run = (s: string): void => {
        if (s === 'next') {
          const before = { outstanding: core.outstanding, bytes: core.bytesAhead }
          const v = core.next()
          if (v == null) return
          assert.ok(before.outstanding < maxWantsAhead, 'count window')
          assert.ok(before.bytes === 0 || before.bytes < maxBytesAhead, 'byte window')
          const i = nodeOf(v.cid)
          assert.ok(!handedOut.has(i), `node ${i} handed out twice`)
          handedOut.add(i)
          if (dag.local[i] === true) {
            count(core.local(v.key, childrenOf(dag, i)))
          } else {
            const w = core.want(v.key)
            assert.ok(w.priority < lastPriority, 'priorities strictly decrease')
            lastPriority = w.priority
            wanted.push(v)
          }
        } else if (s === 'arrive' && wanted.length > 0) {
          const v = wanted.splice(pick(wanted.length), 1)[0] as SessionVisit
          count(core.arrived(v.key, childrenOf(dag, nodeOf(v.cid)), 100, 'A'))
          arrived.push(v)
        } else if (s === 'store' && arrived.length > 0) {
          const v = arrived.splice(pick(arrived.length), 1)[0] as SessionVisit
          count(core.stored(v.key))
        }
        core.assertInvariants()
        assert.ok(core.bytesAhead <= maxBytesAhead + 3 * MiB, 'at most one block past the byte bound')
      }
      for (const s of steps) run(s)
      // drain: every outstanding block arrives and is stored
      for (let rounds = 0; core.state === 'running'; rounds++) {
        assert.ok(rounds < 1000, 'running with nothing left to do')
        for (const s of ['next', 'arrive', 'store']) run(s)
      }
      const want = reachable(dag.children)
      assert.deepEqual(new Set(handedOut), want)
      assert.equal(seen.length, want.size, 'one progress per block')
      assert.deepEqual(new Set(seen), want)
      assert.equal(dones, 1)
      const r = core.result
      assert.equal(r.blocksFetched + r.blocksLocal, want.size)
      assert.equal(r.blocksLocal, [...want].filter(i => dag.local[i] === true).length)
    }), { numRuns: 300 })
  })

  it('a failure ends the session once; later arrivals and puts report nothing', () => {
    const core = new SessionCore(cids[0] as CID, { maxWantsAhead: 4 })
    const root = core.next() as SessionVisit
    core.want(root.key)
    core.arrived(root.key, [{ cid: cids[1] as CID }, { cid: cids[2] as CID }], 10)
    const a = core.next() as SessionVisit
    const b = core.next() as SessionVisit
    core.want(a.key)
    core.want(b.key)
    const err = new Error('boom')
    assert.deepEqual(core.failed(a.key, err), [{ type: 'failed', cid: a.cid, error: err }])
    assert.equal(core.state, 'failed')
    assert.deepEqual(core.failed(b.key, new Error('later')), [])
    assert.deepEqual(core.stored(root.key), [])
    assert.equal(core.next(), undefined)
    assert.equal(core.outstanding, 0)
    core.assertInvariants()
  })

  it('reports progress with the one block detail shape', () => {
    const core = new SessionCore(cids[0] as CID)
    const root = core.next() as SessionVisit
    assert.deepEqual(core.local(root.key, [{ cid: cids[1] as CID, sizeHint: 7 }], 33), [{ type: 'progress', detail: { cid: cids[0], bytes: 33, from: 'local' } }])
    const leaf = core.next() as SessionVisit
    assert.equal(leaf.estBytes, 7)
    const w = core.want(leaf.key)
    assert.equal(w.priority, 2 ** 30)
    core.arrived(leaf.key, [], 7, 'peerA')
    assert.deepEqual(core.stored(leaf.key), [
      { type: 'progress', detail: { cid: cids[1], bytes: 7, from: 'network', peer: 'peerA' } },
      { type: 'done', result: { blocksFetched: 1, bytesFetched: 7, blocksLocal: 1, bytesLocalRead: 33 } }
    ])
    assert.throws(() => core.stored(leaf.key), /not handed out/)
  })
  it('progress deadline: recover once, then stalled; progress resets it; waiting on nothing does not count', () => {
    const core = new SessionCore(cids[0] as CID, { progressTimeoutMs: 100, startMs: 0 })
    const root = core.next() as SessionVisit
    core.want(root.key)
    assert.deepEqual(core.tick(99), [])
    assert.deepEqual(core.tick(100), [{ type: 'recover', attempt: 1, idleMs: 100, waiting: 1 }])
    assert.deepEqual(core.tick(199), [])
    // progress (a block arrived) starts the deadline again and allows a new recovery
    core.progress(150)
    assert.deepEqual(core.tick(249), [])
    assert.deepEqual(core.tick(250), [{ type: 'recover', attempt: 1, idleMs: 100, waiting: 1 }])
    assert.deepEqual(core.tick(350), [{ type: 'stalled', idleMs: 200, waiting: 1 }])
    assert.equal(core.state, 'failed')
    assert.deepEqual(core.tick(1000), [])

    // nothing wanted from the network (a put in progress): time does not count
    const c2 = new SessionCore(cids[0] as CID, { progressTimeoutMs: 100, startMs: 0 })
    const v = c2.next() as SessionVisit
    c2.want(v.key)
    c2.progress(10)
    c2.arrived(v.key, [], 5)
    assert.deepEqual(c2.tick(500), [])
    assert.equal(c2.waiting, 0)
    assert.deepEqual(c2.stored(v.key).map(e => e.type), ['progress', 'done'])
    assert.deepEqual(c2.tick(5000), [])
  })
})

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

  it('prompt redials: the last candidate gone while blocks are wanted redials with doubling, jittered waits, bounded; a candidate back ends them; the deadline still bounds the whole', () => {
    // random() = 0 draws the shortest wait (half the bound), 1 - eps the longest
    const draws = [0, 0.999, 0, 0, 0, 0]
    const core = new SessionCore(cids[0] as CID, { progressTimeoutMs: 10_000, startMs: 0, redialBackoffMs: 100, maxRedialBackoffMs: 400, promptRedials: 4, random: () => draws.shift() ?? 0 })
    const root = core.next() as SessionVisit
    core.want(root.key)
    core.candidates(1, 0)
    assert.equal(core.nextWakeMs, undefined, 'a candidate is connected: nothing due')
    // the only candidate disconnects at t=1000
    core.candidates(0, 1000)
    assert.equal(core.nextWakeMs, 1050, 'first wait: half of 100 ms')
    core.candidates(0, 1020) // still none: the loss is not restarted
    assert.equal(core.nextWakeMs, 1050)
    assert.deepEqual(core.tick(1049), [])
    assert.deepEqual(core.tick(1050), [{ type: 'redial', attempt: 1, lostMs: 50, waiting: 1 }])
    // the bound doubles (200 ms); this draw is near its top
    assert.ok(Math.abs((core.nextWakeMs as number) - (1050 + 199.9)) < 0.01, String(core.nextWakeMs))
    assert.deepEqual(core.tick(1249), [])
    assert.deepEqual(core.tick(1250).map(e => e.type), ['redial'])
    // 400 ms bound (the cap): 200 ms drawn; then capped again
    assert.equal(core.nextWakeMs, 1450)
    assert.deepEqual(core.tick(1450), [{ type: 'redial', attempt: 3, lostMs: 450, waiting: 1 }])
    assert.equal(core.nextWakeMs, 1650)
    assert.deepEqual(core.tick(1650), [{ type: 'redial', attempt: 4, lostMs: 650, waiting: 1 }])
    assert.equal(core.nextWakeMs, undefined, 'at most promptRedials per loss')
    assert.deepEqual(core.tick(5000), [])
    core.assertInvariants()
    // the redials did not move the deadline: it passes 10 s after the last progress (t=0)
    assert.deepEqual(core.tick(10_000), [{ type: 'recover', attempt: 1, idleMs: 10_000, waiting: 1 }])
    // the peer comes back: the count starts again at the next loss
    core.candidates(1, 10_500)
    assert.equal(core.nextWakeMs, undefined)
    core.candidates(0, 11_000)
    assert.equal(core.nextWakeMs, 11_050)
    assert.deepEqual(core.tick(11_050), [{ type: 'redial', attempt: 1, lostMs: 50, waiting: 1 }])
    // coming back before a due redial cancels it
    core.candidates(2, 11_060)
    assert.deepEqual(core.tick(11_200), [])
    // the deadline (restarted by the recovery at t=10000) fails the session, redials or not
    core.candidates(0, 19_990)
    assert.deepEqual(core.tick(20_000).map(e => e.type), ['stalled'])
    assert.equal(core.nextWakeMs, undefined, 'nothing is due once the session is over')
  })

  it('prompt redials wait for a want: none while only puts or local reads are outstanding; none with promptRedials 0', () => {
    const core = new SessionCore(cids[0] as CID, { progressTimeoutMs: 10_000, startMs: 0, redialBackoffMs: 100, random: () => 0 })
    const root = core.next() as SessionVisit
    core.candidates(0, 0) // none connected at the start
    assert.equal(core.nextWakeMs, 50)
    assert.deepEqual(core.tick(60), [], 'the root is being looked up locally, not wanted')
    core.want(root.key)
    assert.deepEqual(core.tick(70), [{ type: 'redial', attempt: 1, lostMs: 70, waiting: 1 }])
    const off = new SessionCore(cids[0] as CID, { progressTimeoutMs: 10_000, startMs: 0, promptRedials: 0 })
    off.want((off.next() as SessionVisit).key)
    off.candidates(0, 0)
    assert.equal(off.nextWakeMs, undefined)
    assert.deepEqual(off.tick(5000), [])
  })

  it('property: redials come only while no candidate is connected and blocks are wanted, at most promptRedials per loss, never before the wait bound', () => {
    fc.assert(fc.property(fc.array(fc.record({ dt: fc.integer({ min: 0, max: 3000 }), op: fc.constantFrom('tick', 'up', 'down', 'arrive') }), { maxLength: 60 }), fc.integer({ min: 0, max: 6 }), (ops, max) => {
      const core = new SessionCore(cids[0] as CID, { progressTimeoutMs: 20_000, startMs: 0, redialBackoffMs: 250, maxRedialBackoffMs: 4000, promptRedials: max })
      const root = core.next() as SessionVisit
      core.want(root.key)
      let now = 0
      let connected = 1
      let lastRedialMs = -Infinity
      let sinceLoss = 0
      core.candidates(1, 0)
      for (const { dt, op } of ops) {
        now += dt
        if (op === 'up') {
          connected++
          core.candidates(connected, now)
          sinceLoss = 0
        } else if (op === 'down') {
          const before = connected
          if (connected > 0) connected--
          core.candidates(connected, now)
          // a loss starts when the last candidate goes
          if (before > 0 && connected === 0) lastRedialMs = now
        } else if (op === 'arrive') {
          core.progress(now)
        } else {
          for (const e of core.tick(now)) {
            if (e.type !== 'redial') continue
            assert.equal(connected, 0, 'a redial only while no candidate is connected')
            assert.ok(e.waiting > 0)
            sinceLoss++
            assert.ok(sinceLoss <= max, `${sinceLoss} redials over ${max}`)
            assert.ok(now - lastRedialMs >= 125 - 1e-9, `redial ${now - lastRedialMs} ms after the previous one`)
            lastRedialMs = now
          }
        }
        core.assertInvariants()
        if (core.state !== 'running') return
      }
    }))
  })
})

import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { Engine, blocksForLink } from '../src/engine.js'
import { blockKey } from '../src/wire/block-key.js'
import type { EngineBatch, TaskOutcome } from '../src/engine.js'
import type { WantEntry } from '../src/wire/codec.js'

function cidOf (i: number): CID {
  return CID.createV1(0x55, Digest.create(0x12, createHash('sha256').update(`block ${i}`).digest()))
}

function want (i: number, over: Partial<WantEntry> = {}): WantEntry {
  return { cid: cidOf(i), priority: 1, cancel: false, wantType: 'block', sendDontHave: true, ...over }
}

/** Finish `batch` (asserted present) with one outcome for all its tasks. */
function finish (engine: Engine, batch: EngineBatch | undefined, outcome: TaskOutcome): void {
  assert.ok(batch != null, 'a batch')
  engine.batchDone(batch, new Map(batch.tasks.map(t => [t.key, outcome])))
}

describe('Engine', () => {
  it('serves peers round robin, one batch in progress per peer, by priority within a peer', () => {
    const engine = new Engine({ blocksPerBatch: 2, batchesPerPeer: 1 })
    engine.messageReceived('A', { full: false, entries: [want(1, { priority: 1 }), want(2, { priority: 9 }), want(3, { priority: 5 }), want(4)] })
    engine.messageReceived('B', { full: false, entries: [want(10), want(11)] })
    const b1 = engine.nextBatch()
    assert.equal(b1?.peer, 'A')
    assert.deepEqual(b1?.tasks.map(t => t.priority), [9, 5])
    const b2 = engine.nextBatch()
    assert.equal(b2?.peer, 'B')
    // both busy: nothing until a batch is done (back-pressure)
    assert.equal(engine.nextBatch(), undefined)
    finish(engine, b1, 'block')
    const b3 = engine.nextBatch()
    assert.equal(b3?.peer, 'A')
    assert.equal(b3?.tasks.length, 2)
    finish(engine, b2, 'block')
    finish(engine, b3, 'block')
    assert.equal(engine.hasWork(), false)
    assert.equal(engine.wantlistSize('A'), 0)
    engine.assertInvariants()
  })

  it('hands a peer its next batch while one is in progress (batchesPerPeer), round robin first, in priority order', () => {
    const engine = new Engine({ blocksPerBatch: 2, batchesPerPeer: 2 })
    engine.messageReceived('A', { full: false, entries: [1, 2, 3, 4, 5, 6, 7].map(i => want(i, { priority: 10 - i })) })
    engine.messageReceived('B', { full: false, entries: [want(10), want(11), want(12)] })
    const a1 = engine.nextBatch()
    const b1 = engine.nextBatch()
    const a2 = engine.nextBatch()
    const b2 = engine.nextBatch()
    // round robin: each peer's second batch only after every peer got a first one
    assert.deepEqual([a1?.peer, b1?.peer, a2?.peer, b2?.peer], ['A', 'B', 'A', 'B'])
    assert.deepEqual(a1?.tasks.map(t => t.priority), [9, 8])
    assert.deepEqual(a2?.tasks.map(t => t.priority), [7, 6])
    assert.ok((a1?.id ?? 0) < (a2?.id ?? 0), 'ids increase in hand-out order')
    // two in progress each: nothing more (back-pressure), though A has work
    assert.equal(engine.nextBatch(), undefined)
    assert.equal(engine.hasWork(), false)
    engine.assertInvariants()
    // the second batch done first: it frees a place, the first stays in progress
    finish(engine, a2, 'block')
    const a3 = engine.nextBatch()
    assert.deepEqual(a3?.tasks.map(t => t.priority), [5, 4])
    assert.equal(engine.nextBatch(), undefined)
    // a batch done twice is ignored (its place is not freed twice)
    finish(engine, a2, 'block')
    assert.equal(engine.nextBatch(), undefined)
    // a failed batch (no outcomes) re-queues only its own tasks
    engine.batchDone(a1 as EngineBatch, new Map())
    engine.assertInvariants()
    const a4 = engine.nextBatch()
    assert.deepEqual(a4?.tasks.map(t => t.priority), [9, 8])
    for (const b of [b1, b2, a3, a4]) finish(engine, b, 'block')
    const a5 = engine.nextBatch()
    assert.deepEqual(a5?.tasks.map(t => t.priority), [3])
    finish(engine, a5, 'block')
    assert.equal(engine.wantlistSize('A'), 0)
    assert.equal(engine.wantlistSize('B'), 0)
    engine.assertInvariants()
  })

  it('a peer waiting for its first batch goes before another peer\'s second; maxPerPeer 1 hands out no second batch', () => {
    const engine = new Engine({ batchesPerPeer: 2, blocksPerBatch: 1 })
    engine.messageReceived('A', { full: false, entries: [want(1), want(2), want(3)] })
    const a1 = engine.nextBatch()
    assert.equal(a1?.peer, 'A')
    engine.messageReceived('B', { full: false, entries: [want(10), want(11)] })
    engine.messageReceived('C', { full: false, entries: [want(20)] })
    // the cursor is past A: B, C get their first batches before A its second, whatever the order
    assert.deepEqual([engine.nextBatch()?.peer, engine.nextBatch()?.peer], ['B', 'C'])
    // slots scarce: no second batch for anyone
    assert.equal(engine.nextBatch(1), undefined)
    assert.equal(engine.nextBatch()?.peer, 'A')
    assert.equal(engine.nextBatch()?.peer, 'B')
    assert.equal(engine.nextBatch(), undefined)
    engine.assertInvariants()
  })

  it('ignores a batch finished after its peer disconnected and came back', () => {
    const engine = new Engine({ batchesPerPeer: 1 })
    engine.messageReceived('A', { full: false, entries: [want(1)] })
    const old = engine.nextBatch()
    engine.peerDisconnected('A')
    engine.messageReceived('A', { full: false, entries: [want(1), want(2)] })
    const fresh = engine.nextBatch()
    assert.equal(fresh?.tasks.length, 2)
    // the old batch's end neither frees the new batch's place nor answers its wants
    finish(engine, old, 'block')
    assert.equal(engine.nextBatch(), undefined)
    assert.equal(engine.wantlistSize('A'), 2)
    engine.assertInvariants()
    finish(engine, fresh, 'block')
    assert.equal(engine.wantlistSize('A'), 0)
  })

  it('caps each peer want-list and reports the overflow', () => {
    const engine = new Engine({ maxWantlistSize: 3 })
    const r = engine.messageReceived('A', { full: false, entries: [want(1), want(2), want(3), want(4), want(5)] })
    assert.deepEqual(r, { overflow: 2, queued: 3 })
    assert.equal(engine.wantlistSize('A'), 3)
    engine.assertInvariants()
  })

  it('applies cancels and full want-lists', () => {
    const engine = new Engine()
    engine.messageReceived('A', { full: false, entries: [want(1), want(2), want(3)] })
    engine.messageReceived('A', { full: false, entries: [want(2, { cancel: true })] })
    assert.deepEqual(engine.wantlist('A').map(c => c.toString()), [cidOf(1), cidOf(3)].map(c => c.toString()))
    engine.messageReceived('A', { full: true, entries: [want(3), want(7)] })
    assert.deepEqual(engine.wantlist('A').map(c => c.toString()).sort(), [cidOf(3), cidOf(7)].map(c => c.toString()).sort())
    engine.assertInvariants()
  })

  it('keeps missing wants and serves them when the block arrives', () => {
    const engine = new Engine()
    engine.messageReceived('A', { full: false, entries: [want(1)] })
    const b = engine.nextBatch()
    finish(engine, b, 'missing')
    assert.equal(engine.hasWork(), false)
    assert.equal(engine.wantlistSize('A'), 1)
    assert.deepEqual(engine.blockAdded(cidOf(1)), ['A'])
    assert.equal(engine.nextBatch()?.tasks[0]?.key, blockKey(cidOf(1)))
    engine.assertInvariants()
  })

  it('a want-block that upgrades a want-have in progress is served next, not lost', () => {
    const engine = new Engine()
    engine.messageReceived('A', { full: false, entries: [want(1, { wantType: 'have' })] })
    const b1 = engine.nextBatch()
    assert.equal(b1?.tasks[0]?.wantType, 'have')
    // boxo clients send want-have, then want-block for the same CID
    engine.messageReceived('A', { full: false, entries: [want(1)] })
    finish(engine, b1, 'have')
    assert.equal(engine.wantlistSize('A'), 1)
    const b2 = engine.nextBatch()
    assert.deepEqual(b2?.tasks.map(t => [t.key, t.wantType]), [[blockKey(cidOf(1)), 'block']])
    finish(engine, b2, 'block')
    assert.equal(engine.wantlistSize('A'), 0)
    engine.assertInvariants()
  })

  it('answers a want-have with the block only for small blocks', () => {
    const engine = new Engine()
    assert.equal(engine.answerHave(1024), 'block')
    assert.equal(engine.answerHave(1025), 'have')
    assert.equal(engine.answerHave(undefined), 'have')
    assert.equal(new Engine({ maxSizeReplaceHaveWithBlock: 0 }).answerHave(1), 'have')
  })

  it('never loses a want-have upgraded to want-block, whatever else happens (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ c: fc.nat(30), have: fc.boolean(), p: fc.integer({ min: -3, max: 3 }) }), { maxLength: 40 }),
      fc.nat(30), fc.nat(5), fc.integer({ min: 1, max: 4 }),
      (others, x, batchesBefore, perBatch) => {
        const engine = new Engine({ blocksPerBatch: perBatch, presencesPerBatch: perBatch })
        const X = blockKey(cidOf(100 + x))
        engine.messageReceived('A', { full: false, entries: others.map(o => want(o.c, { wantType: o.have ? 'have' : 'block', priority: o.p })) })
        engine.messageReceived('A', { full: false, entries: [want(100 + x, { wantType: 'have', priority: -5 })] })
        const answer = (tasks: Array<{ key: string, wantType: string }>): Map<string, TaskOutcome> => new Map(tasks.map(t => [t.key, t.wantType === 'block' ? 'block' : 'have']))
        // serve until the want-have for X is handed out
        let batch = engine.nextBatch()
        for (let i = 0; batch != null && !batch.tasks.some(t => t.key === X); i++) {
          engine.batchDone(batch, answer(batch.tasks))
          batch = engine.nextBatch()
          if (i > batchesBefore + 100) assert.fail('X never served')
        }
        assert.ok(batch != null)
        engine.messageReceived('A', { full: false, entries: [want(100 + x)] })
        engine.batchDone(batch, answer(batch.tasks))
        engine.assertInvariants()
        let sent = false
        for (let b = engine.nextBatch(); b != null; b = engine.nextBatch()) {
          if (b.tasks.some(t => t.key === X && t.wantType === 'block')) sent = true
          engine.batchDone(b, answer(b.tasks))
        }
        assert.ok(sent, 'the upgraded want-block was served')
        assert.equal(engine.wantlistSize('A'), 0)
      }), { numRuns: 200 })
  })

  it('answers want-haves at once while the peer\'s block batches are in progress (presence batches)', () => {
    const engine = new Engine({ blocksPerBatch: 1, batchesPerPeer: 2 })
    engine.messageReceived('A', { full: false, entries: [want(1), want(2), want(3)] })
    const b1 = engine.nextBatch()
    const b2 = engine.nextBatch()
    assert.equal(b1?.presences, false)
    assert.equal(b2?.presences, false)
    // both block batches in progress (blocks being written to a slow reader): no third one...
    assert.equal(engine.nextBatch(), undefined)
    // ...but a want-have (and a HAVE the peer waits for after we store a block) is answered now
    engine.messageReceived('A', { full: false, entries: [want(7, { wantType: 'have' }), want(8, { wantType: 'have' })] })
    const p = engine.nextBatch()
    assert.equal(p?.presences, true)
    assert.deepEqual(p?.tasks.map(t => t.wantType), ['have', 'have'])
    // even when the driver's serving slots are full
    engine.messageReceived('A', { full: false, entries: [want(9, { wantType: 'have' })] })
    assert.equal(engine.nextBatch({ presencesOnly: true }), undefined, 'one presence batch per peer at a time')
    finish(engine, p, 'missing')
    const p2 = engine.nextBatch({ presencesOnly: true })
    assert.deepEqual(p2?.tasks.map(t => t.key), [blockKey(cidOf(9))])
    // a missing want-have is answered again (HAVE) once the block arrives, again without waiting
    finish(engine, p2, 'have')
    assert.deepEqual(engine.blockAdded(cidOf(7)), ['A'])
    const p3 = engine.nextBatch({ presencesOnly: true })
    assert.deepEqual(p3?.tasks.map(t => t.key), [blockKey(cidOf(7))])
    engine.assertInvariants()
  })

  it('sends the blocks it sent fewest times recently first, so peers asking for the same blocks get different ones', () => {
    const engine = new Engine({ blocksPerBatch: 1, batchesPerPeer: 1 })
    // three leechers want blocks 1-3, in the same priority order
    for (const peer of ['A', 'B', 'C']) engine.messageReceived(peer, { full: false, entries: [want(1, { priority: 3 }), want(2, { priority: 2 }), want(3, { priority: 1 })] })
    const first = ['A', 'B', 'C'].map(() => engine.nextBatch({ nowMs: 0 }))
    assert.deepEqual(first.map(b => b?.peer), ['A', 'B', 'C'])
    // each is sent a different block: 1 (the highest priority) to A, then the unsent ones
    assert.deepEqual(first.map(b => b?.tasks[0].key), [1, 2, 3].map(i => blockKey(cidOf(i))))
    for (const b of first) finish(engine, b, 'block')
    assert.equal(engine.recentSends(blockKey(cidOf(1)), 0), 1)
    // a send not made (the write failed) does not count
    engine.messageReceived('D', { full: false, entries: [want(4)] })
    finish(engine, engine.nextBatch({ nowMs: 0 }), 'declined')
    assert.equal(engine.recentSends(blockKey(cidOf(4)), 0), 0)
    engine.assertInvariants()
    // within the window a block sent before waits behind an unsent one; past it, priority again
    const e2 = new Engine({ blocksPerBatch: 1, batchesPerPeer: 1, sentWindowMs: 30_000 })
    e2.messageReceived('X', { full: false, entries: [want(1)] })
    finish(e2, e2.nextBatch({ nowMs: 0 }), 'block')
    e2.messageReceived('F', { full: false, entries: [want(1, { priority: 9 }), want(6, { priority: 1 })] })
    assert.deepEqual(e2.nextBatch({ nowMs: 1_000 })?.tasks.map(t => t.key), [blockKey(cidOf(6))])
    e2.messageReceived('E', { full: false, entries: [want(1, { priority: 9 }), want(5, { priority: 1 })] })
    assert.deepEqual(e2.nextBatch({ nowMs: 60_000 })?.tasks.map(t => t.key), [blockKey(cidOf(1))])
    e2.assertInvariants()
  })

  it('caps a block batch at maxBlocks, which blocksForLink derives from the link rate', () => {
    const engine = new Engine({ blocksPerBatch: 4, batchesPerPeer: 1 })
    engine.messageReceived('A', { full: false, entries: [1, 2, 3, 4, 5].map(i => want(i)) })
    assert.equal(engine.nextBatch({ maxBlocks: () => 1 })?.tasks.length, 1)
    // no rate yet: one block for the first writes to a peer, then (a link too fast to give a
    // rate, loopback) a full batch
    assert.equal(blocksForLink(undefined, 4), 1)
    assert.equal(blocksForLink({ writes: 1 }, 4), 1)
    assert.equal(blocksForLink({ writes: 2 }, 4), 4)
    // ~2 MB/s (six leechers sharing 100 Mbit/s): one 1 MiB block per 250 ms batch
    assert.equal(blocksForLink({ bytesPerMs: 2_000, writes: 9 }, 4, 250, 2 ** 20), 1)
    // 12.5 MB/s (one leecher alone on 100 Mbit/s): 2
    assert.equal(blocksForLink({ bytesPerMs: 12_500, writes: 9 }, 4, 250, 2 ** 20), 2)
    // fast links: the engine's own cap
    assert.equal(blocksForLink({ bytesPerMs: 400_000, writes: 9 }, 4, 250, 2 ** 20), 4)
  })

  it('keeps its invariants under random operations (property)', () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('msg' as const), peer: fc.constantFrom('A', 'B', 'C'), full: fc.boolean(), entries: fc.array(fc.record({ c: fc.nat(20), cancel: fc.boolean(), have: fc.boolean(), p: fc.integer({ min: -3, max: 3 }) }), { maxLength: 8 }) }),
      fc.record({ t: fc.constant('next' as const) }),
      fc.record({ t: fc.constant('done' as const), outcome: fc.constantFrom<TaskOutcome | undefined>('block', 'have', 'missing', 'declined', undefined) }),
      fc.record({ t: fc.constant('added' as const), c: fc.nat(20) }),
      fc.record({ t: fc.constant('gone' as const), peer: fc.constantFrom('A', 'B', 'C') })
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 3 }), (ops, perPeer) => {
      const engine = new Engine({ maxWantlistSize: 10, blocksPerBatch: 2, presencesPerBatch: 3, batchesPerPeer: perPeer })
      const active: EngineBatch[] = []
      // batches of peers that disconnected: finishing them must change nothing
      const stale: EngineBatch[] = []
      for (const o of ops) {
        if (o.t === 'msg') {
          engine.messageReceived(o.peer, { full: o.full, entries: o.entries.map(e => want(e.c, { cancel: e.cancel, wantType: e.have ? 'have' : 'block', priority: e.p })) })
        } else if (o.t === 'next') {
          const b = engine.nextBatch()
          if (b != null) {
            if (b.presences) {
              assert.ok(!active.some(a => a.peer === b.peer && a.presences), 'at most one presence batch per peer')
              assert.ok(b.tasks.every(t => t.wantType === 'have') && b.tasks.length <= 3, 'a presence batch holds want-haves only')
            } else {
              assert.ok(active.filter(a => a.peer === b.peer && !a.presences).length < perPeer, 'at most batchesPerPeer block batches per peer')
              assert.ok(b.tasks.every(t => t.wantType === 'block') && b.tasks.length <= 2, 'a block batch holds want-blocks only')
            }
            active.push(b)
          }
        } else if (o.t === 'done') {
          // the oldest batch in progress, or now and then a stale one
          const a = stale.length > 0 && active.length % 2 === 0 ? stale.shift() : active.shift()
          if (a != null) engine.batchDone(a, new Map(o.outcome == null ? [] : a.tasks.map(t => [t.key, o.outcome as TaskOutcome])))
        } else if (o.t === 'added') {
          engine.blockAdded(cidOf(o.c))
        } else {
          engine.peerDisconnected(o.peer)
          for (let i = active.length - 1; i >= 0; i--) if (active[i].peer === o.peer) stale.push(...active.splice(i, 1))
        }
        engine.assertInvariants()
      }
    }), { numRuns: 300 })
  })
})

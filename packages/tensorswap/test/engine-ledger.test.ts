import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { MemoryDatastore } from 'datastore-core'
import fc from 'fast-check'
import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { Engine } from '../src/engine.js'
import { DebtLedger, paperServeProbability } from '../src/ledger.js'
import { PenaltyBox } from '../src/penalties.js'
import { blockKey } from '../src/wire/hash.js'
import type { TaskOutcome } from '../src/engine.js'
import type { WantEntry } from '../src/wire/codec.js'

function cidOf (i: number): CID {
  return CID.createV1(0x55, Digest.create(0x12, createHash('sha256').update(`block ${i}`).digest()))
}

function want (i: number, over: Partial<WantEntry> = {}): WantEntry {
  return { cid: cidOf(i), priority: 1, cancel: false, wantType: 'block', sendDontHave: true, ...over }
}

const done = (tasks: Array<{ key: string }>, outcome: TaskOutcome): Map<string, TaskOutcome> => new Map(tasks.map(t => [t.key, outcome]))

describe('Engine', () => {
  it('serves peers round robin, one batch in progress per peer, by priority within a peer', () => {
    const engine = new Engine({ blocksPerBatch: 2 })
    engine.messageReceived('A', { full: false, entries: [want(1, { priority: 1 }), want(2, { priority: 9 }), want(3, { priority: 5 }), want(4)] })
    engine.messageReceived('B', { full: false, entries: [want(10), want(11)] })
    const b1 = engine.nextBatch()
    assert.equal(b1?.peer, 'A')
    assert.deepEqual(b1?.tasks.map(t => t.priority), [9, 5])
    const b2 = engine.nextBatch()
    assert.equal(b2?.peer, 'B')
    // both busy: nothing until a batch is done (back-pressure)
    assert.equal(engine.nextBatch(), undefined)
    engine.batchDone('A', done(b1?.tasks ?? [], 'block'))
    const b3 = engine.nextBatch()
    assert.equal(b3?.peer, 'A')
    assert.equal(b3?.tasks.length, 2)
    engine.batchDone('B', done(b2?.tasks ?? [], 'block'))
    engine.batchDone('A', done(b3?.tasks ?? [], 'block'))
    assert.equal(engine.hasWork(), false)
    assert.equal(engine.wantlistSize('A'), 0)
    engine.assertInvariants()
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
    engine.batchDone('A', done(b?.tasks ?? [], 'missing'))
    assert.equal(engine.hasWork(), false)
    assert.equal(engine.wantlistSize('A'), 1)
    assert.deepEqual(engine.blockAdded(cidOf(1)), ['A'])
    assert.equal(engine.nextBatch()?.tasks[0]?.key, blockKey(cidOf(1)))
    engine.assertInvariants()
  })

  it('keeps its invariants under random operations (property)', () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('msg' as const), peer: fc.constantFrom('A', 'B', 'C'), full: fc.boolean(), entries: fc.array(fc.record({ c: fc.nat(20), cancel: fc.boolean(), have: fc.boolean(), p: fc.integer({ min: -3, max: 3 }) }), { maxLength: 8 }) }),
      fc.record({ t: fc.constant('next' as const) }),
      fc.record({ t: fc.constant('done' as const), outcome: fc.constantFrom<TaskOutcome | undefined>('block', 'have', 'missing', 'declined', undefined) }),
      fc.record({ t: fc.constant('added' as const), c: fc.nat(20) }),
      fc.record({ t: fc.constant('gone' as const), peer: fc.constantFrom('A', 'B', 'C') })
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const engine = new Engine({ maxWantlistSize: 10, blocksPerBatch: 2, presencesPerBatch: 3 })
      const active: Array<{ peer: string, keys: string[] }> = []
      for (const o of ops) {
        if (o.t === 'msg') {
          engine.messageReceived(o.peer, { full: o.full, entries: o.entries.map(e => want(e.c, { cancel: e.cancel, wantType: e.have ? 'have' : 'block', priority: e.p })) })
        } else if (o.t === 'next') {
          const b = engine.nextBatch()
          if (b != null) {
            assert.ok(!active.some(a => a.peer === b.peer), 'one batch per peer')
            assert.ok(b.tasks.filter(t => t.wantType === 'block').length <= 2)
            active.push({ peer: b.peer, keys: b.tasks.map(t => t.key) })
          }
        } else if (o.t === 'done') {
          const a = active.shift()
          if (a != null) engine.batchDone(a.peer, new Map(o.outcome == null ? [] : a.keys.map(k => [k, o.outcome as TaskOutcome])))
        } else if (o.t === 'added') {
          engine.blockAdded(cidOf(o.c))
        } else {
          engine.peerDisconnected(o.peer)
          const i = active.findIndex(a => a.peer === o.peer)
          if (i >= 0) active.splice(i, 1)
        }
        engine.assertInvariants()
      }
    }), { numRuns: 300 })
  })
})

describe('DebtLedger', () => {
  it('computes the debt ratio and the Bitswap paper probability', () => {
    const ledger = new DebtLedger()
    ledger.recordSent('p', 300, 3, 1)
    ledger.recordReceived('p', 99, 1, 2)
    assert.equal(ledger.debtRatio('p'), 3)
    assert.ok(Math.abs(paperServeProbability(2) - 0.5) < 1e-12)
    assert.ok(paperServeProbability(0) > 0.99)
    assert.ok(paperServeProbability(5) < 0.001)
    assert.equal(ledger.shouldServe('p'), true) // generous
    ledger.assertInvariants()
  })

  it('bitswap-paper serves by the sigmoid; tit-for-tat after a grace allowance', () => {
    const paper = new DebtLedger({ strategy: 'bitswap-paper', random: () => 0.4 })
    paper.recordSent('p', 2, 1, 0) // r = 2: probability 0.5
    assert.equal(paper.shouldServe('p'), true)
    const paper2 = new DebtLedger({ strategy: 'bitswap-paper', random: () => 0.6 })
    paper2.recordSent('p', 2, 1, 0)
    assert.equal(paper2.shouldServe('p'), false)
    const tft = new DebtLedger({ strategy: 'tit-for-tat' })
    tft.recordSent('p', 1024, 1, 0)
    assert.equal(tft.shouldServe('p'), true)
    tft.recordSent('p', 128 * 1024 * 1024, 1, 0)
    assert.equal(tft.shouldServe('p'), false)
    tft.recordReceived('p', 128 * 1024 * 1024, 1, 0)
    assert.equal(tft.shouldServe('p'), true)
  })

  it('persists to and loads from a datastore, skipping corrupt records', async () => {
    const ds = new MemoryDatastore()
    const a = new DebtLedger()
    a.recordSent('peerA', 10, 1, 5)
    a.recordReceived('peerB', 20, 2, 6)
    await a.flush(ds)
    assert.equal(a.dirtyCount, 0)
    await ds.put(new Key('/tensorswap/ledger/broken'), new TextEncoder().encode('{"bytesSent":-1}'))
    await ds.put(new Key('/tensorswap/ledger/garbage'), Uint8Array.of(0xff))
    const b = new DebtLedger()
    assert.equal(await b.load(ds), 2)
    assert.deepEqual(b.get('peerA'), { bytesSent: 10, bytesReceived: 0, blocksSent: 1, blocksReceived: 0, lastExchangeMs: 5 })
    assert.deepEqual(b.get('peerB'), { bytesSent: 0, bytesReceived: 20, blocksSent: 0, blocksReceived: 2, lastExchangeMs: 6 })
    assert.equal(b.peers().includes('broken'), false)
    b.assertInvariants()
  })
})

describe('PenaltyBox', () => {
  it('bans at the threshold, forgives over time', () => {
    const box = new PenaltyBox({ threshold: 100, banMs: 1000, halfLifeMs: 100 })
    assert.equal(box.penalize('p', 'malformed', 0), false)
    assert.equal(box.score('p', 100), 25)
    assert.equal(box.penalize('p', 'malformed', 100), false) // 25 + 50 after decay
    assert.equal(box.penalize('q', 'oversized', 0), true)
    assert.equal(box.isBanned('q', 999), true)
    assert.equal(box.isBanned('q', 1000), false)
  })

  it('snapshot lists scored and banned peers, and drops bans that ended', () => {
    const box = new PenaltyBox({ threshold: 100, banMs: 1000, halfLifeMs: 100 })
    box.penalize('p', 'unrequestedBlock', 0)
    box.penalize('q', 'oversized', 0)
    assert.deepEqual(box.snapshot(0), { p: { score: 10 }, q: { score: 0, bannedUntilMs: 1000 } })
    assert.deepEqual(box.snapshot(1000), { p: { score: 10 * Math.pow(0.5, 10) } })
  })
})

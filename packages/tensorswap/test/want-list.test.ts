import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { PeerSelector } from '../src/peer-selector.js'
import { WantListManager } from '../src/want-list.js'
import type { WantEffect, WantListInit } from '../src/want-list.js'

const MiB = 1024 * 1024

function cidOf (i: number): CID {
  return CID.createV1(0x55, Digest.create(0x12, createHash('sha256').update(`block ${i}`).digest()))
}

function setup (init: WantListInit = {}, peers: string[] = ['A', 'B']): { wl: WantListManager, sel: PeerSelector } {
  const sel = new PeerSelector()
  const wl = new WantListManager(sel, init)
  for (const p of peers) wl.peerConnected(p, true, 0)
  return { wl, sel }
}

function sends (effects: WantEffect[]): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const e of effects) {
    if (e.type !== 'send') continue
    out[e.peer] = e.entries.map(x => `${x.cancel ? 'cancel' : 'want'}:${x.cid.toString().slice(-6)}`)
  }
  return out
}

const short = (c: CID): string => c.toString().slice(-6)

describe('WantListManager', () => {
  it('dedupes a CID wanted by two sessions and cancels only when both let go', () => {
    const { wl } = setup({}, ['A'])
    const c = cidOf(1)
    wl.want(c, 1)
    wl.want(c, 2)
    assert.deepEqual(sends(wl.flush(0)), { A: [`want:${short(c)}`] })
    wl.cancel(c, 1)
    assert.deepEqual(wl.flush(1), [])
    wl.cancel(c, 2)
    assert.deepEqual(sends(wl.flush(2)), { A: [`cancel:${short(c)}`] })
    assert.equal(wl.size, 0)
    wl.assertInvariants()
  })

  it('sends in priority order and stops at the bytes-in-flight bound', () => {
    const { wl } = setup({ maxBytesInFlight: 3 * MiB, estimatedBlockBytes: MiB }, ['A'])
    for (let i = 0; i < 10; i++) wl.want(cidOf(i), 1, { priority: i })
    const effects = wl.flush(0)
    assert.deepEqual(sends(effects).A, [9, 8, 7].map(i => `want:${short(cidOf(i))}`))
    const entry = effects[0]?.type === 'send' ? effects[0].entries[0] : undefined
    assert.equal(entry?.priority, 9)
    assert.equal(entry?.sendDontHave, true)
    // a delivery frees room for the next one
    assert.equal(wl.blockReceived(cidOf(9), 'A', MiB, 5).wanted, true)
    assert.deepEqual(sends(wl.flush(5)).A, [`want:${short(cidOf(6))}`])
    wl.assertInvariants()
  })

  it('fails over to another peer on DONT_HAVE, on timeout and on disconnect', () => {
    const { wl, sel } = setup({ peerIdleTimeoutMs: 1000 })
    const c = cidOf(1)
    wl.want(c, 1)
    wl.flush(0)
    const first = wl.peerOf(c) as string
    const second = first === 'A' ? 'B' : 'A'
    wl.presence(c, first, 'dont-have', 10)
    assert.deepEqual(sends(wl.flush(10)), { [second]: [`want:${short(c)}`] })
    // the second peer stays silent: timeout -> cancel there; no third peer -> unavailable
    wl.tick(2000)
    const effects = wl.flush(2000)
    assert.deepEqual(sends(effects), { [second]: [`cancel:${short(c)}`] })
    assert.ok(effects.some(e => e.type === 'unavailable'))
    assert.equal(wl.state(c), 'unavailable')
    assert.equal(sel.stats(second)?.failures, 1)
    // a new peer connects: asked at once
    wl.peerConnected('C', true, 2100)
    assert.deepEqual(sends(wl.flush(2100)), { C: [`want:${short(c)}`] })
    wl.peerDisconnected('C')
    // C gone, A and B failed it: unavailable again until the retry delay
    assert.ok(wl.flush(2200).some(e => e.type === 'unavailable'))
    wl.tick(2200 + 10_000)
    assert.equal(Object.keys(sends(wl.flush(12_200))).length, 1)
    wl.assertInvariants()
  })

  it('cancels at the asked peer when another peer delivers, and flags late duplicates', () => {
    const { wl } = setup()
    const c = cidOf(1)
    wl.want(c, 1)
    wl.flush(0)
    const asked = wl.peerOf(c) as string
    const other = asked === 'A' ? 'B' : 'A'
    assert.deepEqual(wl.blockReceived(c, other, 100, 5), { wanted: true, recent: false, sessions: [1], cid: c })
    assert.deepEqual(sends(wl.flush(5)), { [asked]: [`cancel:${short(c)}`] })
    assert.equal(wl.blockReceived(c, asked, 100, 6).recent, true)
    assert.equal(wl.blockReceived(cidOf(2), asked, 100, 6).recent, false)
    wl.assertInvariants()
  })

  it('parks wants while no peer is connected', () => {
    const { wl } = setup({}, [])
    wl.want(cidOf(1), 1)
    assert.deepEqual(wl.flush(0), [])
    assert.equal(wl.state(cidOf(1)), 'pending')
    wl.peerConnected('A', false, 1)
    const effects = wl.flush(1)
    assert.equal(effects[0]?.type === 'send' && effects[0].entries[0]?.sendDontHave, false)
    wl.assertInvariants()
  })

  it('respects a session peer restriction', () => {
    const { wl } = setup({}, ['A', 'B', 'C'])
    for (let i = 0; i < 6; i++) wl.want(cidOf(i), 1, { peers: ['C'] })
    assert.deepEqual(Object.keys(sends(wl.flush(0))), ['C'])
  })

  it('keeps its invariants under random operations (property, fake clock)', () => {
    const peers = ['A', 'B', 'C']
    const op = fc.oneof(
      fc.record({ t: fc.constant('want' as const), c: fc.nat(15), s: fc.nat(3), p: fc.integer({ min: -5, max: 5 }), size: fc.option(fc.integer({ min: 1, max: 3 * MiB }), { nil: undefined }) }),
      fc.record({ t: fc.constant('cancel' as const), c: fc.nat(15), s: fc.nat(3) }),
      fc.record({ t: fc.constant('block' as const), c: fc.nat(15), peer: fc.constantFrom(...peers) }),
      fc.record({ t: fc.constant('presence' as const), c: fc.nat(15), peer: fc.constantFrom(...peers), have: fc.boolean() }),
      fc.record({ t: fc.constant('connect' as const), peer: fc.constantFrom(...peers), have: fc.boolean() }),
      fc.record({ t: fc.constant('disconnect' as const), peer: fc.constantFrom(...peers) }),
      fc.record({ t: fc.constant('tick' as const), dt: fc.nat(20_000) }),
      fc.record({ t: fc.constant('flush' as const) })
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
      const { wl, sel } = setup({ maxBytesInFlight: 4 * MiB, peerIdleTimeoutMs: 5000 }, ['A'])
      let now = 0
      const inflightAt = new Map<string, string>()
      for (const o of ops) {
        switch (o.t) {
          case 'want': wl.want(cidOf(o.c), o.s, { priority: o.p, sizeHint: o.size }); break
          case 'cancel': wl.cancel(cidOf(o.c), o.s); break
          case 'block': wl.blockReceived(cidOf(o.c), o.peer, 1000, now); break
          case 'presence': wl.presence(cidOf(o.c), o.peer, o.have ? 'have' : 'dont-have', now); break
          case 'connect': wl.peerConnected(o.peer, o.have, now); break
          case 'disconnect': wl.peerDisconnected(o.peer); break
          case 'tick': now += o.dt; wl.tick(now); break
          case 'flush':
            for (const e of wl.flush(now)) {
              if (e.type !== 'send') continue
              assert.ok(sel.has(e.peer), 'sends only to connected peers')
              for (const x of e.entries) if (!x.cancel) inflightAt.set(x.cid.toString(), e.peer)
            }
            break
        }
        wl.assertInvariants()
        assert.ok(wl.bytesInFlight <= 4 * MiB + 3 * MiB, 'global bound (one want may overshoot when nothing else is in flight)')
      }
    }), { numRuns: 300 })
  })
})

describe('PeerSelector', () => {
  it('prefers the measured faster peer and spreads load by bytes in flight', () => {
    const sel = new PeerSelector({ maxPeerBytesInFlight: 8 * MiB })
    sel.addPeer('fast', true, 0)
    sel.addPeer('slow', true, 0)
    // fast: 1 MiB in 10 ms; slow: 1 MiB in 1000 ms
    sel.onSent('fast', MiB, 0); sel.onBlock('fast', MiB, MiB, 0, 10)
    sel.onSent('slow', MiB, 0); sel.onBlock('slow', MiB, MiB, 0, 1000)
    const picks: string[] = []
    for (let i = 0; i < 8; i++) {
      const p = sel.pick(`k${i}`, MiB) as string
      picks.push(p)
      sel.onSent(p, MiB, 1000)
    }
    assert.equal(picks[0], 'fast')
    assert.ok(picks.filter(p => p === 'fast').length >= 6)
    // at its cap, the fast peer is skipped
    assert.equal(sel.canAccept('fast', MiB), picks.filter(p => p === 'fast').length < 8)
    sel.assertInvariants()
  })

  it('never picks a peer that said DONT_HAVE, and prefers one that said HAVE', () => {
    const sel = new PeerSelector()
    for (const p of ['a', 'b', 'c']) sel.addPeer(p, true, 0)
    sel.setPresence('k', 'a', 'dont-have')
    sel.setPresence('k', 'c', 'have')
    assert.equal(sel.pick('k', 1000), 'c')
    assert.deepEqual(sel.eligible('k').sort(), ['b', 'c'])
    assert.equal(sel.pick('k', 1000, { exclude: new Set(['c']) }), 'b')
    sel.removePeer('c')
    assert.equal(sel.presence('k', 'c'), undefined)
    sel.assertInvariants()
  })

  it('halves throughput on failure', () => {
    const sel = new PeerSelector({ priorThroughput: 100 })
    sel.addPeer('a', true, 0)
    sel.onFailure('a')
    assert.equal(sel.stats('a')?.throughput, 50)
  })
})

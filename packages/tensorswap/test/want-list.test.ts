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

/** Peers A and B, one want (block 1, session 1) flushed: the peer it was sent to and the other one. */
function oneWantInFlight (): { wl: WantListManager, c: CID, asked: string, other: string } {
  const { wl } = setup()
  const c = cidOf(1)
  wl.want(c, 1)
  wl.flush(0)
  const asked = wl.peerOf(c) as string
  return { wl, c, asked, other: asked === 'A' ? 'B' : 'A' }
}

describe('WantListManager', () => {
  it('tops up a busy peer in batches: one want-list message per quarter of its cap, not one per want', () => {
    // 35 KB blocks (the human-models set) against a 4 MiB per-peer cap: the cap binds in bytes
    const sel = new PeerSelector({ peerQueueMs: Infinity, maxPeerBytesInFlight: 4 * MiB })
    const wl = new WantListManager(sel, { maxBytesInFlight: 64 * MiB })
    wl.peerConnected('A', true, 0)
    const size = 35_000
    let next = 0
    const want = (): CID => { const c = cidOf(next++); wl.want(c, 1, { sizeHint: size }); return c }
    const wanted: CID[] = []
    for (let i = 0; i < 400; i++) wanted.push(want())
    const first = sends(wl.flush(0)).A ?? []
    const atCap = Math.floor(4 * MiB / size)
    assert.equal(first.length, atCap, 'the first message fills the cap')
    // blocks arrive one at a time and the session wants one more for each (a sliding window)
    const messages: number[] = []
    for (let i = 0; i < 300; i++) {
      wl.blockReceived(wanted[i] as CID, 'A', size, i + 1)
      wanted.push(want())
      const out = sends(wl.flush(i + 1)).A
      if (out != null) messages.push(out.length)
    }
    assert.ok(messages.length <= 300 / Math.floor(atCap / 4) + 1, `${messages.length} want-list messages for 300 blocks`)
    assert.ok(messages.every(n => n >= Math.floor(atCap / 4)), `every top-up carries a quarter of the cap: ${messages.join(',')}`)
    wl.assertInvariants()
    sel.assertInvariants()
  })

  it('a peer with nothing outstanding is asked at once, and a busy peer running low gets even one want', () => {
    const sel = new PeerSelector({ peerQueueMs: Infinity, maxPeerBytesInFlight: 4 * MiB })
    const wl = new WantListManager(sel)
    wl.peerConnected('A', true, 0)
    const a = cidOf(1)
    wl.want(a, 1, { sizeHint: 100_000 })
    assert.equal(sends(wl.flush(0)).A?.length, 1)
    // under a quarter of the cap outstanding: the next want goes alone
    wl.want(cidOf(2), 1, { sizeHint: 100_000 })
    assert.equal(sends(wl.flush(1)).A?.length, 1)
    wl.assertInvariants()
  })

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
    const { wl, c, asked, other } = oneWantInFlight()
    assert.deepEqual(wl.blockReceived(c, other, 100, 5), { wanted: true, recent: false, sessions: [1], cid: c })
    assert.deepEqual(sends(wl.flush(5)), { [asked]: [`cancel:${short(c)}`] })
    assert.equal(wl.blockReceived(c, asked, 100, 6).recent, true)
    assert.equal(wl.blockReceived(cidOf(2), asked, 100, 6).recent, false)
    wl.assertInvariants()
  })

  it('a departing peer keeps the wants in flight at it and takes no new ones; its disconnect moves them', () => {
    const { wl, c, asked, other } = oneWantInFlight()
    wl.peerDeparting(asked)
    // the block may still be on its lane: not asked of the other peer yet
    assert.deepEqual(sends(wl.flush(10)), {})
    assert.equal(wl.peerOf(c), asked)
    // new wants go to the peer that stays
    const d = cidOf(2)
    wl.want(d, 1)
    assert.deepEqual(sends(wl.flush(20)), { [other]: [`want:${short(d)}`] })
    // the block arrived from the departing peer: done, nothing asked twice
    assert.equal(wl.blockReceived(c, asked, 100, 30).wanted, true)
    assert.deepEqual(sends(wl.flush(30)), {})
    // another want in flight there when it is finally gone moves to the other peer
    const e = cidOf(3)
    wl.peerConnected('C', true, 40)
    wl.want(e, 1)
    const at = sends(wl.flush(40))
    const e0 = wl.peerOf(e) as string
    assert.ok(at[e0] != null)
    wl.peerDeparting(e0)
    wl.peerDisconnected(e0)
    const moved = sends(wl.flush(50))
    assert.equal(Object.keys(moved).length, 1)
    assert.notEqual(Object.keys(moved)[0], e0)
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

  it('reports each peer\'s reason when a want is unavailable; definitive only without timeouts', () => {
    const { wl } = setup({ peerIdleTimeoutMs: 100, wantTimeoutMs: 1000 }, ['A', 'B'])
    const c = cidOf(1)
    wl.want(c, 1)
    wl.flush(0)
    const first = wl.peerOf(c) as string
    wl.presence(c, first, 'dont-have', 1)
    wl.flush(1)
    const second = wl.peerOf(c) as string
    assert.notEqual(second, first)
    wl.tick(500) // the second times out
    const un = wl.flush(500).find(e => e.type === 'unavailable')
    assert.ok(un?.type === 'unavailable')
    assert.deepEqual(un.reasons, [{ peer: first, reason: 'dont-have' }, { peer: second, reason: 'timeout' }])
    assert.equal(un.definitive, false)
    // a new asker: the peer that timed out is asked again (the one that said DONT_HAVE is not:
    // the selector remembers); its DONT_HAVE makes the answer definitive
    wl.want(c, 2)
    wl.flush(600)
    assert.equal(wl.peerOf(c), second)
    wl.presence(c, second, 'dont-have', 601)
    const un2 = wl.flush(601).find(e => e.type === 'unavailable')
    assert.ok(un2?.type === 'unavailable')
    assert.equal(un2.definitive, true)
    assert.deepEqual(un2.reasons, [{ peer: second, reason: 'dont-have' }])
    wl.assertInvariants()
  })

  it('takes a block that matches no want but has the prefix of the one want in flight at its sender for a corrupt copy', () => {
    const { wl, sel } = setup({}, ['A', 'B'])
    // both delivered blocks before (an unproven peer that sends junk loses all its wants: want-list-swarm.test.ts)
    for (const p of ['A', 'B']) sel.onBlock(p, 100, 100, 0, 1)
    const c = cidOf(1)
    wl.want(c, 1, { sizeHint: 100 })
    wl.flush(0)
    const asked = wl.peerOf(c) as string
    // same prefix, wrong size: not taken for it
    assert.equal(wl.blockReceived(cidOf(50), asked, 99, 1).mismatch, undefined)
    assert.equal(wl.peerOf(c), asked)
    const res = wl.blockReceived(cidOf(51), asked, 100, 2)
    assert.equal(res.wanted, false)
    assert.equal(res.mismatch?.toString(), c.toString())
    // failed over at once to the other peer
    const other = asked === 'A' ? 'B' : 'A'
    assert.deepEqual(sends(wl.flush(2)), { [other]: [`want:${short(c)}`] })
    wl.presence(c, other, 'dont-have', 3)
    const un = wl.flush(3).find(e => e.type === 'unavailable')
    assert.ok(un?.type === 'unavailable')
    assert.deepEqual(un.reasons, [{ peer: asked, reason: 'mismatch' }, { peer: other, reason: 'dont-have' }])
    assert.equal(un.definitive, true)
    wl.assertInvariants()
  })

  it('does not guess when several wants in flight at the sender could be the corrupt one', () => {
    const { wl, sel } = setup({}, ['A'])
    sel.onBlock('A', 100, 100, 0, 1) // a peer that delivered before (see the test above)
    wl.want(cidOf(1), 1)
    wl.want(cidOf(2), 1)
    wl.flush(0)
    assert.equal(wl.blockReceived(cidOf(50), 'A', 100, 1).mismatch, undefined)
    assert.equal(wl.state(cidOf(1)), 'inflight')
    assert.equal(wl.state(cidOf(2)), 'inflight')
    wl.assertInvariants()
  })

  it('retrySession re-sends a session\'s wants, also to peers that failed them, and parks none', () => {
    const { wl } = setup({ peerIdleTimeoutMs: 100 }, ['A'])
    wl.want(cidOf(1), 1)
    wl.want(cidOf(2), 2)
    wl.flush(0)
    wl.tick(200)
    wl.flush(200) // both timed out at A: unavailable
    assert.equal(wl.state(cidOf(1)), 'unavailable')
    wl.retrySession(1)
    assert.deepEqual(sends(wl.flush(201)), { A: [`want:${short(cidOf(1))}`] })
    assert.equal(wl.state(cidOf(2)), 'unavailable')
    // in flight: cancelled and asked afresh
    wl.retrySession(1)
    assert.deepEqual(sends(wl.flush(202)), { A: [`cancel:${short(cidOf(1))}`, `want:${short(cidOf(1))}`] })
    wl.assertInvariants()
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
      fc.record({ t: fc.constant('depart' as const), peer: fc.constantFrom(...peers) }),
      fc.record({ t: fc.constant('tick' as const), dt: fc.nat(20_000) }),
      fc.record({ t: fc.constant('flush' as const) })
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
      const { wl, sel } = setup({ maxBytesInFlight: 4 * MiB, peerIdleTimeoutMs: 5000 }, ['A'])
      let now = 0
      const inflightAt = new Map<string, string>()
      const departing = new Set<string>()
      for (const o of ops) {
        switch (o.t) {
          case 'want': wl.want(cidOf(o.c), o.s, { priority: o.p, sizeHint: o.size }); break
          case 'cancel': wl.cancel(cidOf(o.c), o.s); break
          case 'block': wl.blockReceived(cidOf(o.c), o.peer, 1000, now); break
          case 'presence': wl.presence(cidOf(o.c), o.peer, o.have ? 'have' : 'dont-have', now); break
          case 'connect': wl.peerConnected(o.peer, o.have, now); break
          case 'disconnect': wl.peerDisconnected(o.peer); departing.delete(o.peer); break
          case 'depart': wl.peerDeparting(o.peer); if (sel.has(o.peer)) departing.add(o.peer); break
          case 'tick': now += o.dt; wl.tick(now); break
          case 'flush':
            for (const e of wl.flush(now)) {
              if (e.type !== 'send') continue
              assert.ok(sel.has(e.peer), 'sends only to connected peers')
              for (const x of e.entries) if (!x.cancel) inflightAt.set(x.cid.toString(), e.peer)
              assert.ok(!departing.has(e.peer) || e.entries.every(x => x.cancel), 'no new want goes to a departing peer')
            }
            break
        }
        wl.assertInvariants()
        assert.ok(wl.bytesInFlight <= 4 * MiB + 3 * MiB, 'global bound (one want may overshoot when nothing else is in flight)')
        // a want is in flight only at the peer its last want-block was sent to (wants go out in
        // the flush that assigns them; none is in flight without having been sent)
        for (let c = 0; c <= 15; c++) {
          const cid = cidOf(c)
          if (wl.state(cid) === 'inflight') assert.equal(wl.peerOf(cid), inflightAt.get(cid.toString()), `want ${c} in flight where it was sent`)
        }
      }
    }), { numRuns: 300 })
  })
})

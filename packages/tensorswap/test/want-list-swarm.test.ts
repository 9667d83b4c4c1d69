/**
 * Swarm sessions of the want-list (src/want-list.ts, spec/tensorswap.md §9 "Swarm sessions"):
 * a session's peer set that grows while it runs, want-have broadcast, want-blocks only to
 * peers that said HAVE, wants moved on DONT_HAVE, disconnect and timeout, one want-block per
 * block at a time.
 */
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
const cidOf = (i: number): CID => CID.createV1(0x55, Digest.create(0x12, createHash('sha256').update(`swarm block ${i}`).digest()))
const short = (c: CID): string => c.toString().slice(-6)

/** `peer -> ['have:xxxxxx', 'block:xxxxxx', 'cancel:xxxxxx']` of the send effects. */
function sends (effects: WantEffect[]): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const e of effects) {
    if (e.type !== 'send') continue
    out[e.peer] = e.entries.map(x => `${x.cancel ? 'cancel' : x.wantType}:${short(x.cid)}`)
  }
  return out
}

function setup (init: WantListInit = {}, connected = ['A', 'B', 'C']): { wl: WantListManager, sel: PeerSelector } {
  const sel = new PeerSelector()
  const wl = new WantListManager(sel, { haveWaitMs: 1000, estimatedBlockBytes: MiB, ...init })
  for (const p of connected) wl.peerConnected(p, true, 0)
  return { wl, sel }
}

describe('WantListManager swarm sessions', () => {
  it('asks every session peer want-have, gives the want-block to a peer that said HAVE, cancels at the rest on arrival', () => {
    const { wl } = setup()
    const c = cidOf(1)
    wl.openSession(1)
    wl.addSessionPeer(1, 'A')
    wl.addSessionPeer(1, 'B')
    wl.want(c, 1, { nowMs: 0 })
    // C is connected but not a session peer: never asked
    assert.deepEqual(sends(wl.flush(0)), { A: [`have:${short(c)}`], B: [`have:${short(c)}`] })
    wl.presence(c, 'B', 'have', 10)
    assert.deepEqual(sends(wl.flush(10)), { B: [`block:${short(c)}`] })
    assert.equal(wl.blockReceived(c, 'B', MiB, 50).wanted, true)
    assert.deepEqual(sends(wl.flush(50)), { A: [`cancel:${short(c)}`] })
    wl.assertInvariants()
  })

  it('a peer joining a running session is asked for every want still open', () => {
    const { wl } = setup()
    wl.openSession(1)
    wl.addSessionPeer(1, 'A')
    for (let i = 0; i < 3; i++) wl.want(cidOf(i), 1, { priority: 10 - i, nowMs: 0 })
    wl.flush(0)
    wl.presence(cidOf(0), 'A', 'have', 5)
    wl.flush(5)
    wl.addSessionPeer(1, 'C')
    // C hears the two wants not in flight and the one at A (it may be faster)
    assert.deepEqual(new Set(sends(wl.flush(6)).C), new Set([0, 1, 2].map(i => `have:${short(cidOf(i))}`)))
    wl.presence(cidOf(1), 'C', 'have', 8)
    assert.deepEqual(sends(wl.flush(8)), { C: [`block:${short(cidOf(1))}`] })
    wl.assertInvariants()
  })

  it('a DONT_HAVE moves the want to a HAVE peer and turns the want-block at the refuser into a want-have', () => {
    const { wl } = setup()
    const c = cidOf(2)
    wl.openSession(1)
    wl.addSessionPeer(1, 'A')
    wl.addSessionPeer(1, 'B')
    wl.want(c, 1, { nowMs: 0 })
    wl.flush(0)
    wl.presence(c, 'A', 'have', 1)
    assert.deepEqual(sends(wl.flush(1)), { A: [`block:${short(c)}`] })
    wl.presence(c, 'B', 'have', 2)
    wl.presence(c, 'A', 'dont-have', 3) // a liar, or it lost the block
    const s = sends(wl.flush(3))
    assert.deepEqual(s.A, [`cancel:${short(c)}`, `have:${short(c)}`])
    assert.deepEqual(s.B, [`block:${short(c)}`])
    wl.assertInvariants()
  })

  it('after the have-wait, peers that did not answer are asked too', () => {
    const { wl } = setup()
    const c = cidOf(3)
    wl.openSession(1)
    wl.addSessionPeer(1, 'A')
    wl.want(c, 1, { nowMs: 0 })
    assert.deepEqual(sends(wl.flush(0)), { A: [`have:${short(c)}`] })
    assert.deepEqual(sends(wl.flush(999)), {})
    assert.deepEqual(sends(wl.flush(1000)), { A: [`block:${short(c)}`] })
    wl.assertInvariants()
  })

  it('a session with no peer yet waits (no unavailable), and starts when one joins', () => {
    const { wl } = setup()
    const c = cidOf(4)
    wl.openSession(1)
    wl.want(c, 1, { nowMs: 0 })
    assert.deepEqual(wl.flush(5000), [])
    wl.addSessionPeer(1, 'B')
    wl.presence(c, 'B', 'have', 5001)
    assert.deepEqual(sends(wl.flush(5001)), { B: [`have:${short(c)}`, `block:${short(c)}`] })
    wl.assertInvariants()
  })

  it('a disconnected provider loses its wants to the others, each block in flight at one peer at a time', () => {
    const { wl, sel } = setup()
    wl.openSession(1)
    for (const p of ['A', 'B', 'C']) wl.addSessionPeer(1, p)
    const cids = Array.from({ length: 12 }, (_, i) => cidOf(100 + i))
    cids.forEach((c, i) => { wl.want(c, 1, { priority: 100 - i, sizeHint: MiB, nowMs: 0 }) })
    wl.flush(0)
    for (const c of cids) for (const p of ['A', 'B', 'C']) wl.presence(c, p, 'have', 1)
    wl.flush(1)
    const atA = cids.filter(c => wl.peerOf(c) === 'A')
    assert.ok(atA.length > 0, 'A was given wants')
    assert.ok(cids.every(c => wl.peerOf(c) != null), 'all in flight')
    wl.peerDisconnected('A')
    const s = sends(wl.flush(2))
    assert.equal(s.A, undefined)
    const moved = [...(s.B ?? []), ...(s.C ?? [])].filter(e => e.startsWith('block:'))
    assert.deepEqual(new Set(moved), new Set(atA.map(c => `block:${short(c)}`)))
    assert.ok(cids.every(c => wl.peerOf(c) === 'B' || wl.peerOf(c) === 'C'))
    assert.ok(sel.stats('B')!.wantsInFlight + sel.stats('C')!.wantsInFlight === cids.length)
    wl.assertInvariants()
  })

  it('spreads wants over HAVE peers by measured throughput', () => {
    const { wl, sel } = setup({ maxBytesInFlight: 64 * MiB }, [])
    wl.peerConnected('fast', true, 0)
    wl.peerConnected('slow', true, 0)
    wl.openSession(1)
    wl.addSessionPeer(1, 'fast')
    wl.addSessionPeer(1, 'slow')
    // measured: fast delivers 1 MiB in 10 ms, slow in 20 ms
    let t = 0
    for (let i = 0; i < 20; i++) {
      sel.onSent('fast', MiB, t); sel.onBlock('fast', MiB, MiB, t, t + 10)
      sel.onSent('slow', MiB, t); sel.onBlock('slow', MiB, MiB, t, t + 20)
      t += 100
    }
    const cids = Array.from({ length: 16 }, (_, i) => cidOf(200 + i))
    cids.forEach((c, i) => { wl.want(c, 1, { priority: 100 - i, sizeHint: MiB, nowMs: t }) })
    wl.flush(t)
    for (const c of cids) { wl.presence(c, 'fast', 'have', t); wl.presence(c, 'slow', 'have', t) }
    wl.flush(t)
    const fast = cids.filter(c => wl.peerOf(c) === 'fast').length
    const slow = cids.filter(c => wl.peerOf(c) === 'slow').length
    assert.equal(fast + slow, 16)
    // by estimated completion: about 2:1
    assert.ok(fast > 1.5 * slow && slow >= 3, `fast ${fast}, slow ${slow}`)
    wl.assertInvariants()
  })

  it('an unproven peer loses a want it sends nothing for, keeps one whose bytes are arriving', () => {
    // A and B said HAVE; the want-block went to one of them (never delivered a block before)
    const run = (bytesPerSecond: number): { first: string, after: Record<string, string[]> } => {
      const { wl, sel } = setup({ unprovenPeerTimeoutMs: 1000, unprovenMinBytesPerSecond: 256 * 1024 }, ['A', 'B'])
      const c = cidOf(7)
      wl.openSession(1)
      wl.addSessionPeer(1, 'A')
      wl.addSessionPeer(1, 'B')
      wl.want(c, 1, { nowMs: 0, sizeHint: MiB })
      wl.flush(0)
      wl.presence(c, 'A', 'have', 5)
      wl.presence(c, 'B', 'have', 5)
      wl.flush(5)
      const first = wl.peerOf(c)
      assert.ok(first != null, 'the want-block went to a peer that said HAVE')
      // bytes of its first frame arrive every 100 ms at `bytesPerSecond`
      for (let t = 100; t <= 1500; t += 100) {
        sel.onBytes(first, bytesPerSecond / 10)
        wl.tick(t)
      }
      return { first, after: sends(wl.flush(1500)) }
    }
    const silent = run(0)
    const other = silent.first === 'A' ? 'B' : 'A'
    assert.deepEqual(silent.after, { [silent.first]: [`cancel:${short(cidOf(7))}`], [other]: [`block:${short(cidOf(7))}`] }, 'moved after the timeout')
    const trickle = run(100 * 1024)
    assert.equal(Object.keys(trickle.after).length, 2, 'a trickle under the floor does not hold the want')
    const arriving = run(1024 * 1024)
    assert.deepEqual(arriving.after, {}, 'a block in transit stays where it was asked')
  })

  it('gives up on an unproven peer sooner while a proven one answers fast', () => {
    // A (proven or not) and B said HAVE; the want-block went to B, which sends nothing
    const run = (proven: boolean, at: number): string | undefined => {
      const { wl, sel } = setup({ unprovenPeerTimeoutMs: 1000, unprovenPeerMinTimeoutMs: 250, unprovenDeliveryFactor: 4 }, ['A', 'B'])
      wl.openSession(1)
      wl.addSessionPeer(1, 'A')
      wl.addSessionPeer(1, 'B')
      if (proven) {
        // A answers want-blocks in 20 ms, eight times (MIN_DELIVERY_SAMPLES)
        for (let i = 0; i < 8; i++) {
          const c0 = cidOf(200 + i)
          const t = i * 10
          wl.want(c0, 1, { nowMs: t, sizeHint: MiB })
          wl.flush(t)
          wl.presence(c0, 'A', 'have', t + 1)
          wl.flush(t + 1)
          assert.equal(wl.blockReceived(c0, 'A', MiB, t + 21).wanted, true)
          assert.equal(sel.fastestDeliveryMs(), i < 7 ? undefined : 20, 'counted from the eighth delivery on')
        }
      }
      const c = cidOf(21)
      wl.want(c, 1, { nowMs: 100, sizeHint: MiB })
      wl.flush(100)
      wl.presence(c, 'B', 'have', 105)
      wl.flush(105)
      assert.equal(wl.peerOf(c), 'B')
      wl.presence(c, 'A', 'have', 110)
      wl.flush(110)
      for (let t = 200; t <= at; t += 100) wl.tick(t)
      wl.flush(at)
      wl.assertInvariants()
      return wl.peerOf(c)
    }
    assert.equal(run(true, 400), 'A', '4 x 20 ms is under the floor: moved after 250 ms')
    assert.equal(run(true, 300), 'B', 'not before the floor')
    assert.equal(run(false, 1000), 'B', 'no proven peer: the full second')
    assert.equal(run(false, 1200), 'A', 'and then moved')
  })

  it('an unproven peer that sends junk loses every want it holds at once, and its bytes earn no patience', () => {
    const { wl, sel } = setup({}, ['A', 'B'])
    wl.openSession(1)
    wl.addSessionPeer(1, 'A')
    wl.addSessionPeer(1, 'B')
    const cs = [cidOf(30), cidOf(31)]
    for (const c of cs) wl.want(c, 1, { nowMs: 0, sizeHint: MiB })
    wl.flush(0)
    for (const c of cs) wl.presence(c, 'B', 'have', 5)
    wl.flush(5)
    assert.deepEqual(cs.map(c => wl.peerOf(c)), ['B', 'B'])
    for (const c of cs) wl.presence(c, 'A', 'have', 6)
    wl.flush(6)
    sel.onBytes('B', MiB)
    assert.equal(sel.bytesArrived('B'), MiB)
    // a block of the right size that hashes to nothing we want: ambiguous between the two wants
    const junk = wl.blockReceived(cidOf(99), 'B', MiB, 20)
    assert.equal(junk.wanted, false)
    assert.equal(junk.mismatch, undefined, 'two wants of that size: not one corrupt copy')
    assert.equal(junk.moved, 2)
    assert.equal(sel.bytesArrived('B'), 0, 'what B sends no longer counts as in transit')
    const out = sends(wl.flush(20))
    assert.deepEqual(out.B?.sort(), cs.map(c => `cancel:${short(c)}`).sort())
    assert.deepEqual(cs.map(c => wl.peerOf(c)), ['A', 'A'])
    wl.assertInvariants()
  })

  it('a proven peer that sends junk keeps its other wants', () => {
    const { wl, sel } = setup({}, ['A', 'B'])
    wl.openSession(1)
    wl.addSessionPeer(1, 'B')
    const [c0, c1, c2] = [cidOf(40), cidOf(41), cidOf(42)]
    wl.want(c0, 1, { nowMs: 0, sizeHint: MiB })
    wl.flush(0)
    wl.presence(c0, 'B', 'have', 5)
    wl.flush(5)
    assert.equal(wl.blockReceived(c0, 'B', MiB, 15).wanted, true)
    for (const c of [c1, c2]) wl.want(c, 1, { nowMs: 20, sizeHint: MiB })
    wl.flush(20)
    for (const c of [c1, c2]) wl.presence(c, 'B', 'have', 25)
    wl.flush(25)
    const junk = wl.blockReceived(cidOf(98), 'B', MiB, 30)
    assert.equal(junk.moved, undefined)
    assert.deepEqual([c1, c2].map(c => wl.peerOf(c)), ['B', 'B'])
    assert.equal(sel.bytesArrived('B'), 0)
    wl.assertInvariants()
  })

  it('keeps its invariants and never has a block in flight at two peers (property, fake clock)', () => {
    const peers = ['A', 'B', 'C', 'D']
    const op = fc.oneof(
      fc.record({ t: fc.constant('want'), i: fc.nat(15) }),
      fc.record({ t: fc.constant('join'), p: fc.constantFrom(...peers) }),
      fc.record({ t: fc.constant('have'), i: fc.nat(15), p: fc.constantFrom(...peers) }),
      fc.record({ t: fc.constant('dont'), i: fc.nat(15), p: fc.constantFrom(...peers) }),
      fc.record({ t: fc.constant('block'), i: fc.nat(15), p: fc.constantFrom(...peers) }),
      fc.record({ t: fc.constant('disc'), p: fc.constantFrom(...peers) }),
      fc.record({ t: fc.constant('conn'), p: fc.constantFrom(...peers) }),
      fc.record({ t: fc.constant('tick'), dt: fc.integer({ min: 1, max: 3000 }) })
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
      const { wl } = setup({ unprovenPeerTimeoutMs: 500 }, peers)
      wl.openSession(1)
      let now = 0
      const inFlightAt = new Map<string, string>()
      for (const o of ops as any[]) {
        if (o.t === 'want') wl.want(cidOf(o.i), 1, { nowMs: now, sizeHint: MiB })
        else if (o.t === 'join') wl.addSessionPeer(1, o.p)
        else if (o.t === 'have') wl.presence(cidOf(o.i), o.p, 'have', now)
        else if (o.t === 'dont') wl.presence(cidOf(o.i), o.p, 'dont-have', now)
        else if (o.t === 'block') wl.blockReceived(cidOf(o.i), o.p, MiB, now)
        else if (o.t === 'disc') wl.peerDisconnected(o.p)
        else if (o.t === 'conn') wl.peerConnected(o.p, true, now)
        else { now += o.dt; wl.tick(now) }
        for (const e of wl.flush(now)) {
          if (e.type !== 'send') continue
          for (const x of e.entries) {
            const k = x.cid.toString()
            if (x.cancel && inFlightAt.get(k) === e.peer) inFlightAt.delete(k)
            if (!x.cancel && x.wantType === 'block') {
              const at = inFlightAt.get(k)
              // a want-block goes to a second peer only after the first lost it (cancel sent,
              // disconnected, or answered DONT_HAVE/the block)
              assert.ok(at == null || at === e.peer || wl.peerOf(x.cid) === e.peer, `block ${k} at ${at} and ${e.peer}`)
              inFlightAt.set(k, e.peer)
            }
          }
        }
        for (const [k, p] of inFlightAt) if (wl.peerOf(CID.parse(k)) !== p) inFlightAt.delete(k)
        wl.assertInvariants()
      }
    }), { numRuns: 300 })
  })
})

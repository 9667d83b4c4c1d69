import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PeerSelector } from '../src/peer-selector.js'

const MiB = 1024 * 1024

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

  it('breaks a tie between peers at their priors by the order of allowed (the given peers), else by tracking order', () => {
    const sel = new PeerSelector()
    // the provider given second connected first (the given peers are dialled at once)
    sel.addPeer('given-second', true, 0)
    sel.addPeer('given-first', true, 0)
    assert.equal(sel.pick('root', 100, { allowed: new Set(['given-first', 'given-second']) }), 'given-first')
    assert.equal(sel.pick('root', 100, { allowed: new Set(['given-second', 'given-first']) }), 'given-second')
    assert.deepEqual(sel.eligible('root', { allowed: new Set(['given-first', 'not-connected', 'given-second']) }), ['given-first', 'given-second'])
    assert.equal(sel.pick('root', 100), 'given-second')
    // a measured difference still decides
    sel.onSent('given-second', MiB, 0); sel.onBlock('given-second', MiB, MiB, 0, 10)
    assert.equal(sel.pick('next', MiB, { allowed: new Set(['given-first', 'given-second']) }), 'given-second')
    sel.assertInvariants()
  })

  it('measures a burst of blocks as one sample over the time it took, not a few ms each', () => {
    const sel = new PeerSelector()
    sel.addPeer('seeder', true, 0)
    // a busy seeder: 8 wants outstanding, a message of 4 blocks every 2 s, the blocks 1 ms apart
    for (let i = 0; i < 8; i++) sel.onSent('seeder', MiB, 0)
    let t = 0
    for (let burst = 0; burst < 8; burst++) {
      t += 2000
      for (let b = 0; b < 4; b++) {
        sel.onBlock('seeder', MiB, MiB, 0, t + b)
        sel.onSent('seeder', MiB, t + b)
      }
    }
    const bytesPerMs = sel.stats('seeder')!.throughput
    // 4 MiB per 2 s = ~2,100 bytes/ms; per-block samples would read up to 1 MiB/ms
    assert.ok(bytesPerMs > 1_500 && bytesPerMs < 3_000, `throughput ${bytesPerMs} bytes/ms`)
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

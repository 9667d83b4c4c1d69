import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { DEFAULT_HEALTH_MAX_FAILURES, DEFAULT_HEALTH_PING_INTERVAL_MS, MIN_HEALTH_FACTOR } from '../../src/constants.js'
import { PeerHealth } from '../../src/health/score.js'
import { ThroughputMeter } from '../../src/health/throughput.js'
import { PeerSelector } from '../../src/peer-selector.js'

describe('PeerHealth (pure)', () => {
  it('pings are due one interval after connect, then one interval after each ping; never two at once', () => {
    const h = new PeerHealth()
    h.addPeer('a', 0)
    assert.deepEqual(h.due(DEFAULT_HEALTH_PING_INTERVAL_MS - 1), [])
    assert.deepEqual(h.due(DEFAULT_HEALTH_PING_INTERVAL_MS), ['a'])
    assert.deepEqual(h.due(10 * DEFAULT_HEALTH_PING_INTERVAL_MS), [], 'in flight: not asked again')
    h.onSuccess('a', 20)
    assert.deepEqual(h.due(2 * DEFAULT_HEALTH_PING_INTERVAL_MS - 1), [])
    assert.deepEqual(h.due(2 * DEFAULT_HEALTH_PING_INTERVAL_MS), ['a'])
  })

  it(`disconnects after ${DEFAULT_HEALTH_MAX_FAILURES} consecutive failures; an answer resets the count`, () => {
    const h = new PeerHealth()
    h.addPeer('a', 0)
    for (let i = 1; i < DEFAULT_HEALTH_MAX_FAILURES; i++) assert.equal(h.onFailure('a'), 'ok')
    assert.equal(h.onSuccess('a', 5), 'ok')
    assert.equal(h.stats('a')?.consecutiveFailures, 0)
    for (let i = 1; i < DEFAULT_HEALTH_MAX_FAILURES; i++) assert.equal(h.onFailure('a'), 'ok')
    assert.equal(h.onFailure('a'), 'disconnect')
    assert.equal(h.stats('a')?.failures, 2 * (DEFAULT_HEALTH_MAX_FAILURES - 1) + 1)
    h.assertInvariants()
  })

  it('score: success rate x 1/(1 + rtt/ref); failures and slow answers lower it', () => {
    const h = new PeerHealth({ rttReferenceMs: 100, rttAlpha: 1, successAlpha: 0.5 })
    h.addPeer('fast', 0)
    h.addPeer('slow', 0)
    h.addPeer('flaky', 0)
    assert.equal(h.score('fast'), 1, 'unknown health counts as healthy')
    h.onSuccess('fast', 0)
    h.onSuccess('slow', 100)
    h.onSuccess('flaky', 0)
    h.onFailure('flaky')
    assert.equal(h.score('fast'), 1)
    assert.equal(h.score('slow'), 0.5)
    assert.equal(h.stats('flaky')?.successRate, 0.5)
    assert.equal(h.score('flaky'), 0.5)
    assert.equal(h.score('nobody'), 1)
  })

  it('a peer without the ping protocol is never pinged again and keeps score 1', () => {
    const h = new PeerHealth({ pingIntervalMs: 10 })
    h.addPeer('a', 0)
    assert.deepEqual(h.due(10), ['a'])
    h.onUnsupported('a')
    assert.deepEqual(h.due(1000), [])
    assert.equal(h.score('a'), 1)
  })

  it('bad options are RangeErrors', () => {
    assert.throws(() => new PeerHealth({ pingIntervalMs: 0 }), { name: 'RangeError' })
    assert.throws(() => new PeerHealth({ maxFailures: 0 }), { name: 'RangeError' })
    assert.throws(() => new PeerHealth({ maxFailures: 1.5 }), { name: 'RangeError' })
    assert.throws(() => new PeerHealth({ rttAlpha: 0 }), { name: 'RangeError' })
    assert.throws(() => new PeerHealth({ rttReferenceMs: Number.NaN }), { name: 'RangeError' })
  })

  it('property: any sequence of outcomes keeps the invariants; disconnect exactly at maxFailures in a row', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 5000 })), { maxLength: 200 }),
      (maxFailures, outcomes) => {
        const h = new PeerHealth({ maxFailures })
        h.addPeer('p', 0)
        let run = 0
        for (const o of outcomes) {
          const verdict = o < 0 ? h.onFailure('p') : h.onSuccess('p', o)
          run = o < 0 ? run + 1 : 0
          if ((verdict === 'disconnect') !== (run >= maxFailures)) return false
          h.assertInvariants()
        }
        return true
      }))
  })
})

describe('ThroughputMeter (pure)', () => {
  it('a peer rate is the bytes over the window; the node history sums the peers', () => {
    const m = new ThroughputMeter({ windowMs: 2000, history: 3 })
    for (let t = 0; t <= 5; t++) {
      m.sample(t * 1000, new Map([['a', { sent: t * 1000, received: t * 500 }], ['b', { sent: 0, received: t * 2000 }]]))
    }
    assert.deepEqual(m.rate('a'), { sentBytesPerSecond: 1000, receivedBytesPerSecond: 500 })
    assert.deepEqual(m.rate('b'), { sentBytesPerSecond: 0, receivedBytesPerSecond: 2000 })
    const history = m.history()
    assert.equal(history.length, 3, 'bounded')
    assert.deepEqual(history.at(-1), { atMs: 5000, sentBytesPerSecond: 1000, receivedBytesPerSecond: 2500 })
    m.sample(6000, new Map([['a', { sent: 6000, received: 3000 }]]))
    assert.deepEqual(m.rate('b'), { sentBytesPerSecond: 0, receivedBytesPerSecond: 0 }, 'a peer gone is forgotten')
    assert.equal(m.history().at(-1)?.receivedBytesPerSecond, 500, 'a peer that left does not count negative')
  })
})

describe('PeerSelector health input', () => {
  it('a sick peer costs more and gets fewer wants; the factor is bounded below', () => {
    const s = new PeerSelector()
    s.addPeer('a', true, 0)
    s.addPeer('b', true, 0)
    const key = 'k'
    const base = s.cost('a', key, 1024)
    assert.equal(s.cost('b', key, 1024), base)
    s.setHealth('a', 0.5)
    assert.equal(s.health('a'), 0.5)
    assert.equal(s.cost('a', key, 1024), base / 0.5)
    assert.equal(s.pick(key, 1024), 'b')
    s.setHealth('a', 1e-9)
    assert.equal(s.cost('a', key, 1024), base / MIN_HEALTH_FACTOR)
    // spread of 64 wants of 256 KiB: the healthy peer takes more of them (the selector also
    // spreads wants over peers with room in flight, so not all of them: 38 to 26 today)
    s.setHealth('a', 0.25)
    const counts = new Map<string, number>()
    for (let i = 0; i < 64; i++) {
      const p = s.pick(`k${i}`, 256 * 1024) as string
      s.onSent(p, 256 * 1024, 0)
      counts.set(p, (counts.get(p) ?? 0) + 1)
    }
    assert.ok((counts.get('b') ?? 0) > (counts.get('a') ?? 0), JSON.stringify([...counts]))
    assert.throws(() => { s.setHealth('a', 0) }, { name: 'RangeError' })
    s.setHealth('ghost', 0.5)
    assert.equal(s.health('ghost'), 1, 'untracked peers are ignored')
    s.removePeer('a')
    s.assertInvariants()
  })
})

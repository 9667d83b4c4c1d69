import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { DEFAULT_INBOUND_MESSAGE_BURST, DEFAULT_INBOUND_MESSAGES_PER_SECOND } from '../src/constants.js'
import { PeerRateLimiter, refill } from '../src/rate-limit.js'

describe('PeerRateLimiter (token bucket per peer)', () => {
  it('defaults: 1000 messages/s, burst 2000; the 2001st message at one instant is refused', () => {
    const rl = new PeerRateLimiter()
    assert.equal(rl.ratePerSecond, DEFAULT_INBOUND_MESSAGES_PER_SECOND)
    assert.equal(rl.burst, DEFAULT_INBOUND_MESSAGE_BURST)
    assert.equal(DEFAULT_INBOUND_MESSAGES_PER_SECOND, 1000)
    assert.equal(DEFAULT_INBOUND_MESSAGE_BURST, 2000)
    for (let i = 0; i < 2000; i++) assert.equal(rl.take('p', 1000), true, `message ${i}`)
    assert.equal(rl.take('p', 1000), false)
    assert.equal(rl.take('p', 1001), true, '1 ms later one token is back')
    assert.equal(rl.take('p', 1001), false)
    assert.throws(() => new PeerRateLimiter({ ratePerSecond: 0 }), { name: 'RangeError' })
    assert.throws(() => new PeerRateLimiter({ burst: 0.5 }), { name: 'RangeError' })
  })

  it('property: over any window, accepted <= burst + rate x window', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 50 }),
      fc.array(fc.integer({ min: 0, max: 2000 }), { minLength: 1, maxLength: 300 }),
      (rate, burst, gaps) => {
        const rl = new PeerRateLimiter({ ratePerSecond: rate, burst })
        let t = 0
        let accepted = 0
        for (const g of gaps) {
          t += g
          if (rl.take('p', t)) accepted++
        }
        return accepted <= burst + rate * t / 1000 + 1e-9
      }))
  })

  it('property: a peer sending no faster than the rate is never refused', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 50 }),
      fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 200 }),
      (rate, burst, extra) => {
        const rl = new PeerRateLimiter({ ratePerSecond: rate, burst })
        let t = 0
        for (const e of extra) {
          t += 1000 / rate + e
          if (!rl.take('p', t)) return false
        }
        return true
      }))
  })

  it('property: peers are independent, and a clock going backwards refills nothing', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.integer({ min: 0, max: 10_000 })), { maxLength: 200 }),
      (events) => {
        const rl = new PeerRateLimiter({ ratePerSecond: 10, burst: 5 })
        const solo = new PeerRateLimiter({ ratePerSecond: 10, burst: 5 })
        for (const [peer, t] of events) {
          const r = rl.take(peer, t)
          if (peer === 'a' && solo.take('a', t) !== r) return false
        }
        const b = refill({ tokens: 1, atMs: 5000 }, 4000, 10, 5)
        return b.tokens === 1 && b.atMs === 5000
      }))
  })

  it('forget drops a peer; it comes back with a full bucket', () => {
    const rl = new PeerRateLimiter({ ratePerSecond: 1, burst: 2 })
    assert.equal(rl.take('p', 0), true)
    assert.equal(rl.take('p', 0), true)
    assert.equal(rl.take('p', 0), false)
    rl.forget('p')
    assert.equal(rl.size, 0)
    assert.equal(rl.tokens('p', 0), 2)
  })
})

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { DEFAULT_INBOUND_MESSAGE_BURST, DEFAULT_INBOUND_MESSAGES_PER_SECOND } from '../src/constants.js'
import { BandwidthLimiter, ByteBucket, PeerRateLimiter, parseRate, refill } from '../src/rate-limit.js'

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

describe('ByteBucket and BandwidthLimiter (bytes per second)', () => {
  it('a bucket may go into debt; the wait pays it back at the rate', () => {
    const b = new ByteBucket(1000, 100, 0)
    assert.equal(b.reserve(100, 0), 0, 'the burst is free')
    assert.equal(b.reserve(500, 0), 500, '500 bytes of debt at 1000 B/s: 500 ms')
    assert.equal(b.tokens(500), 0)
    assert.equal(b.reserve(0, 10_000), 0)
    assert.equal(b.tokens(10_000), 100, 'never above the burst')
    assert.equal(b.full(10_000), true)
  })

  it('property: bytes released by time T are at most burst + rate x T, whatever the sizes', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 100_000 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 4_000_000 })), { minLength: 1, maxLength: 100 }),
      (rate, burst, steps) => {
            const b = new ByteBucket(rate, burst, 0)
        let t = 0
        // a caller that reserves then waits before moving its bytes: release times are t + wait
        const releases: Array<{ at: number, bytes: number }> = []
        for (const [gap, bytes] of steps) {
          t += gap
          const wait = b.reserve(bytes, t)
          releases.push({ at: t + wait, bytes })
          t += wait
        }
        let released = 0
        for (const r of releases) {
          released += r.bytes
          if (released > burst + rate * r.at / 1000 + 1e-6 * released + 1) return false
        }
        return true
      }))
  })

  it('BandwidthLimiter: node-wide and per-peer limits, the longer wait wins; no limit, no wait', async () => {
    let now = 0
    const limiter = new BandwidthLimiter({ maxUploadRate: 1000, maxUploadRatePerPeer: 100, burstMs: 1000 }, () => now)
    const waits: number[] = []
    const realSetTimeout = globalThis.setTimeout
    // observe the waits without sleeping: advance the fake clock by each wait
    ;(globalThis as any).setTimeout = (fn: () => void, ms: number) => { waits.push(ms); now += ms; return realSetTimeout(fn, 0) }
    try {
      await limiter.upload('a', 16 * 1024 + 100) // per-peer burst is MIN_RATE_LIMIT_BURST_BYTES (16 KiB): 100 bytes of debt at 100 B/s
      await limiter.download('a', 10_000_000) // no download limit
    } finally {
      globalThis.setTimeout = realSetTimeout
    }
    assert.equal(waits.length, 1)
    assert.ok(Math.abs(waits[0] - 1000) < 1e-6, `waited ${waits[0]} ms`)
    assert.deepEqual(limiter.stats().download, { bytes: 0, waitedMs: 0 })
    assert.equal(limiter.limited, true)
    assert.equal(new BandwidthLimiter().limited, false)
  })

  it('a limit of 0, a negative one or garbage is an InvalidRateLimitError naming the limit', async () => {
    for (const bad of [0, -1, Number.NaN, Infinity, '5' as any]) {
      assert.throws(() => new BandwidthLimiter({ maxDownloadRatePerPeer: bad }), (err: any) => err.name === 'InvalidRateLimitError' && err.option === 'max-download-rate-per-peer')
    }
    assert.equal(parseRate('2500000'), 2_500_000)
    assert.equal(parseRate('2.5M'), 2_500_000)
    assert.equal(parseRate('10MiB/s'), 10 * 1024 * 1024)
    assert.equal(parseRate('64k'), 64_000)
    for (const bad of ['0', '-5', 'fast', '', '1e9', '0.5', '3 parsecs']) {
      assert.throws(() => parseRate(bad, 'max-upload-rate'), { name: 'InvalidRateLimitError' }, bad)
    }
  })

  it('an aborted wait rejects with the signal reason', async () => {
    const limiter = new BandwidthLimiter({ maxDownloadRate: 1 })
    const controller = new AbortController()
    const p = limiter.download('a', 1_000_000, { signal: controller.signal })
    controller.abort(new Error('stop'))
    await assert.rejects(p, { message: 'stop' })
  })
})

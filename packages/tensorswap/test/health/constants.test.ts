/**
 * The peer health and bandwidth limit defaults in `src/constants.ts` are the figures
 * spec/tensorswap.md §10 "Peer health" and §11 "Bandwidth limits" state, and the pure state
 * machines use them when given nothing.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import * as c from '../../src/constants.js'
import { PeerHealth } from '../../src/health/score.js'
import { BandwidthLimiter } from '../../src/rate-limit.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../../../..')

/** The text of section `heading` up to the next `## ` heading, whitespace collapsed. */
async function section (heading: string): Promise<string> {
  const md = await readFile(join(ROOT, 'spec/tensorswap.md'), 'utf8')
  const start = md.indexOf(heading)
  assert.ok(start >= 0, `no "${heading}" in spec/tensorswap.md`)
  const end = md.indexOf('\n## ', start + heading.length)
  return md.slice(start, end < 0 ? undefined : end).replace(/\s+/g, ' ')
}

describe('documented health and bandwidth-limit defaults', () => {
  it('spec/tensorswap.md §10 "Peer health" states the constants', async () => {
    const spec = await section('## 10. Peer health')
    assert.ok(spec.includes(`\`DEFAULT_HEALTH_PING_INTERVAL_MS\` = **${c.DEFAULT_HEALTH_PING_INTERVAL_MS / 1000} s**`))
    assert.ok(spec.includes(`\`DEFAULT_HEALTH_PING_TIMEOUT_MS\` = **${c.DEFAULT_HEALTH_PING_TIMEOUT_MS / 1000} s**`))
    assert.ok(spec.includes(`\`DEFAULT_HEALTH_RTT_ALPHA\` = ${c.DEFAULT_HEALTH_RTT_ALPHA} for the newest`))
    assert.ok(spec.includes(`\`DEFAULT_HEALTH_SUCCESS_ALPHA\` = ${c.DEFAULT_HEALTH_SUCCESS_ALPHA}`))
    assert.ok(spec.includes(`reference **${c.DEFAULT_HEALTH_RTT_REFERENCE_MS} ms**`))
    assert.ok(spec.includes(`\`DEFAULT_HEALTH_MAX_FAILURES\` = **${c.DEFAULT_HEALTH_MAX_FAILURES}**`))
    assert.ok(spec.includes(`\`MIN_HEALTH_FACTOR\` = **${c.MIN_HEALTH_FACTOR}**: a sick peer looks up to ${1 / c.MIN_HEALTH_FACTOR}x slower`))
    assert.ok(spec.includes(`\`DEFAULT_THROUGHPUT_SAMPLE_INTERVAL_MS\` = **${c.DEFAULT_THROUGHPUT_SAMPLE_INTERVAL_MS / 1000} s**`))
    assert.ok(spec.includes(`\`DEFAULT_THROUGHPUT_WINDOW_MS\` = **${c.DEFAULT_THROUGHPUT_WINDOW_MS / 1000} s**`))
    assert.ok(spec.includes(`\`DEFAULT_THROUGHPUT_HISTORY\` = **${c.DEFAULT_THROUGHPUT_HISTORY}** samples (${c.DEFAULT_THROUGHPUT_HISTORY * c.DEFAULT_THROUGHPUT_SAMPLE_INTERVAL_MS / 60_000} minutes`))
    // a ping is due an interval after the previous one started; the last failure ends a timeout
    // after the last ping started: first unanswered ping to drop is (N-1) intervals + a timeout,
    // and silence may begin up to one interval before that first ping
    const dropped = (c.DEFAULT_HEALTH_MAX_FAILURES - 1) * c.DEFAULT_HEALTH_PING_INTERVAL_MS + c.DEFAULT_HEALTH_PING_TIMEOUT_MS
    assert.ok(spec.includes(`dropped about ${dropped / 1000} s after its first unanswered ping (${dropped / 1000} to ${(dropped + c.DEFAULT_HEALTH_PING_INTERVAL_MS) / 1000} s after it went silent)`), `${dropped} ms`)
  })

  it('the success-rate figures §10 gives follow from the EWMA weight', async () => {
    const spec = await section('## 10. Peer health')
    const h = new PeerHealth()
    h.addPeer('p', 0)
    const rates: number[] = []
    for (let i = 1; i <= 3; i++) {
      assert.equal(h.onFailure('p'), i < c.DEFAULT_HEALTH_MAX_FAILURES ? 'ok' : 'disconnect', `failure ${i}`)
      rates.push(h.stats('p')?.successRate as number)
    }
    assert.ok(spec.includes(`(one failure: ${rates[0].toFixed(1)}; three in a row: ~${rates[2].toFixed(2)})`), rates.join(', '))
  })

  it('spec/tensorswap.md §11 "Bandwidth limits" states the constants', async () => {
    const spec = await section('## 11. Bandwidth limits')
    assert.ok(spec.includes(`\`max(MIN_RATE_LIMIT_BURST_BYTES, rate x DEFAULT_RATE_LIMIT_BURST_MS / 1000)\`: **${c.DEFAULT_RATE_LIMIT_BURST_MS} ms** at the rate, at least **${c.MIN_RATE_LIMIT_BURST_BYTES / 1024} KiB**`))
    assert.ok(spec.includes(`\`MAX_IDLE_RATE_BUCKETS\` = **${c.MAX_IDLE_RATE_BUCKETS}**`))
    assert.ok(spec.includes(`\`DEFAULT_PEER_IDLE_TIMEOUT_MS\` (${c.DEFAULT_PEER_IDLE_TIMEOUT_MS / 1000} s)`))
  })

  it('the burst §11 gives is what a limiter lets through at once', async () => {
    let now = 0
    // a rate whose 100 ms is above the 16 KiB floor, and one below it
    for (const rate of [1_000_000, 10_000]) {
      const limiter = new BandwidthLimiter({ maxUploadRate: rate }, () => now)
      const burst = Math.max(c.MIN_RATE_LIMIT_BURST_BYTES, rate * c.DEFAULT_RATE_LIMIT_BURST_MS / 1000)
      await limiter.upload('p', burst) // the full bucket covers it: no wait (the limiter's clock, not the wall's)
      assert.equal(limiter.stats().upload.waitedMs, 0)
      // one byte more is debt: it waits 1 byte's time at the rate
      const waited = limiter.upload('p', 1)
      now += 1000 / rate
      await waited
      assert.ok(Math.abs(limiter.stats().upload.waitedMs - 1000 / rate) < 1e-6, `${rate}: ${limiter.stats().upload.waitedMs}`)
      now = 0
    }
  })
})

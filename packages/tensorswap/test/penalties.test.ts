import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PenaltyBox } from '../src/penalties.js'

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

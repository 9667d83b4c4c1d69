/**
 * `serve`'s transfer lines: one per burst of sending to a peer, once it has been idle.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TransferLog } from '../src/serve-log.js'

describe('TransferLog', () => {
  it('reports one line per transfer when the peer has been idle for idleMs', () => {
    const log = new TransferLog(1000)
    assert.deepEqual(log.update({}, 0), [])
    assert.deepEqual(log.update({ A: { bytesSent: 1_000_000, blocksSent: 1 } }, 100), [])
    assert.deepEqual(log.update({ A: { bytesSent: 3_000_000, blocksSent: 3 } }, 600), [])
    assert.deepEqual(log.update({ A: { bytesSent: 3_000_000, blocksSent: 3 } }, 1500), [])
    assert.deepEqual(log.update({ A: { bytesSent: 3_000_000, blocksSent: 3 } }, 1600), ['served A: 3 blocks (3.0 MB) in 0.5 s'])
    assert.deepEqual(log.update({ A: { bytesSent: 3_000_000, blocksSent: 3 } }, 5000), [], 'reported once')
    // a second transfer counts from where the first ended
    assert.deepEqual(log.update({ A: { bytesSent: 3_500_000, blocksSent: 4 } }, 6000), [])
    assert.deepEqual(log.update({ A: { bytesSent: 3_500_000, blocksSent: 4 } }, 7000), ['served A: 1 blocks (500.0 kB) in 0.0 s'])
  })

  it('keeps peers apart', () => {
    const log = new TransferLog(100)
    log.update({ A: { bytesSent: 10, blocksSent: 1 }, B: { bytesSent: 20, blocksSent: 2 } }, 0)
    log.update({ A: { bytesSent: 10, blocksSent: 1 }, B: { bytesSent: 40, blocksSent: 3 } }, 50)
    assert.deepEqual(log.update({ A: { bytesSent: 10, blocksSent: 1 }, B: { bytesSent: 40, blocksSent: 3 } }, 120), ['served A: 1 blocks (10 B) in 0.0 s'])
    assert.deepEqual(log.update({ A: { bytesSent: 10, blocksSent: 1 }, B: { bytesSent: 40, blocksSent: 3 } }, 150), ['served B: 3 blocks (40 B) in 0.1 s'])
  })
})

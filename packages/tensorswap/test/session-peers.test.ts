import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SessionPeers } from '../src/session-peers.js'

describe('SessionPeers', () => {
  it('tells listeners of each new peer once and keeps the most specific source', () => {
    const set = new SessionPeers()
    const heard: string[] = []
    const stop = set.onAdded((p, s) => { heard.push(`${p}:${s}`) })
    assert.equal(set.add('A', 'connected'), true)
    assert.equal(set.add('A', 'dht'), false)
    assert.equal(set.source('A'), 'dht')
    assert.equal(set.add('A', 'connected'), false)
    assert.equal(set.source('A'), 'dht', 'a less specific source does not replace a more specific one')
    set.add('B', 'given')
    stop()
    set.add('C', 'dht')
    assert.deepEqual(heard, ['A:connected', 'B:given'])
    assert.deepEqual(set.entries(), [['A', 'dht'], ['B', 'given'], ['C', 'dht']])
    assert.equal(set.size, 3)
    assert.equal(set.has('C'), true)
    assert.equal(set.has('D'), false)
  })
})

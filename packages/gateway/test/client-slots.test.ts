import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ClientSlots, clientKey } from '../src/client-slots.js'

const never = new AbortController().signal

describe('per-client response slots (client-slots.ts)', () => {
  it('at most max per client, waiters served in order as slots are released, no client kept at zero', async () => {
    const slots = new ClientSlots(2, 10)
    const a = await slots.acquire('a', 1_000, 1, never)
    const b = await slots.acquire('a', 1_000, 1, never)
    assert.equal(slots.active('a'), 2)
    const order: string[] = []
    const c = slots.acquire('a', 1_000, 1, never).then(r => { order.push('c'); return r })
    const d = slots.acquire('a', 1_000, 1, never).then(r => { order.push('d'); return r })
    const other = await slots.acquire('b', 1_000, 1, never)
    assert.equal(slots.waiting('a'), 2)
    a()
    a() // a second release of the same slot does nothing
    const rc = await c
    assert.deepEqual(order, ['c'])
    assert.equal(slots.active('a'), 2)
    b()
    const rd = await d
    assert.deepEqual(order, ['c', 'd'])
    rc(); rd(); other()
    assert.equal(slots.clients, 0)
  })

  it('a full queue and a wait past waitMs are GatewayBusyError (503); an abort while waiting rejects with its reason and leaves the queue', async () => {
    const slots = new ClientSlots(1, 1)
    const held = await slots.acquire('a', 1_000, 7, never)
    const waiter = slots.acquire('a', 50, 7, never)
    await assert.rejects(slots.acquire('a', 1_000, 7, never), (err: any) => err.name === 'GatewayBusyError' && err.status === 503 && err.headers['Retry-After'] === '7')
    await assert.rejects(waiter, { name: 'GatewayBusyError' })
    assert.equal(slots.waiting('a'), 0)
    const ac = new AbortController()
    const aborted = slots.acquire('a', 1_000, 7, ac.signal)
    ac.abort(new Error('client went away'))
    await assert.rejects(aborted, /client went away/)
    assert.equal(slots.waiting('a'), 0)
    held()
    assert.equal(slots.clients, 0)
    assert.throws(() => new ClientSlots(0, 1), RangeError)
    assert.throws(() => new ClientSlots(1, -1), RangeError)
  })

  it('clientKey: IPv4 clients of a dual-stack socket are their IPv4 address', () => {
    assert.equal(clientKey('::ffff:127.0.0.3'), '127.0.0.3')
    assert.equal(clientKey('::1'), '::1')
    assert.equal(clientKey(undefined), 'unknown')
  })
})

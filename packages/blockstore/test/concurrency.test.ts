import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { BoundedQueue, mapLimit } from '../src/concurrency.js'

describe('BoundedQueue', () => {
  it('holds tasks to their count and byte bounds; one task may exceed the byte bound alone', async () => {
    const q = new BoundedQueue({ concurrency: 2, maxBytes: 100 })
    let running = 0
    let maxRunning = 0
    let maxBytes = 0
    const dones: Array<Promise<number>> = []
    const sizes = [60, 30, 50, 10, 250, 40, 40, 40]
    for (const [i, size] of sizes.entries()) {
      const { done } = await q.run(size, async () => {
        running++
        maxRunning = Math.max(maxRunning, running)
        maxBytes = Math.max(maxBytes, q.bytes)
        if (size === 250) assert.equal(q.bytes, 250, 'an oversized task runs alone')
        else assert.ok(q.bytes <= 100, `bytes held ${q.bytes} within the bound`)
        await new Promise(resolve => setTimeout(resolve, 5))
        running--
        return i
      })
      dones.push(done)
    }
    assert.deepEqual(await Promise.all(dones), sizes.map((_, i) => i))
    assert.equal(maxRunning, 2)
    assert.ok(maxBytes <= 250)
    await q.onIdle()
    assert.equal(q.bytes, 0)
    assert.equal(q.running, 0)
  })

  it('a failing task rejects its own done, and frees its bytes', async () => {
    const q = new BoundedQueue({ concurrency: 1, maxBytes: 10 })
    const { done } = await q.run(10, async () => { throw new Error('disk full') })
    await assert.rejects(done, { message: 'disk full' })
    const { done: next } = await q.run(10, async () => 'ok')
    assert.equal(await next, 'ok')
  })
})
describe('mapLimit (p-queue)', () => {
  it('keeps at most `limit` calls in flight, starts them in input order, returns results in input order', async () => {
    let inFlight = 0
    let peak = 0
    const started: number[] = []
    const items = Array.from({ length: 20 }, (_, i) => i)
    const results = await mapLimit(items, 4, async (item, index) => {
      assert.equal(item, index)
      started.push(item)
      inFlight++
      peak = Math.max(peak, inFlight)
      await sleep((item * 7) % 5)
      inFlight--
      return item * 2
    })
    assert.equal(peak, 4)
    assert.deepEqual(started, items)
    assert.deepEqual(results, items.map(i => i * 2))
  })

  it('an empty input resolves to []', async () => {
    assert.deepEqual(await mapLimit([], 4, async () => { throw new Error('never called') }), [])
  })

  it('after a rejection starts nothing new and throws the first error once the calls in flight settle', async () => {
    const started: number[] = []
    const settled: number[] = []
    await assert.rejects(mapLimit(Array.from({ length: 10 }, (_, i) => i), 3, async (i) => {
      started.push(i)
      if (i === 1) {
        await sleep(1)
        throw Object.assign(new Error('first'), { name: 'FirstError' })
      }
      if (i === 2) {
        await sleep(20)
        settled.push(i)
        throw new Error('second')
      }
      await sleep(5)
      settled.push(i)
      return i
    }), { name: 'FirstError' })
    // 0, 1, 2 start at once; 1 fails before 0 or 2 settle, so 3.. never start
    assert.deepEqual(started, [0, 1, 2])
    // the call still in flight (2) settled before the error was thrown
    assert.ok(settled.includes(2))
  })
})

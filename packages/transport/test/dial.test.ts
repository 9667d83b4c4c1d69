/**
 * dialWithRetry: time-boxed attempts, retry with back-off, abandoned attempts released through
 * `onLate`, errors passed through unchanged. Fake attempts (no network), so every timing is ours.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { dialWithRetry } from '../src/dial.js'
import { DEFAULT_DIAL_ATTEMPTS } from '../src/constants.js'

class Refused extends Error { override name = 'Refused' }

describe('dialWithRetry', () => {
  it('returns the first attempt that succeeds, without retrying', async () => {
    let calls = 0
    const v = await dialWithRetry(async () => { calls++; return 'conn' })
    assert.equal(v, 'conn')
    assert.equal(calls, 1)
  })

  it('retries failed attempts with doubling back-off and returns the one that succeeds', async () => {
    const at: number[] = []
    const started = performance.now()
    const v = await dialWithRetry(async () => {
      at.push(performance.now() - started)
      if (at.length < 3) throw new Refused('no')
      return 42
    }, { attempts: 3, backoffMs: 40 })
    assert.equal(v, 42)
    assert.equal(at.length, 3)
    assert.ok(at[1] - at[0] >= 35, `first back-off ${at[1] - at[0]} ms`)
    assert.ok(at[2] - at[1] >= 75, `second back-off ${at[2] - at[1]} ms (doubled)`)
  })

  it(`makes DEFAULT_DIAL_ATTEMPTS (${DEFAULT_DIAL_ATTEMPTS}) attempts and throws the last error unchanged`, async () => {
    let calls = 0
    await assert.rejects(dialWithRetry(async () => { calls++; throw new Refused(`attempt ${calls}`) }, { backoffMs: 0 }), (err: any) => {
      assert.equal(err.name, 'Refused')
      assert.equal(err.message, `attempt ${DEFAULT_DIAL_ATTEMPTS}`)
      return true
    })
    assert.equal(calls, DEFAULT_DIAL_ATTEMPTS)
  })

  it('ends at the first error `retryable` rejects, with that error, and retries the others', async () => {
    class Mismatch extends Error { override name = 'Mismatch' }
    let calls = 0
    await assert.rejects(dialWithRetry(async () => {
      calls++
      throw calls === 1 ? new Refused('first') : new Mismatch('second')
    }, { attempts: 5, backoffMs: 1, retryable: (err) => !(err instanceof Mismatch) }), (err: any) => err.name === 'Mismatch' && err.message === 'second')
    assert.equal(calls, 2)
  })

  it('time-boxes an attempt that ignores its signal, abandons it and hands its late value to onLate', async () => {
    const late: string[] = []
    const signals: AbortSignal[] = []
    let calls = 0
    const v = await dialWithRetry(async ({ signal }) => {
      signals.push(signal)
      calls++
      if (calls === 1) return await new Promise<string>(resolve => setTimeout(() => { resolve('late stream') }, 150)) // a hung connect
      return 'fresh'
    }, { attempts: 2, attemptTimeoutMs: 50, backoffMs: 0, onLate: (s) => { late.push(s) } })
    assert.equal(v, 'fresh')
    assert.equal(signals[0].aborted, true, 'the abandoned attempt was told to stop')
    assert.equal((signals[0].reason as Error).name, 'TimeoutError')
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.deepEqual(late, ['late stream'])
  })

  it('throws TimeoutError when the only attempt overruns its box', async () => {
    await assert.rejects(dialWithRetry(async () => await new Promise<never>(() => {}), { attempts: 1, attemptTimeoutMs: 30 }), { name: 'TimeoutError' })
  })

  it('stops at once when the signal aborts: no further attempt, the signal\'s reason', async () => {
    const controller = new AbortController()
    let calls = 0
    const p = dialWithRetry(async ({ signal }) => {
      calls++
      return await new Promise<never>((_resolve, reject) => { signal.addEventListener('abort', () => { reject(new Refused('aborted')) }) })
    }, { attempts: 3, attemptTimeoutMs: 10_000, signal: controller.signal })
    setTimeout(() => { controller.abort() }, 20)
    await assert.rejects(p, { name: 'AbortError' })
    assert.equal(calls, 1)
    await assert.rejects(dialWithRetry(async () => 1, { signal: AbortSignal.abort() }), { name: 'AbortError' })
  })

  it('stops during a back-off when the signal aborts', async () => {
    const controller = new AbortController()
    let calls = 0
    const p = dialWithRetry(async () => { calls++; throw new Refused('no') }, { attempts: 3, backoffMs: 10_000, signal: controller.signal })
    setTimeout(() => { controller.abort() }, 20)
    await assert.rejects(p, { name: 'AbortError' })
    assert.equal(calls, 1)
  })

  it('rejects attempts < 1 with RangeError', async () => {
    await assert.rejects(dialWithRetry(async () => 1, { attempts: 0 }), RangeError)
  })
})

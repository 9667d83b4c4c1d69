/**
 * The one bounded-concurrency module of TensorSwap, on `p-queue`: {@link BoundedQueue} for
 * durable puts (bounded in count and in bytes held; a put costs latency, not bandwidth, so
 * several run at once) and {@link mapLimit} for bounded maps (the importer's header reads and
 * file writes). The exchange's sessions, the GraphSync driver and the importer all use it.
 *
 * @module
 */

import PQueue from 'p-queue'
/** Options of {@link BoundedQueue}. */
export interface BoundedQueueInit {
  /** Most tasks running at once (at least 1). */
  concurrency: number
  /** Most bytes held by running tasks, bytes; one task is always allowed, however large. @default Infinity */
  maxBytes?: number
}

/**
 * Runs tasks with at most `concurrency` at once and at most `maxBytes` bytes among them.
 * {@link BoundedQueue.run} waits for room, so a caller that awaits it is back-pressured.
 */
export class BoundedQueue {
  readonly #queue: PQueue
  readonly #maxBytes: number
  #bytes = 0
  #waiters: Array<() => void> = []

  /** @param init - see {@link BoundedQueueInit} */
  constructor (init: BoundedQueueInit) {
    this.#queue = new PQueue({ concurrency: Math.max(1, init.concurrency) })
    this.#maxBytes = init.maxBytes ?? Infinity
  }

  /** Tasks running. */
  get running (): number { return this.#queue.pending }

  /** Bytes held by running (and just admitted) tasks. */
  get bytes (): number { return this.#bytes }

  /**
   * Wait until a task holding `bytes` fits (count and bytes), then start `fn`.
   *
   * @returns once `fn` has started: `{ done }`, its result (a rejected `done` is the task's
   *   error; the caller must handle it)
   */
  async run<T> (bytes: number, fn: () => Promise<T>): Promise<{ done: Promise<T> }> {
    while (this.#bytes > 0 && this.#bytes + bytes > this.#maxBytes) {
      await new Promise<void>(resolve => { this.#waiters.push(resolve) })
    }
    this.#bytes += bytes
    const done = this.#queue.add(fn).finally(() => {
      this.#bytes -= bytes
      const waiters = this.#waiters
      this.#waiters = []
      for (const w of waiters) w()
    }) as Promise<T>
    // p-queue starts a task at once while under its concurrency; otherwise wait for its turn
    if (this.#queue.size > 0) await this.#queue.onSizeLessThan(1)
    return { done }
  }

  /** Resolves when no task runs or waits. */
  async onIdle (): Promise<void> {
    await this.#queue.onIdle()
  }
}

/**
 * Maps `items` through `fn` with at most `limit` calls in flight, started in input order;
 * results in input order. After a rejection no new call starts; once the calls in flight
 * settle, the first error is thrown (so no work is left running behind the caller's back).
 *
 * @param limit - calls in flight, >= 1
 * @throws the first error `fn` threw
 */
export async function mapLimit<T, R> (items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  const queue = new PQueue({ concurrency: limit })
  let failed = false
  let firstError: unknown
  items.forEach((item, i) => {
    void queue.add(async () => {
      if (failed) return
      try {
        results[i] = await fn(item, i)
      } catch (err) {
        if (!failed) {
          failed = true
          firstError = err
          queue.clear()
        }
      }
    })
  })
  await queue.onIdle()
  if (failed) {
    throw firstError
  }
  return results
}

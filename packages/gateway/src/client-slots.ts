/**
 * Response slots per client: at most `max` responses of one client (an IP address) in
 * progress, the client's next requests waiting in order for one of them to end
 * (`DEFAULT_MAX_RESPONSES_PER_CLIENT`, constants.ts, says why). Pure bookkeeping: no sockets,
 * no timers but each waiter's deadline.
 *
 * @module
 */

import { GatewayBusyError } from './errors.js'

/** A request waiting for its client's slot. */
interface Waiter {
  grant: () => void
}

/** One client's slots in use and its waiting requests. */
interface Client {
  active: number
  waiting: Waiter[]
}

/** `::ffff:127.0.0.3` (an IPv4 client of a dual-stack socket) -> `127.0.0.3`; undefined -> `unknown`. */
export function clientKey (remoteAddress: string | undefined): string {
  if (remoteAddress == null) return 'unknown'
  return remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress
}

/** Per-client response slots (see the module comment). */
export class ClientSlots {
  readonly #clients = new Map<string, Client>()
  /** Most responses per client at once. */
  readonly max: number
  /** Most requests per client waiting for a slot. */
  readonly maxQueued: number

  /**
   * @param max - most responses per client at once
   * @param maxQueued - most waiting requests per client
   * @throws RangeError when `max` is not a positive integer or `maxQueued` not a non-negative one
   */
  constructor (max: number, maxQueued: number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`maxResponsesPerClient must be a positive integer, got ${max}`)
    if (!Number.isSafeInteger(maxQueued) || maxQueued < 0) throw new RangeError(`maxQueuedPerClient must be a non-negative integer, got ${maxQueued}`)
    this.max = max
    this.maxQueued = maxQueued
  }

  /**
   * Take one of `client`'s slots, waiting for one at most `waitMs`.
   *
   * @returns the slot's release (call it once, when the response ends; later calls do nothing)
   * @throws GatewayBusyError (503, `Retry-After: retryAfterSeconds`) when the client's queue is
   *   full or no slot came within `waitMs`
   * @throws the signal's reason when `signal` aborts while waiting (the client went away)
   */
  async acquire (client: string, waitMs: number, retryAfterSeconds: number, signal: AbortSignal): Promise<() => void> {
    let c = this.#clients.get(client)
    if (c == null) {
      c = { active: 0, waiting: [] }
      this.#clients.set(client, c)
    }
    const entry = c
    if (entry.active < this.max) {
      entry.active++
      return this.#release(client, entry)
    }
    if (entry.waiting.length >= this.maxQueued) {
      throw new GatewayBusyError(`this client has ${entry.active} responses in progress and ${entry.waiting.length} waiting; retry later`, retryAfterSeconds)
    }
    signal.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        const i = entry.waiting.indexOf(waiter)
        if (i >= 0) entry.waiting.splice(i, 1)
      }
      const waiter: Waiter = { grant: () => { done(); resolve() } }
      const onAbort = (): void => { done(); this.#forget(client, entry); reject(signal.reason) }
      const timer = setTimeout(() => {
        done()
        this.#forget(client, entry)
        reject(new GatewayBusyError(`this client's ${this.max} responses in progress did not end within ${waitMs} ms; retry later`, retryAfterSeconds))
      }, waitMs)
      signal.addEventListener('abort', onAbort, { once: true })
      entry.waiting.push(waiter)
    })
    // the slot was handed over by a release: `active` already counts it
    return this.#release(client, entry)
  }

  /** Responses of `client` in progress. */
  active (client: string): number {
    return this.#clients.get(client)?.active ?? 0
  }

  /** Requests of `client` waiting for a slot. */
  waiting (client: string): number {
    return this.#clients.get(client)?.waiting.length ?? 0
  }

  /** Clients with a slot in use or a request waiting (none is kept at zero). */
  get clients (): number {
    return this.#clients.size
  }

  #release (client: string, entry: Client): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = entry.waiting[0]
      if (next != null) {
        next.grant() // the slot passes to the first waiter: `active` unchanged
        return
      }
      entry.active--
      this.#forget(client, entry)
    }
  }

  /** Drop `client`'s entry once it holds nothing. */
  #forget (client: string, entry: Client): void {
    if (entry.active === 0 && entry.waiting.length === 0 && this.#clients.get(client) === entry) this.#clients.delete(client)
  }
}

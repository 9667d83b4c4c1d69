/**
 * Responder memory: the bytes of response messages a GraphSync responder holds before its
 * streams take them, bounded in total and per peer (go-graphsync `responsemanager/allocator`,
 * options `MaxMemoryResponder` / `MaxMemoryPerPeerResponder`, defaults 256 MiB and 16 MiB).
 *
 * The driver allocates a message's encoded size before writing it and releases it once the
 * stream has taken it (its write resolved or failed). An allocation over a limit waits
 * (back-pressure: the response's traversal is paused, its next block is not loaded) until
 * releases make room; it never fails for size. As go-graphsync, an allocation is granted
 * whatever its size when the peer (per-peer limit) or the node (total limit) holds nothing, so
 * one message larger than a limit still makes progress. An allocation that fits is granted at
 * once and waiters are granted in arrival order among those that fit, so one peer at its limit
 * never blocks another.
 *
 * @module
 */
import { DEFAULT_MAX_MEMORY_PER_PEER_RESPONDER, DEFAULT_MAX_MEMORY_RESPONDER } from './constants.js'

/** Options of {@link ResponderMemory}. */
export interface ResponderMemoryInit {
  /** Most bytes allocated across all peers. @default {@link DEFAULT_MAX_MEMORY_RESPONDER} (256 MiB) */
  maxMemoryResponder?: number
  /** Most bytes allocated to one peer. @default {@link DEFAULT_MAX_MEMORY_PER_PEER_RESPONDER} (16 MiB) */
  maxMemoryPerPeerResponder?: number
}

interface Waiter {
  peer: string
  bytes: number
  resolve: () => void
  reject: (err: unknown) => void
  signal?: AbortSignal
  onAbort?: () => void
}

/** Bounded byte allocations per peer and in total; see the module comment. */
export class ResponderMemory {
  /** Total limit, bytes. */
  readonly maxTotal: number
  /** Per-peer limit, bytes. */
  readonly maxPerPeer: number
  readonly #perPeer = new Map<string, number>()
  #total = 0
  #peak = 0
  #waits = 0
  #waiters: Waiter[] = []

  /**
   * @param init - limits, see {@link ResponderMemoryInit}
   * @throws RangeError when a limit is not a positive safe integer
   */
  constructor (init: ResponderMemoryInit = {}) {
    this.maxTotal = init.maxMemoryResponder ?? DEFAULT_MAX_MEMORY_RESPONDER
    this.maxPerPeer = init.maxMemoryPerPeerResponder ?? DEFAULT_MAX_MEMORY_PER_PEER_RESPONDER
    for (const [name, v] of [['maxMemoryResponder', this.maxTotal], ['maxMemoryPerPeerResponder', this.maxPerPeer]] as const) {
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`ResponderMemory: ${name} must be a positive integer, got ${v}`)
    }
  }

  /** Bytes allocated in total now. */
  get total (): number {
    return this.#total
  }

  /** Largest total ever allocated at once, bytes (observability and tests). */
  get peak (): number {
    return this.#peak
  }

  /** Allocations that ever had to wait for room (monotonic; observability and tests). */
  get waits (): number {
    return this.#waits
  }

  /** Allocations waiting for room. */
  get waiting (): number {
    return this.#waiters.length
  }

  /** Bytes allocated to `peer` now. */
  allocatedTo (peer: string): number {
    return this.#perPeer.get(peer) ?? 0
  }

  /**
   * Allocate `bytes` to `peer`, waiting until both limits allow it.
   *
   * @param bytes - a non-negative integer
   * @throws `signal.reason` when `signal` aborts while waiting (nothing stays allocated)
   */
  async allocate (peer: string, bytes: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (this.#fits(peer, bytes)) {
      this.#take(peer, bytes)
      return
    }
    await new Promise<void>((resolve, reject) => {
      const w: Waiter = { peer, bytes, resolve, reject }
      if (options.signal != null) {
        w.signal = options.signal
        w.onAbort = () => {
          this.#waiters = this.#waiters.filter(x => x !== w)
          reject(options.signal?.reason)
          this.#grant()
        }
        options.signal.addEventListener('abort', w.onAbort, { once: true })
      }
      this.#waiters.push(w)
      this.#waits++
    })
  }

  /** Return `bytes` allocated to `peer` (at most what it holds) and grant waiters that now fit. */
  release (peer: string, bytes: number): void {
    const held = this.#perPeer.get(peer) ?? 0
    const n = Math.min(held, bytes)
    if (held - n === 0) this.#perPeer.delete(peer)
    else this.#perPeer.set(peer, held - n)
    this.#total -= n
    this.#grant()
  }

  #fits (peer: string, bytes: number): boolean {
    const held = this.#perPeer.get(peer) ?? 0
    return (held === 0 || held + bytes <= this.maxPerPeer) && (this.#total === 0 || this.#total + bytes <= this.maxTotal)
  }

  #take (peer: string, bytes: number): void {
    this.#perPeer.set(peer, (this.#perPeer.get(peer) ?? 0) + bytes)
    this.#total += bytes
    if (this.#total > this.#peak) this.#peak = this.#total
  }

  #grant (): void {
    for (const w of [...this.#waiters]) {
      if (!this.#fits(w.peer, w.bytes)) continue
      this.#waiters = this.#waiters.filter(x => x !== w)
      if (w.onAbort != null) w.signal?.removeEventListener('abort', w.onAbort)
      this.#take(w.peer, w.bytes)
      w.resolve()
    }
  }
}

/**
 * The one dial helper of TensorSwap: time-box each attempt of a dial (a connection, or a
 * stream open with protocol negotiation), abandon an attempt that overruns its box, and try
 * again after a back-off. The exchange (peers given to `fetch`, its protocol streams), the
 * libp2p node's `dialPreferred` and the GraphSync driver all dial through it.
 *
 * Why abandon instead of only aborting: `@chainsafe/libp2p-quic` 2.1.1 does not pass the abort
 * signal to its native connect, and a QUIC connect (or a stream open) to a node that was
 * hanging up on another peer at that moment was seen never to complete (tensorswap
 * test/exchange/hostile.test.ts). The attempt's signal is still aborted, so a well-behaved
 * transport stops; one that does not is left to settle on its own, and whatever it yields late
 * is handed to `onLate` (e.g. to abort a stream nobody will use).
 *
 * @module
 */
import { logger } from '@libp2p/logger'
import { raceSignal } from 'race-signal'
import { DEFAULT_DIAL_ATTEMPTS, DEFAULT_DIAL_ATTEMPT_TIMEOUT_MS, DEFAULT_DIAL_BACKOFF_MS } from './constants.js'
import type { AbortOptions } from '@libp2p/interface'

const log = logger('tensorswap:transport:dial')

/** Options of {@link dialWithRetry}. */
export interface DialWithRetryOptions<T> extends AbortOptions {
  /** Attempts in all (at least 1). @default {@link DEFAULT_DIAL_ATTEMPTS} (3) */
  attempts?: number
  /** Time-box of one attempt, ms; combined with `signal`. @default {@link DEFAULT_DIAL_ATTEMPT_TIMEOUT_MS} (8 s) */
  attemptTimeoutMs?: number
  /** Wait before the second attempt, ms, doubled before each later one; 0 retries at once. @default {@link DEFAULT_DIAL_BACKOFF_MS} (100 ms) */
  backoffMs?: number
  /**
   * Called with the value of an abandoned attempt (it timed out, or `signal` aborted) that
   * resolved after all; release it here (abort a stream, ...). Errors it throws are logged.
   */
  onLate?: (value: T) => void
  /** What is dialled (a multiaddr, a peer id, `peer protocol`), for logs only. */
  target?: unknown
  /**
   * Whether an attempt's error is worth another attempt; one that is not ends the dial with it
   * at once (e.g. the address answered with another peer's identity: a stale record, which a
   * second TLS handshake will not change). @default every error is
   */
  retryable?: (err: unknown) => boolean
}

/**
 * Run `attempt` (a dial or stream open) up to `attempts` times, each time-boxed to
 * `attemptTimeoutMs` through the signal it is given and by racing it against that signal, with
 * `backoffMs`, `2 * backoffMs`, ... between attempts.
 *
 * @param attempt - one try; must honour `options.signal` where it can (libp2p's `dial`,
 *   `dialProtocol` and `Connection.newStream` do)
 * @param options - see {@link DialWithRetryOptions}
 * @returns the first attempt's value that arrived within its time-box
 * @throws the last attempt's error unchanged, or at once the first one `retryable` rejects (a `DOMException` named `TimeoutError` when it
 *   overran its box; libp2p's `UnsupportedProtocolError`, `DialError`, ... otherwise);
 *   `signal.reason` once `signal` aborts (no further attempt is made); `RangeError` for
 *   `attempts` < 1
 */
export async function dialWithRetry<T> (attempt: (options: { signal: AbortSignal }) => Promise<T>, options: DialWithRetryOptions<T> = {}): Promise<T> {
  const attempts = options.attempts ?? DEFAULT_DIAL_ATTEMPTS
  if (!(attempts >= 1)) throw new RangeError(`dialWithRetry: attempts ${attempts} < 1`)
  const timeoutMs = options.attemptTimeoutMs ?? DEFAULT_DIAL_ATTEMPT_TIMEOUT_MS
  const backoffMs = options.backoffMs ?? DEFAULT_DIAL_BACKOFF_MS
  const { signal } = options
  let lastError: unknown
  for (let n = 1; n <= attempts; n++) {
    signal?.throwIfAborted()
    if (n > 1 && backoffMs > 0) await sleep(backoffMs * 2 ** (n - 2), signal)
    const attemptSignal = signal == null ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([AbortSignal.timeout(timeoutMs), signal])
    const dialing = attempt({ signal: attemptSignal })
    try {
      return await raceSignal(dialing, attemptSignal)
    } catch (err) {
      lastError = err
      if (attemptSignal.aborted) abandon(dialing, options)
      log('attempt %d/%d to %s failed - %e', n, attempts, String(options.target ?? 'peer'), err)
      if (options.retryable?.(err) === false) break
    }
  }
  signal?.throwIfAborted()
  throw lastError
}

/** Let an attempt that lost the race settle unobserved, releasing a late value. */
function abandon<T> (dialing: Promise<T>, options: DialWithRetryOptions<T>): void {
  dialing.then(value => {
    log('abandoned attempt to %s completed late', String(options.target ?? 'peer'))
    try {
      options.onLate?.(value)
    } catch (err: any) {
      log.error('onLate threw - %e', err)
    }
  }, () => {})
}

/** Resolve after `ms`, or reject with `signal.reason` when it aborts first. */
async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(timer); reject(signal?.reason) }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * The hook by which the protocols above this package (the exchange, GraphSync) ask for
 * bandwidth before bytes leave or after they arrive. The token buckets behind it are the
 * `tensorswap` package's `BandwidthLimiter` (`src/rate-limit.ts`); this package only names the
 * shape, so GraphSync can take one without depending on the exchange.
 *
 * @module
 */
import type { AbortOptions } from '@libp2p/interface'

/**
 * Paces bytes per peer: each call resolves when `bytes` more may move to (`upload`) or from
 * (`download`) `peer` under the limits. A caller of `upload` awaits it before writing; a
 * reader awaits `download` before reading the next frame, so a paused read slows the remote
 * sender through the transport's flow control.
 */
export interface BandwidthPacer {
  /**
   * @param peer - peer id string
   * @param bytes - bytes about to be written
   * @throws `signal.reason` when `signal` aborts the wait
   */
  upload(peer: string, bytes: number, options?: AbortOptions): Promise<void>
  /**
   * @param peer - peer id string
   * @param bytes - bytes just read
   * @throws `signal.reason` when `signal` aborts the wait
   */
  download(peer: string, bytes: number, options?: AbortOptions): Promise<void>
}

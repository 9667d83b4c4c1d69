/**
 * A limit on inbound connections still being upgraded (encryption, muxer negotiation) *per
 * remote host*, as a libp2p connection gater.
 *
 * libp2p bounds the upgrades in progress only node-wide (`maxIncomingPendingConnections`,
 * {@link DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS} = 10) and each may take its whole
 * `inboundUpgradeTimeout` (10 s). One host that opens TCP connections and never sends a byte
 * (5 a second pass libp2p's per-host rate limit) therefore held every slot, and every other
 * peer's connection, QUIC included, was refused ("Remote closed connection during opening"):
 * an honest `tensorswap get` failed at once (test/exchange/hostile-attacks.test.ts, 500 idle TCP
 * connections). With this gate one host holds at most
 * {@link DEFAULT_MAX_INCOMING_PENDING_PER_HOST} of them; the others stay free for other hosts.
 *
 * The count per host is pure bookkeeping ({@link PendingPerHost}); {@link pendingPerHostGater}
 * wires it to libp2p: taken in `denyInboundConnection`, given back in
 * `denyInboundUpgradedConnection` (the upgrade finished) or when the raw connection closes
 * (the upgrade failed or timed out), whichever comes first.
 *
 * @module
 */

import { logger } from '@libp2p/logger'
import { DEFAULT_MAX_INCOMING_PENDING_PER_HOST } from './constants.js'
import type { ConnectionGater, MultiaddrConnection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const log = logger('tensorswap:transport:inbound-gate')

/** Counts of something in progress per host, each at most `max`. */
export class PendingPerHost {
  readonly #pending = new Map<string, number>()
  /** Most in progress per host (>= 1). */
  readonly max: number

  /**
   * @param max - most in progress per host
   * @throws RangeError when `max` is not a positive integer
   */
  constructor (max: number = DEFAULT_MAX_INCOMING_PENDING_PER_HOST) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`PendingPerHost: max must be a positive integer, got ${max}`)
    this.max = max
  }

  /** Take one slot of `host`; false (nothing taken) when it already holds `max`. */
  acquire (host: string): boolean {
    const n = this.#pending.get(host) ?? 0
    if (n >= this.max) return false
    this.#pending.set(host, n + 1)
    return true
  }

  /** Give back one slot of `host` (no-op when it holds none). */
  release (host: string): void {
    const n = this.#pending.get(host) ?? 0
    if (n <= 1) this.#pending.delete(host)
    else this.#pending.set(host, n - 1)
  }

  /** Slots `host` holds. */
  count (host: string): number {
    return this.#pending.get(host) ?? 0
  }

  /** Hosts holding a slot (the map never keeps a host at zero). */
  get hosts (): number {
    return this.#pending.size
  }
}

/** The IP of an `/ip4|ip6/...` address, else undefined (relayed, unix sockets: not limited). */
export function hostOf (ma: Multiaddr): string | undefined {
  const c = ma.getComponents()[0]
  return c != null && (c.name === 'ip4' || c.name === 'ip6') ? c.value : undefined
}

/**
 * A libp2p `ConnectionGater` that refuses an inbound connection while its host already has
 * `max` upgrades in progress (see the module comment). Merge it into other gaters' hooks: it
 * only sets `denyInboundConnection` and `denyInboundUpgradedConnection`.
 *
 * @param max - @default {@link DEFAULT_MAX_INCOMING_PENDING_PER_HOST}
 * @throws RangeError when `max` is not a positive integer
 */
export function pendingPerHostGater (max: number = DEFAULT_MAX_INCOMING_PENDING_PER_HOST): ConnectionGater & { pending: PendingPerHost } {
  const pending = new PendingPerHost(max)
  const releases = new WeakMap<MultiaddrConnection, () => void>()
  return {
    pending,
    denyInboundConnection: (maConn: MultiaddrConnection): boolean => {
      const host = hostOf(maConn.remoteAddr)
      if (host == null) return false
      if (!pending.acquire(host)) {
        log('inbound connection from %a refused: %d upgrades from %s in progress', maConn.remoteAddr, pending.count(host), host)
        return true
      }
      let released = false
      const release = (): void => {
        if (released) return
        released = true
        maConn.removeEventListener('close', release)
        pending.release(host)
      }
      releases.set(maConn, release)
      maConn.addEventListener('close', release)
      return false
    },
    denyInboundUpgradedConnection: (_peer, maConn: MultiaddrConnection): boolean => {
      releases.get(maConn)?.()
      releases.delete(maConn)
      return false
    }
  }
}

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
 * The gater runs only after libp2p has built a connection for the socket. A host that keeps
 * reopening refused sockets (500 idle ones, each reopened when closed) made the node build a
 * multiaddr connection, a logger and an error for each, then reset it: ~10 % of a seeder's CPU
 * under that attack (bench/README.md, stop 27). {@link InboundSocketFilter} refuses the same
 * sockets earlier, in Node's TCP server, before any object exists for them.
 *
 * @module
 */

import { BlockList } from 'node:net'
import { logger } from '@libp2p/logger'
import { RateLimiter } from '@libp2p/utils'
import { DEFAULT_INBOUND_CONNECTION_THRESHOLD, DEFAULT_MAX_INCOMING_PENDING_PER_HOST } from './constants.js'
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
 * The first gate an inbound TCP socket meets: a `net.BlockList` whose `check` Node's TCP
 * server calls with the peer's address for every accepted socket, before it builds a `Socket`
 * (server option `blockList`, Node >= 22.13; passed through `@libp2p/tcp`'s `listenOpts`). A
 * refused socket is closed by its handle alone: nothing of libp2p (connection, logger, error)
 * is built for it, and the client sees its connection closed.
 *
 * It refuses a socket when its host (IP address) already holds every slot of `pending` (the
 * {@link pendingPerHostGater}'s count: libp2p would refuse it too, later and at more cost) or
 * has opened more than `perSecond` sockets in the current second (the same fixed window as
 * libp2p's `inboundConnectionThreshold`, by the same `RateLimiter`, so libp2p's own limiter,
 * which builds a `RateLimitError` per refusal, no longer has to refuse anything). Refusals are
 * counted ({@link refused}) and logged once per host and second under
 * `tensorswap:transport:inbound-gate`. Addresses not given to it as strings pass.
 */
export class InboundSocketFilter extends BlockList {
  readonly #pending: PendingPerHost
  readonly #perSecond: number
  readonly #accepts: RateLimiter
  /** Sockets refused so far. */
  refused = 0

  /**
   * @param pending - the gater's per-host count of upgrades in progress
   * @param perSecond - most sockets accepted per host and second
   *   @default {@link DEFAULT_INBOUND_CONNECTION_THRESHOLD}
   * @throws RangeError when `perSecond` is not a positive integer
   */
  constructor (pending: PendingPerHost, perSecond: number = DEFAULT_INBOUND_CONNECTION_THRESHOLD) {
    super()
    if (!Number.isSafeInteger(perSecond) || perSecond < 1) throw new RangeError(`InboundSocketFilter: perSecond must be a positive integer, got ${perSecond}`)
    this.#pending = pending
    this.#perSecond = perSecond
    this.#accepts = new RateLimiter({ points: perSecond, duration: 1, keyPrefix: 'tensorswap-inbound' })
  }

  /**
   * Whether to refuse a socket from `address` (true: refuse). Called by Node's TCP server; a
   * socket it lets through counts against its host's rate.
   *
   * @param address - the peer's IP address as the socket reports it
   */
  override check (address: string | object, _family?: string): boolean {
    if (typeof address !== 'string') return false
    // the address as the socket reports it, the same string libp2p's multiaddr gives the gater
    // for an IPv4 listener (a dual-stack one sees `::ffff:a.b.c.d`, and keys it so throughout)
    const host = address
    const pending = this.#pending.count(host)
    let reason: string | undefined
    if (pending >= this.#pending.max) reason = `${pending} upgrades in progress`
    else if ((this.#accepts.get(host)?.consumedPoints ?? 0) >= this.#perSecond) reason = `over ${this.#perSecond} sockets this second`
    if (reason == null) {
      this.#accepts.penalty(host, 1)
      return false
    }
    this.refused++
    const key = `refused:${host}`
    if (this.#accepts.get(key) == null) {
      this.#accepts.penalty(key, 1)
      log('refusing TCP sockets from %s (%s); %d refused in all', host, reason, this.refused)
    }
    return true
  }
}

/**
 * A libp2p `ConnectionGater` that refuses an inbound connection while its host already has
 * `max` upgrades in progress (see the module comment), with the {@link InboundSocketFilter}
 * that refuses the same sockets before libp2p sees them (`socketFilter`: give it to the TCP
 * listener as `blockList`). Merge it into other gaters' hooks: it only sets
 * `denyInboundConnection` and `denyInboundUpgradedConnection`.
 *
 * @param max - @default {@link DEFAULT_MAX_INCOMING_PENDING_PER_HOST}
 * @param perSecond - sockets accepted per host and second (`socketFilter`)
 *   @default {@link DEFAULT_INBOUND_CONNECTION_THRESHOLD}
 * @throws RangeError when `max` or `perSecond` is not a positive integer
 */
export function pendingPerHostGater (max: number = DEFAULT_MAX_INCOMING_PENDING_PER_HOST, perSecond: number = DEFAULT_INBOUND_CONNECTION_THRESHOLD): ConnectionGater & { pending: PendingPerHost, socketFilter: InboundSocketFilter } {
  const pending = new PendingPerHost(max)
  const releases = new WeakMap<MultiaddrConnection, () => void>()
  return {
    pending,
    socketFilter: new InboundSocketFilter(pending, perSecond),
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

/**
 * Addresses not worth a dial, as a libp2p connection gater (`denyDialMultiaddr`): our own, and
 * those where a connected peer other than the one asked for listens.
 *
 * - **Our own.** A node listening on every interface (`0.0.0.0`, the CLI's default) announces
 *   its loopback address next to its others, and a peer on another host stores it with the
 *   rest of the record (identify, DHT provider records and routing tables). Dialling
 *   `127.0.0.1:4001` from that host reaches the dialler's own listener when it listens on 4001
 *   too (the default port). libp2p does not check: each such dial ran a full TLS handshake with
 *   ourselves (a certificate made and checked on both ends) before the upgrader saw the wrong
 *   peer id.
 * - **Another peer's.** A stale record (a leecher that left, whose host and port a new node
 *   took) names an address where a connected peer now listens. kad-dht pings such a contact
 *   before adding it to its routing table each time a query returns it (every 1-2 s in a
 *   swarm), and every ping was a TLS handshake on both ends ending in "Unexpected Peer".
 *
 * Six leechers on namespaced hosts after one earlier leecher had left: 12-24 self-dials and
 * 12-28 handshakes with the wrong peer per leecher in a 10 s fetch, on two cores that seven
 * processes share (bench/README.md, stop 31).
 *
 * An address is ours when its transport (TCP, or UDP for QUIC), port and host match one of our
 * listening addresses, or its host is loopback or unspecified and transport and port match one
 * of them: no other process on this host can listen there. An address is another peer's when
 * that peer is connected and said in identify that it listens there, on the host its
 * connection comes from (a peer can only claim ports of its own host, so it cannot keep us
 * from dialling a peer elsewhere). Only plain IP addresses count (`/ip4|ip6/../tcp/..`,
 * `/ip4|ip6/../udp/../quic-v1`, with an optional `/p2p/`): a relayed address names the relay's
 * endpoint, not the peer's.
 *
 * @module
 */

import { logger } from '@libp2p/logger'
import { isLoopbackAddress, isUnspecifiedAddress, UNSPECIFIED_HOSTS } from '../routing/config.js'
import { DIAL_FILTER_OWN_ADDRESSES_TTL_MS } from './constants.js'
import type { Multiaddr } from '@multiformats/multiaddr'

const log = logger('tensorswap:transport:dial-filter')

/** Transport, host and port of a plain IP multiaddr (`key` = `proto/host/port`) and its `/p2p/` peer id; `undefined` for any other. */
function endpointOf (ma: Multiaddr): { key: string, proto: string, host: string, port: string, peer?: string } | undefined {
  const c = ma.getComponents()
  const ip = c[0]
  const t = c[1]
  if (ip == null || t == null || ip.value == null || t.value == null) return undefined
  if (ip.name !== 'ip4' && ip.name !== 'ip6') return undefined
  let i = 2
  if (t.name === 'udp') {
    if (c[2]?.name !== 'quic-v1') return undefined
    i = 3
  } else if (t.name !== 'tcp') return undefined
  let peer: string | undefined
  if (c[i]?.name === 'p2p') peer = c[i++].value
  if (i !== c.length) return undefined
  const host = ip.value.toLowerCase()
  return { key: `${t.name}/${host}/${t.value}`, proto: t.name, host, port: t.value, peer }
}

/**
 * Tells whether a dial to an address would reach ourselves or a peer other than the one it
 * names (see the module comment). Unbound (no own addresses yet, or a caller that builds the
 * libp2p options itself), no address is ours.
 */
export class DialAddressFilter {
  #own: (() => Multiaddr[]) | undefined
  readonly #ownTtlMs: number
  readonly #now: () => number
  /** Our endpoints as last read from `#own`: `proto/port` -> hosts, and when they were read (ms). */
  #ownEndpoints: Map<string, Set<string>> | undefined
  #ownReadAtMs = 0
  /** endpoint key -> the connected peer listening there (from its identify) */
  readonly #held = new Map<string, string>()
  /** peer -> its endpoint keys in `#held` */
  readonly #byPeer = new Map<string, string[]>()

  /**
   * @param init.ownAddressesTtlMs - how long our own addresses, once read, are used before they
   *   are read again, ms (default {@link DIAL_FILTER_OWN_ADDRESSES_TTL_MS})
   * @param init.now - the clock, ms (default `performance.now`; tests pass their own)
   */
  constructor (init: { ownAddressesTtlMs?: number, now?: () => number } = {}) {
    this.#ownTtlMs = init.ownAddressesTtlMs ?? DIAL_FILTER_OWN_ADDRESSES_TTL_MS
    this.#now = init.now ?? (() => performance.now())
  }

  /**
   * @param own - this node's listening addresses now (e.g. `() => libp2p.getMultiaddrs()`,
   *   with `0.0.0.0` expanded to each interface and the bound ports). Read at most once per
   *   `ownAddressesTtlMs`: libp2p's `getMultiaddrs()` lists the host's interfaces
   *   (`os.networkInterfaces()`) and classifies every address on each call, and kad-dht asks
   *   the gater about every address a query returns (~1 % of a swarm leecher's CPU, bench/README.md "Stop 34").
   */
  bind (own: () => Multiaddr[]): void {
    this.#own = own
    this.#ownEndpoints = undefined
  }

  /** Our addresses changed (libp2p's `self:peer:update`): read them again at the next check. */
  ownChanged (): void {
    this.#ownEndpoints = undefined
  }

  /**
   * A connected `peer` said (identify) it listens on `listenAddrs`; its connection comes from
   * `remoteHost`. Those on that host (a peer reached over loopback can hold loopback ports; one
   * on another host cannot) are held by it until {@link forget}.
   * Replaces what an earlier identify of the same peer said.
   */
  identified (peer: string, listenAddrs: readonly Multiaddr[], remoteHost: string | undefined): void {
    this.forget(peer)
    const host = remoteHost?.toLowerCase()
    if (host == null || UNSPECIFIED_HOSTS.has(host)) return
    const keys: string[] = []
    for (const ma of listenAddrs) {
      const e = endpointOf(ma)
      if (e == null || e.host !== host || (e.peer != null && e.peer !== peer)) continue
      this.#held.set(e.key, peer)
      keys.push(e.key)
    }
    if (keys.length > 0) this.#byPeer.set(peer, keys)
  }

  /** `peer` disconnected: the addresses it held are free. */
  forget (peer: string): void {
    for (const key of this.#byPeer.get(peer) ?? []) {
      if (this.#held.get(key) === peer) this.#held.delete(key)
    }
    this.#byPeer.delete(peer)
  }

  /** Endpoints held by connected peers (for tests). */
  get heldCount (): number {
    return this.#held.size
  }

  /**
   * Whether dialling `ma` is pointless: it is one of our own addresses, or a connected peer
   * other than the one `ma` names (`/p2p/`) listens there.
   *
   * @param ma - an address to dial
   */
  denies (ma: Multiaddr): boolean {
    const target = endpointOf(ma)
    if (target == null) return false
    const holder = this.#held.get(target.key)
    if (holder != null && target.peer != null && holder !== target.peer) {
      log('not dialling %a: peer %s listens there', ma, holder)
      return true
    }
    if (target.port === '0') return false
    const hosts = this.#ownEndpointsNow()?.get(`${target.proto}/${target.port}`)
    if (hosts == null) return false
    // loopback or unspecified: on this host whoever dials it
    if (hosts.has(target.host) || isLoopbackAddress(ma) || isUnspecifiedAddress(ma)) {
      log('not dialling %a: our own address', ma)
      return true
    }
    return false
  }

  /** Our endpoints by `proto/port`, read from `#own` again once `#ownTtlMs` has passed; undefined when unbound. */
  #ownEndpointsNow (): Map<string, Set<string>> | undefined {
    if (this.#own == null) return undefined
    const now = this.#now()
    if (this.#ownEndpoints != null && now - this.#ownReadAtMs < this.#ownTtlMs) return this.#ownEndpoints
    const endpoints = new Map<string, Set<string>>()
    for (const o of this.#own()) {
      const mine = endpointOf(o)
      if (mine == null) continue
      const key = `${mine.proto}/${mine.port}`
      let hosts = endpoints.get(key)
      if (hosts == null) endpoints.set(key, hosts = new Set())
      hosts.add(mine.host)
    }
    // none yet (not listening): read again next time rather than miss the first ones
    this.#ownEndpoints = endpoints.size > 0 ? endpoints : undefined
    this.#ownReadAtMs = now
    return endpoints
  }
}

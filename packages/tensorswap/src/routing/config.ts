/**
 * Content routing configuration: the bootstrap list (with the `amino` name for the public IPFS
 * list), and how a node's DHT behaves on a LAN or the public network
 * (spec/tensorswap.md "Content routing").
 *
 * @module
 */

import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { AMINO_BOOTSTRAP, AMINO_BOOTSTRAP_NAME } from '../constants.js'
import { InvalidBootstrapAddressError } from './errors.js'

/**
 * DHT server/client mode. `client`: queries only (never answers, never stores records);
 * `server`: answers queries and stores provider records of others; `auto`: client until libp2p
 * learns a publicly dialable address of this node, then server (`@libp2p/kad-dht` behaviour
 * when `clientMode` is unset).
 */
export type DhtMode = 'auto' | 'client' | 'server'

/** Content routing options of a node (`TensorSwapInit.routing`). */
export interface RoutingInit {
  /**
   * Bootstrap peers: multiaddrs ending in `/p2p/<peer id>`, or `'amino'` for
   * {@link AMINO_BOOTSTRAP}. @default [] (nobody is dialled unasked)
   */
  bootstrap?: string[]
  /** Run `@libp2p/kad-dht` on `/ipfs/kad/1.0.0`. @default true */
  dht?: boolean
  /** @default `'server'` for a listening LAN node (see `lan`), `'client'` for a node that does not listen, else `'auto'` */
  dhtMode?: DhtMode
  /**
   * LAN DHT: keep private and loopback addresses in peer records. With `false`, the public
   * network's rule applies (`removePrivateAddressesMapper`: only public addresses are stored
   * and handed out). @default true when every listen and bootstrap address is loopback or
   * private (see {@link isLanOnly})
   */
  lan?: boolean
  /** Discover peers on the local network with mDNS (`@libp2p/mdns`). Opt-in. @default false */
  mdns?: boolean
  /** Provide every recorded root again this often, ms. @default {@link DEFAULT_REPROVIDE_INTERVAL_MS} */
  reprovideIntervalMs?: number
  /** How long a provider search may run, ms. @default {@link DEFAULT_FIND_PROVIDERS_TIMEOUT_MS} */
  findProvidersTimeoutMs?: number
}

/**
 * Expand and validate a bootstrap list: `'amino'` becomes {@link AMINO_BOOTSTRAP}; every other
 * entry must parse as a multiaddr and end in `/p2p/<peer id>`. Duplicates are dropped.
 *
 * @param entries - as given on the command line or in `config.json`
 * @returns the multiaddrs, in the order given
 * @throws InvalidBootstrapAddressError - an entry is not a multiaddr or has no `/p2p/` peer id
 */
export function parseBootstrapList (entries: readonly string[]): Multiaddr[] {
  const out: Multiaddr[] = []
  const seen = new Set<string>()
  for (const entry of entries) {
    const texts = entry === AMINO_BOOTSTRAP_NAME ? AMINO_BOOTSTRAP : [entry]
    for (const text of texts) {
      let ma: Multiaddr
      try {
        ma = multiaddr(text)
      } catch (err: any) {
        throw new InvalidBootstrapAddressError(entry, `not a multiaddr (${String(err?.message ?? err).split('\n')[0]})`)
      }
      if (peerIdOf(ma) == null) throw new InvalidBootstrapAddressError(entry, 'must end in /p2p/<peer id>')
      if (seen.has(ma.toString())) continue
      seen.add(ma.toString())
      out.push(ma)
    }
  }
  return out
}

/**
 * The `/p2p/<peer id>` of a multiaddr (the last one, for circuit addresses), or `undefined`.
 *
 * @param ma - a multiaddr
 */
export function peerIdOf (ma: Multiaddr): string | undefined {
  return ma.getComponents().filter(c => c.name === 'p2p').pop()?.value
}

/**
 * IPv4 ranges that are not on the public internet (RFC 1918, loopback, link-local, CGNAT, and
 * RFC 2544's benchmarking range 198.18.0.0/15, which IANA lists as not globally reachable).
 */
function isPrivateV4 (host: string): boolean {
  const p = host.split('.').map(Number)
  if (p.length !== 4 || p.some(n => !Number.isInteger(n))) return false
  return p[0] === 10 || p[0] === 127 || (p[0] === 172 && p[1] >= 16 && p[1] <= 31) ||
    (p[0] === 192 && p[1] === 168) || (p[0] === 169 && p[1] === 254) || (p[0] === 100 && p[1] >= 64 && p[1] <= 127) ||
    (p[0] === 198 && (p[1] === 18 || p[1] === 19))
}

/** The unspecified hosts (`0.0.0.0`, `::`: every interface), as multiaddr components spell them. */
export const UNSPECIFIED_HOSTS: ReadonlySet<string> = new Set(['0.0.0.0', '::'])

/** Whether a multiaddr's host is the unspecified address (`0.0.0.0`, `::`: every interface). */
export function isUnspecifiedAddress (ma: Multiaddr): boolean {
  const first = ma.getComponents()[0]
  return (first?.name === 'ip4' || first?.name === 'ip6') && first.value != null && UNSPECIFIED_HOSTS.has(first.value)
}

/** Whether a multiaddr's host is loopback (127/8, `::1`). */
export function isLoopbackAddress (ma: Multiaddr): boolean {
  const first = ma.getComponents()[0]
  return (first?.name === 'ip4' && first.value?.startsWith('127.') === true) || (first?.name === 'ip6' && first.value === '::1')
}

/**
 * Where a fetching node (`get`) listens when its config does not say: on loopback (QUIC and
 * TCP, ephemeral ports) when every peer it was told of is on loopback, else on `fallback`
 * (the repo config's `listen`: every interface, ephemeral ports). A leecher listens so other
 * leechers can dial it and fetch what it holds (spec/tensorswap.md §9 "Leechers serve").
 *
 * @param targets - bootstrap and `--peer` multiaddrs
 * @param fallback - the listen addresses otherwise
 */
export function leecherListen (targets: readonly Multiaddr[], fallback: readonly string[]): string[] {
  if (targets.length > 0 && targets.every(isLoopbackAddress)) return ['/ip4/127.0.0.1/udp/0/quic-v1', '/ip4/127.0.0.1/tcp/0']
  return [...fallback]
}

/** IPv6 loopback, unique-local (fc00::/7) and link-local (fe80::/10). */
function isPrivateV6 (host: string): boolean {
  const h = host.toLowerCase()
  return h === '::1' || /^f[cd]/.test(h) || /^fe[89ab]/.test(h)
}

/**
 * Whether a multiaddr's host is loopback or private (not reachable from the public internet).
 * `0.0.0.0` / `::` (all interfaces) and DNS names count as public.
 *
 * @param ma - a multiaddr
 */
export function isPrivateAddress (ma: Multiaddr): boolean {
  const first = ma.getComponents()[0]
  if (first == null || first.value == null) return false
  if (first.name === 'ip4') return isPrivateV4(first.value)
  if (first.name === 'ip6') return isPrivateV6(first.value)
  return false
}

/**
 * Whether a node only ever meets LAN peers: every listen address and every bootstrap address
 * is loopback or private (and there is at least one of them); a listen address on every
 * interface (`0.0.0.0`, `::`) is judged by the bootstrap list, so a node listening everywhere
 * whose bootstrap peers are all private is on a LAN too. Such a node runs a LAN DHT
 * (private addresses kept, server mode when it listens) — what a swarm on one machine or one
 * site needs, and what tests on loopback use.
 *
 * @param listen - the node's listen multiaddrs (strings)
 * @param bootstrap - the parsed bootstrap list
 */
export function isLanOnly (listen: readonly string[], bootstrap: readonly Multiaddr[]): boolean {
  const addrs = listen.map(a => multiaddr(a))
  const all = bootstrap.length > 0 ? [...addrs.filter(a => !isUnspecifiedAddress(a)), ...bootstrap] : addrs
  return all.length > 0 && all.every(isPrivateAddress)
}

/** Routing settings after defaults: what {@link createLibp2pNode} needs. */
export interface ResolvedRouting {
  bootstrap: Multiaddr[]
  dht: boolean
  dhtMode: DhtMode
  lan: boolean
  mdns: boolean
  reprovideIntervalMs: number
  findProvidersTimeoutMs: number
}

/**
 * Apply the defaults of {@link RoutingInit}.
 *
 * @param init - the options given
 * @param listen - the node's listen addresses
 * @param defaults - interval and timeout defaults (ms)
 * @throws InvalidBootstrapAddressError - see {@link parseBootstrapList}
 */
export function resolveRouting (init: RoutingInit, listen: readonly string[], defaults: { reprovideIntervalMs: number, findProvidersTimeoutMs: number }): ResolvedRouting {
  const bootstrap = parseBootstrapList(init.bootstrap ?? [])
  const lan = init.lan ?? isLanOnly(listen, bootstrap)
  const dhtMode = init.dhtMode ?? (listen.length === 0 ? 'client' : lan ? 'server' : 'auto')
  return {
    bootstrap,
    dht: init.dht ?? true,
    dhtMode,
    lan,
    mdns: init.mdns ?? false,
    reprovideIntervalMs: init.reprovideIntervalMs ?? defaults.reprovideIntervalMs,
    findProvidersTimeoutMs: init.findProvidersTimeoutMs ?? defaults.findProvidersTimeoutMs
  }
}

/**
 * Assembly of the libp2p node TensorSwap runs on: QUIC (`@chainsafe/libp2p-quic`) and
 * TCP + TLS/noise + yamux, identify and ping, with stream windows set from the
 * measurements in `bench/README.md`; and the dial helper that prefers the transport that
 * moves bulk data fastest.
 *
 * @module
 */

import { quic } from '@chainsafe/libp2p-quic'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp, type TCPSocketOptions } from '@libp2p/tcp'
import { tls } from '@libp2p/tls'
import { logger } from '@libp2p/logger'
import { createLibp2p } from 'libp2p'
import type { Libp2pOptions } from 'libp2p'
import {
  DEFAULT_INBOUND_CONNECTION_THRESHOLD,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS,
  DEFAULT_MAX_INCOMING_PENDING_PER_HOST,
  DEFAULT_PING_MAX_INBOUND_STREAMS,
  DEFAULT_PING_MAX_OUTBOUND_STREAMS,
  DEFAULT_QUIC_KEEPALIVE_MS,
  DEFAULT_QUIC_MAX_CONCURRENT_STREAMS,
  DEFAULT_QUIC_MAX_CONNECTION_DATA,
  DEFAULT_QUIC_MAX_IDLE_TIMEOUT_MS,
  DEFAULT_QUIC_MAX_STREAM_DATA,
  DEFAULT_QUIC_UDP_BUFFER_BYTES,
  DEFAULT_STREAM_MAX_READ_BUFFER,
  DEFAULT_TRANSPORT_PREFERENCE,
  DEFAULT_YAMUX_INITIAL_STREAM_WINDOW,
  DEFAULT_YAMUX_MAX_MESSAGE_SIZE,
  DEFAULT_YAMUX_MAX_STREAM_WINDOW
} from './constants.js'
import { NoDialableAddressError } from '../errors.js'
import { DialAddressFilter } from './dial-filter.js'
import { hostOf, pendingPerHostGater } from './inbound-gate.js'
import { dialWithRetry } from '@tensorswap/transport'
import { DEFAULT_RECONNECT_BACKOFF_FACTOR, DEFAULT_RECONNECT_RETRIES, DEFAULT_RECONNECT_RETRY_INTERVAL_MS } from '../constants.js'
import { routingLibp2pOptions } from '../routing/services.js'
import { isLoopbackAddress } from '../routing/config.js'
import type { ResolvedRouting } from '../routing/config.js'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Datastore } from 'interface-datastore'
import type { AbortOptions, Connection, ConnectionEncrypter, Libp2p, PrivateKey, Transport } from '@libp2p/interface'
import type { Identify } from '@libp2p/identify'
import type { Ping } from '@libp2p/ping'
import type { Multiaddr } from '@multiformats/multiaddr'

const log = logger('tensorswap:transport:node')

/** A transport TensorSwap can listen and dial on. */
export type TransportName = 'quic' | 'tcp'

/** A connection encrypter for TCP connections (QUIC always uses its own TLS 1.3). */
export type EncrypterName = 'tls' | 'noise'

/** Services every TensorSwap libp2p node carries. */
export type TransportServices = {
  /** `/ipfs/id/1.0.0`: learns the remote's protocols and listen addresses. */
  identify: Identify
  /** `/ipfs/ping/1.0.0`: health checks and RTT samples. */
  ping: Ping
  /** `/ipfs/kad/1.0.0` (`@libp2p/kad-dht`), when the node was created with `routing.dht`. */
  dht?: KadDHT
}

/** Quinn settings passed to `@chainsafe/libp2p-quic` (bytes and ms). */
export interface QuicTuning {
  /** Per-stream receive window, bytes. @default {@link DEFAULT_QUIC_MAX_STREAM_DATA} */
  maxStreamData?: number
  /** Per-connection receive window, bytes. @default {@link DEFAULT_QUIC_MAX_CONNECTION_DATA} */
  maxConnectionData?: number
  /** Concurrent streams the remote may open. @default {@link DEFAULT_QUIC_MAX_CONCURRENT_STREAMS} */
  maxConcurrentStreamLimit?: number
  /** Keep-alive interval, ms. @default {@link DEFAULT_QUIC_KEEPALIVE_MS} */
  keepAliveInterval?: number
  /** Idle timeout, ms. @default {@link DEFAULT_QUIC_MAX_IDLE_TIMEOUT_MS} */
  maxIdleTimeout?: number
  /** UDP socket receive buffer (SO_RCVBUF), bytes. @default {@link DEFAULT_QUIC_UDP_BUFFER_BYTES} */
  receiveBufferSize?: number
  /** UDP socket send buffer (SO_SNDBUF), bytes. @default {@link DEFAULT_QUIC_UDP_BUFFER_BYTES} */
  sendBufferSize?: number
}

/** yamux settings passed to `@chainsafe/libp2p-yamux` (bytes). */
export interface YamuxTuning {
  /** Initial stream window, bytes (spec: 256 KiB). @default {@link DEFAULT_YAMUX_INITIAL_STREAM_WINDOW} */
  initialStreamWindowSize?: number
  /** Largest a stream window may grow to, bytes. @default {@link DEFAULT_YAMUX_MAX_STREAM_WINDOW} */
  maxStreamWindowSize?: number
  /** Largest data frame payload, bytes. @default {@link DEFAULT_YAMUX_MAX_MESSAGE_SIZE} */
  maxMessageSize?: number
}

/** Options of {@link createLibp2pNode}. */
export interface Libp2pNodeInit {
  /** Node identity. @default a fresh Ed25519 key */
  privateKey?: PrivateKey
  /**
   * Listen multiaddrs.
   * @default ['/ip4/127.0.0.1/udp/0/quic-v1', '/ip4/127.0.0.1/tcp/0'] (loopback, for tests;
   * the CLI passes its configured addresses)
   */
  listen?: string[]
  /** Transports to enable, in preference order. @default ['quic', 'tcp'] */
  transports?: TransportName[]
  /**
   * Encrypters for TCP, in the order offered when dialling (the listener takes the first
   * it supports). @default ['tls', 'noise'] — TLS moves bulk data ~1.8x faster than
   * noise over TCP + yamux (bench/README.md).
   */
  encrypters?: EncrypterName[]
  /** Connection manager limits. */
  connectionManager?: {
    /** @default {@link DEFAULT_MAX_CONNECTIONS} */
    maxConnections?: number
    /** Concurrent dials. @default libp2p's (100) */
    maxParallelDials?: number
    /** Per-dial timeout in ms. @default libp2p's (10 s) */
    dialTimeout?: number
    /** Inbound connections being upgraded at once. @default {@link DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS} */
    maxIncomingPendingConnections?: number
    /** Inbound connections per second per host. @default {@link DEFAULT_INBOUND_CONNECTION_THRESHOLD} */
    inboundConnectionThreshold?: number
    /** Inbound connections being upgraded at once per host (`inbound-gate.ts`). @default {@link DEFAULT_MAX_INCOMING_PENDING_PER_HOST} */
    maxIncomingPendingPerHost?: number
  }
  /** QUIC tuning; defaults measured in bench/README.md. */
  quic?: QuicTuning
  /** yamux tuning; defaults measured in bench/README.md. */
  yamux?: YamuxTuning
  /** Start the node before returning. @default true */
  start?: boolean
  /**
   * Content routing: the DHT, bootstrap list and mDNS (`src/routing/services.ts`,
   * spec/tensorswap.md "Content routing"). @default none (no DHT, no discovery)
   */
  routing?: ResolvedRouting
  /** Persist the peer store (and DHT provider records) here. @default in memory */
  datastore?: Datastore
}

/** The multistream-select protocol of `@chainsafe/libp2p-noise`. */
export const NOISE_PROTOCOL = '/noise'

/**
 * Noise (`/noise`, `@chainsafe/libp2p-noise`) loaded on its first handshake: the encrypter is
 * offered as before, but a process whose TCP peers all speak TLS never loads it (~0.1 s of CPU
 * at start-up, bench/README.md "Start-up"). Same protocol, same handshake, same errors.
 */
function lazyNoise (): (components: any) => ConnectionEncrypter {
  return (components) => {
    let real: Promise<ConnectionEncrypter> | undefined
    const load = async (): Promise<ConnectionEncrypter> => {
      real ??= import('@chainsafe/libp2p-noise').then(m => m.noise()(components))
      return await real
    }
    return {
      protocol: NOISE_PROTOCOL,
      [Symbol.toStringTag]: '@chainsafe/libp2p-noise',
      secureOutbound: async (connection, options) => await (await load()).secureOutbound(connection, options),
      secureInbound: async (connection, options) => await (await load()).secureInbound(connection, options)
    }
  }
}

/**
 * The `createLibp2p` options TensorSwap nodes use, for callers that must construct the
 * node themselves (e.g. Helia's `withLibp2pLight` in bench/). {@link createLibp2pNode}
 * is this plus `createLibp2p` and `start()`.
 *
 * Transports: QUIC v1 (`@chainsafe/libp2p-quic`, built-in TLS 1.3 and stream muxing) and
 * TCP upgraded with TLS 1.3 (`/tls/1.0.0`) or noise (`/noise`) and yamux
 * (`/yamux/1.0.0`); services identify and ping, plus kad-dht and peer discovery with
 * `init.routing`; the peer store in `init.datastore` when given.
 *
 * @param init - see {@link Libp2pNodeInit} (`start` is ignored)
 */
export function libp2pNodeOptions (init: Libp2pNodeInit = {}): Libp2pOptions<TransportServices> {
  const transportNames = init.transports ?? ['quic', 'tcp']
  const encrypterNames = init.encrypters ?? ['tls', 'noise']
  const listen = init.listen ?? ['/ip4/127.0.0.1/udp/0/quic-v1', '/ip4/127.0.0.1/tcp/0']

  // one host cannot hold every pending-upgrade slot (maxIncomingPendingConnections)
  const gater = pendingPerHostGater(
    init.connectionManager?.maxIncomingPendingPerHost ?? DEFAULT_MAX_INCOMING_PENDING_PER_HOST,
    init.connectionManager?.inboundConnectionThreshold ?? DEFAULT_INBOUND_CONNECTION_THRESHOLD
  )
  const transports: Array<(components: any) => Transport> = []
  for (const name of transportNames) {
    if (name === 'quic') {
      transports.push(quic({
        maxStreamData: init.quic?.maxStreamData ?? DEFAULT_QUIC_MAX_STREAM_DATA,
        maxConnectionData: init.quic?.maxConnectionData ?? DEFAULT_QUIC_MAX_CONNECTION_DATA,
        maxConcurrentStreamLimit: init.quic?.maxConcurrentStreamLimit ?? DEFAULT_QUIC_MAX_CONCURRENT_STREAMS,
        keepAliveInterval: init.quic?.keepAliveInterval ?? DEFAULT_QUIC_KEEPALIVE_MS,
        maxIdleTimeout: init.quic?.maxIdleTimeout ?? DEFAULT_QUIC_MAX_IDLE_TIMEOUT_MS,
        receiveBufferSize: init.quic?.receiveBufferSize ?? DEFAULT_QUIC_UDP_BUFFER_BYTES,
        sendBufferSize: init.quic?.sendBufferSize ?? DEFAULT_QUIC_UDP_BUFFER_BYTES
      }))
    } else {
      // Nagle is off by default in @libp2p/tcp 11; `listenOpts` reach `net.createServer`, whose
      // `blockList` refuses a flooding host's sockets before libp2p builds anything for them
      transports.push(tcp({ listenOpts: { blockList: gater.socketFilter } as TCPSocketOptions }))
    }
  }
  const connectionEncrypters: Array<(components: any) => ConnectionEncrypter> =
    encrypterNames.map(name => name === 'tls' ? tls() : lazyNoise())

  const routing = init.routing != null ? routingLibp2pOptions(init.routing) : { services: {}, peerDiscovery: [] }
  return {
    ...(init.privateKey != null ? { privateKey: init.privateKey } : {}),
    ...(init.datastore != null ? { datastore: init.datastore } : {}),
    ...(routing.peerDiscovery.length > 0 ? { peerDiscovery: routing.peerDiscovery } : {}),
    addresses: { listen },
    transports,
    connectionEncrypters,
    connectionGater: gater,
    streamMuxers: [yamux({
      maxMessageSize: init.yamux?.maxMessageSize ?? DEFAULT_YAMUX_MAX_MESSAGE_SIZE,
      streamOptions: {
        initialStreamWindowSize: init.yamux?.initialStreamWindowSize ?? DEFAULT_YAMUX_INITIAL_STREAM_WINDOW,
        maxStreamWindowSize: init.yamux?.maxStreamWindowSize ?? DEFAULT_YAMUX_MAX_STREAM_WINDOW,
        // a paused reader may receive up to one full window before the sender stops
        maxReadBufferLength: Math.max(DEFAULT_STREAM_MAX_READ_BUFFER, init.yamux?.maxStreamWindowSize ?? DEFAULT_YAMUX_MAX_STREAM_WINDOW)
      }
    })],
    connectionManager: {
      maxConnections: init.connectionManager?.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      maxIncomingPendingConnections: init.connectionManager?.maxIncomingPendingConnections ?? DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS,
      inboundConnectionThreshold: init.connectionManager?.inboundConnectionThreshold ?? DEFAULT_INBOUND_CONNECTION_THRESHOLD,
      ...(init.connectionManager?.maxParallelDials != null ? { maxParallelDials: init.connectionManager.maxParallelDials } : {}),
      ...(init.connectionManager?.dialTimeout != null ? { dialTimeout: init.connectionManager.dialTimeout } : {}),
      // lost KEEP_ALIVE peers (kad-dht's closest peers) are redialled with this back-off;
      // libp2p has no jitter option, our own provider dials add it (src/routing/router.ts)
      reconnectRetries: DEFAULT_RECONNECT_RETRIES,
      reconnectRetryInterval: DEFAULT_RECONNECT_RETRY_INTERVAL_MS,
      reconnectBackoffFactor: DEFAULT_RECONNECT_BACKOFF_FACTOR
    },
    services: {
      identify: identify(),
      // libp2p's connection monitor and our health monitor both ping: room for both at once
      ping: ping({ maxOutboundStreams: DEFAULT_PING_MAX_OUTBOUND_STREAMS, maxInboundStreams: DEFAULT_PING_MAX_INBOUND_STREAMS }),
      ...routing.services
    }
  }
}

/**
 * Create (and by default start) the libp2p 3 node TensorSwap runs on, configured by
 * {@link libp2pNodeOptions}.
 *
 * @param init - see {@link Libp2pNodeInit}
 * @returns a started node (unless `init.start === false`)
 * @throws `InvalidParametersError` (libp2p) for a bad listen address or tuning value;
 *   `ListenError` (libp2p) when an address cannot be bound
 */
export async function createLibp2pNode (init: Libp2pNodeInit = {}): Promise<Libp2p<TransportServices>> {
  const options = libp2pNodeOptions(init)
  // no dial to our own addresses, nor to a stale record's address that a connected peer holds (transport/dial-filter.ts)
  const dialFilter = new DialAddressFilter()
  options.connectionGater = { ...options.connectionGater, denyDialMultiaddr: (ma: Multiaddr) => dialFilter.denies(ma) }
  const node = await createLibp2p<TransportServices>({ ...options, start: false })
  dialFilter.bind(() => node.getMultiaddrs())
  node.addEventListener('peer:identify', (evt) => {
    dialFilter.identified(evt.detail.peerId.toString(), evt.detail.listenAddrs, hostOf(evt.detail.connection.remoteAddr))
  })
  node.addEventListener('peer:disconnect', (evt) => { dialFilter.forget(evt.detail.toString()) })
  node.addEventListener('self:peer:update', () => { dialFilter.ownChanged() })
  if (init.start !== false) {
    await node.start()
    log('started %p on %s', node.peerId, node.getMultiaddrs().map(ma => ma.toString()).join(', '))
  }
  return node
}

/**
 * The transport a multiaddr dials over: `'quic'` for `/quic-v1`, `'tcp'` for `/tcp`
 * (without a WebSocket/WebTransport layer), otherwise `undefined`.
 *
 * @param ma - a multiaddr
 */
export function transportOf (ma: Multiaddr): TransportName | undefined {
  const names = ma.getComponents().map(c => c.name)
  if (names.includes('quic-v1') && !names.includes('webtransport')) return 'quic'
  if (names.includes('tcp') && !names.includes('ws') && !names.includes('wss')) return 'tcp'
  return undefined
}

/**
 * Order multiaddrs for a bulk-transfer dial: loopback addresses after the others, then by
 * position of their transport in `preference` (unknown transports last), stable otherwise.
 *
 * A peer's loopback address reaches it only from its own host, yet peers announce them (a
 * provider record lists every listen address). From another host, with both listening on the
 * same port (`serve`'s default 4001), the dial reaches our own listener: a whole handshake,
 * then a peer-id mismatch, before the address that works. Six leechers on namespaced hosts
 * each spent seconds so before they met.
 *
 * @param addrs - candidate addresses of one peer
 * @param preference - transports, fastest first
 */
export function sortByPreference (addrs: Multiaddr[], preference: readonly TransportName[] = DEFAULT_TRANSPORT_PREFERENCE): Multiaddr[] {
  const rank = (ma: Multiaddr): number => {
    const t = transportOf(ma)
    const i = t == null ? -1 : preference.indexOf(t)
    return i === -1 ? preference.length : i
  }
  return addrs.map((ma, i) => ({ ma, i, lo: isLoopbackAddress(ma) ? 1 : 0, r: rank(ma) }))
    .sort((a, b) => a.lo - b.lo || a.r - b.r || a.i - b.i)
    .map(x => x.ma)
}

/**
 * Whether a dial error says the address answered with another peer's identity: libp2p-tls's
 * `UnexpectedPeerError` (the upgrader rethrows it as `EncryptionFailedError` "Unexpected
 * Peer") or `@chainsafe/libp2p-quic`'s "Dialed peer X but connected to Y". The record that
 * gave the address is stale (its peer left and another took the address, often a node's own
 * loopback address from another host's record); dialling it again costs a TLS handshake on
 * both ends each time and cannot succeed. Looks through `.cause` and `.errors`.
 *
 * @param err - what a dial threw
 */
export function isPeerMismatch (err: unknown, depth = 0): boolean {
  if (err == null || typeof err !== 'object' || depth > 4) return false
  const e = err as { name?: unknown, message?: unknown, cause?: unknown, errors?: unknown }
  if (e.name === 'UnexpectedPeerError') return true
  if (typeof e.message === 'string' && (/^Unexpected Peer$/i.test(e.message) || /^Dialed peer \S+ but connected to \S+/.test(e.message))) return true
  if (isPeerMismatch(e.cause, depth + 1)) return true
  return Array.isArray(e.errors) && e.errors.some(x => isPeerMismatch(x, depth + 1))
}

/** Options of {@link dialPreferred}. */
export interface DialPreferredOptions extends AbortOptions {
  /** Transports, fastest first. @default {@link DEFAULT_TRANSPORT_PREFERENCE} */
  preference?: readonly TransportName[]
  /** Per-address dial timeout in ms, combined with `signal`. @default 5000 */
  perAddressTimeoutMs?: number
}

/**
 * Dial a peer over the transport that moves bulk data fastest, falling back to the next
 * address when a dial fails, except after another peer answered ({@link isPeerMismatch}: the
 * record is stale, and libp2p's dial of one address already tried the others it holds). Addresses are tried one at a time in
 * {@link sortByPreference} order, each one attempt time-boxed by `dialWithRetry`
 * (`@tensorswap/transport`) to `perAddressTimeoutMs`; an existing connection to
 * the peer on a preferred transport is returned as is (libp2p reuses it).
 *
 * @param libp2p - the local node
 * @param multiaddrs - the remote's addresses (each should end in `/p2p/<peer id>`)
 * @param options - `signal` aborts the whole attempt
 * @returns the first connection that opened
 * @throws `NoDialableAddressError` when every address failed (its `.errors` lists why);
 *   `AbortError` when `signal` aborts
 */
export async function dialPreferred (libp2p: Libp2p, multiaddrs: Multiaddr[], options: DialPreferredOptions = {}): Promise<Connection> {
  const ordered = sortByPreference(multiaddrs, options.preference)
  const errors: Error[] = []
  for (const ma of ordered) {
    options.signal?.throwIfAborted()
    try {
      const conn = await dialWithRetry(async ({ signal }) => await libp2p.dial(ma, { signal }), {
        attempts: 1,
        attemptTimeoutMs: options.perAddressTimeoutMs ?? 5_000,
        signal: options.signal,
        target: ma
      })
      log('dialled %a', conn.remoteAddr)
      return conn
    } catch (err: any) {
      options.signal?.throwIfAborted()
      log('dial %a failed - %e', ma, err)
      errors.push(err instanceof Error ? err : new Error(String(err)))
      // libp2p dialled every address it holds for the peer with this one: another peer answered there
      if (isPeerMismatch(err)) break
    }
  }
  throw new NoDialableAddressError(`dialPreferred: none of ${ordered.length} addresses could be dialled`, errors)
}

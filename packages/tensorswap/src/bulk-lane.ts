/**
 * The bulk lane: blocks travel on a direct TCP connection with TLS 1.3 done by Node's own TLS
 * (no muxer, no JS stream under the TLS socket), next to the libp2p connection that keeps
 * carrying want-lists and presences. spec/tensorswap.md "Bulk lane" is the normative text;
 * bench/README.md "Bulk lane" has the figures that justify it (on this machine the libp2p
 * TCP+TLS+yamux stream costs ~4x the CPU per byte of a plain TLS socket, and CPU is what
 * limits a fetch).
 *
 * - **Discovery**: the fetcher opens `/tensorswap/bulk/1.0.0` on the libp2p connection; the
 *   server answers with its lane addresses (varint-framed binary multiaddrs,
 *   `/ip4|ip6/HOST/tcp/PORT`) and closes. An unspecified host (0.0.0.0, ::) means "the host
 *   you reached me on".
 * - **Authentication**: both ends present the certificate of the libp2p TLS handshake
 *   (github.com/libp2p/specs tls/tls.md: self-signed, with the libp2p public-key extension
 *   signed by the peer's identity key), made and checked with `@libp2p/tls/utils`. The
 *   fetcher requires the server's certificate to be the peer it asked; the server learns
 *   the fetcher's peer id from its client certificate. Nothing is read before that check.
 * - **Framing**: the same varint-prefixed Bitswap messages as on the streams
 *   (`@tensorswap/transport` framing over {@link SocketStream}), decoded and verified the same way.
 *
 * This module only makes and accepts authenticated lanes; {@link Network} decides what
 * travels on them.
 *
 * @module
 */

import { createServer, createSecureContext, connect, type SecureContext, type TLSSocket, type Server } from 'node:tls'
import { logger } from '@libp2p/logger'
import { generateCertificate, verifyPeerCertificate } from '@libp2p/tls/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { BULK_LANE_ALPN, BULK_LANE_PROTOCOL, DEFAULT_LANE_HANDSHAKE_TIMEOUT_MS, DEFAULT_LANE_IDLE_MS, DEFAULT_MAX_LANE_CONNECTIONS, MAX_LANE_ADDRESSES } from './constants.js'
import { BulkLaneError } from './errors.js'
import { FrameWriter, readFrames } from '@tensorswap/transport'
import { SocketStream } from './transport/socket-stream.js'
import { UNSPECIFIED_HOSTS } from './routing/config.js'
import type { AbortOptions, Libp2p, PeerId, PrivateKey, Stream } from '@libp2p/interface'

const log = logger('tensorswap:exchange:bulk-lane')

/** Options of {@link BulkLanes}. */
export interface BulkLaneInit {
  /**
   * TCP multiaddrs to accept lanes on (`/ip4|ip6/HOST/tcp/PORT`, port 0 for any). Empty: this
   * node only dials lanes (a fetcher). @default []
   */
  listen?: string[]
  /** TLS handshake plus certificate check, ms. @default {@link DEFAULT_LANE_HANDSHAKE_TIMEOUT_MS} */
  handshakeTimeoutMs?: number
  /** Close a lane with no traffic either way for this long, ms. @default {@link DEFAULT_LANE_IDLE_MS} */
  idleMs?: number
  /** Most lane sockets accepted at once (handshaking or open). @default {@link DEFAULT_MAX_LANE_CONNECTIONS} */
  maxConnections?: number
}

/** Callbacks of {@link BulkLanes}. */
export interface BulkLaneHandlers {
  /** An authenticated lane to `peer`, accepted (`inbound`) or dialled. */
  onLane(peer: PeerId, lane: SocketStream, direction: 'inbound' | 'outbound'): void
  /** Whether lanes from `peer` are refused. */
  isBanned(peer: PeerId): boolean
}

/** The IP host of a multiaddr that starts with `/ip4/HOST` or `/ip6/HOST`, else undefined. */
export function ipHost (ma: Multiaddr): { host: string, family: 4 | 6 } | undefined {
  const c = ma.getComponents()[0]
  if (c?.value == null || (c.name !== 'ip4' && c.name !== 'ip6')) return undefined
  return { host: c.value, family: c.name === 'ip4' ? 4 : 6 }
}

/** `{ host, port }` of a `/ip4|ip6/HOST/tcp/PORT` multiaddr, else undefined. */
export function tcpHostPort (ma: Multiaddr): { host: string, port: number, family: 4 | 6 } | undefined {
  const c = ma.getComponents()
  if (c.length !== 2 || (c[0].name !== 'ip4' && c[0].name !== 'ip6') || c[1].name !== 'tcp') return undefined
  const port = Number(c[1].value)
  if (c[0].value == null || !Number.isInteger(port) || port < 0 || port > 65535) return undefined
  return { host: c[0].value, port, family: c[0].name === 'ip4' ? 4 : 6 }
}

/**
 * Lane listener, discovery protocol and dialler. See the module comment.
 */
export class BulkLanes {
  readonly #libp2p: Libp2p
  readonly #privateKey: PrivateKey
  readonly #handlers: BulkLaneHandlers
  readonly #listen: string[]
  readonly #handshakeTimeoutMs: number
  readonly #idleMs: number
  readonly #maxConnections: number
  readonly #servers: Server[] = []
  readonly #sockets = new Set<TLSSocket>()
  #addresses: Multiaddr[] = []
  #credentials?: { cert: string, key: string }
  /** The lane certificate and key as one TLS context, shared by every lane we dial (as the patched libp2p encrypter shares its own). */
  #clientContext?: SecureContext
  #running = false

  /**
   * @param libp2p - the node (discovery runs on its connections)
   * @param privateKey - the node's identity key (signs the lane certificate)
   * @param handlers - see {@link BulkLaneHandlers}
   * @param init - see {@link BulkLaneInit}
   */
  constructor (libp2p: Libp2p, privateKey: PrivateKey, handlers: BulkLaneHandlers, init: BulkLaneInit = {}) {
    this.#libp2p = libp2p
    this.#privateKey = privateKey
    this.#handlers = handlers
    this.#listen = init.listen ?? []
    this.#handshakeTimeoutMs = init.handshakeTimeoutMs ?? DEFAULT_LANE_HANDSHAKE_TIMEOUT_MS
    this.#idleMs = init.idleMs ?? DEFAULT_LANE_IDLE_MS
    this.#maxConnections = init.maxConnections ?? DEFAULT_MAX_LANE_CONNECTIONS
  }

  /** Where lanes are accepted (bound addresses; empty for a dial-only node). */
  addresses (): Multiaddr[] {
    return [...this.#addresses]
  }

  /**
   * Make the lane certificate, bind the listeners, answer discovery.
   *
   * @throws `BulkLaneError` for a listen address that is not `/ip4|ip6/HOST/tcp/PORT`; the
   *   socket error when a listener cannot bind
   */
  async start (options: AbortOptions = {}): Promise<void> {
    if (this.#running) return
    this.#credentials = await generateCertificate(this.#privateKey, options)
    this.#clientContext = createSecureContext({ ...this.#credentials, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' })
    this.#running = true
    try {
      for (const addr of this.#listen) await this.#bind(addr)
      if (this.#addresses.length > 0) {
        await this.#libp2p.handle(BULK_LANE_PROTOCOL, (stream) => { void this.#answer(stream) }, { signal: options.signal })
      }
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  /** Close the listeners and every lane socket. */
  async stop (): Promise<void> {
    if (!this.#running) return
    this.#running = false
    if (this.#addresses.length > 0) await this.#libp2p.unhandle(BULK_LANE_PROTOCOL).catch((err: any) => { log('unhandle failed - %e', err) })
    for (const s of this.#sockets) s.destroy()
    this.#sockets.clear()
    await Promise.all(this.#servers.map(async s => new Promise<void>(resolve => s.close(() => { resolve() }))))
    this.#servers.length = 0
    this.#addresses = []
  }

  async #bind (addr: string): Promise<void> {
    const hp = tcpHostPort(multiaddr(addr))
    if (hp == null) throw new BulkLaneError(`bulk lane listen address ${addr} is not /ip4|ip6/HOST/tcp/PORT`)
    const creds = this.#credentials as { cert: string, key: string }
    const server = createServer({
      ...creds,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      requestCert: true,
      // self-signed libp2p certificates: checked by verifyPeerCertificate below
      rejectUnauthorized: false,
      ALPNProtocols: [BULK_LANE_ALPN],
      handshakeTimeout: this.#handshakeTimeoutMs
    }, (socket) => { this.#accept(socket) })
    server.maxConnections = this.#maxConnections
    // with a listener Node leaves the socket open: close it (garbage, wrong ALPN, timeout)
    server.on('tlsClientError', (err, socket) => {
      log('lane handshake failed - %e', err)
      socket.destroy()
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(hp.port, hp.host, () => { server.off('error', reject); resolve() })
    })
    server.on('error', (err) => { log.error('lane listener error - %e', err) })
    this.#servers.push(server)
    const bound = server.address()
    if (bound == null || typeof bound === 'string') return
    this.#addresses.push(multiaddr(`/${bound.family === 'IPv6' ? 'ip6' : 'ip4'}/${bound.address}/tcp/${bound.port}`))
  }

  #track (socket: TLSSocket): void {
    this.#sockets.add(socket)
    socket.once('close', () => { this.#sockets.delete(socket) })
    socket.on('error', (err) => { log.trace('lane socket error - %e', err) })
    socket.setNoDelay(true)
    socket.setTimeout(this.#idleMs, () => { socket.destroy() })
  }

  #accept (socket: TLSSocket): void {
    this.#track(socket)
    const timer = setTimeout(() => { socket.destroy() }, this.#handshakeTimeoutMs)
    this.#verify(socket)
      .then(peer => {
        clearTimeout(timer)
        if (!this.#running || this.#handlers.isBanned(peer)) {
          socket.destroy()
          return
        }
        log('lane from %p accepted', peer)
        this.#handlers.onLane(peer, new SocketStream(socket), 'inbound')
      })
      .catch((err: any) => {
        clearTimeout(timer)
        log('lane client refused - %e', err)
        socket.destroy()
      })
  }

  /** The peer id a lane socket's certificate proves, or an error (wrong ALPN, no or bad certificate, other peer). */
  async #verify (socket: TLSSocket, expected?: PeerId): Promise<PeerId> {
    if (socket.alpnProtocol !== BULK_LANE_ALPN) throw new BulkLaneError(`lane ALPN is ${String(socket.alpnProtocol)}, not ${BULK_LANE_ALPN}`)
    const raw = socket.getPeerCertificate()?.raw
    if (raw == null) throw new BulkLaneError('lane peer sent no certificate')
    return await verifyPeerCertificate(raw, expected)
  }

  /** Discovery: write our lane addresses on `stream`, one frame each, and close it. */
  async #answer (stream: Stream): Promise<void> {
    try {
      const writer = new FrameWriter(stream)
      await writer.write(this.#addresses.map(a => a.bytes), { signal: AbortSignal.timeout(this.#handshakeTimeoutMs) })
      await stream.close({ signal: AbortSignal.timeout(this.#handshakeTimeoutMs) })
    } catch (err: any) {
      log('answering lane discovery failed - %e', err)
      stream.abort(err)
    }
  }

  /**
   * Open a lane to `peer`: ask it for its lane addresses over the libp2p connection, dial the
   * first usable one, check that its certificate is `peer`'s. `onLane` is called too.
   *
   * @throws `BulkLaneError` when the peer offers no usable address or its certificate is not
   *   `peer`'s; libp2p errors when it does not speak {@link BULK_LANE_PROTOCOL}; socket errors;
   *   `signal.reason`
   */
  async open (peer: PeerId, options: AbortOptions = {}): Promise<SocketStream> {
    if (!this.#running) throw new BulkLaneError('bulk lanes are not started')
    const signal = AbortSignal.any([AbortSignal.timeout(this.#handshakeTimeoutMs), ...(options.signal != null ? [options.signal] : [])])
    const stream = await this.#libp2p.dialProtocol(peer, BULK_LANE_PROTOCOL, { signal })
    const offered: Multiaddr[] = []
    try {
      // read before closing our side: the answer may arrive while close() is pending, and a
      // libp2p stream delivers to the listeners present at that moment
      for await (const frame of readFrames(stream, { maxFrameBytes: 256, signal })) {
        if (offered.length >= MAX_LANE_ADDRESSES) throw new BulkLaneError(`peer ${peer} offered more than ${MAX_LANE_ADDRESSES} lane addresses`)
        offered.push(multiaddr(frame.subarray()))
      }
      await stream.close({ signal })
    } catch (err: any) {
      stream.abort(err)
      throw err.name === 'BulkLaneError' ? err : new BulkLaneError(`lane discovery with ${peer} failed: ${err.message}`)
    }
    const target = this.#pickAddress(peer, offered)
    if (target == null) throw new BulkLaneError(`peer ${peer} offered no usable lane address (${offered.map(String).join(', ') || 'none'})`)
    const socket = connect({
      secureContext: this.#clientContext,
      host: target.host,
      port: target.port,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      rejectUnauthorized: false,
      ALPNProtocols: [BULK_LANE_ALPN]
    })
    this.#track(socket)
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => { socket.destroy(); reject(signal.reason) }
        signal.addEventListener('abort', onAbort, { once: true })
        socket.once('secureConnect', () => { signal.removeEventListener('abort', onAbort); resolve() })
        socket.once('error', (err) => { signal.removeEventListener('abort', onAbort); reject(err) })
      })
      await this.#verify(socket, peer)
    } catch (err) {
      socket.destroy()
      throw err
    }
    log('lane to %p at %s:%d open', peer, target.host, target.port)
    const lane = new SocketStream(socket)
    this.#handlers.onLane(peer, lane, 'outbound')
    return lane
  }

  /** The first offered address we can dial; an unspecified host becomes the one `peer` is connected from. */
  #pickAddress (peer: PeerId, offered: Multiaddr[]): { host: string, port: number } | undefined {
    const remotes = this.#libp2p.getConnections(peer).map(conn => ipHost(conn.remoteAddr))
    for (const ma of offered) {
      const hp = tcpHostPort(ma)
      if (hp == null || hp.port === 0) continue
      if (!UNSPECIFIED_HOSTS.has(hp.host)) return hp
      const remote = remotes.find(r => r != null && r.family === hp.family)
      if (remote != null) return { host: remote.host, port: hp.port }
    }
    return undefined
  }
}

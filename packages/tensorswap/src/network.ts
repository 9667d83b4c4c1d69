/**
 * The exchange's I/O driver: protocol registration, inbound and outbound streams, framing,
 * decoding. It owns no exchange state; it hands decoded messages and peer events to its
 * handlers (the {@link Exchange}) and writes the messages it is given.
 *
 * Wire behaviour (specs.ipfs.tech/bitswap-protocol, and as @helia/bitswap 4 does it):
 * - Messages are varint-length-prefixed protobufs; a sender opens its own stream (`s_want`),
 *   the receiver answers on a stream it opens (`s_receive`). We never write on an inbound
 *   stream and never read on an outbound one; Helia closes the unused halves the same way.
 * - We handle `/tensorswap/1.0.0`, `/ipfs/bitswap/1.2.0` and `/ipfs/bitswap/1.1.0` and dial
 *   them in that order, so multistream-select picks the best both sides have.
 * - Per peer we keep one outbound *control* stream (want-lists, presences) and one *data*
 *   stream (blocks), so a want or a DONT_HAVE never waits behind megabytes of blocks.
 *   Streams idle for {@link DEFAULT_STREAM_IDLE_MS} are closed (under Helia's 10 s inbound
 *   receive timeout) and reopened on demand.
 * - Reading pauses the stream when the consumer lags (transport `readFrames`), writing waits
 *   for drain (`FrameWriter`): memory stays bounded in both directions.
 * - Hostile input never crashes the node: a bad frame or message aborts that stream and is
 *   reported through `onBadInput` for penalties; banned peers' streams are refused.
 * - Bulk lane (`bulk-lane.ts`, spec/tensorswap.md "Bulk lane"): when we ask a TensorSwap peer
 *   for blocks, we also open a direct TLS lane to it in the background (a node without lane
 *   addresses, which nobody can open a lane to, opens one to a peer that asks it for blocks
 *   instead: a pusher without listen addresses); once a lane to a peer
 *   is up (dialled or accepted), it replaces that peer's *data* stream in both directions.
 *   Messages read from a lane go through the same decoding and handlers as stream messages.
 *   A lane that fails is dropped and the data channel falls back to a libp2p stream.
 * - Wire compression (`wire/compression*.ts`, spec/tensorswap.md §12): on `/tensorswap/1.0.0`
 *   our want-lists say which plane codecs we decode (`acceptCodecs`); blocks for a peer that
 *   said so are compressed when the {@link CompressionPolicy} finds it pays (its link rate is
 *   measured here, from the data channel's writes), and compressed blocks we receive are
 *   inflated, hashed and handed over like plain ones. Bitswap peers never see either.
 *
 * @module
 */

import { logger } from '@libp2p/logger'
import { BulkLanes } from './bulk-lane.js'
import { BULK_LANE_PROTOCOL, DEFAULT_DEPARTURE_MAX_MS, DEFAULT_DEPARTURE_QUIET_MS, DEFAULT_LANE_RETRY_MS, DEFAULT_STREAM_OPEN_TIMEOUT_MS, LANE_MIN_BLOCK_WANTS, DEFAULT_MAX_INBOUND_STREAMS, DEFAULT_MAX_INBOUND_STREAMS_PER_PEER, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_OUTBOUND_STREAMS, DEFAULT_MAX_WANTLIST_SIZE, DEFAULT_STREAM_IDLE_MS, DEFAULT_WIRE_COMPRESSION, FRAME_SLACK_BYTES, MIN_COMPRESS_BLOCK_BYTES, PROTOCOLS, TENSORSWAP_100 } from './constants.js'
import { InvalidMessageError, MessageTooLargeError, TooManyStreamsError } from './errors.js'
import { FrameWriter, dialWithRetry, readFrames } from '@tensorswap/transport'
import { decodeMessage, encodePrefix, splitMessage, supportsHave } from './wire/codec.js'
import { compressBlockSync, inflateBlocks, SUPPORTED_PLANE_CODECS } from './wire/compression.js'
import { CpuWait } from './wire/cpu-wait.js'
import { CompressionPolicy } from './wire/compression-policy.js'
import { analyseBlock } from './wire/planes.js'
import type { Message } from './wire/bitswap.js'
import type { BitswapMessage, Block, DecodedMessage, DecodeLimits } from './wire/codec.js'
import type { CompressionPolicyInit, LinkEstimate } from './wire/compression-policy.js'
import type { BulkLaneInit } from './bulk-lane.js'
import type { BandwidthPacer, DrainOptions, FramedStream } from '@tensorswap/transport'
import type { SocketStream } from './transport/socket-stream.js'
import type { AbortOptions, Connection, Libp2p, PeerId, PrivateKey, Stream } from '@libp2p/interface'

const log = logger('tensorswap:exchange:network')
/** Wire compression decisions and the measures behind them (link rate, compressor speed). */
const wireLog = logger('tensorswap:wire')

/** Which outbound stream a message travels on. */
export type Channel = 'control' | 'data'

/** Callbacks from the network to its owner. Exceptions they throw are logged, never propagated to libp2p. */
export interface NetworkHandlers {
  /** A decoded, validated message from `peer` (`bytes`: its encoded length). */
  onMessage(peer: PeerId, protocol: string, message: DecodedMessage, bytes: number): void
  /** `peer` connected and speaks `protocol` (called again if a better protocol shows up). */
  onPeerConnected(peer: PeerId, protocol: string): void
  /**
   * `peer`'s connection closed while what it sent is still being read to its end (its bulk
   * lane, buffered frames; {@link DEFAULT_DEPARTURE_QUIET_MS}): give it no new wants;
   * `onPeerDisconnected` follows.
   */
  onPeerDeparting?(peer: PeerId): void
  /** `peer` disconnected. */
  onPeerDisconnected(peer: PeerId): void
  /** `peer` sent something unacceptable (`err.name` says what); the stream was aborted. */
  onBadInput(peer: PeerId, err: Error): void
  /** Whether streams from `peer` are to be refused. */
  isBanned(peer: PeerId): boolean
  /** `bytes` were read from `peer` (a chunk of a frame not yet whole; stream or bulk lane). */
  onBytes?(peer: PeerId, bytes: number): void
}

/** Options of {@link Network}. */
export interface NetworkInit {
  /** Protocols to handle and dial, best first. @default {@link PROTOCOLS} */
  protocols?: string[]
  /** Largest message, bytes. @default {@link DEFAULT_MAX_MESSAGE_BYTES} */
  maxMessageBytes?: number
  /** Decode limits beyond the message size. */
  limits?: Omit<DecodeLimits, 'maxMessageBytes'>
  /** libp2p `maxInboundStreams` per connection and protocol. @default {@link DEFAULT_MAX_INBOUND_STREAMS} (1024, as @helia/bitswap) */
  maxInboundStreams?: number
  /** libp2p `maxOutboundStreams` per connection and protocol. @default {@link DEFAULT_MAX_OUTBOUND_STREAMS} (1024, as @helia/bitswap) */
  maxOutboundStreams?: number
  /**
   * Exchange streams one peer may have open with us at once (all its connections and exchange
   * protocols); one over it is reset unread and reported as `TooManyStreamsError` to `onBadInput`.
   * @default {@link DEFAULT_MAX_INBOUND_STREAMS_PER_PEER}
   */
  maxInboundStreamsPerPeer?: number
  /** Close outbound streams idle this long, ms. @default {@link DEFAULT_STREAM_IDLE_MS} */
  streamIdleMs?: number
  /** Run over limited (relayed) connections. @default false (as @helia/bitswap) */
  runOnLimitedConnection?: boolean
  /** Most time a stream open plus protocol negotiation may take, ms. @default {@link DEFAULT_STREAM_OPEN_TIMEOUT_MS} */
  streamOpenTimeoutMs?: number
  /**
   * Bulk lanes (see the module comment): `false` turns them off; otherwise where to accept
   * them. Needs the node's private key ({@link NetworkComponents}). @default `{}` (dial only)
   */
  bulkLane?: BulkLaneInit | false
  /**
   * Download pacing (`BandwidthLimiter` of `rate-limit.ts`, spec/tensorswap.md §11): a frame
   * carrying blocks read from a peer (stream or bulk lane) is handed over, and the next one
   * read, once its bytes are paid for, so the transport's flow control slows the sender.
   * @default none
   */
  bandwidth?: BandwidthPacer
  /**
   * Wire compression on `/tensorswap/1.0.0` (spec/tensorswap.md §12): `'auto'` offers to decode
   * compressed blocks and compresses blocks for peers that offer it when the link is slow enough
   * for it to pay; `'off'` does neither. @default {@link DEFAULT_WIRE_COMPRESSION}
   */
  wireCompression?: WireCompressionMode
  /** Tuning of the compression decision (see {@link CompressionPolicyInit}). */
  compression?: CompressionPolicyInit
}

/** `'auto'`: compress where it pays and accept compressed blocks; `'off'`: plain blocks only. */
export type WireCompressionMode = 'auto' | 'off'

/** Wire compression counters of a {@link Network} (a snapshot). */
export interface CompressionStats {
  /** Blocks sent compressed, their raw bytes and their compressed (plane) bytes. */
  blocksCompressed: number
  rawBytesCompressed: number
  wireBytesCompressed: number
  /** Blocks looked at (analysed) and sent plain because compressing would not pay. */
  blocksNotWorthIt: number
  /** Blocks received compressed, their raw and compressed bytes. */
  blocksInflated: number
  rawBytesInflated: number
  wireBytesInflated: number
  /** Compressor speed in use, raw bytes/ms. */
  compressBytesPerMs: number
  /** Link estimate per peer we sent data to. */
  links: Record<string, LinkEstimate>
}

/** What the network needs beyond the libp2p node. */
export interface NetworkComponents {
  /** The node's identity key: signs the bulk-lane certificate. Without it there are no lanes. */
  privateKey?: PrivateKey
}

interface Outbound {
  stream: Stream | SocketStream
  writer: FrameWriter
  /** The protocol whose message encoding is used. */
  protocol: string
  /** What the wire statistics count it under (the protocol, or {@link BULK_LANE_PROTOCOL}). */
  label: string
  /** Tail of the write queue of this stream. */
  tail: Promise<void>
  pending: number
  idleTimer?: ReturnType<typeof setTimeout>
}

/**
 * Bitswap entries in the messages of one direction (sent or received), counted as they went
 * on the wire: a message downgraded for Bitswap 1.1.0 counts without its want-haves and
 * presences (they were not sent); a received message counts after decoding (wants beyond
 * the want-list cap are not counted) and inflation (compressed blocks count as blocks).
 */
export interface EntryCounts {
  /** Want-list entries asking whether the peer has a block (not cancels). */
  wantHave: number
  /** Want-list entries asking for the block itself (not cancels). */
  wantBlock: number
  /** Want-list cancels (of either type). */
  cancel: number
  /** HAVE presences. */
  have: number
  /** DONT_HAVE presences. */
  dontHave: number
  /** Blocks (plain or compressed). */
  blocks: number
  /**
   * Protobuf field bytes of the want-have entries, HAVE and DONT_HAVE presences above (each
   * entry's field: tag, length and body, inside its message; without the message's own
   * wrapper or the frame's length prefix): the presence traffic a have-map would replace.
   */
  presenceBytes: number
  /**
   * Messages (frames) that carried presence entries only (want-haves, HAVEs, DONT_HAVEs; no
   * want-block, cancel or block): the messages a have-map could remove outright. A message
   * split into parts counts once per part.
   */
  presenceMessages: number
}

/** Bytes, messages (frames) and entries written and read per peer and protocol. */
export interface WireStats {
  bytesSent: number
  bytesReceived: number
  /** Frames written: a message split to the message cap counts once per part. */
  messagesSent: number
  /** Frames read and decoded. */
  messagesReceived: number
  /** Entries of the messages written. */
  entriesSent: EntryCounts
  /** Entries of the messages read. */
  entriesReceived: EntryCounts
}

/** What {@link countEntries} reads of a message (written or decoded): `compressed` only for its length. */
export interface CountedMessage extends Pick<BitswapMessage, 'wantlist' | 'blocks' | 'presences'> { compressed?: ArrayLike<unknown> }

/** All-zero {@link EntryCounts}. */
export function emptyEntryCounts (): EntryCounts {
  return { wantHave: 0, wantBlock: 0, cancel: 0, have: 0, dontHave: 0, blocks: 0, presenceBytes: 0, presenceMessages: 0 }
}

/** Bytes of `n` as a protobuf varint (`n` >= 0). */
function varintBytes (n: number): number {
  let bytes = 1
  while (n >= 128) { n = Math.floor(n / 128); bytes++ }
  return bytes
}

/** Bytes of a length-delimited field (one-byte tag) whose body is `n` bytes. */
function fieldBytes (n: number): number {
  return 1 + varintBytes(n) + n
}

/**
 * Add the entries of `message` (as written or decoded, in `frames` frames) to `into`; see {@link EntryCounts}.
 * With `carriesHave` false (a Bitswap 1.1.0 peer) want-haves and presences are left out, as the
 * codec leaves them out of what it writes.
 * Field sizes follow the Bitswap protobuf (wire/bitswap.proto) as protons encodes it: default
 * values (priority 0, wantType Block, cancel/sendDontHave false, type Have) are left out.
 */
export function countEntries (message: CountedMessage, into: EntryCounts, frames = 1, carriesHave = true): void {
  // a Bitswap 1.1.0 peer is sent no want-have (but cancels of either type) and no presence (codec's downgradeMessage)
  const presenceList = carriesHave ? message.presences : []
  let presences = presenceList.length
  let others = message.blocks.length + (message.compressed?.length ?? 0)
  for (const e of message.wantlist?.entries ?? []) {
    if (e.cancel) {
      into.cancel++
      others++
      continue
    }
    if (e.wantType === 'block') {
      into.wantBlock++
      others++
      continue
    }
    if (!carriesHave) continue
    presences++
    into.wantHave++
    // block, priority (int32: a negative one is a 10-byte varint), wantType Have, sendDontHave
    const priority = e.priority === 0 ? 0 : 1 + (e.priority < 0 ? 10 : varintBytes(e.priority))
    into.presenceBytes += fieldBytes(fieldBytes(e.cid.bytes.byteLength) + priority + 2 + (e.sendDontHave ? 2 : 0))
  }
  for (const p of presenceList) {
    if (p.type === 'have') into.have++
    else into.dontHave++
    into.presenceBytes += fieldBytes(fieldBytes(p.cid.bytes.byteLength) + (p.type === 'dont-have' ? 2 : 0))
  }
  into.blocks += message.blocks.length + (message.compressed?.length ?? 0)
  if (presences > 0 && others === 0) into.presenceMessages += frames
}

/**
 * Streams and framing for the exchange. See the module comment.
 */
export class Network {
  readonly #libp2p: Libp2p
  readonly #handlers: NetworkHandlers
  readonly #protocols: string[]
  readonly #maxMessageBytes: number
  readonly #limits: DecodeLimits
  readonly #maxInboundStreams: number
  readonly #maxOutboundStreams: number
  readonly #streamIdleMs: number
  readonly #runOnLimitedConnection: boolean
  readonly #streamOpenTimeoutMs: number
  readonly #bandwidth?: BandwidthPacer
  /** Aborted by {@link stop}: ends pacing waits. */
  #shutdown = new AbortController()
  readonly #outbound = new Map<string, Outbound>()
  readonly #opening = new Map<string, Promise<Outbound>>()
  readonly #peerProtocols = new Map<string, { peer: PeerId, protocols: Set<string> }>()
  readonly #inbound = new Set<Stream>()
  /** Open inbound exchange streams per peer id string (no entry at zero). */
  readonly #inboundPerPeer = new Map<string, number>()
  readonly #maxInboundStreamsPerPeer: number
  readonly #stats = new Map<string, Map<string, WireStats>>()
  #registrarIds: string[] = []
  #running = false
  readonly #lanes?: BulkLanes
  /** Per peer: its message readers running now (inbound streams, bulk lane), each settled when it ends. */
  readonly #readers = new Map<string, Set<Promise<void>>>()
  /** Peers whose connection closed while what they sent is read to its end ({@link #peerGone}). */
  readonly #departing = new Map<string, { peer: PeerId, why: string, started: number, timer?: ReturnType<typeof setTimeout> }>()
  /** Per peer: a lane attempt in progress, or the time before which none is tried again. */
  readonly #laneAttempts = new Map<string, Promise<void> | number>()
  /** Want-blocks sent per peer while connected (opens lanes, {@link LANE_MIN_BLOCK_WANTS}). */
  readonly #blockWantsSent = new Map<string, number>()
  /** Want-blocks received per peer while connected, counted only while we have no lane address (we open the lane then). */
  readonly #blockWantsReceived = new Map<string, number>()
  /** Plane codecs we offer to decode (0: wire compression off). */
  readonly #acceptCodecs: number
  /** Present when we compress (wire compression `auto`). */
  readonly #policy: CompressionPolicy
  /** Time this thread spent compressing, ms (a write's wait for its drain excludes it). */
  #compressWorkMs = 0
  /** Per peer: the plane codecs its last want-list on `/tensorswap/1.0.0` offered. */
  readonly #peerAccepts = new Map<string, number>()
  /** Compressions run one batch at a time, one block at a time on this thread (timed: the compressor's own work). */
  #compressTail: Promise<unknown> = Promise.resolve()
  readonly #compression = { blocksCompressed: 0, rawBytesCompressed: 0, wireBytesCompressed: 0, blocksNotWorthIt: 0, blocksInflated: 0, rawBytesInflated: 0, wireBytesInflated: 0 }
  /** Peers that opened a stream before identify told the registrar: their disconnect comes from here. */
  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => { this.#peerGone(evt.detail, 'peer:disconnect') }

  /**
   * @param libp2p - the node
   * @param handlers - see {@link NetworkHandlers}
   * @param init - see {@link NetworkInit}
   */
  constructor (libp2p: Libp2p, handlers: NetworkHandlers, init: NetworkInit = {}, components: NetworkComponents = {}) {
    this.#libp2p = libp2p
    this.#handlers = handlers
    this.#protocols = init.protocols ?? [...PROTOCOLS]
    this.#maxMessageBytes = init.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    this.#limits = { maxWantlistSize: DEFAULT_MAX_WANTLIST_SIZE, ...init.limits, maxMessageBytes: this.#maxMessageBytes }
    this.#maxInboundStreams = init.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS
    this.#maxOutboundStreams = init.maxOutboundStreams ?? DEFAULT_MAX_OUTBOUND_STREAMS
    this.#maxInboundStreamsPerPeer = init.maxInboundStreamsPerPeer ?? DEFAULT_MAX_INBOUND_STREAMS_PER_PEER
    this.#streamIdleMs = init.streamIdleMs ?? DEFAULT_STREAM_IDLE_MS
    this.#runOnLimitedConnection = init.runOnLimitedConnection ?? false
    this.#streamOpenTimeoutMs = init.streamOpenTimeoutMs ?? DEFAULT_STREAM_OPEN_TIMEOUT_MS
    this.#bandwidth = init.bandwidth
    const compression = init.wireCompression ?? DEFAULT_WIRE_COMPRESSION
    this.#acceptCodecs = compression === 'auto' && this.#protocols.includes(TENSORSWAP_100) ? SUPPORTED_PLANE_CODECS : 0
    // the policy also measures every peer's data-channel rate (the engine sizes batches by it),
    // so it exists with wire compression off too; sends are compressed only when it is on
    const cpuWait = new CpuWait()
    this.#policy = new CompressionPolicy({ cpuWait: (now) => cpuWait.share(now), ...init.compression })
    if (init.bulkLane !== false && components.privateKey != null && this.#protocols.includes(TENSORSWAP_100)) {
      this.#lanes = new BulkLanes(libp2p, components.privateKey, {
        onLane: (peer, lane) => { this.#onLane(peer, lane) },
        isBanned: (peer) => handlers.isBanned(peer)
      }, init.bulkLane)
    }
  }

  /** Where this node accepts bulk lanes (empty when it does not). */
  laneAddresses (): string[] {
    return this.#lanes?.addresses().map(String) ?? []
  }

  /** Whether {@link start} ran and {@link stop} did not. */
  get running (): boolean { return this.#running }

  /**
   * Handle the protocols and watch peers that speak them; peers already connected are reported.
   */
  async start (options: AbortOptions = {}): Promise<void> {
    if (this.#running) return
    this.#running = true
    this.#shutdown = new AbortController()
    await this.#libp2p.handle(this.#protocols, (stream, connection) => { this.#onStream(stream, connection) }, {
      maxInboundStreams: this.#maxInboundStreams,
      maxOutboundStreams: this.#maxOutboundStreams,
      runOnLimitedConnection: this.#runOnLimitedConnection,
      signal: options.signal
    })
    for (const protocol of this.#protocols) {
      this.#registrarIds.push(await this.#libp2p.register(protocol, {
        notifyOnLimitedConnection: this.#runOnLimitedConnection,
        onConnect: (peer) => { this.#peerSpeaks(peer, protocol) },
        onDisconnect: (peer) => { this.#peerGone(peer, `registrar (${protocol})`) }
      }))
    }
    this.#libp2p.addEventListener('peer:disconnect', this.#onDisconnect)
    await this.#lanes?.start(options)
    // peers connected before we started: ask the peer store what they speak
    for (const conn of this.#libp2p.getConnections()) {
      try {
        const p = await this.#libp2p.peerStore.get(conn.remotePeer)
        for (const protocol of this.#protocols) {
          if (p.protocols.includes(protocol)) this.#peerSpeaks(conn.remotePeer, protocol)
        }
      } catch (err: any) {
        log.trace('no peer store record for %p yet - %e', conn.remotePeer, err)
      }
    }
  }

  /**
   * Unhandle the protocols, close outbound streams (gracefully, bounded by `signal`: once it
   * fires they are aborted instead) and abort inbound ones. The teardown always completes;
   * `signal` only cuts the waiting short.
   */
  async stop (options: AbortOptions = {}): Promise<void> {
    if (!this.#running) return
    this.#running = false
    this.#shutdown.abort(new Error('network stopped'))
    // not bounded by the signal: an aborted unhandle would leave the handlers and lanes up
    await this.#libp2p.unhandle(this.#protocols)
    for (const id of this.#registrarIds) this.#libp2p.unregister(id)
    this.#registrarIds = []
    this.#libp2p.removeEventListener('peer:disconnect', this.#onDisconnect)
    for (const d of this.#departing.values()) clearTimeout(d.timer)
    this.#departing.clear()
    this.#laneAttempts.clear()
    this.#blockWantsSent.clear()
    this.#blockWantsReceived.clear()
    const closing: Array<Promise<void>> = []
    for (const [key, out] of this.#outbound) {
      clearTimeout(out.idleTimer)
      this.#outbound.delete(key)
      closing.push(out.tail.then(async () => out.stream.close(options)).catch((err: any) => {
        log.trace('closing outbound stream failed - %e', err)
        out.stream.abort(err)
      }))
    }
    await Promise.all(closing)
    for (const s of this.#inbound) s.abort(new Error('exchange stopped'))
    this.#inbound.clear()
    this.#inboundPerPeer.clear()
    await this.#lanes?.stop()
    this.#peerProtocols.clear()
  }

  /** The best protocol `peer` speaks with us, if known. */
  protocolOf (peer: PeerId): string | undefined {
    const p = this.#peerProtocols.get(peer.toString())
    if (p == null) return undefined
    return this.#protocols.find(proto => p.protocols.has(proto))
  }

  /**
   * The `PeerId` of a connected peer known to speak an exchange protocol, by its string; the
   * network is where the exchange's connected peers live (everything else keys peers by string).
   */
  peerId (key: string): PeerId | undefined {
    return this.#peerProtocols.get(key)?.peer
  }

  /** Peers known to speak an exchange protocol. */
  peers (): PeerId[] {
    return [...this.#peerProtocols.values()].map(p => p.peer)
  }

  /** Bytes, messages and entries per peer and protocol (a copy). */
  stats (): Map<string, Map<string, WireStats>> {
    const out = new Map<string, Map<string, WireStats>>()
    for (const [peer, m] of this.#stats) out.set(peer, new Map([...m].map(([k, v]) => [k, { ...v, entriesSent: { ...v.entriesSent }, entriesReceived: { ...v.entriesReceived } }])))
    return out
  }

  /**
   * What the writes to `peer`'s data channel (stream or bulk lane) measured: its rate, bytes/ms,
   * and the share of the time they waited for their drain (`LinkRateEstimator`, busy periods);
   * each field `undefined` until measured, the rate also on a link too fast to hold our writes
   * back (loopback).
   */
  link (peer: string): LinkEstimate {
    return this.#policy.link(peer)
  }

  /** Wire compression counters and estimates (a copy). */
  compressionStats (): CompressionStats {
    const links: Record<string, LinkEstimate> = {}
    for (const key of this.#peerAccepts.keys()) links[key] = this.#policy.link(key)
    return { ...this.#compression, compressBytesPerMs: this.#acceptCodecs !== 0 ? this.#policy.compressBytesPerMs : 0, links }
  }

  /**
   * Count `frames` frames of `bytes` in total, carrying `message`'s entries, for `peer` on
   * `protocol` (its label) in direction `dir`; `carriesHave` false for a Bitswap 1.1.0 peer (see {@link countEntries}).
   */
  #count (peer: string, protocol: string, dir: 'sent' | 'received', bytes: number, message: CountedMessage, frames = 1, carriesHave = true): void {
    let m = this.#stats.get(peer)
    if (m == null) {
      m = new Map()
      this.#stats.set(peer, m)
    }
    let s = m.get(protocol)
    if (s == null) {
      s = { bytesSent: 0, bytesReceived: 0, messagesSent: 0, messagesReceived: 0, entriesSent: emptyEntryCounts(), entriesReceived: emptyEntryCounts() }
      m.set(protocol, s)
    }
    if (dir === 'sent') {
      s.bytesSent += bytes
      s.messagesSent += frames
      countEntries(message, s.entriesSent, frames, carriesHave)
    } else {
      s.bytesReceived += bytes
      s.messagesReceived += frames
      countEntries(message, s.entriesReceived, frames)
    }
  }

  #peerSpeaks (peer: PeerId, protocol: string): void {
    const key = peer.toString()
    // it came back while its old lane drained: report the disconnect, then this connect
    if (this.#departing.has(key)) this.#endDeparture(key)
    let p = this.#peerProtocols.get(key)
    if (p == null) {
      p = { peer, protocols: new Set() }
      this.#peerProtocols.set(key, p)
    }
    const before = this.protocolOf(peer)
    p.protocols.add(protocol)
    const after = this.protocolOf(peer) as string
    if (before !== after) this.#safe(() => { this.#handlers.onPeerConnected(peer, after) })
  }

  /**
   * `peer` left (its last connection closed, or the registrar says so). While something it sent
   * is still being read (its bulk lane, whose socket outlives the libp2p connection; frames a
   * stream had buffered), that is read to its end first: blocks it wrote before it went are
   * still arriving, and its wants stay with it meanwhile (`onPeerDeparting`) so that none is
   * fetched twice. The peer is forgotten when its readers end, fall quiet for
   * {@link DEFAULT_DEPARTURE_QUIET_MS}, {@link DEFAULT_DEPARTURE_MAX_MS} after it went, or
   * when it connects again.
   */
  #peerGone (peer: PeerId, why: string): void {
    const key = peer.toString()
    if (!this.#peerProtocols.has(key) || this.#departing.has(key)) return
    const readers = this.#readers.get(key)
    if (readers == null || !this.#running) {
      this.#forgetPeer(peer, why)
      return
    }
    log('peer %p gone (%s): reading what it sent to its end first (%d readers)', peer, why, readers.size)
    this.#departing.set(key, { peer, why, started: Date.now() })
    this.#armDrain(key)
    this.#safe(() => { this.#handlers.onPeerDeparting?.(peer) })
    void Promise.all([...readers]).then(() => { this.#endDeparture(key) })
  }

  /** (Re)start a departing peer's quiet timer, bounded by the drain's deadline. */
  #armDrain (key: string): void {
    const d = this.#departing.get(key)
    if (d == null) return
    clearTimeout(d.timer)
    const ms = Math.min(DEFAULT_DEPARTURE_QUIET_MS, d.started + DEFAULT_DEPARTURE_MAX_MS - Date.now())
    d.timer = setTimeout(() => { this.#endDeparture(key) }, Math.max(0, ms))
    d.timer.unref?.()
  }

  #endDeparture (key: string): void {
    const d = this.#departing.get(key)
    if (d == null) return
    clearTimeout(d.timer)
    this.#departing.delete(key)
    this.#forgetPeer(d.peer, d.why)
  }

  /** Drop `peer`'s per-peer state (its lane and streams too) and tell the handlers it disconnected. */
  #forgetPeer (peer: PeerId, why: string): void {
    const key = peer.toString()
    if (!this.#peerProtocols.delete(key)) return
    log('peer %p gone (%s), %d connections open', peer, why, this.#libp2p.getConnections(peer).length)
    this.#laneAttempts.delete(key)
    this.#blockWantsSent.delete(key)
    this.#blockWantsReceived.delete(key)
    this.#peerAccepts.delete(key)
    this.#policy.forget(key)
    for (const channel of ['control', 'data'] as const) {
      const out = this.#outbound.get(`${key}/${channel}`)
      if (out != null) this.#dropOutbound(`${key}/${channel}`, out)
    }
    this.#safe(() => { this.#handlers.onPeerDisconnected(peer) })
  }

  #safe (fn: () => void): void {
    try {
      fn()
    } catch (err: any) {
      log.error('exchange handler threw - %e', err)
    }
  }

  #onStream (stream: Stream, connection: Connection): void {
    const peer = connection.remotePeer
    if (!this.#running || this.#handlers.isBanned(peer)) {
      stream.abort(new Error('refused'))
      // a banned peer that came back is disconnected again: over QUIC the stream reset alone
      // may not reach it until other traffic flushes it (test/exchange/hostile.test.ts)
      if (this.#running) this.hangUp(peer).catch((err: any) => { log('hang up on banned %p failed - %e', peer, err) })
      return
    }
    const key = peer.toString()
    const open = this.#inboundPerPeer.get(key) ?? 0
    if (open >= this.#maxInboundStreamsPerPeer) {
      // reset unread: nothing of it is decoded or answered
      const err = new TooManyStreamsError(`${open} exchange streams from ${key} open, at most ${this.#maxInboundStreamsPerPeer}`)
      log('refused a stream from %p - %e', peer, err)
      stream.abort(err)
      this.#safe(() => { this.#handlers.onBadInput(peer, err) })
      return
    }
    this.#inboundPerPeer.set(key, open + 1)
    // a peer that opens a stream to us speaks the protocol even if identify has not said so yet
    this.#peerSpeaks(peer, stream.protocol)
    this.#inbound.add(stream)
    void (async () => {
      // we answer on our own stream: close our writable half, as @helia/bitswap does
      await stream.close()
      await this.#readMessages(stream, peer, stream.protocol, stream.protocol)
    })().catch((err: any) => {
      log.trace('inbound stream from %p failed - %e', peer, err)
      stream.abort(err)
    }).finally(() => {
      this.#inbound.delete(stream)
      const n = (this.#inboundPerPeer.get(key) ?? 1) - 1
      if (n <= 0) this.#inboundPerPeer.delete(key)
      else this.#inboundPerPeer.set(key, n)
    })
  }

  /**
   * Read, decode and hand over the messages of `stream` until it ends; a bad frame or message
   * aborts it and is reported. `protocol` is what the handlers are told, `label` what the
   * statistics count.
   */
  async #readMessages (stream: FramedStream, peer: PeerId, protocol: string, label: string): Promise<void> {
    const key = peer.toString()
    let ended!: () => void
    const reading = new Promise<void>(resolve => { ended = resolve })
    const readers = this.#readers.get(key) ?? new Set()
    this.#readers.set(key, readers.add(reading))
    try {
      const onBytes = (n: number): void => {
        if (this.#departing.has(peer.toString())) this.#armDrain(peer.toString())
        if (this.#handlers.onBytes != null) this.#safe(() => { this.#handlers.onBytes?.(peer, n) })
      }
      for await (const frame of readFrames(stream, { maxFrameBytes: this.#maxMessageBytes + FRAME_SLACK_BYTES, onBytes })) {
        if (!this.#running) break
        if (this.#handlers.isBanned(peer)) {
          stream.abort(new Error('peer banned'))
          return
        }
        let message: DecodedMessage
        try {
          if (frame.byteLength > this.#maxMessageBytes + FRAME_SLACK_BYTES) {
            throw new MessageTooLargeError(`frame of ${frame.byteLength} bytes exceeds ${this.#maxMessageBytes}`)
          }
          // tolerate the slack: count it against the message cap plus slack
          message = decodeMessage(frame, { ...this.#limits, maxMessageBytes: this.#maxMessageBytes + FRAME_SLACK_BYTES })
          if (protocol === TENSORSWAP_100 && message.wantlist != null) {
            this.#peerAccepts.set(peer.toString(), message.acceptCodecs & SUPPORTED_PLANE_CODECS)
            // a peer cannot open a lane to a node without lane addresses: that node opens it
            if (this.#lanes != null && this.#lanes.addresses().length === 0) this.#countWants(peer, message, this.#blockWantsReceived)
          }
          if (message.compressed.length > 0) await this.#inflate(protocol, message)
        } catch (err: any) {
          log('bad message from %p on %s - %e', peer, label, err)
          stream.abort(err)
          this.#safe(() => { this.#handlers.onBadInput(peer, err) })
          return
        }
        this.#count(peer.toString(), label, 'received', frame.byteLength, message)
        // download limit: the frame is handed over once its bytes are paid for, and the next
        // read waits with it (the stream pauses, the sender is slowed). Paying after handing it
        // over let the last frame of a fetch through free: 1.10 of the limit over 20 s.
        if (this.#bandwidth != null && message.blocks.length > 0) await this.#bandwidth.download(peer.toString(), frame.byteLength, { signal: this.#shutdown.signal })
        this.#safe(() => { this.#handlers.onMessage(peer, protocol, message, frame.byteLength) })
      }
    } catch (err: any) {
      if (err?.name === 'FrameTooLargeError' || err?.name === 'InvalidFrameError') {
        log('bad frame from %p - %e', peer, err)
        this.#safe(() => { this.#handlers.onBadInput(peer, err) })
      } else {
        log.trace('inbound stream from %p ended - %e', peer, err)
      }
      if (stream.status === 'open') stream.abort(err)
    } finally {
      readers.delete(reading)
      if (readers.size === 0 && this.#readers.get(key) === readers) this.#readers.delete(key)
      ended()
    }
  }

  /**
   * Send `message` to `peer` on the `channel` stream, split to the message cap, encoded for
   * the negotiated protocol (downgraded for 1.1.0). Resolves once the stream took it and
   * drained (back-pressure); concurrent sends on one channel are written in call order.
   *
   * @param options - `signal`; `stallTimeoutMs`: fail when the peer takes none of the bytes for that long
   * @throws `MessageTooLargeError` when a block cannot fit in a message; stream/dial errors
   *   (`StreamWriteClosedError`, libp2p dial errors); `SendStalledError`; `signal.reason`
   * @returns encoded bytes written
   */
  async send (peer: PeerId, message: BitswapMessage, channel: Channel, options: DrainOptions = {}): Promise<number> {
    if (this.#departing.has(peer.toString())) {
      // its connection is gone; a send would dial it again (its lane is only being read out)
      log.trace('not sending to departing peer %p', peer)
      return 0
    }
    if (channel === 'control' && this.#lanes != null) this.#countWants(peer, message)
    const key = `${peer.toString()}/${channel}`
    const out = await this.#getOutbound(peer, key, options)
    if (out.protocol === TENSORSWAP_100 && message.wantlist != null && this.#acceptCodecs !== 0) message = { ...message, acceptCodecs: this.#acceptCodecs }
    // compressing starts now, beside the writes queued before it; the write waits for it
    const compressing = channel === 'data' && out.protocol === TENSORSWAP_100 ? this.#compressFor(peer.toString(), message) : undefined
    let parts = compressing == null ? splitMessage(message, out.protocol, { maxMessageBytes: this.#maxMessageBytes }) : undefined
    if (parts?.length === 0) return 0
    out.pending++
    clearTimeout(out.idleTimer)
    const run = out.tail.then(async () => {
      options.signal?.throwIfAborted()
      parts ??= splitMessage(await compressing as BitswapMessage, out.protocol, { maxMessageBytes: this.#maxMessageBytes })
      const started = performance.now()
      const compressedBefore = this.#compressWorkMs
      await out.writer.write(parts, options)
      if (channel === 'data') {
        const ended = performance.now()
        const written = parts.reduce((n, p) => n + p.byteLength, 0)
        const own = this.#compressWorkMs - compressedBefore
        this.#policy.recordWrite(peer.toString(), written, started, ended, own)
        const l = wireLog.enabled ? this.#policy.link(peer.toString()) : undefined
        if (l != null) wireLog('write %d bytes to %p on %s at %s in %s ms (compressing %s ms), link estimate %s bytes/ms, blocked %s', written, peer, out.label, started.toFixed(1), (ended - started).toFixed(2), own.toFixed(1), l.bytesPerMs?.toFixed(0), l.blockedShare?.toFixed(2))
      }
    })
    out.tail = run.catch(() => {})
    try {
      await run
    } catch (err: any) {
      if (this.#outbound.get(key) === out) this.#dropOutbound(key, out)
      throw err
    } finally {
      out.pending--
      if (out.pending === 0 && this.#outbound.get(key) === out) this.#armIdle(key, out)
    }
    const bytes = (parts ?? []).reduce((n, p) => n + p.byteLength, 0)
    // what went on the wire: without the want-haves and presences a 1.1.0 peer is not sent
    this.#count(peer.toString(), out.label, 'sent', bytes, message, parts?.length ?? 0, supportsHave(out.protocol))
    return bytes
  }

  /**
   * The message to write for `message`'s blocks to `peer`: with the blocks worth compressing
   * in compressed form, or `undefined` when none is looked at (the peer does not decode
   * compressed blocks, or its link is too fast for compression to pay: the common, free path).
   * Compression runs one batch at a time, one block at a time on this thread
   * (`compressBlockSync`, timed: the policy learns the compressor's own work, not a wait for
   * the thread pool), the event loop running between blocks; a failure of zlib leaves the
   * block plain.
   */
  #compressFor (peer: string, message: BitswapMessage): Promise<BitswapMessage> | undefined {
    const policy = this.#policy
    if (this.#acceptCodecs === 0 || message.blocks.length === 0 || ((this.#peerAccepts.get(peer) ?? 0) & SUPPORTED_PLANE_CODECS) === 0) return undefined
    if (!policy.worthTrying(peer)) {
      if (wireLog.enabled) wireLog('batch of %d blocks to %s plain: link %s bytes/ms, compressor %s bytes/ms%s', message.blocks.length, peer, policy.link(peer).bytesPerMs?.toFixed(0), policy.compressBytesPerMs.toFixed(0), policy.contended() ? ', CPU oversubscribed' : '')
      return undefined
    }
    const queued = performance.now()
    const run = this.#compressTail.then(async () => {
      const started = performance.now()
      const plain: Block[] = []
      const compressed: Message.CompressedBlock[] = []
      let rawBytes = 0
      let workMs = 0
      for (const block of message.blocks) {
        const analysis = block.bytes.byteLength >= MIN_COMPRESS_BLOCK_BYTES ? analyseBlock(block.bytes) : undefined
        if (analysis == null || !policy.shouldCompress(peer, analysis.ratio)) {
          if (analysis != null) this.#compression.blocksNotWorthIt++
          plain.push(block)
          continue
        }
        // synchronous, so that its time is the compressor's own work; the event loop runs
        // between blocks (the writes queued before this batch go on meanwhile)
        if (compressed.length > 0 || plain.length > 0) await new Promise(resolve => setImmediate(resolve))
        let c: Message.CompressedBlock | undefined
        const t0 = performance.now()
        try {
          c = compressBlockSync(block, encodePrefix(block.cid), { analysis })
        } catch (err: any) {
          log.error('compressing block %c failed, sent plain - %e', block.cid, err)
        }
        const took = performance.now() - t0
        workMs += took
        this.#compressWorkMs += took
        rawBytes += block.bytes.byteLength
        if (c == null) {
          this.#compression.blocksNotWorthIt++
          plain.push(block)
          continue
        }
        compressed.push(c)
        this.#compression.blocksCompressed++
        this.#compression.rawBytesCompressed += block.bytes.byteLength
        this.#compression.wireBytesCompressed += c.planes.reduce((n, p) => n + p.data.byteLength, 0)
      }
      if (rawBytes > 0) policy.recordCompress(rawBytes, workMs)
      if (wireLog.enabled) wireLog('batch of %d blocks to %s: %d compressed, %d raw bytes to %d, work %s ms of %s ms (queued %s ms), link %s bytes/ms, compressor %s bytes/ms', message.blocks.length, peer, compressed.length, rawBytes, compressed.reduce((n, c) => n + c.planes.reduce((m, p) => m + p.data.byteLength, 0), 0), workMs.toFixed(1), (performance.now() - started).toFixed(1), (started - queued).toFixed(1), policy.link(peer).bytesPerMs?.toFixed(0), policy.compressBytesPerMs.toFixed(0))
      return { ...message, blocks: plain, compressed }
    })
    this.#compressTail = run.catch(() => {})
    return run
  }

  /**
   * Inflate the compressed blocks of a received message into its `blocks` (their CIDs rebuilt
   * from the bytes). Compressed blocks are accepted only on `/tensorswap/1.0.0` and only when
   * we offered to decode them.
   *
   * @throws `InvalidMessageError` (not offered, wrong protocol, a plane that does not inflate
   *   to its length); `MessageTooLargeError` (a plane that inflates past it)
   */
  async #inflate (protocol: string, message: DecodedMessage): Promise<void> {
    if (protocol !== TENSORSWAP_100 || this.#acceptCodecs === 0) {
      throw new InvalidMessageError(`compressed blocks on ${protocol}${this.#acceptCodecs === 0 ? ', which we did not offer to decode' : ''}`)
    }
    const { blocks, unverifiable } = await inflateBlocks(message.compressed)
    for (const c of message.compressed) {
      this.#compression.rawBytesInflated += c.length
      this.#compression.wireBytesInflated += c.planes.reduce((n, p) => n + p.data.byteLength, 0)
    }
    this.#compression.blocksInflated += blocks.length
    message.blocks.push(...blocks)
    message.unverifiableBlocks += unverifiable
    message.compressed = []
  }

  /**
   * Open the control stream to `peer` now, negotiating the best protocol both sides speak,
   * instead of waiting for identify to report the peer's protocols (about 30 ms after the
   * connection on loopback, bench/README.md): the peer is reported through `onPeerConnected`
   * as soon as the stream is open. The stream is closed when idle like any other.
   *
   * @returns the negotiated protocol
   * @throws libp2p dial/negotiation errors (e.g. the peer speaks none of our protocols); `signal.reason`
   */
  async connect (peer: PeerId, options: AbortOptions = {}): Promise<string> {
    const key = `${peer.toString()}/control`
    const out = await this.#getOutbound(peer, key, options)
    if (out.pending === 0 && this.#outbound.get(key) === out) this.#armIdle(key, out)
    return out.protocol
  }

  /** Whether `peer` supports HAVE/DONT_HAVE on its negotiated protocol (true when unknown). */
  supportsHave (peer: PeerId): boolean {
    const p = this.protocolOf(peer)
    return p == null || supportsHave(p)
  }

  async #getOutbound (peer: PeerId, key: string, options: AbortOptions): Promise<Outbound> {
    if (!this.#running) throw new Error('network is not running')
    const existing = this.#outbound.get(key)
    if (existing != null && existing.stream.status === 'open' && existing.stream.writeStatus === 'writable') return existing
    if (existing != null) this.#dropOutbound(key, existing)
    let opening = this.#opening.get(key)
    if (opening == null) {
      opening = (async () => {
        const stream = await dialWithRetry(async ({ signal }) => await this.#libp2p.dialProtocol(peer, this.#protocols, { signal, runOnLimitedConnection: this.#runOnLimitedConnection }), {
          attempts: 1,
          attemptTimeoutMs: this.#streamOpenTimeoutMs,
          signal: options.signal,
          target: peer,
          onLate: (late) => { late.abort(new Error('stream open abandoned')) }
        })
        // we never read on our outbound streams (answers arrive on the peer's own stream)
        stream.closeRead().catch((err: any) => { log.trace('closeRead on outbound stream to %p failed - %e', peer, err) })
        const out: Outbound = { stream, writer: new FrameWriter(stream, { maxFrameBytes: this.#maxMessageBytes }), protocol: stream.protocol, label: stream.protocol, tail: Promise.resolve(), pending: 0 }
        this.#outbound.set(key, out)
        this.#peerSpeaks(peer, stream.protocol)
        return out
      })()
      this.#opening.set(key, opening)
      opening.finally(() => { this.#opening.delete(key) }).catch(() => {})
    }
    return opening
  }

  /**
   * Count the want-blocks sent to `peer` (or, with `counts` = {@link #blockWantsReceived}, received
   * from it while we have no lane address of our own: a pusher without listen addresses, whose
   * receiver cannot open a lane to it); from the {@link LANE_MIN_BLOCK_WANTS}th on, make sure a
   * lane is open. A bulk fetch, not the first nodes of a DAG walk, opens it, so its handshake
   * does not compete with the first blocks (spec/tensorswap.md section 7).
   */
  #countWants (peer: PeerId, message: Pick<BitswapMessage, 'wantlist'>, counts: Map<string, number> = this.#blockWantsSent): void {
    const entries = message.wantlist?.entries
    if (entries == null) return
    const key = peer.toString()
    let n = counts.get(key) ?? 0
    for (const e of entries) if (!e.cancel && e.wantType === 'block') n++
    counts.set(key, n)
    if (n >= LANE_MIN_BLOCK_WANTS) this.#ensureLane(peer)
  }

  /**
   * Open a bulk lane to `peer` in the background, unless one is up, being opened, or failed
   * less than {@link DEFAULT_LANE_RETRY_MS} ago, or the peer is not a TensorSwap peer.
   */
  #ensureLane (peer: PeerId): void {
    const lanes = this.#lanes
    if (lanes == null || !this.#running || this.protocolOf(peer) !== TENSORSWAP_100) return
    const key = peer.toString()
    if (this.#outbound.get(`${key}/data`)?.label === BULK_LANE_PROTOCOL) return
    const attempt = this.#laneAttempts.get(key)
    if (attempt != null && (typeof attempt !== 'number' || attempt > Date.now())) return
    const opening = lanes.open(peer)
      .then(() => { this.#laneAttempts.delete(key) })
      .catch((err: any) => {
        log('no bulk lane to %p, blocks stay on streams - %e', peer, err)
        if (this.#running) this.#laneAttempts.set(key, Date.now() + DEFAULT_LANE_RETRY_MS)
      })
    this.#laneAttempts.set(key, opening)
  }

  /** An authenticated lane to `peer` (either direction): it becomes the data channel, and is read. */
  #onLane (peer: PeerId, lane: SocketStream): void {
    if (!this.#running || this.#handlers.isBanned(peer)) {
      lane.abort(new Error('refused'))
      return
    }
    const key = `${peer.toString()}/data`
    const previous = this.#outbound.get(key)
    const out: Outbound = { stream: lane, writer: new FrameWriter(lane.asFramedStream(), { maxFrameBytes: this.#maxMessageBytes }), protocol: TENSORSWAP_100, label: BULK_LANE_PROTOCOL, tail: Promise.resolve(), pending: 0 }
    this.#outbound.set(key, out)
    if (previous != null) {
      // let what is queued on the old data channel finish, then close it
      clearTimeout(previous.idleTimer)
      previous.tail.then(async () => previous.stream.close()).catch((err: any) => {
        log.trace('closing replaced data channel failed - %e', err)
        previous.stream.abort(err)
      })
    }
    this.#readMessages(lane.asFramedStream(), peer, TENSORSWAP_100, BULK_LANE_PROTOCOL)
      .catch((err: any) => { log.trace('lane from %p failed - %e', peer, err) })
      .finally(() => {
        if (this.#outbound.get(key) === out) this.#outbound.delete(key)
        if (lane.status === 'open') lane.abort(new Error('lane reader ended'))
      })
  }

  #armIdle (key: string, out: Outbound): void {
    clearTimeout(out.idleTimer)
    // a lane closes itself after DEFAULT_LANE_IDLE_MS without traffic (bulk-lane.ts)
    if (out.label === BULK_LANE_PROTOCOL) return
    out.idleTimer = setTimeout(() => {
      if (out.pending > 0 || this.#outbound.get(key) !== out) return
      this.#outbound.delete(key)
      out.stream.close().catch((err: any) => {
        log.trace('closing idle stream failed - %e', err)
        out.stream.abort(err)
      })
    }, this.#streamIdleMs)
    out.idleTimer.unref?.()
  }

  #dropOutbound (key: string, out: Outbound): void {
    clearTimeout(out.idleTimer)
    this.#outbound.delete(key)
    if (out.stream.status === 'open') out.stream.abort(new Error('outbound stream dropped'))
  }

  /**
   * Disconnect `peer` (after a ban): its connections are aborted, not closed. A graceful close
   * waits for every stream to end, and a hostile peer that holds a thousand streams open kept
   * its connection (and them) for libp2p's close timeout, ~10 s (test/hostile/attacks.test.ts).
   */
  async hangUp (peer: PeerId, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    for (const connection of this.#libp2p.getConnections(peer)) connection.abort(new Error('peer banned'))
  }
}

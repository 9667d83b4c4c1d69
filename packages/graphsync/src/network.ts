/**
 * The libp2p driver of GraphSync 2.0.0 (`/ipfs/graphsync/2.0.0`): streams, framing and
 * timers around the pure requestor/responder state machines of this package
 * (`requestor.ts`, `responder.ts`). It knows blocks, selectors and peers, not what the blocks
 * mean: model-aware fetching (tensor selections over TensorSwap manifests) is built on
 * {@link GraphSyncNetwork.request} in the `tensorswap` package (`src/tensors/`).
 *
 * Wire behaviour (GraphSync 2.0.0 spec, "Network"; as go-graphsync's `network/libp2p_impl.go`):
 * - A message is one DAG-CBOR GraphSync message in a varint length-prefixed frame
 *   (`@tensorswap/transport` framing), at most MAX_MESSAGE_SIZE (4 MiB).
 * - A sender writes on streams it opens and reads every inbound stream to its end; a message
 *   on any inbound stream may carry requests (served) and responses (routed to our requests
 *   by request id). The requestor opens one stream per request (the request, later its
 *   cancel); the responder opens one stream per request for its responses, so one large
 *   response never delays another or a control message.
 * - Back-pressure both ways: the responder awaits the stream's drain before producing the
 *   next message, and holds at most `maxMemoryResponder` (256 MiB) of response messages waiting
 *   for their streams in total and `maxMemoryPerPeerResponder` (16 MiB) per peer (go-graphsync's
 *   defaults; `allocator.ts`): over it the response's traversal waits; the requestor's reader pauses the stream until the traversal has consumed
 *   the previous message.
 * - Hostile peers: a frame or message that does not decode, or a response whose blocks the
 *   requestor's traversal does not reach or that do not hash to their links, aborts the
 *   stream or fails the request and is reported through the `penalties` component's
 *   `onOffence` (wire it to the exchange's `PenaltyBox`); streams of peers it says are banned
 *   are refused.
 * - Dials and stream opens go through `dialWithRetry` (`@tensorswap/transport`): a dial of the
 *   peer of a request is time-boxed and retried (`dialAttempts` x `dialAttemptTimeoutMs`), a
 *   stream open is one attempt time-boxed to `streamOpenTimeoutMs`.
 *
 * @module
 */
import { logger } from '@libp2p/logger'
import { BoundedQueue, getBlockUnverified } from '@tensorswap/blockstore'
import { DEFAULT_DIAL_ATTEMPTS, DEFAULT_DIAL_ATTEMPT_TIMEOUT_MS, DEFAULT_STREAM_OPEN_TIMEOUT_MS, FrameWriter, dialWithRetry, readFrames } from '@tensorswap/transport'
import type { BandwidthPacer } from '@tensorswap/transport'
import {
  DEFAULT_MAX_CONCURRENT_PUTS, DEFAULT_MAX_GRAPHSYNC_STREAMS, DEFAULT_REQUEST_IDLE_TIMEOUT_MS, MAX_MESSAGE_SIZE, PROTOCOL_ID
} from './constants.js'
import { GraphSyncNotStartedError, ResponseIncompleteError } from './errors.js'
import { blockFromWire, decodeMessage, encodeMessage } from './message/codec.js'
import { isTerminalStatus } from './message/types.js'
import { GraphSyncRequestor } from './requestor.js'
import { ResponseManager, idHex } from './responder.js'
import { ResponderMemory } from './allocator.js'
import type { ResponderMemoryInit } from './allocator.js'
import type { GraphSyncMessage } from './message/types.js'
import type { RequestResult, RequestorProgressEvents, ResponseEnvelope } from './requestor.js'
import type { RequestResponder, ResponseManagerInit } from './responder.js'
import type { Selector } from './selector/types.js'
import type { LoadedBlock, TraversalBudgetInit } from './traversal/traverse.js'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

const log = logger('tensorswap:graphsync:network')

/** The blocks a node serves: any interface-blockstore v7 store's `has` and `get`. */
export type ServedBlockstore = Pick<Blockstore, 'has' | 'get'>
/** Where a request stores what it fetches (and reads what it has, to resume). */
export type FetchBlockstore = Pick<Blockstore, 'has' | 'get' | 'put'>

/** Options of {@link GraphSyncNetwork}. */
export interface GraphSyncNetworkInit extends ResponseManagerInit, ResponderMemoryInit {
  /** Largest message accepted or sent, bytes. @default MAX_MESSAGE_SIZE (4 MiB) */
  maxMessageSize?: number
  /** Fail a request when no response arrives for this long, ms. @default {@link DEFAULT_REQUEST_IDLE_TIMEOUT_MS} */
  requestIdleTimeoutMs?: number
  /** libp2p stream limits per connection. @default {@link DEFAULT_MAX_GRAPHSYNC_STREAMS} */
  maxInboundStreams?: number
  /** @default {@link DEFAULT_MAX_GRAPHSYNC_STREAMS} */
  maxOutboundStreams?: number
  /** Run over limited (relayed) connections. @default false */
  runOnLimitedConnection?: boolean
  /** Attempts to dial the peer of a request (given by address). @default DEFAULT_DIAL_ATTEMPTS (3, `@tensorswap/transport`) */
  dialAttempts?: number
  /** Time-box of one dial attempt, ms. @default DEFAULT_DIAL_ATTEMPT_TIMEOUT_MS (8 s, `@tensorswap/transport`) */
  dialAttemptTimeoutMs?: number
  /** Most time a stream open plus protocol negotiation may take, ms. @default DEFAULT_STREAM_OPEN_TIMEOUT_MS (10 s, `@tensorswap/transport`) */
  streamOpenTimeoutMs?: number
  /**
   * Bandwidth limits (the `tensorswap` package's `BandwidthLimiter`): the responder waits for
   * `upload` before writing each response message; the reader waits for `download` after each
   * message carrying blocks, so the stream pauses and the sender is slowed. @default none
   */
  bandwidth?: BandwidthPacer
}

/**
 * What a peer did wrong, as the driver sees it; the names are a subset of the TensorSwap
 * exchange's offences (`Offence` in the `tensorswap` package), so its `PenaltyBox` takes them
 * as they are.
 * - `oversized`: a frame over `maxMessageSize` (`FrameTooLargeError`)
 * - `malformed`: a frame or message that does not decode (`InvalidFrameError`, `InvalidMessageError`)
 * - `unrequestedBlock`: blocks the traversal does not reach, or that do not hash to their links
 *   (`UnexpectedBlockError`, `BlockHashMismatchError`, `TraversalMismatchError`, `MissingBlockError`)
 * - `unverifiableBlock`: a block whose hash function we cannot verify (`UnsupportedHashError`)
 */
export type GraphSyncOffence = 'oversized' | 'malformed' | 'unrequestedBlock' | 'unverifiableBlock'

/** Where the driver reports bad peers and learns which ones to refuse (the exchange's penalty box). */
export interface GraphSyncPenalties {
  /**
   * `peer` sent something unacceptable; `err` is what the driver threw (`err.name` as listed
   * under {@link GraphSyncOffence}). Exceptions thrown here are logged and ignored.
   */
  onOffence: (peer: PeerId, offence: GraphSyncOffence, err: Error) => void
  /** Whether to refuse `peer`'s inbound streams. */
  isBanned?: (peer: PeerId) => boolean
}

/** What {@link GraphSyncNetwork} needs. */
export interface GraphSyncNetworkComponents {
  libp2p: Libp2p
  /** The blocks this node serves. */
  blockstore: ServedBlockstore
  /** Penalties for hostile input. @default none: offences are only logged, no peer is refused */
  penalties?: GraphSyncPenalties
}

/** Options of {@link GraphSyncNetwork.request}. */
export interface GraphSyncRequestOptions {
  /** Where fetched blocks go (and local blocks are read from). */
  blockstore: FetchBlockstore
  signal?: AbortSignal
  onProgress?: (evt: RequestorProgressEvents) => void
  priority?: number
  /** Announce blocks already in `blockstore`. @default true */
  resume?: boolean
  /** Budgets of the local traversal. */
  budget?: TraversalBudgetInit
  /**
   * Durable blockstore puts in flight at once. The traversal goes on while verified blocks are
   * written (reads of a block being written are served from memory); `request` resolves after
   * every put finished. @default DEFAULT_MAX_CONCURRENT_PUTS (32, as the exchange's sessions)
   */
  maxConcurrentPuts?: number
  /** Called once each block the traversal reached is in `blockstore`: fetched (verified, written) or already local. */
  onStored?: (cid: CID) => void
}

/** Errors that mean the responder sent what our traversal does not accept. */
const HOSTILE: Record<string, GraphSyncOffence> = {
  UnexpectedBlockError: 'unrequestedBlock',
  BlockHashMismatchError: 'unrequestedBlock',
  TraversalMismatchError: 'unrequestedBlock',
  MissingBlockError: 'unrequestedBlock',
  UnsupportedHashError: 'unverifiableBlock',
  InvalidMessageError: 'malformed',
  InvalidFrameError: 'malformed',
  FrameTooLargeError: 'oversized'
}

/** A bounded hand-off of response envelopes from a stream reader to one request. */
class Inbox {
  readonly #items: ResponseEnvelope[] = []
  #taken: (() => void) | undefined
  #arrived: (() => void) | undefined
  #closed: Error | undefined

  /** Queue an envelope; resolves once the request has taken it (back-pressure on the reader). */
  async push (env: ResponseEnvelope): Promise<void> {
    if (this.#closed !== undefined) return
    this.#items.push(env)
    const a = this.#arrived
    this.#arrived = undefined
    a?.()
    if (this.#items.length > 1) await new Promise<void>(resolve => { this.#taken = resolve })
  }

  /** End the inbox: the consumer gets `err`. */
  close (err: Error): void {
    this.#closed ??= err
    const a = this.#arrived
    this.#arrived = undefined
    a?.()
    const t = this.#taken
    this.#taken = undefined
    t?.()
  }

  async * iterate (idleMs: number, signal?: AbortSignal): AsyncGenerator<ResponseEnvelope> {
    while (true) {
      while (this.#items.length === 0) {
        if (this.#closed !== undefined) throw this.#closed
        signal?.throwIfAborted()
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => { cleanup(); reject(new ResponseIncompleteError(`no response for ${idleMs} ms`)) }, idleMs)
          const onAbort = (): void => { cleanup(); reject(signal?.reason) }
          const cleanup = (): void => { clearTimeout(timer); signal?.removeEventListener('abort', onAbort); this.#arrived = undefined }
          signal?.addEventListener('abort', onAbort)
          this.#arrived = () => { cleanup(); resolve() }
        })
      }
      const env = this.#items.shift() as ResponseEnvelope
      const t = this.#taken
      this.#taken = undefined
      t?.()
      yield env
    }
  }
}

interface Pending {
  peer: string
  inbox: Inbox
}

/**
 * GraphSync 2.0.0 over libp2p: serves the blocks of `components.blockstore` and fetches
 * subgraphs from peers, verifying each response against a local traversal of the same
 * selector. See the module comment.
 *
 * @example
 * ```ts
 * import { GraphSyncNetwork, allSelector } from '@tensorswap/graphsync'
 *
 * const gs = new GraphSyncNetwork({ libp2p, blockstore, penalties: { onOffence: (peer, offence) => { box.penalize(peer.toString(), offence, Date.now()) } } })
 * await gs.start()
 * const result = await gs.request(peerMultiaddrs, root, allSelector, { blockstore: into })
 * ```
 */
export class GraphSyncNetwork {
  readonly #libp2p: Libp2p
  readonly #blockstore: ServedBlockstore
  readonly #init: GraphSyncNetworkInit
  readonly #penalties: GraphSyncPenalties | undefined
  readonly #manager: ResponseManager
  readonly #memory: ResponderMemory
  readonly #pending = new Map<string, Pending>()
  readonly #inbound = new Set<Stream>()
  readonly #serving = new Set<Promise<void>>()
  readonly #maxMessageSize: number
  #shutdown = new AbortController()
  #running = false

  /**
   * @param components - the libp2p node, the served blockstore, the penalty hooks
   * @param init - limits and hooks, see {@link GraphSyncNetworkInit}
   */
  constructor (components: GraphSyncNetworkComponents, init: GraphSyncNetworkInit = {}) {
    this.#libp2p = components.libp2p
    this.#blockstore = components.blockstore
    this.#penalties = components.penalties
    this.#init = init
    this.#manager = new ResponseManager(init)
    this.#memory = new ResponderMemory(init)
    this.#maxMessageSize = init.maxMessageSize ?? MAX_MESSAGE_SIZE
  }

  /** Whether {@link start} ran and {@link stop} did not. */
  get running (): boolean { return this.#running }

  /** Responses in progress (for tests and metrics). */
  get activeResponses (): number { return this.#manager.active }

  /**
   * Responder memory (for tests and metrics): response bytes held now (`total`, bytes), the most
   * ever held at once (`peak`), responses waiting for room (`waiting`) and how many ever had to
   * wait (`waits`). Bounded by
   * `maxMemoryResponder` / `maxMemoryPerPeerResponder` (see `allocator.ts`).
   */
  get responderMemory (): { total: number, peak: number, waiting: number, waits: number } {
    return { total: this.#memory.total, peak: this.#memory.peak, waiting: this.#memory.waiting, waits: this.#memory.waits }
  }

  /** Handle `/ipfs/graphsync/2.0.0`. */
  async start (): Promise<void> {
    if (this.#running) return
    this.#running = true
    this.#shutdown = new AbortController()
    await this.#libp2p.handle(PROTOCOL_ID, (stream, connection) => { this.#onStream(stream, connection) }, {
      maxInboundStreams: this.#init.maxInboundStreams ?? DEFAULT_MAX_GRAPHSYNC_STREAMS,
      maxOutboundStreams: this.#init.maxOutboundStreams ?? DEFAULT_MAX_GRAPHSYNC_STREAMS,
      runOnLimitedConnection: this.#init.runOnLimitedConnection ?? false
    })
  }

  /** Unhandle the protocol, cancel responses and requests in progress, abort inbound streams. */
  async stop (): Promise<void> {
    if (!this.#running) return
    this.#running = false
    await this.#libp2p.unhandle(PROTOCOL_ID)
    this.#manager.cancelAll()
    this.#shutdown.abort(new GraphSyncNotStartedError('graphsync stopped'))
    for (const p of this.#pending.values()) p.inbox.close(new GraphSyncNotStartedError('graphsync stopped'))
    for (const s of this.#inbound) s.abort(new GraphSyncNotStartedError('graphsync stopped'))
    this.#inbound.clear()
    await Promise.allSettled([...this.#serving])
  }

  /**
   * Fetch the subgraph `selector` selects under `root` from `peer` into
   * `options.blockstore`, verifying it incrementally (see `GraphSyncRequestor`).
   *
   * @returns the requestor's result (`complete: false` when the peer lacked blocks)
   * @throws GraphSyncNotStartedError - before start / after stop
   * @throws UnsupportedSelectorError - `selector` uses ExploreConditional (`&`), which go-graphsync
   *   peers cannot parse; thrown before anything is dialled or sent
   * @param peer - a connected peer's id, or its multiaddrs (ending in `/p2p/<id>`)
   * @param root - the root of the subgraph
   * @param selector - an IPLD selector (see `selector/builder.ts`), sent as the request's selector
   * @throws UnexpectedBlockError, BlockHashMismatchError, TraversalMismatchError, MissingBlockError - hostile or
   *   divergent responses (the peer is reported through `penalties.onOffence`; nothing unverified is stored)
   * @throws RequestFailedError - a 3x status (`.status`: 30 rejected, 31 busy, 34 not found, ...)
   * @throws ResponseIncompleteError - no response for `requestIdleTimeoutMs`, or the peer went away
   * @throws the dial's errors (the last attempt's; `TimeoutError` when it overran its time-box), `UnsupportedProtocolError`
   *   when the peer does not speak GraphSync 2.0.0, the signal's reason
   */
  async request (peer: PeerId | Multiaddr | Multiaddr[], root: CID, selector: Selector, options: GraphSyncRequestOptions): Promise<RequestResult> {
    if (!this.#running) throw new GraphSyncNotStartedError('GraphSyncNetwork.request: not started')
    const { signal, blockstore } = options
    // verified blocks are written with bounded concurrency (a durable put costs latency, not
    // bandwidth); until written, the traversal reads them from `writing`
    const puts = new BoundedQueue({ concurrency: options.maxConcurrentPuts ?? DEFAULT_MAX_CONCURRENT_PUTS })
    const writing = new Map<string, { bytes: Uint8Array, done: Promise<void> }>()
    /** Puts started and not settled (each never rejects: its error lands in `putError`). */
    const settling = new Set<Promise<void>>()
    let putError: unknown
    const put = async (cid: CID, bytes: Uint8Array, o?: { signal?: AbortSignal }): Promise<void> => {
      if (putError !== undefined) throw putError
      const key = cid.toString()
      // readable from `writing` from now until its put settled (the traversal may ask at once)
      let settled!: () => void
      writing.set(key, { bytes, done: new Promise<void>(resolve => { settled = resolve }) })
      const { done } = await puts.run(bytes.byteLength, async () => { await blockstore.put(cid, bytes, o) })
      const p: Promise<void> = done
        .then(() => { options.onStored?.(cid) }, (err: unknown) => { putError ??= err })
        .finally(() => { writing.delete(key); settling.delete(p); settled() })
      settling.add(p)
    }
    const onProgress = (evt: RequestorProgressEvents): void => {
      if (evt.type === 'tensorswap:graphsync:request:block' && evt.detail.from === 'local' && options.onStored !== undefined) {
        // read locally: stored already, or being written by this request
        const cid = evt.detail.cid
        const w = writing.get(cid.toString())
        if (w === undefined) options.onStored(cid)
        else void w.done.then(() => { if (putError === undefined) options.onStored?.(cid) })
      }
      options.onProgress?.(evt)
    }
    const requestor = new GraphSyncRequestor({
      root,
      selector,
      store: {
        has: async (cid, o) => writing.has(cid.toString()) || await blockstore.has(cid, o),
        get: async (cid, o) => writing.get(cid.toString())?.bytes ?? await getBlockUnverified(blockstore, cid, o),
        put
      },
      ...(options.priority !== undefined ? { priority: options.priority } : {}),
      ...(options.resume !== undefined ? { resume: options.resume } : {}),
      ...(options.budget !== undefined ? { budget: options.budget } : {})
    })
    const request = await requestor.request({ signal, onProgress })
    const conn = await dialWithRetry(async (o) => await this.#libp2p.dial(peer, o), {
      attempts: this.#init.dialAttempts ?? DEFAULT_DIAL_ATTEMPTS,
      attemptTimeoutMs: this.#init.dialAttemptTimeoutMs ?? DEFAULT_DIAL_ATTEMPT_TIMEOUT_MS,
      signal,
      target: peer
    })
    const remote = conn.remotePeer
    const key = `${remote.toString()}/${requestor.idHex}`
    const inbox = new Inbox()
    this.#pending.set(key, { peer: remote.toString(), inbox })
    const onClose = (): void => { inbox.close(new ResponseIncompleteError(`connection to ${remote.toString()} closed`)) }
    let stream: Stream | undefined
    let finished = false
    try {
      stream = await this.#openStream(async (o) => await conn.newStream(PROTOCOL_ID, o), remote, signal)
      stream.addEventListener('close', onClose)
      const writer = new FrameWriter(stream, { maxFrameBytes: this.#maxMessageSize })
      await writer.write(encodeMessage({ requests: [request], responses: [], blocks: [] }, { maxSize: this.#maxMessageSize }), { signal })
      log('request %s to %p for %c', requestor.idHex, remote, root)
      const run = requestor.run(inbox.iterate(this.#init.requestIdleTimeoutMs ?? DEFAULT_REQUEST_IDLE_TIMEOUT_MS, signal), {
        ...(signal !== undefined ? { signal } : {}),
        onProgress
      })
      let result: RequestResult
      while (true) {
        const n = await run.next()
        if (n.done === true) { result = n.value; break }
      }
      finished = true
      await stream.close({ signal }).catch((err: any) => { log.trace('closing request stream failed - %e', err) })
      await Promise.all([...settling])
      if (putError !== undefined) throw putError
      return result
    } catch (err: any) {
      const offence = HOSTILE[err?.name]
      if (offence !== undefined) {
        log('request %s to %p failed: hostile response - %e', requestor.idHex, remote, err)
        this.#report(remote, offence, err)
      } else {
        log('request %s to %p failed - %e', requestor.idHex, remote, err)
      }
      throw err
    } finally {
      await Promise.allSettled([...settling])
      this.#pending.delete(key)
      inbox.close(new ResponseIncompleteError('request ended'))
      if (stream != null) {
        stream.removeEventListener('close', onClose)
        if (!finished) await this.#cancel(stream, requestor.cancelRequest())
      }
    }
  }

  #report (peer: PeerId, offence: GraphSyncOffence, err: Error): void {
    try {
      this.#penalties?.onOffence(peer, offence, err)
    } catch (e: any) {
      log.error('onOffence threw - %e', e)
    }
  }

  /** One stream open, time-boxed to `streamOpenTimeoutMs`; a stream that opens after it was given up on is aborted. */
  async #openStream (open: (options: { signal: AbortSignal, runOnLimitedConnection: boolean }) => Promise<Stream>, peer: PeerId, signal?: AbortSignal): Promise<Stream> {
    const runOnLimitedConnection = this.#init.runOnLimitedConnection ?? false
    return await dialWithRetry(async (o) => await open({ signal: o.signal, runOnLimitedConnection }), {
      attempts: 1,
      attemptTimeoutMs: this.#init.streamOpenTimeoutMs ?? DEFAULT_STREAM_OPEN_TIMEOUT_MS,
      signal,
      target: `${peer.toString()} ${PROTOCOL_ID}`,
      onLate: (late) => { late.abort(new Error('stream open abandoned')) }
    })
  }

  async #cancel (stream: Stream, cancel: ReturnType<GraphSyncRequestor['cancelRequest']>): Promise<void> {
    try {
      if (stream.writeStatus === 'writable') {
        const writer = new FrameWriter(stream, { maxFrameBytes: this.#maxMessageSize })
        await writer.write(encodeMessage({ requests: [cancel], responses: [], blocks: [] }), { signal: AbortSignal.timeout(1000) })
        await stream.close({ signal: AbortSignal.timeout(1000) })
      }
    } catch (err: any) {
      log.trace('sending cancel failed - %e', err)
      stream.abort(err)
    }
  }

  #onStream (stream: Stream, connection: Connection): void {
    const peer = connection.remotePeer
    if (!this.#running || this.#penalties?.isBanned?.(peer) === true) {
      stream.abort(new Error('refused'))
      return
    }
    this.#inbound.add(stream)
    this.#readInbound(stream, connection)
      .catch((err: any) => {
        const offence = HOSTILE[err?.name]
        if (offence !== undefined) {
          log('bad input from %p - %e', peer, err)
          this.#report(peer, offence, err)
          stream.abort(err)
        } else {
          log.trace('inbound stream from %p ended - %e', peer, err)
        }
      })
      .finally(() => { this.#inbound.delete(stream) })
  }

  async #readInbound (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer
    const peerStr = peer.toString()
    for await (const frame of readFrames(stream, { maxFrameBytes: this.#maxMessageSize, signal: this.#shutdown.signal })) {
      const msg = decodeMessage(frame.subarray(), { maxSize: this.#maxMessageSize })
      for (const req of msg.requests) {
        const action = this.#manager.receive(peerStr, req, async (cid, o) => await this.#load(cid, o.signal))
        if (action.type === 'start') this.#track(this.#serve(connection, action.responder))
        else if (action.type === 'reply') this.#track(this.#reply(connection, action.message))
      }
      // download limit: blocks are handed over once their frame is paid for (spec/tensorswap.md §11)
      if (this.#init.bandwidth != null && msg.blocks.length > 0) await this.#init.bandwidth.download(peerStr, frame.byteLength, { signal: this.#shutdown.signal })
      if (msg.responses.length > 0) await this.#route(peerStr, msg)
    }
    // the peer closed its side; we never write on a stream it opened: close ours, so the stream
    // ends and stops counting against maxInboundStreams (libp2p counts it until both sides close)
    if (stream.writeStatus === 'writable') await stream.close({ signal: this.#shutdown.signal })
  }

  async #route (peer: string, msg: GraphSyncMessage): Promise<void> {
    const blocks: LoadedBlock[] = await Promise.all(msg.blocks.map(async b => await blockFromWire(b)))
    const single = msg.responses.length === 1
    for (const response of msg.responses) {
      const pending = this.#pending.get(`${peer}/${idHex(response.requestId)}`)
      if (pending == null) {
        log.trace('response for unknown request %s from %s (status %d) dropped', idHex(response.requestId), peer, response.status)
        continue
      }
      // one response per message (our responders, go-graphsync mostly): all its blocks; else the blocks it announces
      const mine = single
        ? blocks
        : blocks.filter(b => response.metadata?.some(m => m.link.equals(b.cid)) === true)
      await pending.inbox.push({ response, blocks: mine })
      if (isTerminalStatus(response.status)) log.trace('request %s: terminal status %d', idHex(response.requestId), response.status)
    }
  }

  async #load (cid: CID, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    if (!await this.#blockstore.has(cid, { signal })) return undefined
    try {
      return await getBlockUnverified(this.#blockstore, cid, { signal })
    } catch (err: any) {
      if (err?.name === 'NotFoundError' || err?.name === 'BlockNotFoundError') return undefined
      throw err
    }
  }

  #track (p: Promise<void>): void {
    this.#serving.add(p)
    void p.finally(() => { this.#serving.delete(p) })
  }

  async #open (connection: Connection): Promise<Stream> {
    const open = connection.status === 'open'
    return await this.#openStream(async (opts) => open
      ? await connection.newStream(PROTOCOL_ID, opts)
      : await this.#libp2p.dialProtocol(connection.remotePeer, PROTOCOL_ID, opts), connection.remotePeer, this.#shutdown.signal)
  }

  async #serve (connection: Connection, responder: RequestResponder): Promise<void> {
    const peer = connection.remotePeer
    let stream: Stream | undefined
    try {
      stream = await this.#open(connection)
      const writer = new FrameWriter(stream, { maxFrameBytes: this.#maxMessageSize })
      const peerStr = peer.toString()
      for await (const msg of responder.messages({ signal: this.#shutdown.signal })) {
        const bytes = encodeMessage(msg, { maxSize: this.#maxMessageSize })
        // back-pressure on queued response bytes: the traversal stays paused until there is room
        if (this.#memory.allocatedTo(peerStr) + bytes.byteLength > this.#memory.maxPerPeer || this.#memory.total + bytes.byteLength > this.#memory.maxTotal) {
          log.trace('request %s to %p waits for responder memory (%d bytes for the peer, %d in total)', idHex(responder.request.id), peer, this.#memory.allocatedTo(peerStr), this.#memory.total)
        }
        await this.#memory.allocate(peerStr, bytes.byteLength, { signal: this.#shutdown.signal })
        if (this.#init.bandwidth != null && msg.blocks.length > 0) {
          try {
            await this.#init.bandwidth.upload(peerStr, bytes.byteLength, { signal: this.#shutdown.signal })
          } catch (err) {
            this.#memory.release(peerStr, bytes.byteLength)
            throw err
          }
        }
        try {
          await writer.write(bytes, { signal: this.#shutdown.signal })
        } finally {
          this.#memory.release(peerStr, bytes.byteLength)
        }
      }
      await stream.close({ signal: this.#shutdown.signal })
      log('served request %s to %p: status %d, %d blocks', idHex(responder.request.id), peer, responder.summary?.status, responder.summary?.blocksSent)
    } catch (err: any) {
      responder.cancel()
      log('serving request %s to %p failed - %e', idHex(responder.request.id), peer, err)
      stream?.abort(err)
    } finally {
      this.#manager.finish(peer.toString(), responder)
    }
  }

  async #reply (connection: Connection, message: GraphSyncMessage): Promise<void> {
    let stream: Stream | undefined
    try {
      stream = await this.#open(connection)
      await new FrameWriter(stream).write(encodeMessage(message), { signal: this.#shutdown.signal })
      await stream.close({ signal: this.#shutdown.signal })
    } catch (err: any) {
      log('reply to %p failed - %e', connection.remotePeer, err)
      stream?.abort(err)
    }
  }
}

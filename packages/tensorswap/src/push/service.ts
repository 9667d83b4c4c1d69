/**
 * The libp2p driver of push (spec/tensorswap.md §8 "Push"): the receiver's handler of
 * {@link PUSH_PROTOCOL} (read one request, decide by {@link PushPolicy}, fetch with the
 * exchange's normal session from the pusher, answer) and the pusher's {@link pushDag}.
 *
 * @module
 */
import { logger } from '@libp2p/logger'
import * as raw from 'multiformats/codecs/raw'
import { CustomProgressEvent, type ProgressEvent, type ProgressOptions } from 'progress-events'
import { BlockNotFoundError, blockSize, getVerifiedBlock, links, type SizedBlockstore } from '@tensorswap/blockstore'
import { dialWithRetry, FrameWriter, readFrames } from '@tensorswap/transport'
import { DEFAULT_MAX_PUSH_FRAME_BYTES, DEFAULT_PUSH_REQUEST_TIMEOUT_MS, PUSH_PROTOCOL } from './constants.js'
import { InvalidPushMessageError, PushNoResponseError, PushRefusedError } from './errors.js'
import { decodePushRequest, decodePushResponse, encodePushRequest, encodePushResponse, type PushAccepted, type PushResponse } from './messages.js'
import { PushPolicy, type PushPolicyInit } from './policy.js'
import type { Exchange } from '../exchange.js'
import type { AbortOptions, Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

const log = logger('tensorswap:push')

/** Options of {@link PushService}: the policy's, plus the request frame cap. */
export interface PushServiceInit extends PushPolicyInit {
  /** Largest request frame, bytes. @default {@link DEFAULT_MAX_PUSH_FRAME_BYTES} (4 KiB) */
  maxFrameBytes?: number
  /** Wait for the request frame, ms. @default {@link DEFAULT_PUSH_REQUEST_TIMEOUT_MS} (10 s) */
  requestTimeoutMs?: number
}

/** What the receiver uses of the node. */
export interface PushServiceComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  exchange: Pick<Exchange, 'fetch' | 'penalize' | 'penalties'>
}

/**
 * The receiver: handles {@link PUSH_PROTOCOL} while started. Each stream carries one request;
 * a peer's bad input is refused (and penalised: `malformed` for a request that does not decode
 * or a DAG larger than it announced, `oversized` for a frame over the cap, which also resets
 * the stream, `pushRefused` for a pusher not accepted or a DAG announced over the limit), never
 * thrown.
 */
export class PushService {
  /** Who may push what, and the pushes pending per peer (pure). */
  readonly policy: PushPolicy
  readonly #components: PushServiceComponents
  readonly #maxFrameBytes: number
  readonly #requestTimeoutMs: number
  readonly #running = new Set<AbortController>()
  #started = false

  /** @throws RangeError - a limit of {@link PushPolicyInit} out of range */
  constructor (components: PushServiceComponents, init: PushServiceInit = {}) {
    this.#components = components
    this.policy = new PushPolicy(init)
    this.#maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_PUSH_FRAME_BYTES
    this.#requestTimeoutMs = init.requestTimeoutMs ?? DEFAULT_PUSH_REQUEST_TIMEOUT_MS
  }

  /** Handle {@link PUSH_PROTOCOL} (also when no peer is accepted: refusals carry a reason). */
  async start (options: AbortOptions = {}): Promise<void> {
    if (this.#started) return
    await this.#components.libp2p.handle(PUSH_PROTOCOL, (stream, connection) => { void this.#answer(stream, connection) }, { signal: options.signal })
    this.#started = true
  }

  /** Stop handling; pushes being fetched are aborted (their pushers see the stream reset). */
  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
    await this.#components.libp2p.unhandle(PUSH_PROTOCOL)
    for (const c of this.#running) c.abort(new Error('push service stopped'))
  }

  async #answer (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer
    const peerKey = peer.toString()
    const { exchange } = this.#components
    if (exchange.penalties.isBanned(peerKey, Date.now())) {
      log('push stream of banned peer %p refused', peer)
      stream.abort(new Error('banned'))
      return
    }
    const controller = new AbortController()
    this.#running.add(controller)
    const onClose = (): void => { controller.abort(new Error('push stream closed')) }
    stream.addEventListener('close', onClose)
    const writer = new FrameWriter(stream, { maxFrameBytes: this.#maxFrameBytes })
    let admitted = false
    try {
      let frame: Uint8Array | undefined
      try {
        for await (const f of readFrames(stream, { maxFrameBytes: this.#maxFrameBytes, signal: AbortSignal.any([controller.signal, AbortSignal.timeout(this.#requestTimeoutMs)]) })) {
          frame = f.subarray()
          break
        }
      } catch (err: any) {
        // readFrames aborted the stream: nothing can be answered
        log('push request of %p unreadable - %e', peer, err)
        if (err.name === 'FrameTooLargeError') exchange.penalize(peer, 'oversized')
        else if (err.name === 'InvalidFrameError') exchange.penalize(peer, 'malformed')
        return
      }
      if (frame == null) {
        log('push stream of %p closed without a request', peer)
        return
      }
      let response: PushResponse
      try {
        const request = decodePushRequest(frame)
        const decision = this.policy.admit(peerKey, request)
        if (!decision.ok) {
          log('push of %c (%d bytes, %d blocks) from %p refused: %s', request.root, request.bytes, request.blocks, peer, decision.reason)
          if (decision.offence) exchange.penalize(peer, 'pushRefused')
          response = { ok: false, reason: decision.reason }
        } else {
          admitted = true
          log('push of %c (%d bytes, %d blocks) from %p accepted', request.root, request.bytes, request.blocks, peer)
          response = await this.#fetch(peer, request.root, request.bytes, controller.signal)
        }
      } catch (err: any) {
        if (!(err instanceof InvalidPushMessageError)) throw err
        log('bad push request from %p - %e', peer, err)
        exchange.penalize(peer, 'malformed')
        response = { ok: false, reason: err.message }
      }
      await writer.write(encodePushResponse(response), { signal: controller.signal })
      await stream.close({ signal: AbortSignal.timeout(this.#requestTimeoutMs) })
    } catch (err: any) {
      log('push stream of %p failed - %e', peer, err)
      stream.abort(err)
    } finally {
      stream.removeEventListener('close', onClose)
      this.#running.delete(controller)
      if (admitted) this.policy.release(peerKey)
    }
  }

  /** Fetch the pushed DAG from the pusher (and whoever else has it), capped at the announced size. */
  async #fetch (peer: PeerId, root: CID, announcedBytes: number, signal: AbortSignal): Promise<PushResponse> {
    const started = performance.now()
    const overrun = new AbortController()
    let moved = 0
    try {
      const r = await this.#components.exchange.fetch(root, {
        peers: [peer],
        signal: AbortSignal.any([signal, overrun.signal]),
        onProgress: (evt) => {
          if (evt.type !== 'tensorswap:session:block' || evt.detail.from !== 'network') return
          moved += evt.detail.bytes
          if (moved > announcedBytes) overrun.abort(new Error(`the DAG is larger than the ${announcedBytes} bytes announced`))
        }
      })
      // the last block can land before the abort is acted on: the size is checked here too
      if (moved > announcedBytes && !overrun.signal.aborted) overrun.abort(new Error(`the DAG is larger than the ${announcedBytes} bytes announced`))
      overrun.signal.throwIfAborted()
      const seconds = (performance.now() - started) / 1000
      log('push of %c from %p done: %d blocks, %d bytes fetched, %d there already, %d s', root, peer, r.blocksFetched, r.bytesFetched, r.blocksLocal, seconds)
      return { ok: true, blocks: r.blocksFetched, bytes: r.bytesFetched, blocksAlreadyThere: r.blocksLocal, seconds }
    } catch (err: any) {
      if (signal.aborted) throw err
      // a DAG larger than announced is a false request: counted as one that does not decode
      if (overrun.signal.aborted) this.#components.exchange.penalize(peer, 'malformed')
      const reason = overrun.signal.aborted ? (overrun.signal.reason as Error).message : `fetch failed: ${String(err.name)}: ${String(err.message)}`
      log('push of %c from %p failed: %s', root, peer, reason)
      return { ok: false, reason }
    }
  }
}

/** Detail of `tensorswap:push:announced`: the DAG counted locally, about to be offered. */
export interface PushAnnouncedDetail {
  root: CID
  blocks: number
  bytes: number
}

/** Progress events of {@link pushDag}. */
export type PushProgressEvents = ProgressEvent<'tensorswap:push:announced', PushAnnouncedDetail>

/** Options of {@link pushDag}. */
export interface PushOptions extends AbortOptions, ProgressOptions<PushProgressEvents> {
  /** The receiver: a multiaddr ending in `/p2p/<id>`, or the peer id of a connected peer. */
  peer: Multiaddr | PeerId
}

/** Result of {@link pushDag}: the receiver's answer plus who and how long. */
export interface PushResult extends Omit<PushAccepted, 'ok' | 'seconds'> {
  root: CID
  /** The receiver's peer id string. */
  peer: string
  /** Round trip from the call to the receiver's answer, seconds. */
  seconds: number
  /** The receiver's own time from request to holding the DAG, seconds. */
  receiverSeconds: number
  /** The DAG as announced (counted locally). */
  announced: { blocks: number, bytes: number }
}

/**
 * Count the distinct blocks and bytes of the DAG under `root` as stored (spec/tensorswap.md §8
 * "Push": what the request announces). Inner nodes (dag-pb, dag-cbor, ...) are read and verified
 * to follow their links; raw leaves, which have no links and are most of a tensor DAG's bytes,
 * are only looked up by size (`blockSize`: one index lookup or `stat`, no read, no re-hash: they
 * were verified when stored, and the receiver verifies every block it fetches). A store that
 * cannot tell a size (no `size` method) has its leaves read and verified instead.
 *
 * @returns `{ blocks, bytes }`: distinct blocks (identity CIDs counted, as the walk yields them) and their bytes
 * @throws BlockNotFoundError (blockstore) - a block of the DAG is not stored here (a DAG we do not hold whole is not offered)
 * @throws BlockHashMismatchError (blockstore) - an inner node's bytes do not match its CID
 * @throws the codecs' decode errors of an inner node; `signal.reason`
 */
export async function countDag (store: Pick<Blockstore, 'get'>, root: CID, options: AbortOptions = {}): Promise<{ blocks: number, bytes: number }> {
  const { signal } = options
  const sized = typeof (store as Partial<SizedBlockstore>).size === 'function'
  const seen = new Set<string>()
  const stack: CID[] = [root]
  let blocks = 0
  let bytes = 0
  while (stack.length > 0) {
    signal?.throwIfAborted()
    const cid = stack.pop() as CID
    const key = cid.toString()
    if (seen.has(key)) continue
    seen.add(key)
    // raw leaves have no links: their size is all the count needs
    if (cid.code === raw.code && sized) {
      const size = await blockSize(store, cid, { signal })
      if (size === undefined) throw new BlockNotFoundError(`block ${cid} not found`, cid)
      blocks++
      bytes += size
      continue
    }
    const block = await getVerifiedBlock(store, cid, { signal })
    blocks++
    bytes += block.byteLength
    const children = links(cid, block)
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i])
  }
  return { blocks, bytes }
}

/**
 * Ask `peer` to fetch the DAG under `root` from us (spec/tensorswap.md §8): count the DAG
 * ({@link countDag}: inner nodes read and verified, raw leaves by stored size; a DAG we do not
 * hold whole is not offered), open
 * {@link PUSH_PROTOCOL} through `dialWithRetry`, send the request, serve the receiver's wants
 * with our running exchange, and wait for its answer.
 *
 * @throws PushRefusedError - the receiver refused (`.reason`)
 * @throws PushNoResponseError - it closed the stream without answering
 * @throws InvalidPushMessageError - its answer does not decode
 * @throws BlockNotFoundError (blockstore) - a block of the DAG is not stored here
 * @throws the dial's errors (`UnsupportedProtocolError` when the peer does not speak push); `signal.reason`
 */
export async function pushDag (components: { libp2p: Pick<Libp2p, 'dial'>, blockstore: Pick<Blockstore, 'get'> }, root: CID, options: PushOptions): Promise<PushResult> {
  const { signal } = options
  const started = performance.now()
  const { blocks, bytes } = await countDag(components.blockstore, root, { signal })
  options.onProgress?.(new CustomProgressEvent<PushAnnouncedDetail>('tensorswap:push:announced', { root, blocks, bytes }))
  const { conn, stream } = await dialWithRetry(async (o) => {
    const conn = await components.libp2p.dial(options.peer, o)
    return { conn, stream: await conn.newStream(PUSH_PROTOCOL, o) }
  }, {
    signal,
    target: `${String(options.peer)} ${PUSH_PROTOCOL}`,
    onLate: ({ stream }) => { stream.abort(new Error('abandoned dial')) }
  })
  const peer = conn.remotePeer
  let response: PushResponse | undefined
  try {
    await new FrameWriter(stream, { maxFrameBytes: DEFAULT_MAX_PUSH_FRAME_BYTES }).write(encodePushRequest({ root, bytes, blocks }), { signal })
    for await (const frame of readFrames(stream, { maxFrameBytes: DEFAULT_MAX_PUSH_FRAME_BYTES, signal })) {
      response = decodePushResponse(frame.subarray())
      break
    }
    await stream.close({ signal })
  } catch (err: any) {
    stream.abort(err)
    throw err
  }
  if (response == null) throw new PushNoResponseError(`${String(options.peer)} closed the push stream without an answer`)
  if (!response.ok) throw new PushRefusedError(response.reason)
  const seconds = (performance.now() - started) / 1000
  log('pushed %c to %p: %d blocks, %d bytes moved, %d there already, %d s', root, peer, response.blocks, response.bytes, response.blocksAlreadyThere, seconds)
  return {
    root,
    peer: peer.toString(),
    blocks: response.blocks,
    bytes: response.bytes,
    blocksAlreadyThere: response.blocksAlreadyThere,
    seconds,
    receiverSeconds: response.seconds,
    announced: { blocks, bytes }
  }
}

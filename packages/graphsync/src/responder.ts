/**
 * GraphSync 2.0.0 responder, without I/O: a request in, response messages out.
 *
 * {@link RequestResponder} runs the selector traversal of one request over a local block
 * loader and turns it into messages (GraphSync spec "Responder", go-graphsync
 * `responsemanager`): every link the traversal loads gets one metadata entry in traversal
 * order — `p` (present, its block is in the same message), `d` (present, not sent: the
 * requestor has it per `graphsync/do-not-send-cids` / `graphsync/do-not-send-first-blocks`,
 * or it was already sent in this request) or `m` (missing here; the traversal skips what is
 * under it). Intermediate messages carry status 14 (PartialResponse); the last one a terminal
 * status: 20 full, 21 partial (some link missing), 34 content not found (the root is
 * missing), 30 rejected (the selector or the traversal exceeds our limits), 32 failed (a bad
 * extension, a local store failure or corrupt local block), 35 cancelled.
 *
 * {@link ResponseManager} is the per-peer bookkeeping: concurrent request limits (31 busy),
 * duplicate ids, cancel and update routing. The libp2p driver owns streams and calls these.
 *
 * @module
 */
import { logger } from '@libp2p/logger'
import { CustomProgressEvent } from 'progress-events'
import { Traversal } from './traversal/traverse.js'
import {
  DEFAULT_MAX_DEDUP_CIDS, DEFAULT_MAX_REQUESTS, DEFAULT_MAX_REQUESTS_PER_PEER, DEFAULT_RESPONDER_MAX_BLOCKS,
  DEFAULT_RESPONDER_MAX_BYTES, DEFAULT_RESPONSE_FLUSH_BYTES, MAX_MESSAGE_SIZE, MAX_METADATA_PER_MESSAGE, RESPONSE_OVERHEAD_BYTES
} from './constants.js'
import { blockToWire, decodeDoNotSendCids, decodeDoNotSendFirstBlocks } from './message/codec.js'
import { Extension, LinkAction, RequestType, ResponseStatusCode } from './message/types.js'
import type { GraphSyncBlock, GraphSyncMessage, GraphSyncMetadatum, GraphSyncRequest, Extensions } from './message/types.js'
import type { TraversalBudgetInit } from './traversal/traverse.js'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent } from 'progress-events'

const log = logger('tensorswap:graphsync:responder')

/** Reads a block from the responder's local store; `undefined` when it is not there. */
export type ResponderBlockLoader = (cid: CID, options: { signal?: AbortSignal }) => Promise<Uint8Array | undefined>

/** Progress events of {@link RequestResponder.messages}. */
export type ResponderProgressEvents =
  ProgressEvent<'tensorswap:graphsync:respond:link', { cid: CID, action: LinkAction, bytes: number }> |
  ProgressEvent<'tensorswap:graphsync:respond:done', { status: ResponseStatusCode, blocksSent: number, bytesSent: number }>

/** Limits of one response. */
export interface ResponderInit {
  /** Traversal budgets. @default blocks {@link DEFAULT_RESPONDER_MAX_BLOCKS}, bytes {@link DEFAULT_RESPONDER_MAX_BYTES}, depth the traversal's default */
  budget?: TraversalBudgetInit
  /** Largest encoded message, bytes. @default {@link MAX_MESSAGE_SIZE} (4 MiB) */
  maxMessageSize?: number
  /** Flush a message once it holds this many block bytes. @default {@link DEFAULT_RESPONSE_FLUSH_BYTES} */
  flushBytes?: number
  /** CIDs remembered to send each block once per request. @default {@link DEFAULT_MAX_DEDUP_CIDS} */
  maxDedupCids?: number
}

/** Why a request was refused before traversal, or how it ended. */
export interface ResponseSummary {
  status: ResponseStatusCode
  /** Blocks sent (`p`). */
  blocksSent: number
  /** Block bytes sent. */
  bytesSent: number
  /** Links announced as `d` (not sent). */
  notSent: number
  /** Links announced as `m` (missing here). */
  missing: number
}

function key (cid: CID): string {
  return cid.multihash.bytes.join(',')
}

/** Estimated DAG-CBOR bytes of one metadata entry: link tag + CID bytes + action + tuple headers. */
function metadatumSize (cid: CID): number {
  return cid.bytes.byteLength + 12
}

/** Estimated DAG-CBOR bytes of one wire block: prefix + data + headers. */
function blockSize (blk: GraphSyncBlock): number {
  return blk.prefix.byteLength + blk.data.byteLength + 16
}

function responseMessage (requestId: Uint8Array, status: ResponseStatusCode, metadata: GraphSyncMetadatum[], blocks: GraphSyncBlock[], extensions?: Extensions): GraphSyncMessage {
  return {
    requests: [],
    responses: [{ requestId, status, ...(metadata.length > 0 ? { metadata } : {}), ...(extensions !== undefined ? { extensions } : {}) }],
    blocks
  }
}

/**
 * The response to one `n` (new) request. Create it, call {@link messages} once and send each
 * message it yields in order; {@link cancel} and {@link update} may be called meanwhile.
 */
export class RequestResponder {
  /** The request answered. */
  readonly request: GraphSyncRequest
  readonly #loader: ResponderBlockLoader
  readonly #init: ResponderInit
  readonly #controller = new AbortController()
  readonly #ignore = new Set<string>()
  #skipFirst = 0
  #extensionError: Error | undefined
  #started = false
  /** Set when {@link messages} has finished; its terminal status and counts. */
  summary: ResponseSummary | undefined

  /**
   * @param request - a decoded `n` request (root and selector present)
   * @param loader - reads local blocks
   * @param init - limits, see {@link ResponderInit}
   * @throws TypeError when `request` is not a new request with root and selector
   */
  constructor (request: GraphSyncRequest, loader: ResponderBlockLoader, init: ResponderInit = {}) {
    if (request.type !== RequestType.New || request.root === undefined || request.selector === undefined) {
      throw new TypeError('RequestResponder: a new request with root and selector is required')
    }
    this.request = request
    this.#loader = loader
    this.#init = init
    this.#applyExtensions(request.extensions)
  }

  /** Whether {@link cancel} was called. */
  get cancelled (): boolean {
    return this.#controller.signal.aborted
  }

  /** Stop the traversal; the next message yielded is the terminal 35 (RequestCancelled). */
  cancel (): void {
    this.#controller.abort()
  }

  /**
   * Apply an `u` (update) request: `graphsync/do-not-send-cids` entries are added to the set
   * of blocks not sent from now on. Other extensions are ignored. A malformed value ends the
   * response with 32 (RequestFailedUnknown), as go-graphsync does for bad extensions.
   */
  update (request: GraphSyncRequest): void {
    this.#applyExtensions(request.extensions, true)
  }

  #applyExtensions (ext: Extensions | undefined, isUpdate = false): void {
    if (ext === undefined) return
    try {
      if (Object.hasOwn(ext, Extension.DoNotSendCids)) {
        for (const cid of decodeDoNotSendCids(ext[Extension.DoNotSendCids])) this.#ignore.add(key(cid))
      }
      if (!isUpdate && Object.hasOwn(ext, Extension.DoNotSendFirstBlocks)) {
        this.#skipFirst = decodeDoNotSendFirstBlocks(ext[Extension.DoNotSendFirstBlocks])
      }
    } catch (err: any) {
      this.#extensionError = err
    }
  }

  /**
   * Traverse and yield the response messages, each at most `maxMessageSize` bytes encoded.
   * The last message carries the terminal status (also in {@link summary}). Never throws for
   * problems of the request or the local store: they become status codes. The caller's
   * `signal` aborting ends the response like {@link cancel} (35).
   */
  async * messages (options: { signal?: AbortSignal, onProgress?: (evt: ResponderProgressEvents) => void } = {}): AsyncGenerator<GraphSyncMessage, void, undefined> {
    if (this.#started) throw new TypeError('RequestResponder.messages: already called')
    this.#started = true
    const id = this.request.id
    const root = this.request.root as CID
    const signal = options.signal == null ? this.#controller.signal : AbortSignal.any([options.signal, this.#controller.signal])
    const maxMessageSize = this.#init.maxMessageSize ?? MAX_MESSAGE_SIZE
    const flushBytes = Math.min(this.#init.flushBytes ?? DEFAULT_RESPONSE_FLUSH_BYTES, maxMessageSize)
    const maxDedup = this.#init.maxDedupCids ?? DEFAULT_MAX_DEDUP_CIDS
    const summary: ResponseSummary = { status: ResponseStatusCode.RequestCompletedFull, blocksSent: 0, bytesSent: 0, notSent: 0, missing: 0 }
    const sent = new Set<string>()
    const finish = (status: ResponseStatusCode): GraphSyncMessage => {
      summary.status = status
      this.summary = summary
      log('request %s for %c: status %d, %d blocks (%d bytes) sent, %d not sent, %d missing', idHex(id), root, status, summary.blocksSent, summary.bytesSent, summary.notSent, summary.missing)
      options.onProgress?.(new CustomProgressEvent('tensorswap:graphsync:respond:done', { status, blocksSent: summary.blocksSent, bytesSent: summary.bytesSent }))
      return responseMessage(id, status, meta, blocks)
    }

    let meta: GraphSyncMetadatum[] = []
    let blocks: GraphSyncBlock[] = []
    let size = RESPONSE_OVERHEAD_BYTES
    let blockBytes = 0
    /** Messages ready to go out, filled by the loader (the traversal drives it). */
    const ready: GraphSyncMessage[] = []
    const flush = (): void => {
      ready.push(responseMessage(id, ResponseStatusCode.PartialResponse, meta, blocks))
      meta = []
      blocks = []
      size = RESPONSE_OVERHEAD_BYTES
      blockBytes = 0
    }
    let loads = 0
    let tooLarge: CID | undefined
    const loader = async (cid: CID): Promise<Uint8Array | null> => {
      const n = loads++
      const bytes = await this.#loader(cid, { signal })
      let action: LinkAction
      let wire: GraphSyncBlock | undefined
      if (bytes === undefined) {
        action = LinkAction.Missing
        summary.missing++
      } else if (n < this.#skipFirst || this.#ignore.has(key(cid)) || sent.has(key(cid))) {
        action = LinkAction.DuplicateNotSent
        summary.notSent++
        // the requestor holds a skipped-first block: a later repeat is not sent either
        if (n < this.#skipFirst && sent.size < maxDedup) sent.add(key(cid))
      } else {
        action = LinkAction.Present
        wire = blockToWire(cid, bytes)
        if (blockSize(wire) + metadatumSize(cid) + RESPONSE_OVERHEAD_BYTES > maxMessageSize) {
          tooLarge = cid
          throw new BlockTooLargeForMessage()
        }
        if (sent.size < maxDedup) sent.add(key(cid))
      }
      const add = metadatumSize(cid) + (wire === undefined ? 0 : blockSize(wire))
      if (size + add > maxMessageSize || meta.length >= MAX_METADATA_PER_MESSAGE) flush()
      meta.push({ link: cid, action })
      size += add
      if (wire !== undefined) {
        blocks.push(wire)
        blockBytes += wire.data.byteLength
        summary.blocksSent++
        summary.bytesSent += wire.data.byteLength
        if (blockBytes >= flushBytes) flush()
      }
      options.onProgress?.(new CustomProgressEvent('tensorswap:graphsync:respond:link', { cid, action, bytes: bytes?.byteLength ?? 0 }))
      return bytes ?? null
    }

    /** An identity link: `p` without a block (the requestor has it in the CID), as go-graphsync; counts as a load. */
    const onInlineLink = async (cid: CID): Promise<boolean> => {
      loads++
      if (size + metadatumSize(cid) > maxMessageSize || meta.length >= MAX_METADATA_PER_MESSAGE) flush()
      meta.push({ link: cid, action: LinkAction.Present })
      size += metadatumSize(cid)
      options.onProgress?.(new CustomProgressEvent('tensorswap:graphsync:respond:link', { cid, action: LinkAction.Present, bytes: 0 }))
      return true
    }

    if (this.#extensionError !== undefined) {
      log('request %s: bad extension - %e', idHex(id), this.#extensionError)
      yield finish(ResponseStatusCode.RequestFailedUnknown)
      return
    }
    const budget: TraversalBudgetInit = {
      ...this.#init.budget,
      blocks: this.#init.budget?.blocks ?? DEFAULT_RESPONDER_MAX_BLOCKS,
      bytes: this.#init.budget?.bytes ?? DEFAULT_RESPONDER_MAX_BYTES
    }
    const t = new Traversal(root, this.request.selector!, loader, {
      signal,
      budget,
      onInlineLink
    })
    let status: ResponseStatusCode
    try {
      while (true) {
        const evt = await t.step()
        while (ready.length > 0) {
          yield ready.shift() as GraphSyncMessage
          if (this.cancelled || options.signal?.aborted === true) break
        }
        if (evt === undefined) break
      }
      status = t.rootSkipped
        ? ResponseStatusCode.RequestFailedContentNotFound
        : summary.missing > 0 ? ResponseStatusCode.RequestCompletedPartial : ResponseStatusCode.RequestCompletedFull
    } catch (err: any) {
      status = statusForError(err, signal)
      if (status === ResponseStatusCode.RequestCancelled) {
        log('request %s cancelled', idHex(id))
      } else if (tooLarge !== undefined) {
        log('request %s: block %c does not fit a %d-byte message', idHex(id), tooLarge, maxMessageSize)
      } else {
        log('request %s for %c ended with %d - %e', idHex(id), root, status, err)
      }
    }
    while (ready.length > 0) yield ready.shift() as GraphSyncMessage
    yield finish(status)
  }
}

/** Thrown inside the loader when a block cannot fit any message; becomes status 32. */
class BlockTooLargeForMessage extends Error {
  override name = 'BlockTooLargeForMessage'
}

function statusForError (err: any, signal: AbortSignal): ResponseStatusCode {
  if (signal.aborted) return ResponseStatusCode.RequestCancelled
  switch (err?.name) {
    case 'TraversalBudgetError':
    case 'SelectorLimitError':
    case 'UnsupportedSelectorError':
    case 'InvalidSelectorError':
      return ResponseStatusCode.RequestRejected
    default:
      return ResponseStatusCode.RequestFailedUnknown
  }
}

/** Hex form of a request id, for logs and map keys. */
export function idHex (id: Uint8Array): string {
  let s = ''
  for (const b of id) s += b.toString(16).padStart(2, '0')
  return s
}

/** Options of {@link ResponseManager}. */
export interface ResponseManagerInit extends ResponderInit {
  /** Requests in progress per peer; more get 31. @default {@link DEFAULT_MAX_REQUESTS_PER_PEER} */
  maxRequestsPerPeer?: number
  /** Requests in progress in total; more get 31. @default {@link DEFAULT_MAX_REQUESTS} */
  maxRequests?: number
}

/** What the driver does with an incoming request. */
export type ResponderAction =
  /** Open a stream to the peer and send `responder.messages()`; call `finish` when done. */
  | { type: 'start', responder: RequestResponder }
  /** Send this one message (a terminal refusal) on a new stream. */
  | { type: 'reply', message: GraphSyncMessage }
  /** Nothing to send (a cancel or update was applied, or named an unknown request). */
  | { type: 'none' }

/**
 * Per-peer request bookkeeping for a responder (pure; no I/O). Peers are identified by any
 * string (the driver uses the peer id).
 */
export class ResponseManager {
  readonly #init: ResponseManagerInit
  readonly #peers = new Map<string, Map<string, RequestResponder>>()
  #active = 0

  /** @param init - limits, see {@link ResponseManagerInit} */
  constructor (init: ResponseManagerInit = {}) {
    this.#init = init
  }

  /** Requests in progress in total. */
  get active (): number {
    return this.#active
  }

  /** Requests in progress for `peer`. */
  activeFor (peer: string): number {
    return this.#peers.get(peer)?.size ?? 0
  }

  /**
   * Handle one decoded request from `peer`.
   *
   * - `n`: over a limit → reply 31 (busy); an id in progress → reply 30; else start.
   * - `c`: cancel the response in progress (it ends with 35); unknown ids are ignored.
   * - `u`: apply extensions to the response in progress; unknown ids are ignored.
   */
  receive (peer: string, request: GraphSyncRequest, loader: ResponderBlockLoader): ResponderAction {
    const id = idHex(request.id)
    const mine = this.#peers.get(peer)
    if (request.type === RequestType.Cancel) {
      mine?.get(id)?.cancel()
      return { type: 'none' }
    }
    if (request.type === RequestType.Update) {
      mine?.get(id)?.update(request)
      return { type: 'none' }
    }
    if (mine?.has(id) === true) {
      log('peer %s reused request id %s', peer, id)
      return { type: 'reply', message: responseMessage(request.id, ResponseStatusCode.RequestRejected, [], []) }
    }
    const perPeer = this.#init.maxRequestsPerPeer ?? DEFAULT_MAX_REQUESTS_PER_PEER
    const total = this.#init.maxRequests ?? DEFAULT_MAX_REQUESTS
    if ((mine?.size ?? 0) >= perPeer || this.#active >= total) {
      log('busy: peer %s has %d requests, %d in total', peer, mine?.size ?? 0, this.#active)
      return { type: 'reply', message: responseMessage(request.id, ResponseStatusCode.RequestFailedBusy, [], []) }
    }
    const responder = new RequestResponder(request, loader, this.#init)
    let m = mine
    if (m == null) {
      m = new Map()
      this.#peers.set(peer, m)
    }
    m.set(id, responder)
    this.#active++
    return { type: 'start', responder }
  }

  /** The driver finished sending (or gave up on) `responder`'s messages. */
  finish (peer: string, responder: RequestResponder): void {
    const m = this.#peers.get(peer)
    const id = idHex(responder.request.id)
    if (m?.get(id) !== responder) return
    m.delete(id)
    this.#active--
    if (m.size === 0) this.#peers.delete(peer)
  }

  /** Cancel every response in progress for `peer` (it disconnected). */
  cancelPeer (peer: string): void {
    for (const r of this.#peers.get(peer)?.values() ?? []) r.cancel()
  }

  /** Cancel every response in progress. */
  cancelAll (): void {
    for (const m of this.#peers.values()) for (const r of m.values()) r.cancel()
  }

  /** Check the bookkeeping (tests): counts agree, no empty peer entries. */
  assertInvariants (): void {
    let n = 0
    for (const [peer, m] of this.#peers) {
      if (m.size === 0) throw new Error(`ResponseManager: empty entry for ${peer}`)
      n += m.size
    }
    if (n !== this.#active) throw new Error(`ResponseManager: active ${this.#active} but ${n} entries`)
  }
}

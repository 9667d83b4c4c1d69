/**
 * GraphSync 2.0.0 requestor, without I/O: builds the request, then consumes the response
 * messages of that request and verifies them incrementally by running the same selector
 * traversal locally (GraphSync spec "Requestor"; go-graphsync `requestmanager` and its
 * reconciled loader).
 *
 * The traversal is the judge: each link it loads must be the next metadata entry the
 * responder sent, and a `p` (present) block must have arrived in a message that announced
 * it. A block is stored only after the traversal reached it and it hashed to its link (the
 * wire CID is computed from the data, and the traversal re-verifies before decoding); a block
 * no announcement accounts for, a corrupt block, or metadata that diverges from the
 * traversal fails the request with a typed error, and nothing of it is stored.
 *
 * Resume: before sending, the requestor walks the selector over its local store. The blocks
 * it already has at the start of the traversal order are announced with
 * `graphsync/do-not-send-first-blocks` (their count), the other ones it has with
 * `graphsync/do-not-send-cids`; the responder sends those as `d` and the traversal reads
 * them locally, so no block crosses the wire twice.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { CustomProgressEvent } from 'progress-events'
import { Traversal } from './traversal/traverse.js'
import { canonicalizeSelector } from './selector/parse.js'
import { DEFAULT_MAX_RESUME_CIDS, REQUEST_ID_LENGTH } from './constants.js'
import {
  BlockHashMismatchError, MissingBlockError, RequestFailedError, ResponseIncompleteError, UnsupportedSelectorError, TraversalMismatchError, UnexpectedBlockError
} from './errors.js'
import { encodeDoNotSendCids, encodeDoNotSendFirstBlocks } from './message/codec.js'
import { Extension, LinkAction, RequestType, ResponseStatusCode, isTerminalStatus } from './message/types.js'
import { idHex } from './responder.js'
import type { BlockProgressDetail } from './progress.js'
import type { Extensions, GraphSyncMetadatum, GraphSyncRequest, GraphSyncResponse } from './message/types.js'
import type { Selector } from './selector/types.js'
import type { LoadedBlock, TraversalBudgetInit, VisitEvent } from './traversal/traverse.js'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent } from 'progress-events'

const log = logger('tensorswap:graphsync:requestor')

/** The requestor's local store. `put` is only ever called with verified, reached blocks. */
export interface RequestorStore {
  has(cid: CID, options?: { signal?: AbortSignal }): Promise<boolean>
  /** The whole block; called only for blocks `has` reported. */
  get(cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array>
  put(cid: CID, bytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<unknown>
}

/**
 * One response for this request as received: the response entry and the blocks of its
 * message, each with the CID computed by hashing its data (`blockFromWire`).
 */
export interface ResponseEnvelope {
  response: GraphSyncResponse
  blocks: LoadedBlock[]
}

/** What {@link GraphSyncRequestor.run} yields. */
export type RequestorEvent =
  /** A node the local traversal visited (in traversal order). */
  | { type: 'visit', visit: VisitEvent }
  /** A block verified and stored (`source: 'network'`) or read from the local store (`'local'`). */
  | { type: 'block', cid: CID, bytes: number, source: 'network' | 'local' }

/** Detail of `tensorswap:graphsync:request:block`: a block stored from the network, or found locally. */
export type RequestBlockDetail = BlockProgressDetail & {
  from: 'network' | 'local'
  /** @deprecated the same as `from` (kept for existing consumers) */
  source: 'network' | 'local'
}

/** Progress events of the requestor. */
export type RequestorProgressEvents =
  ProgressEvent<'tensorswap:graphsync:request:block', RequestBlockDetail> |
  ProgressEvent<'tensorswap:graphsync:request:resume', { firstBlocks: number, cids: number }>

/** How a request ended (the return value of {@link GraphSyncRequestor.run}). */
export interface RequestResult {
  /** The terminal status the responder sent (20 or 21). */
  status: ResponseStatusCode
  /** True when every link the traversal reached was obtained (nothing missing). */
  complete: boolean
  /** Links the responder lacked (`m`) that are not local either; the traversal skipped them. At most 1024 listed. */
  missing: CID[]
  /** Number of missing links (may exceed `missing.length`). */
  missingCount: number
  /** Blocks received, verified and stored. */
  blocksReceived: number
  /** Bytes of those blocks. */
  bytesReceived: number
  /** Blocks the traversal read from the local store. */
  blocksLocal: number
}

/** Options of {@link GraphSyncRequestor}. */
export interface RequestorInit {
  root: CID
  /** The selector; it is canonicalised (ExploreFields in DAG-CBOR order) as the responder will see it. */
  selector: Selector
  store: RequestorStore
  /** 16-byte request id. @default random */
  id?: Uint8Array
  /** Request priority (int32). */
  priority?: number
  /** Walk the local store to announce blocks already held. @default true */
  resume?: boolean
  /** Most CIDs in `do-not-send-cids`. @default {@link DEFAULT_MAX_RESUME_CIDS} */
  maxResumeCids?: number
  /** Traversal budgets of the local traversal. @default the traversal's defaults */
  budget?: TraversalBudgetInit
  /** More request extensions. */
  extensions?: Extensions
}

const MAX_LISTED_MISSING = 1024

function key (cid: CID): string {
  return cid.multihash.bytes.join(',')
}

function prefixKey (cid: CID): string {
  return `${cid.version}/${cid.code}/${cid.multihash.code}/${cid.multihash.size}`
}

/** Where `sel` uses ExploreConditional, as a path of selector keys (`selector/R/:>/&`), or undefined. */
function findConditional (sel: Selector, at: string): string | undefined {
  switch (sel.kind) {
    case 'exploreConditional': return `${at}/&`
    case 'exploreFields':
      for (const [name, next] of sel.fields) {
        const found = findConditional(next, `${at}/f/f>/${name}`)
        if (found !== undefined) return found
      }
      return undefined
    case 'exploreAll': case 'exploreIndex': case 'exploreRange': case 'exploreInterpretAs':
      return findConditional(sel.next, `${at}/${SELECTOR_KEY[sel.kind]}/>`)
    case 'exploreRecursive': return findConditional(sel.sequence, `${at}/R/:>`)
    case 'exploreUnion':
      for (const [i, m] of sel.members.entries()) {
        const found = findConditional(m, `${at}/|/${i}`)
        if (found !== undefined) return found
      }
      return undefined
    default: return undefined
  }
}

const SELECTOR_KEY = { exploreAll: 'a', exploreIndex: 'i', exploreRange: 'r', exploreInterpretAs: '~' } as const

/**
 * The requestor side of one request. Call {@link request} (once) and send the message it
 * returns; then {@link run} with the responses received for this id.
 */
export class GraphSyncRequestor {
  readonly id: Uint8Array
  readonly root: CID
  readonly selector: Selector
  readonly #init: RequestorInit
  #requested = false

  /**
   * @throws TypeError for an id that is not 16 bytes
   * @throws UnsupportedSelectorError for a selector with ExploreConditional (`&`): go-ipld-prime
   *   does not parse it, so go-graphsync peers reject the request; it is refused before sending
   */
  constructor (init: RequestorInit) {
    this.id = init.id ?? new Uint8Array(randomBytes(REQUEST_ID_LENGTH))
    if (this.id.byteLength !== REQUEST_ID_LENGTH) throw new TypeError(`GraphSyncRequestor: id must be ${REQUEST_ID_LENGTH} bytes`)
    const conditional = findConditional(init.selector, 'selector')
    if (conditional !== undefined) {
      throw new UnsupportedSelectorError(`GraphSyncRequestor: ExploreConditional ("&") at ${conditional} is not sent: go-ipld-prime (go-graphsync) does not parse it, and such peers reject the whole request`)
    }
    this.root = init.root
    this.selector = canonicalizeSelector(init.selector)
    this.#init = init
  }

  /** The request id in hex (map keys, logs). */
  get idHex (): string {
    return idHex(this.id)
  }

  /**
   * Build the `n` request, with resume extensions computed from the local store (unless
   * `resume: false`).
   *
   * @throws whatever the local store throws; the traversal's errors for a corrupt local block
   */
  async request (options: { signal?: AbortSignal, onProgress?: (evt: RequestorProgressEvents) => void } = {}): Promise<GraphSyncRequest> {
    if (this.#requested) throw new TypeError('GraphSyncRequestor.request: already called')
    this.#requested = true
    const extensions: Extensions = { ...this.#init.extensions }
    if (this.#init.resume !== false) {
      const { firstBlocks, cids } = await this.#localState(options.signal)
      if (firstBlocks > 0) extensions[Extension.DoNotSendFirstBlocks] = encodeDoNotSendFirstBlocks(firstBlocks)
      if (cids.length > 0) extensions[Extension.DoNotSendCids] = encodeDoNotSendCids(cids)
      if (firstBlocks > 0 || cids.length > 0) {
        log('request %s resumes: first %d blocks local, %d more CIDs local', this.idHex, firstBlocks, cids.length)
        options.onProgress?.(new CustomProgressEvent('tensorswap:graphsync:request:resume', { firstBlocks, cids: cids.length }))
      }
    }
    return {
      id: this.id,
      type: RequestType.New,
      root: this.root,
      selector: this.selector,
      ...(this.#init.priority !== undefined ? { priority: this.#init.priority } : {}),
      ...(Object.keys(extensions).length > 0 ? { extensions } : {})
    }
  }

  /** The `c` request that cancels this one. */
  cancelRequest (): GraphSyncRequest {
    return { id: this.id, type: RequestType.Cancel }
  }

  /** Walk the selector over the local store: how many loads in order are local, and which other blocks are. */
  async #localState (signal?: AbortSignal): Promise<{ firstBlocks: number, cids: CID[] }> {
    const store = this.#init.store
    const max = this.#init.maxResumeCids ?? DEFAULT_MAX_RESUME_CIDS
    let loads = 0
    let firstBlocks = 0
    let prefix = true
    const cids: CID[] = []
    const seen = new Set<string>()
    const loader = async (cid: CID): Promise<Uint8Array | null> => {
      loads++
      const has = await store.has(cid, { signal })
      if (!has) {
        prefix = false
        return null
      }
      if (prefix) {
        firstBlocks = loads
      } else if (cids.length < max && !seen.has(key(cid))) {
        seen.add(key(cid))
        cids.push(cid)
      }
      return await store.get(cid, { signal })
    }
    // an identity link is a load the responder counts too, and always local
    const onInlineLink = async (): Promise<boolean> => {
      loads++
      if (prefix) firstBlocks = loads
      return true
    }
    const t = new Traversal(this.root, this.selector, loader, {
      ...(signal !== undefined ? { signal } : {}),
      ...(this.#init.budget !== undefined ? { budget: this.#init.budget } : {}),
      onInlineLink
    })
    while (await t.step() !== undefined) { /* walk */ }
    return { firstBlocks, cids }
  }

  /**
   * Consume the responses for this request (in arrival order) while traversing locally.
   * Yields a `visit` per visited node and a `block` per block obtained; stored blocks are
   * put before their event is yielded. Returns when the traversal and the response are both
   * complete.
   *
   * @returns the outcome; `complete: false` when the responder lacked blocks (status 21)
   * @throws UnexpectedBlockError - a block no outstanding `p` entry announced
   * @throws BlockHashMismatchError - a block whose data does not hash to the link announced for it
   * @throws TraversalMismatchError - metadata that does not follow our traversal (a block our traversal does not reach)
   * @throws MissingBlockError - a `p`/`d` block that neither arrived nor is local
   * @throws RequestFailedError - a 3x terminal status (`.status`)
   * @throws ResponseIncompleteError - the responses ended before a terminal status
   * @throws the traversal's errors (BlockDecodeError, TraversalBudgetError, ...), the store's, the signal's reason
   */
  async * run (responses: AsyncIterable<ResponseEnvelope>, options: { signal?: AbortSignal, onProgress?: (evt: RequestorProgressEvents) => void } = {}): AsyncGenerator<RequestorEvent, RequestResult, undefined> {
    const { signal } = options
    const store = this.#init.store
    const iterator = responses[Symbol.asyncIterator]()
    const queue: GraphSyncMetadatum[] = []
    let head = 0
    /** Blocks received and announced, not yet consumed by the traversal. */
    const received = new Map<string, LoadedBlock>()
    /** Announced `p` links whose block has not arrived yet (per message check). */
    let terminal: ResponseStatusCode | undefined
    const result: RequestResult = { status: ResponseStatusCode.RequestCompletedFull, complete: true, missing: [], missingCount: 0, blocksReceived: 0, bytesReceived: 0, blocksLocal: 0 }
    /** Blocks handed to the traversal by the loader in this step, and where they came from. */
    const sources = new Map<string, 'network' | 'local'>()

    const ingest = (env: ResponseEnvelope): void => {
      const r = env.response
      if (idHex(r.requestId) !== this.idHex) throw new TypeError(`GraphSyncRequestor.run: response for request ${idHex(r.requestId)} given to ${this.idHex}`)
      if (terminal !== undefined) {
        if (env.blocks.length > 0 || (r.metadata?.length ?? 0) > 0) throw new TraversalMismatchError(`request ${this.idHex}: response after terminal status ${terminal}`)
        return
      }
      const announced = new Map<string, CID>()
      for (let i = head; i < queue.length; i++) if (queue[i].action === LinkAction.Present) announced.set(key(queue[i].link), queue[i].link)
      for (const m of r.metadata ?? []) {
        queue.push(m)
        if (m.action === LinkAction.Present) announced.set(key(m.link), m.link)
      }
      for (const b of env.blocks) if (announced.has(key(b.cid))) received.set(key(b.cid), b)
      for (const b of env.blocks) {
        if (announced.has(key(b.cid))) continue
        // a block nobody announced: corrupt if an announced link of the same kind is still without its block
        const outstanding = [...announced.entries()].find(([k, c]) => !received.has(k) && prefixKey(c) === prefixKey(b.cid))
        if (outstanding !== undefined) {
          throw new BlockHashMismatchError(`request ${this.idHex}: a block of ${b.bytes.byteLength} bytes hashes to ${b.cid.toString()}, not to the announced ${outstanding[1].toString()}`)
        }
        throw new UnexpectedBlockError(`request ${this.idHex}: block ${b.cid.toString()} is not announced by the response metadata`, b.cid)
      }
      if (isTerminalStatus(r.status)) terminal = r.status
    }

    const pull = async (): Promise<boolean> => {
      signal?.throwIfAborted()
      const next = await iterator.next()
      signal?.throwIfAborted()
      if (next.done === true) return false
      ingest(next.value)
      return true
    }

    const nextEntry = async (): Promise<GraphSyncMetadatum | undefined> => {
      while (head >= queue.length) {
        if (terminal !== undefined) return undefined
        if (!await pull()) throw new ResponseIncompleteError(`request ${this.idHex}: responses ended without a terminal status`)
      }
      const m = queue[head++]
      if (head > 1024 && head * 2 > queue.length) {
        queue.splice(0, head)
        head = 0
      }
      return m
    }

    const local = async (cid: CID): Promise<Uint8Array | undefined> => {
      if (!await store.has(cid, { signal })) return undefined
      return await store.get(cid, { signal })
    }

    const loader = async (cid: CID, { path }: { path: string }): Promise<Uint8Array | null> => {
      const entry = await nextEntry()
      if (entry === undefined) {
        if (terminal !== undefined && !isSuccess(terminal)) throw failed(this.idHex, terminal)
        throw new TraversalMismatchError(`request ${this.idHex}: responder finished (status ${String(terminal)}) but our traversal reaches ${cid.toString()} at "${path}"`)
      }
      if (key(entry.link) !== key(cid) || entry.link.code !== cid.code) {
        throw new TraversalMismatchError(`request ${this.idHex}: responder lists ${entry.link.toString()} where our traversal reaches ${cid.toString()} at "${path}"`)
      }
      switch (entry.action) {
        case LinkAction.Present: {
          const b = received.get(key(cid))
          if (b !== undefined) {
            received.delete(key(cid))
            sources.set(key(cid), 'network')
            return b.bytes
          }
          const bytes = await local(cid)
          if (bytes === undefined) throw new MissingBlockError(`request ${this.idHex}: ${cid.toString()} at "${path}" announced present but its block did not arrive`)
          sources.set(key(cid), 'local')
          return bytes
        }
        case LinkAction.DuplicateNotSent: {
          const bytes = await local(cid)
          if (bytes === undefined) throw new MissingBlockError(`request ${this.idHex}: ${cid.toString()} at "${path}" not sent (d) but not in the local store`)
          sources.set(key(cid), 'local')
          return bytes
        }
        case LinkAction.Missing: {
          const bytes = await local(cid)
          if (bytes !== undefined) {
            sources.set(key(cid), 'local')
            return bytes
          }
          result.missingCount++
          if (result.missing.length < MAX_LISTED_MISSING) result.missing.push(cid)
          return null
        }
        default:
          // 's': the responder skipped a DAG it traversed earlier in this request; so do we
          return null
      }
    }

    /**
     * An identity link: the responder lists it (go-graphsync: `p`); the block is the CID's
     * digest, so no block is expected (one sent anyway is dropped) and nothing is stored.
     */
    const onInlineLink = async (cid: CID, { path }: { path: string }): Promise<boolean> => {
      const entry = await nextEntry()
      if (entry === undefined) {
        if (terminal !== undefined && !isSuccess(terminal)) throw failed(this.idHex, terminal)
        throw new TraversalMismatchError(`request ${this.idHex}: responder finished (status ${String(terminal)}) but our traversal reaches ${cid.toString()} at "${path}"`)
      }
      if (key(entry.link) !== key(cid) || entry.link.code !== cid.code) {
        throw new TraversalMismatchError(`request ${this.idHex}: responder lists ${entry.link.toString()} where our traversal reaches the identity link ${cid.toString()} at "${path}"`)
      }
      received.delete(key(cid))
      // 's': the responder skipped the subtree (traversed earlier in this request); so do we
      return entry.action !== LinkAction.DuplicateDAGSkipped
    }

    const t = new Traversal(this.root, this.selector, loader, {
      ...(signal !== undefined ? { signal } : {}),
      ...(this.#init.budget !== undefined ? { budget: this.#init.budget } : {}),
      onInlineLink
    })
    while (true) {
      const visit = await t.step()
      if (visit === undefined) break
      // the visit's block and those an ADL loaded for it (a UnixFS file's), in load order
      for (const block of [...(visit.block !== undefined ? [visit.block] : []), ...(visit.adlBlocks ?? [])]) {
        const { cid, bytes } = block
        const source = sources.get(key(cid))
        if (source === undefined) continue
        sources.delete(key(cid))
        if (source === 'network') {
          await store.put(cid, bytes, { signal })
          result.blocksReceived++
          result.bytesReceived += bytes.byteLength
        } else {
          result.blocksLocal++
        }
        options.onProgress?.(new CustomProgressEvent<RequestBlockDetail>('tensorswap:graphsync:request:block', { cid, bytes: bytes.byteLength, from: source, source }))
        yield { type: 'block', cid, bytes: bytes.byteLength, source }
      }
      sources.clear()
      yield { type: 'visit', visit }
    }
    // our traversal is done: the responder must be done too, with nothing left over
    while (terminal === undefined) {
      if (!await pull()) throw new ResponseIncompleteError(`request ${this.idHex}: responses ended without a terminal status`)
    }
    if (head < queue.length) {
      throw new TraversalMismatchError(`request ${this.idHex}: responder lists ${queue.length - head} links past the end of our traversal (next ${queue[head].link.toString()})`)
    }
    if (received.size > 0) {
      throw new UnexpectedBlockError(`request ${this.idHex}: ${received.size} blocks our traversal never reached (e.g. ${[...received.values()][0].cid.toString()})`)
    }
    if (!isSuccess(terminal)) throw failed(this.idHex, terminal)
    result.status = terminal
    result.complete = result.missingCount === 0
    log('request %s done: status %d, %d blocks received (%d bytes), %d local, %d missing', this.idHex, terminal, result.blocksReceived, result.bytesReceived, result.blocksLocal, result.missingCount)
    return result
  }
}

function isSuccess (status: ResponseStatusCode): boolean {
  return status >= 20 && status < 30
}

function failed (id: string, status: ResponseStatusCode): RequestFailedError {
  return new RequestFailedError(`request ${id}: responder ended with status ${status}`, status)
}

/**
 * A session fetches a whole DAG from a root CID: it walks the DAG as blocks arrive, keeps a
 * deep pipeline of wants (bounded in count and estimated bytes), stores every block only
 * after it was verified against its CID, and resumes: blocks already in the blockstore are
 * read locally (their links followed) and never asked for.
 *
 * This is the driver; the walk and the window are the pure {@link SessionCore} (order, window
 * and priorities are documented there). The driver checks the blockstore for each block the
 * core hands out, asks the exchange for the others, stores what arrives (puts bounded in count
 * and bytes, {@link BoundedQueue}) and reports the core's progress effects.
 *
 * Children: {@link linkChildren} by default (links in link order, `Tsize` hints for raw
 * leaves). TensorSwap fetches pass `manifestChildren` (`src/tensors/manifest-children.ts`),
 * which walks a manifest's tensor chunks first, in computation order.
 *
 * Progress deadline: the driver ticks the core's deadline on a timer (every
 * `progressTimeoutMs / 5`, at most every second) and carries out its effects: `recover` calls
 * {@link SessionComponents.recover} (the exchange redials the given peers and re-sends the
 * wants), `stalled` fails the session with {@link SessionComponents.stalledError}'s error
 * (`FetchStalledError`).
 *
 * Prompt redials: with {@link SessionComponents.watchCandidates} the driver feeds the core how
 * many candidate peers are connected; when none is while blocks are wanted, the core's
 * `redial` effects (back-off with jitter, bounded, timed by a one-shot timer at the core's
 * `nextWakeMs`) call {@link SessionComponents.redial}, without waiting for the deadline.
 *
 * Verification: the exchange matches a received block to a want by the multihash it computed
 * from the received bytes (`decodeMessage` rebuilds each CID by hashing), so bytes handed to
 * the session hash to the CID it asked for; the session stores them under that CID.
 *
 * @module
 */

import * as dagPb from '@ipld/dag-pb'
import { logger } from '@libp2p/logger'
import { links as blockLinks } from '@tensorswap/blockstore'
import { CustomProgressEvent } from 'progress-events'
import { BoundedQueue } from '@tensorswap/blockstore'
import { DEFAULT_FETCH_PROGRESS_TIMEOUT_MS, DEFAULT_MAX_BYTES_IN_FLIGHT, DEFAULT_MAX_CONCURRENT_PUTS, DEFAULT_MAX_PUT_BYTES_IN_FLIGHT, DEFAULT_MAX_WANTS_AHEAD } from './constants.js'
import { FetchStalledError } from './errors.js'
import { SessionCore } from './session-core.js'
import type { Child, SessionEffect, SessionResult, SessionVisit } from './session-core.js'
import type { AbortOptions } from '@libp2p/interface'
import type { BlockProgressDetail } from '@tensorswap/blockstore'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

export type { Child, SessionResult } from './session-core.js'

const log = logger('tensorswap:exchange:session')

const RAW = 0x55
const DAG_PB = 0x70

/** Returns the children of a verified block, in fetch order. */
export type ChildrenFn = (cid: CID, bytes: Uint8Array) => Child[]

/**
 * The generic {@link ChildrenFn}: dag-pb yields its links with `Tsize` as the hint for raw
 * leaves; everything else uses `links()` from `@tensorswap/blockstore` (raw: none; dag-cbor,
 * dag-json: every CID in the value).
 *
 * @throws the codec's decode error for a block that does not decode;
 *   `UnsupportedCodecError` for other codecs
 */
export function linkChildren (cid: CID, bytes: Uint8Array): Child[] {
  if (cid.code === RAW) return []
  if (cid.code === DAG_PB) {
    return dagPb.decode(bytes).Links.map(l => ({ cid: l.Hash, sizeHint: l.Hash.code === RAW ? l.Tsize : undefined }))
  }
  return blockLinks(cid, bytes).map(c => ({ cid: c }))
}

/** What a session needs from the exchange. */
export interface SessionComponents {
  blockstore: Blockstore
  /**
   * Fetch one block; resolves with bytes that hash to `cid` and the peer that sent them.
   * Rejects with `BlockUnavailableError` or `signal.reason`.
   */
  want(cid: CID, options: { session: number, priority: number, sizeHint?: number, signal: AbortSignal }): Promise<{ bytes: Uint8Array, peer: string }>
  /** Called after a fetched block is stored (the engine may serve it now). */
  onStored?(cid: CID): void
  /**
   * The progress deadline passed once (`attempt` from 1): redial the peers and re-send this
   * session's wants. Its rejection is logged; the deadline decides what happens next.
   * Absent: nothing is done and the next deadline fails the session.
   */
  recover?(attempt: number, signal: AbortSignal): Promise<void>
  /**
   * The error a stalled session fails with (no block for `idleMs`, ms, with `waiting` blocks
   * wanted). @default a `FetchStalledError` naming no peer
   */
  stalledError?(idleMs: number, waiting: number): Error
  /**
   * Subscribe to the number of this session's candidate peers connected (speaking an exchange
   * protocol): `listener` is called once at once with the current count, then on every
   * change. Returns the unsubscribe function. Absent: no prompt redials (the deadline only).
   */
  watchCandidates?(listener: (connected: number) => void): () => void
  /**
   * No candidate is connected while blocks are wanted (`attempt` from 1 since they were lost):
   * dial each given peer that is not connected, once, and re-send this session's wants. Its
   * rejection is logged; the core spaces the attempts and the deadline bounds them.
   */
  redial?(attempt: number, signal: AbortSignal): Promise<void>
}

/** Options of {@link Session}. */
export interface SessionInit {
  /** Session id (unique per exchange). */
  id: number
  /** Most blocks asked for and not yet stored. @default {@link DEFAULT_MAX_WANTS_AHEAD} */
  maxWantsAhead?: number
  /**
   * Most estimated bytes asked for and not yet stored (asked, received and waiting, being
   * written): the session's memory bound for block data. @default {@link DEFAULT_MAX_BYTES_IN_FLIGHT}
   */
  maxBytesAhead?: number
  /** @default {@link linkChildren} (the exchange and the node pass `manifestChildren`) */
  children?: ChildrenFn
  /** Blockstore puts in flight at once (each is a durable write). @default {@link DEFAULT_MAX_CONCURRENT_PUTS} */
  maxConcurrentPuts?: number
  /** Block bytes being written at once (one put is always allowed). @default {@link DEFAULT_MAX_PUT_BYTES_IN_FLIGHT} */
  maxPutBytes?: number
  /**
   * The progress deadline, ms: no block for this long while blocks are wanted triggers
   * `recover`, then (again) the failure (`Infinity` turns it off).
   * @default {@link DEFAULT_FETCH_PROGRESS_TIMEOUT_MS}
   */
  progressTimeoutMs?: number
  /** See `SessionCoreInit.priorityJitter` (swarm sessions). @default 0 */
  priorityJitter?: number
}

/**
 * Detail of `tensorswap:session:block`: the one block progress shape (`from: 'network'` with
 * the sender's `peer`, or `from: 'local'` for a block already in the blockstore).
 */
export type SessionBlockDetail = BlockProgressDetail

/** Progress events of a session. */
export type SessionProgressEvents =
  ProgressEvent<'tensorswap:session:block', SessionBlockDetail>

/**
 * Fetches one DAG. Create one per fetch; {@link Session.run} once.
 */
export class Session {
  /** The session id given in {@link SessionInit.id} (want-list refcounts are per session). */
  readonly id: number
  readonly #components: SessionComponents
  readonly #init: SessionInit
  readonly #children: ChildrenFn

  /**
   * @param components - see {@link SessionComponents}
   * @param init - see {@link SessionInit}
   */
  constructor (components: SessionComponents, init: SessionInit) {
    this.id = init.id
    this.#components = components
    this.#init = init
    this.#children = init.children ?? linkChildren
  }

  /**
   * Fetch the DAG under `root` into the blockstore.
   *
   * @param root - the root CID
   * @param options - `signal` aborts (outstanding wants are cancelled); `onProgress` receives
   *   `tensorswap:session:block` for every block stored or found locally
   * @returns counts of what was fetched and found
   * @throws `BlockUnavailableError` when a block cannot be fetched from any peer;
   *   `FetchStalledError` (or `stalledError`'s error) when the progress deadline passed after
   *   the recovery; the
   *   children function's errors for blocks that do not decode; blockstore errors;
   *   `signal.reason` on abort
   */
  async run (root: CID, options: AbortOptions & ProgressOptions<SessionProgressEvents> = {}): Promise<SessionResult> {
    options.signal?.throwIfAborted()
    const { blockstore } = this.#components
    const controller = new AbortController()
    const signal = options.signal == null ? controller.signal : AbortSignal.any([options.signal, controller.signal])
    const progressTimeoutMs = this.#init.progressTimeoutMs ?? DEFAULT_FETCH_PROGRESS_TIMEOUT_MS
    const core = new SessionCore(root, {
      maxWantsAhead: this.#init.maxWantsAhead ?? DEFAULT_MAX_WANTS_AHEAD,
      maxBytesAhead: this.#init.maxBytesAhead ?? DEFAULT_MAX_BYTES_IN_FLIGHT,
      progressTimeoutMs,
      startMs: Date.now(),
      priorityJitter: this.#init.priorityJitter
    })
    // a durable put (fsync) costs latency, not bandwidth: keep several in flight, bounded in
    // count and bytes (libuv runs 4 file operations at once; more queued puts only hold memory)
    const puts = new BoundedQueue({
      concurrency: this.#init.maxConcurrentPuts ?? DEFAULT_MAX_CONCURRENT_PUTS,
      maxBytes: this.#init.maxPutBytes ?? DEFAULT_MAX_PUT_BYTES_IN_FLIGHT
    })

    interface Done { key: string, cid: CID, bytes?: Uint8Array, peer?: string, error?: unknown }
    const completed: Done[] = []
    let wake: (() => void) | undefined
    const notify = (): void => { const w = wake; wake = undefined; w?.() }
    /** The first put or children failure, rethrown by the loop. */
    const failed: { failure?: { error: unknown } } = {}
    const throwIfFailed = (): void => { if (failed.failure != null) throw failed.failure.error }
    const apply = (effects: SessionEffect[]): void => {
      for (const e of effects) {
        if (e.type === 'progress') options.onProgress?.(new CustomProgressEvent<SessionBlockDetail>('tensorswap:session:block', e.detail))
        else if (e.type === 'failed') failed.failure ??= { error: e.error }
        else if (e.type === 'recover') {
          log('session %d: no block for %d ms (%d wanted), recovering (attempt %d)', this.id, e.idleMs, e.waiting, e.attempt)
          this.#components.recover?.(e.attempt, signal).catch((err: any) => { log('session %d: recovery failed - %e', this.id, err) })
        } else if (e.type === 'redial') {
          log('session %d: no candidate peer connected for %d ms (%d wanted), redialling (attempt %d)', this.id, e.lostMs, e.waiting, e.attempt)
          this.#components.redial?.(e.attempt, signal).catch((err: any) => { log('session %d: redial failed - %e', this.id, err) })
        } else if (e.type === 'stalled') {
          log('session %d: no block for %d ms (%d wanted) after recovering: stalled', this.id, e.idleMs, e.waiting)
          failed.failure ??= { error: this.#components.stalledError?.(e.idleMs, e.waiting) ?? new FetchStalledError(`no block arrived for ${Math.round(e.idleMs / 1000)} s; blocks already stored stay, a re-run resumes`, [], e.idleMs) }
          notify()
        }
      }
    }
    /** One-shot timer for the core's next prompt redial (the interval ticks the deadline). */
    let wakeTimer: ReturnType<typeof setTimeout> | undefined
    let wakeAtMs: number | undefined
    const tick = (): void => {
      apply(core.tick(Date.now()))
      armWake()
    }
    const armWake = (): void => {
      const at = core.nextWakeMs
      if (at === wakeAtMs) return
      clearTimeout(wakeTimer)
      wakeAtMs = at
      if (at == null) return
      wakeTimer = setTimeout(() => { wakeAtMs = undefined; tick() }, Math.max(0, at - Date.now()))
      wakeTimer.unref?.()
    }
    const ticker = Number.isFinite(progressTimeoutMs)
      ? setInterval(tick, Math.max(10, Math.min(1000, progressTimeoutMs / 5)))
      : undefined
    ticker?.unref?.()
    const unwatch = this.#components.watchCandidates?.((connected) => {
      core.candidates(connected, Date.now())
      armWake()
    })

    /** Every visit the window allows now (reserving its share). */
    const takeVisits = (): SessionVisit[] => {
      const visits: SessionVisit[] = []
      for (let v = core.next(); v != null; v = core.next()) visits.push(v)
      return visits
    }

    try {
      while (true) {
        // hand out wants while the window has room: every visit the window allows now is looked
        // up in the blockstore at once, and the missing ones are wanted together, in walk order,
        // so they leave in one want-list message (one `has` after another put each want in its
        // own event-loop turn, hence its own message: 42 messages for a 42-leaf push)
        for (let visits = takeVisits(); visits.length > 0; visits = takeVisits()) {
          signal.throwIfAborted()
          const present = await Promise.all(visits.map(async v => await blockstore.has(v.cid, { signal })))
          for (const [i, visit] of visits.entries()) {
            if (present[i] === true) {
              let bytes: Uint8Array | undefined
              let children: Child[] = []
              if (visit.cid.code !== RAW) {
                bytes = await readBlock(blockstore, visit.cid, signal)
                children = this.#children(visit.cid, bytes)
              }
              core.progress(Date.now())
              apply(core.local(visit.key, children, bytes?.byteLength))
              continue
            }
            const want = core.want(visit.key)
            this.#components.want(want.cid, { session: this.id, priority: want.priority, sizeHint: want.sizeHint, signal })
              .then(({ bytes, peer }) => { core.progress(Date.now()); completed.push({ key: want.key, cid: want.cid, bytes, peer }) }, (error) => { completed.push({ key: want.key, cid: want.cid, error }) })
              .finally(notify)
          }
        }
        throwIfFailed()
        if (core.state === 'done') break
        if (completed.length === 0) {
          // wakes on a block, a failed want or a finished put (which frees window)
          await new Promise<void>(resolve => { wake = resolve })
          continue
        }
        const done = completed.shift() as Done
        if (done.error != null) {
          apply(core.failed(done.key, done.error))
          throw done.error
        }
        const bytes = done.bytes as Uint8Array
        const { done: put } = await puts.run(bytes.byteLength, async () => { await blockstore.put(done.cid, bytes, { signal }) })
        throwIfFailed()
        put.then(() => {
          // the block's window share is released once it is on disk, not when it arrived:
          // the window bounds all block bytes the session holds
          core.progress(Date.now())
          const effects = core.stored(done.key)
          notify()
          this.#components.onStored?.(done.cid)
          log.trace('session %d stored %c (%d bytes) from %s', this.id, done.cid, bytes.byteLength, done.peer)
          apply(effects)
        }, (err: unknown) => {
          apply(core.failed(done.key, err))
          notify()
        })
        let children: Child[]
        try {
          children = this.#children(done.cid, bytes)
        } catch (err) {
          apply(core.failed(done.key, err))
          throw err
        }
        apply(core.arrived(done.key, children, bytes.byteLength, done.peer))
      }
      await puts.onIdle()
      throwIfFailed()
    } finally {
      clearInterval(ticker)
      clearTimeout(wakeTimer)
      unwatch?.()
      // cancels every want still outstanding (the exchange listens on the signal)
      controller.abort(new Error(`session ${this.id} finished`))
    }
    return core.result
  }
}

/**
 * Read a whole block from an interface-blockstore v7 store (which yields chunks).
 *
 * @throws the blockstore's `NotFoundError` when absent; `signal.reason`
 */
export async function readBlock (blockstore: Blockstore, cid: CID, signal?: AbortSignal): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let length = 0
  for await (const chunk of blockstore.get(cid, { signal })) {
    chunks.push(chunk)
    length += chunk.byteLength
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array
  const out = new Uint8Array(length)
  let offset = 0
  for (const c of chunks) {
    out.set(c, offset)
    offset += c.byteLength
  }
  return out
}

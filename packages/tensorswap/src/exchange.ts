/**
 * The exchange: Bitswap 1.2.0 / 1.1.0 and `/tensorswap/1.0.0` over libp2p, fetching (want-list
 * manager, peer selector, sessions) and serving (engine, debt ledger) at once.
 *
 * This class wires the pure state machines to the I/O driver ({@link Network}), owns the
 * timers (want timeouts, ledger flushes) and turns decoded messages into state changes:
 * blocks to waiting sessions (or penalties when unrequested), presences to the want-list,
 * want-lists to the engine, and the engine's batches into messages read from the blockstore.
 *
 * @module
 */

import { isPeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdOf } from './routing/config.js'
import { blockSize, canVerify, getVerifiedBlock, HASH_IDENTITY, UnsupportedHashError } from '@tensorswap/blockstore'
import { CustomProgressEvent } from 'progress-events'
import { dialWithRetry } from '@tensorswap/transport'
import { PROTOCOLS, DEFAULT_ENGINE_BATCH_MS, DEFAULT_ENGINE_BLOCKS_PER_BATCH, DEFAULT_ENGINE_CONCURRENCY, DEFAULT_ESTIMATED_BLOCK_BYTES, DEFAULT_FETCH_PROGRESS_TIMEOUT_MS, DEFAULT_SWARM_PRIORITY_JITTER, DEFAULT_FETCH_REDIAL_ATTEMPTS, DEFAULT_FETCH_REDIAL_BACKOFF_MS, DEFAULT_LEDGER_FLUSH_INTERVAL_MS, DEFAULT_SEND_STALL_MS, DEFAULT_TICK_INTERVAL_MS, sendTimeoutMs } from './constants.js'
import { Engine, blocksForLink } from './engine.js'
import { BlockUnavailableError, FetchStalledError, NoExchangeProtocolError, NotStartedError, PeerDialError } from './errors.js'
import { DebtLedger } from './ledger.js'
import { Network } from './network.js'
import { PeerSelector } from './peer-selector.js'
import { PenaltyBox } from './penalties.js'
import { PeerRateLimiter } from './rate-limit.js'
import { Session } from './session.js'
import { manifestChildren } from './tensors/manifest-children.js'
import { WantListManager } from './want-list.js'
import { supportsHave } from './wire/codec.js'
import { blockKey } from './wire/block-key.js'
import type { EngineInit, TaskOutcome, EngineBatch, EngineTask } from './engine.js'
import type { DebtLedgerInit, LedgerEntry } from './ledger.js'
import type { CompressionStats, NetworkInit, WireStats } from './network.js'
import type { PeerSelectorInit, PeerStats } from './peer-selector.js'
import type { Offence } from './penalties.js'
import type { RateLimitInit } from './rate-limit.js'
import type { ChildrenFn, SessionProgressEvents, SessionResult } from './session.js'
import type { SessionPeers } from './session-peers.js'
import type { TriedReason, WantListInit } from './want-list.js'
import type { BitswapMessage, Block, BlockPresence, DecodedMessage } from './wire/codec.js'
import type { AbortOptions, Connection, Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Blockstore } from 'interface-blockstore'
import type { Datastore } from 'interface-datastore'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

const log = logger('tensorswap:exchange:exchange')

/** What the exchange is built on. */
export interface ExchangeComponents {
  libp2p: Libp2p
  /** Where fetched blocks go and served blocks come from (a verifying blockstore). */
  blockstore: Blockstore
  /** Where the debt ledger persists (`/tensorswap/ledger/<peerId>`); optional. */
  datastore?: Datastore
  /** The node's identity key; enables bulk lanes (`bulk-lane.ts`). Optional. */
  privateKey?: PrivateKey
}

/** Options of {@link Exchange}; each part documents its defaults. */
export interface ExchangeInit extends NetworkInit, WantListInit, PeerSelectorInit, EngineInit, DebtLedgerInit {
  /**
   * Token bucket on a peer's inbound messages carrying a want-list (`rate-limit.ts`): over it the
   * want-list is dropped and the peer gets `rateLimited`.
   * @default ratePerSecond `DEFAULT_INBOUND_MESSAGES_PER_SECOND` (1000), burst `DEFAULT_INBOUND_MESSAGE_BURST` (2000)
   */
  inboundRateLimit?: RateLimitInit
  /** Engine batches in progress at once. @default {@link DEFAULT_ENGINE_CONCURRENCY} */
  engineConcurrency?: number
  /** A serving batch whose bytes the peer has not taken for this long is abandoned, ms (then `slowReader`). @default {@link DEFAULT_SEND_STALL_MS} */
  sendStallMs?: number
  /** Want timeout check interval, ms. @default {@link DEFAULT_TICK_INTERVAL_MS} */
  tickIntervalMs?: number
  /** Ledger flush interval, ms. @default {@link DEFAULT_LEDGER_FLUSH_INTERVAL_MS} */
  ledgerFlushIntervalMs?: number
  /** Session window: blocks asked for and not yet stored. @default {@link DEFAULT_MAX_WANTS_AHEAD} */
  maxWantsAhead?: number
  /** Children function for sessions. @default {@link manifestChildren} (manifest chunks first, then links) */
  children?: ChildrenFn
}

/** A given peer of {@link Exchange.fetch} that could not be dialled while others were. */
export interface DialFailedDetail {
  /** The address as given. */
  addr: string
  /** Why: a `PeerDialError` (its `cause` the last attempt's error). */
  error: Error
}

/**
 * Progress events of {@link Exchange.fetch}. `tensorswap:fetch:dial-failed`: a given peer could
 * not be dialled and the fetch goes on with the others (once per such peer, before the first want).
 */
export type FetchProgressEvents =
  | SessionProgressEvents
  | ProgressEvent<'tensorswap:session:unavailable', CID>
  | ProgressEvent<'tensorswap:fetch:dial-failed', DialFailedDetail>

/** Options of {@link Exchange.fetch}. */
export interface FetchOptions extends AbortOptions, ProgressOptions<FetchProgressEvents> {
  /**
   * Fetch only from these peers (multiaddrs are dialled first, all at once). One that cannot be
   * dialled while another can is left out (a `tensorswap:fetch:dial-failed` event; the redials
   * and the progress deadline still try it); when none can, the fetch fails with the first one's
   * `PeerDialError`.
   */
  peers?: Array<PeerId | Multiaddr | string>
  /**
   * Fail with `BlockUnavailableError` when every candidate peer answered that it has no valid
   * copy of a block (DONT_HAVE, or sent bytes that did not match); wants that merely timed out
   * are retried until the progress deadline. When false, keep retrying until `signal` aborts
   * or the deadline fails the fetch. @default true
   */
  failOnUnavailable?: boolean
  /**
   * The progress deadline, ms: when no block arrives from any peer for this long while blocks
   * are wanted, the given peers are redialled (with back-off) and the wants re-sent; when it
   * passes again with nothing, the fetch fails with `FetchStalledError`. `Infinity` turns it
   * off (then a want that timed out at every candidate fails with `BlockUnavailableError`).
   * spec/tensorswap.md section 4 "Progress deadline". @default {@link DEFAULT_FETCH_PROGRESS_TIMEOUT_MS}
   */
  progressTimeoutMs?: number
  /**
   * Run as a swarm session (spec/tensorswap.md §9 "Swarm sessions") over this growing peer set
   * instead of `peers`: at the start a want-have for the root goes to every connected peer, and
   * to every peer that connects while the fetch runs; those that answer HAVE (or with the block)
   * join the set as `connected`; peers the caller adds (the DHT search, `--peer`) join at once.
   * Each want is asked as a want-have of every session peer and given to a peer that said HAVE
   * (want-list module comment); priorities get {@link DEFAULT_SWARM_PRIORITY_JITTER}. A block
   * every session peer answered DONT_HAVE for waits (peers that get it later say HAVE) until the
   * progress deadline, rather than failing at once (`failOnUnavailable` defaults to false).
   */
  swarm?: SessionPeers
}

/** Options of {@link Exchange.want}. */
export interface WantBlockOptions extends AbortOptions {
  /** Wire priority. @default 1 */
  priority?: number
  /** Ask only these peers (peer id strings). */
  peers?: string[]
  /** @default true */
  failOnUnavailable?: boolean
}

/** Exchange statistics (a snapshot). */
export interface ExchangeStats {
  /** Wire bytes/messages per peer id and protocol. */
  wire: Record<string, Record<string, WireStats>>
  /** Block bytes per peer (the debt ledger). */
  ledger: Record<string, LedgerEntry>
  /** Peer selector view per connected peer. */
  peers: Record<string, PeerStats>
  blocksReceived: number
  /** Blocks received that nobody wanted any more (late duplicates). */
  duplicateBlocks: number
  /** Bytes of those duplicate blocks. */
  duplicateBytes: number
  /** Blocks received that were never requested (penalised). */
  unrequestedBlocks: number
  blocksSent: number
  wantlistSize: number
  /** Penalised peers: decayed score and, while banned, when the ban ends (epoch ms). */
  penalties: Record<string, { score: number, bannedUntilMs?: number }>
  /** Wire compression (spec/tensorswap.md §12): blocks compressed and inflated, link estimates. */
  compression: CompressionStats
}

interface Waiter {
  session: number
  resolve: (v: { bytes: Uint8Array, peer: string }) => void
  reject: (err: unknown) => void
  failOnUnavailable: boolean
  /** Also fail when some candidates only timed out (no progress deadline watches this want). */
  failOnTimeout: boolean
  onUnavailable?: (cid: CID) => void
}

/**
 * Fetches and serves blocks. See the module comment and spec/tensorswap.md.
 *
 * @example
 * ```ts
 * const exchange = createExchange({ libp2p, blockstore, datastore })
 * await exchange.start()
 * await exchange.fetch(root, { onProgress: evt => console.error(evt.type) })
 * await exchange.stop()
 * ```
 */
export class Exchange {
  readonly #libp2p: Libp2p
  readonly #blockstore: Blockstore
  readonly #datastore?: Datastore
  readonly #init: ExchangeInit
  /** Which connected peer to ask for each block (a *peer* selector, not an IPLD selector). */
  readonly peerSelector: PeerSelector
  /** The node-wide want-list (pure; fed by this class). */
  readonly wantList: WantListManager
  /** The serving side: per-peer want-lists and batches (pure). */
  readonly engine: Engine
  /** Inbound want-list messages per peer (see {@link ExchangeInit.inboundRateLimit}). */
  readonly inboundRate: PeerRateLimiter
  /** Bytes exchanged per peer and the serving strategy; persisted in the datastore. */
  readonly ledger: DebtLedger
  /** Penalty scores and bans per peer; GraphSync reports its offences here too. */
  readonly penalties: PenaltyBox
  /** The I/O driver; owns the connected peers (see {@link Network.peerId}). */
  readonly network: Network
  readonly #waiters = new Map<string, Waiter[]>()
  #sessionIds = 0
  #flushQueued = false
  #serving = 0
  /**
   * Per peer: settles when the send of its last batch handed out is over (or failed). A batch
   * is read at once but sent only after the peer's previous batch (engine batches per peer).
   */
  readonly #sendTurns = new Map<string, Promise<void>>()
  #tickTimer?: ReturnType<typeof setInterval>
  #ledgerTimer?: ReturnType<typeof setInterval>
  #running = false
  /** Aborted by {@link stop}: ends upload pacing waits. */
  #shutdown = new AbortController()
  #counters = { blocksReceived: 0, duplicateBlocks: 0, duplicateBytes: 0, unrequestedBlocks: 0, blocksSent: 0 }
  /** Running swarm sessions: their root, peer set and the peers sent the root want-have. */
  readonly #swarms = new Map<number, { root: CID, key: string, peers: SessionPeers, probed: Set<string> }>()
  /**
   * Peers (by id string) that refused every exchange protocol the last time we opened a stream
   * to them (`UnsupportedProtocolError`: libp2p, identify and ping, but no block exchange);
   * a peer leaves it when it speaks one after all ({@link #onPeerConnected}).
   */
  readonly #noExchange = new Set<string>()
  /** Exchange stream opens in progress for single-block wants from given peers (by peer id string): whether the peer refused. */
  readonly #opening = new Map<string, Promise<boolean>>()
  /** Sessions watching how many of their given peers are connected: each recounts when called. */
  readonly #candidateWatchers = new Set<() => void>()

  /**
   * @param components - see {@link ExchangeComponents}
   * @param init - see {@link ExchangeInit}
   */
  constructor (components: ExchangeComponents, init: ExchangeInit = {}) {
    this.#libp2p = components.libp2p
    this.#blockstore = components.blockstore
    this.#datastore = components.datastore
    this.#init = init
    this.peerSelector = new PeerSelector(init)
    this.wantList = new WantListManager(this.peerSelector, init)
    this.engine = new Engine(init)
    this.inboundRate = new PeerRateLimiter(init.inboundRateLimit)
    this.ledger = new DebtLedger(init)
    this.penalties = new PenaltyBox()
    this.network = new Network(this.#libp2p, {
      onMessage: (peer, protocol, message, bytes) => { this.#onMessage(peer, protocol, message, bytes) },
      onPeerConnected: (peer, protocol) => { this.#onPeerConnected(peer, protocol) },
      onPeerDeparting: (peer) => {
        this.wantList.peerDeparting(peer.toString())
        this.#scheduleFlush()
      },
      onPeerDisconnected: (peer) => { this.#onPeerDisconnected(peer) },
      onBadInput: (peer, err) => { this.#onBadInput(peer, err) },
      isBanned: (peer) => this.penalties.isBanned(peer.toString(), Date.now()),
      onBytes: (peer, bytes) => { this.peerSelector.onBytes(peer.toString(), bytes) }
    }, init, { privateKey: components.privateKey })
  }

  /** Whether started. */
  get running (): boolean { return this.#running }

  /**
   * Load the ledger, register the protocols, start the timers.
   */
  async start (options: AbortOptions = {}): Promise<void> {
    if (this.#running) return
    if (this.#datastore != null) await this.ledger.load(this.#datastore, options)
    this.#running = true
    this.#shutdown = new AbortController()
    await this.network.start(options)
    this.#tickTimer = setInterval(() => { this.#tick() }, this.#init.tickIntervalMs ?? DEFAULT_TICK_INTERVAL_MS)
    this.#tickTimer.unref?.()
    if (this.#datastore != null) {
      const ds = this.#datastore
      this.#ledgerTimer = setInterval(() => {
        this.ledger.flush(ds).catch((err: any) => { log.error('ledger flush failed - %e', err) })
      }, this.#init.ledgerFlushIntervalMs ?? DEFAULT_LEDGER_FLUSH_INTERVAL_MS)
      this.#ledgerTimer.unref?.()
    }
  }

  /**
   * Stop: reject every waiting want (`NotStartedError`), close streams (gracefully until
   * `signal` fires, then aborted), flush the ledger (always, not bounded by `signal`: it is a
   * local write and the debts must survive the restart).
   *
   * @throws the datastore's errors from the ledger flush
   */
  async stop (options: AbortOptions = {}): Promise<void> {
    if (!this.#running) return
    this.#running = false
    this.#shutdown.abort(new NotStartedError('exchange stopped'))
    clearInterval(this.#tickTimer)
    clearInterval(this.#ledgerTimer)
    for (const [, waiters] of this.#waiters) {
      for (const w of waiters) w.reject(new NotStartedError('exchange stopped'))
    }
    this.#waiters.clear()
    await this.network.stop(options)
    if (this.#datastore != null) await this.ledger.flush(this.#datastore)
  }

  /**
   * Fetch one block from peers. Resolves with bytes verified against `cid` (not stored). An
   * identity CID is answered locally from its digest and never asked for on the wire.
   *
   * @throws `NotStartedError`; `UnsupportedHashError` (a `BlockVerificationError`) when `cid`'s
   *   hash cannot be verified (`canVerify` of `@tensorswap/blockstore`);
   *   `BlockUnavailableError` (unless `failOnUnavailable: false`); `NoExchangeProtocolError`
   *   when `peers` are given, none speaks an exchange protocol with us yet, and every one of them
   *   refuses all of them when the stream is opened; `signal.reason`
   */
  async want (cid: CID, options: WantBlockOptions = {}): Promise<Uint8Array> {
    const { bytes } = await this.#want(cid, { session: ++this.#sessionIds, priority: options.priority ?? 1, signal: options.signal, peers: options.peers, failOnUnavailable: options.failOnUnavailable ?? true, failOnTimeout: true })
    return bytes
  }

  /**
   * Want one block for session `o.session`. `o.noExchangeError`, when given (a fetch from given
   * peers only), is the error to fail the want with at once when every given peer refuses every
   * exchange protocol; without it, only a want with no progress deadline (`failOnTimeout`) fails so.
   */
  #want (cid: CID, o: { session: number, priority: number, sizeHint?: number, signal?: AbortSignal, peers?: string[], failOnUnavailable: boolean, failOnTimeout: boolean, onUnavailable?: (cid: CID) => void, noExchangeError?: (cid: CID) => NoExchangeProtocolError }): Promise<{ bytes: Uint8Array, peer: string }> {
    if (!this.#running) return Promise.reject(new NotStartedError('exchange is not started'))
    // the block is its CID's digest (as Helia's IdentityBlockstore): never on the wire
    if (cid.multihash.code === HASH_IDENTITY) return Promise.resolve({ bytes: cid.multihash.digest, peer: this.#libp2p.peerId.toString() })
    if (!canVerify(cid.multihash.code, cid.multihash.digest.byteLength)) {
      return Promise.reject(new UnsupportedHashError(`CID ${cid}: hash function 0x${cid.multihash.code.toString(16)} (${cid.multihash.digest.byteLength}-byte digest) cannot be verified`, cid.multihash.code, cid))
    }
    if (o.signal?.aborted === true) return Promise.reject(o.signal.reason)
    const key = blockKey(cid)
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        session: o.session,
        failOnUnavailable: o.failOnUnavailable,
        failOnTimeout: o.failOnTimeout,
        onUnavailable: o.onUnavailable,
        resolve: (v) => { cleanup(); resolve(v) },
        reject: (err) => { cleanup(); reject(err) }
      }
      const onAbort = (): void => {
        this.#removeWaiter(key, waiter)
        this.wantList.cancel(cid, o.session)
        this.#scheduleFlush()
        reject(o.signal?.reason)
      }
      const cleanup = (): void => { o.signal?.removeEventListener('abort', onAbort) }
      o.signal?.addEventListener('abort', onAbort, { once: true })
      let list = this.#waiters.get(key)
      if (list == null) {
        list = []
        this.#waiters.set(key, list)
      }
      list.push(waiter)
      this.wantList.want(cid, o.session, { priority: o.priority, sizeHint: o.sizeHint, peers: o.peers, nowMs: Date.now() })
      this.#scheduleFlush()
      // a want from given peers only (a single block, or a fetch with no swarm), none of which
      // speaks an exchange protocol with us yet: open the stream now; when every one of them
      // refuses every exchange protocol, the want fails at once instead of waiting for a deadline
      const given = o.peers
      if ((o.failOnTimeout || o.noExchangeError != null) && given != null && given.length > 0 && !given.some(p => this.peerSelector.has(p))) {
        void Promise.all(given.map(async p => await this.#openExchange(p, o.signal))).then((refused) => {
          if (!refused.every(r => r) || !(this.#waiters.get(key) ?? []).includes(waiter)) return
          this.#removeWaiter(key, waiter)
          this.wantList.cancel(cid, o.session)
          this.#scheduleFlush()
          waiter.reject(o.noExchangeError?.(cid) ?? new NoExchangeProtocolError(`block ${cid}: ${given.join(', ')} ${given.length === 1 ? 'speaks' : 'speak'} no exchange protocol (${PROTOCOLS.join(', ')} refused); blocks already stored stay, a re-run resumes`, [...given], 0))
        }, (err: any) => { log.error('opening exchange streams for %c failed - %e', cid, err) })
      }
    })
  }

  /**
   * Open the exchange stream to the connected peer `peerKey` (by id string) if it has none yet,
   * at most one open per peer at a time, through `dialWithRetry` (`DEFAULT_DIAL_ATTEMPTS`
   * attempts: a node that just started may register its protocols a moment after it listens).
   * Nothing is dialled: a peer without a connection is left to the want-list.
   *
   * @returns whether this open ended with the peer refusing every exchange protocol (kept in
   *   {@link #noExchange}); false when it speaks one, is not connected, another error ended the
   *   open, or `signal` aborted first
   * @throws nothing (failures are logged)
   */
  async #openExchange (peerKey: string, signal?: AbortSignal): Promise<boolean> {
    if (this.peerSelector.has(peerKey)) return false
    const peer = this.network.peerId(peerKey) ?? this.#libp2p.getConnections().find(c => c.remotePeer.toString() === peerKey)?.remotePeer
    if (peer == null) return false
    let opening = this.#opening.get(peerKey)
    if (opening == null) {
      opening = dialWithRetry(async (o) => { await this.#connectExchange(peer, o.signal) }, { signal: this.#shutdown.signal, target: `${peerKey} exchange` })
        .then(() => false, (err: any) => {
          log('opening an exchange stream to %p failed - %e', peer, err)
          return err?.name === 'UnsupportedProtocolError'
        })
        .finally(() => { this.#opening.delete(peerKey) })
      this.#opening.set(peerKey, opening)
    }
    if (signal == null) return await opening
    let onAbort = (): void => {}
    const aborted = new Promise<boolean>(resolve => { onAbort = () => { resolve(false) } })
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      return await Promise.race([opening, aborted])
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  /**
   * `network.connect(peer)`, noting in {@link #noExchange} a peer that refuses every exchange
   * protocol (libp2p's `UnsupportedProtocolError`).
   *
   * @throws what `network.connect` throws
   */
  async #connectExchange (peer: PeerId, signal?: AbortSignal): Promise<void> {
    try {
      await this.network.connect(peer, { signal })
    } catch (err: any) {
      if (err?.name === 'UnsupportedProtocolError') this.#noExchange.add(peer.toString())
      throw err
    }
  }

  #removeWaiter (key: string, waiter: Waiter): void {
    const list = this.#waiters.get(key)
    if (list == null) return
    const i = list.indexOf(waiter)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) this.#waiters.delete(key)
  }

  /**
   * Fetch the DAG under `root` into the blockstore (see `Session`): DFS / computation order,
   * deep pipeline, resume from what is stored, fail-over between peers, and the progress
   * deadline (`progressTimeoutMs`: redial the given peers and re-send the wants once, then fail),
   * and prompt redials with back-off and jitter while none of the given peers (or, in a swarm session, none of its session peers) is connected
   * (spec/tensorswap.md section 4, "Prompt redial").
   *
   * @throws `NotStartedError`; `BlockUnavailableError` (every candidate answered it has no
   *   valid copy of a block; the message names the block and each peer's answer);
   *   `FetchStalledError` (no block within the deadline, twice; the message names the peers);
   *   `NoExchangeProtocolError` (a `FetchStalledError`: so, and every given peer refused every
   *   exchange protocol);
   *   `signal.reason`; `PeerDialError` (no given peer could be dialled: the first one's); blockstore and decode errors of the DAG's blocks
   */
  async fetch (root: CID, options: FetchOptions = {}): Promise<SessionResult> {
    if (!this.#running) throw new NotStartedError('exchange is not started')
    let peers: string[] | undefined
    if (options.peers != null) {
      // the given peers are dialled at once, not one after another (each dial is a round trip or
      // more, and a handshake's CPU). The fetch goes on with those reached; only when none is
      // does it fail, with the first one's error in the given order
      const targets = options.peers.map(p => typeof p === 'string' ? multiaddr(p) : p)
      const dials = await Promise.allSettled(targets.map(async p => isPeerId(p) ? p : (await this.#dial(p, options.signal)).remotePeer))
      options.signal?.throwIfAborted()
      const connected = dials.flatMap(d => d.status === 'fulfilled' ? [d.value] : [])
      if (connected.length === 0 && dials.length > 0) throw (dials[0] as PromiseRejectedResult).reason
      peers = dials.map((d, i) => {
        if (d.status === 'fulfilled') return d.value.toString()
        const addr = targets[i] as Multiaddr
        const error = d.reason as Error
        log('session: given peer %a not reached, fetching from the others - %e', addr, error)
        options.onProgress?.(new CustomProgressEvent<DialFailedDetail>('tensorswap:fetch:dial-failed', { addr: addr.toString(), error }))
        // its id when the address names one, so a redial that reaches it puts it to use
        return peerIdOf(addr) ?? addr.toString()
      })
      // do not wait for identify to learn what they speak: negotiate the exchange protocol now,
      // with every given peer before the first want (so one fast DONT_HAVE cannot fail a block
      // that a slower-to-connect peer has)
      const given = options.peers
      await Promise.all(connected.map((peer, i) => ({ peer, addr: given[i] })).filter(({ peer }) => !this.peerSelector.has(peer.toString())).map(async ({ peer, addr }) => {
        try {
          await this.#connectExchange(peer, options.signal)
        } catch (err: any) {
          options.signal?.throwIfAborted()
          log('opening an exchange stream to %p failed - %e', peer, err)
          // a connection that cannot open a stream (DEFAULT_STREAM_OPEN_TIMEOUT_MS) is no use:
          // dial the given address afresh, once
          if (addr == null || isPeerId(addr)) return
          try {
            await this.#libp2p.hangUp(peer, { signal: options.signal })
            await this.#dial(typeof addr === 'string' ? multiaddr(addr) : addr, options.signal)
            await this.#connectExchange(peer, options.signal)
          } catch (err2: any) {
            options.signal?.throwIfAborted()
            log('opening an exchange stream to %p failed again - %e', peer, err2)
          }
        }
      }))
    }
    const id = ++this.#sessionIds
    const progressTimeoutMs = options.progressTimeoutMs ?? DEFAULT_FETCH_PROGRESS_TIMEOUT_MS
    const given = options.peers ?? []
    const swarm = options.swarm
    /** The given peers' id strings, in `given`'s order (watched for prompt redials; a swarm session watches its session peers instead). */
    const givenKeys = swarm == null ? [...(peers ?? [])] : []
    let stopListening = (): void => {}
    if (swarm != null) {
      peers = undefined
      this.wantList.openSession(id, { broadcast: true })
      const state = { root, key: blockKey(root), peers: swarm, probed: new Set<string>() }
      this.#swarms.set(id, state)
      for (const [p] of swarm.entries()) this.wantList.addSessionPeer(id, p)
      stopListening = swarm.onAdded((p, source) => {
        log('session %d: %s joins (%s)', id, p, source)
        this.wantList.addSessionPeer(id, p)
        this.#scheduleFlush()
      })
      for (const p of this.peerSelector.peers()) this.#probe(id, p)
    }
    const session = new Session({
      blockstore: this.#blockstore,
      want: async (cid, o) => this.#want(cid, {
        ...o,
        peers,
        failOnUnavailable: options.failOnUnavailable ?? swarm == null,
        failOnTimeout: !Number.isFinite(progressTimeoutMs),
        // given peers only: one that speaks no exchange protocol fails the fetch at once
        ...(swarm == null && given.length > 0
          ? {
              noExchangeError: (cid: CID) => {
                const tried = given.map(p => p.toString())
                return new NoExchangeProtocolError(`fetch of ${root} failed at block ${cid}: ${tried.join(', ')} ${tried.length === 1 ? 'speaks' : 'speak'} no exchange protocol (${PROTOCOLS.join(', ')} refused); blocks already stored stay, a re-run resumes`, tried, 0)
              }
            }
          : {}),
        onUnavailable: (c) => { options.onProgress?.(new CustomProgressEvent<CID>('tensorswap:session:unavailable', c)) }
      }),
      onStored: (cid) => { this.#blockStored(cid) },
      recover: async (_attempt, signal) => { await this.#recover(id, swarm != null ? this.#swarmRedialTargets(swarm).targets : given, progressTimeoutMs, signal) },
      ...(givenKeys.length > 0 || swarm != null
        ? {
            watchCandidates: (listener: (connected: number) => void) => {
              let last: number | undefined
              const recount = (): void => {
                const keys = swarm != null ? swarm.entries().map(([p]) => p) : givenKeys
                const n = keys.filter(k => this.peerSelector.has(k)).length
                // a swarm session that has had no peer yet is waiting on routing, not lost
                if (n === last || (swarm != null && last == null && n === 0)) return
                last = n
                listener(n)
              }
              this.#candidateWatchers.add(recount)
              const stopAdded = swarm?.onAdded(recount)
              recount()
              return () => { this.#candidateWatchers.delete(recount); stopAdded?.() }
            },
            redial: async (attempt: number, signal: AbortSignal) => {
              const { targets, keys } = swarm != null ? this.#swarmRedialTargets(swarm) : { targets: given, keys: givenKeys }
              await this.#redial(id, targets, keys, attempt, signal)
            }
          }
        : {}),
      stalledError: (idleMs, waiting) => {
        const tried = given.length > 0 ? given.map(p => p.toString()) : this.peerSelector.peers()
        const refused = givenKeys.filter(k => this.#noExchange.has(k))
        if (givenKeys.length > 0 && refused.length === givenKeys.length) {
          return new NoExchangeProtocolError(`fetch of ${root} failed: ${tried.join(', ')} ${tried.length === 1 ? 'speaks' : 'speak'} no exchange protocol (${PROTOCOLS.join(', ')} refused), also after redialling for ${Math.round(idleMs / 1000)} s (${waiting} blocks wanted); blocks already stored stay, a re-run resumes`, tried, idleMs)
        }
        const names = tried.length > 0 ? tried.map((t, i) => refused.includes(givenKeys[i] as string) ? `${t} (speaks no exchange protocol)` : t).join(', ') : 'no peer (none connected)'
        return new FetchStalledError(`fetch of ${root} stalled: no block arrived for ${Math.round(idleMs / 1000)} s from ${names}, also after redialling (${waiting} blocks wanted); blocks already stored stay, a re-run resumes`, tried, idleMs)
      }
    }, { id, maxWantsAhead: this.#init.maxWantsAhead, maxBytesAhead: this.#init.maxBytesInFlight, children: this.#init.children ?? manifestChildren, progressTimeoutMs, priorityJitter: swarm != null ? DEFAULT_SWARM_PRIORITY_JITTER : 0 })
    try {
      return await session.run(root, options)
    } finally {
      stopListening()
      this.wantList.cancelSession(id)
      this.wantList.closeSession(id)
      const state = this.#swarms.get(id)
      this.#swarms.delete(id)
      // the root want-haves wait at peers that lacked the root: cancel them
      for (const p of state?.probed ?? []) {
        const peer = this.#peerId(p)
        if (peer == null) continue
        this.network.send(peer, { wantlist: { full: false, entries: [{ cid: root, priority: 0, cancel: true, wantType: 'have', sendDontHave: false }] }, blocks: [], presences: [], pendingBytes: 0 }, 'control')
          .catch((err: any) => { log('cancelling the root want-have at %p failed - %e', peer, err) })
      }
      this.#scheduleFlush()
    }
  }

  /**
   * Send swarm session `id`'s root want-have to `peer` (once per peer and session; not to
   * session peers, nor to peers that cannot answer a want-have). Its HAVE, or the block, makes
   * it a session peer (`connected`); a DONT_HAVE leaves the want-have waiting at the peer, which
   * says HAVE once it stores the root (a leecher that fetched the manifest).
   */
  #probe (id: number, peerKey: string): void {
    const state = this.#swarms.get(id)
    if (state == null || state.peers.has(peerKey) || state.probed.has(peerKey) || !this.peerSelector.supportsHave(peerKey)) return
    const peer = this.#peerId(peerKey)
    if (peer == null) return
    state.probed.add(peerKey)
    this.network.send(peer, { wantlist: { full: false, entries: [{ cid: state.root, priority: SESSION_PROBE_PRIORITY, cancel: false, wantType: 'have', sendDontHave: true }] }, blocks: [], presences: [], pendingBytes: 0 }, 'control')
      .catch((err: any) => {
        state.probed.delete(peerKey)
        log('root want-have to %p failed - %e', peer, err)
      })
  }

  /** `peer` answered a root want-have of some swarm session with HAVE or the block: it joins those sessions. */
  #probeAnswered (peerKey: string, key: string): boolean {
    let matched = false
    for (const state of this.#swarms.values()) {
      if (state.key !== key || !state.probed.has(peerKey)) continue
      matched = true
      state.peers.add(peerKey, 'connected')
    }
    return matched
  }

  /**
   * Recover a stalled session (its progress deadline passed): re-send its wants at once, and
   * redial each given peer that has an address (hang up first: a connection that carried
   * nothing for the deadline is not trusted), through `dialWithRetry` with back-off
   * ({@link DEFAULT_FETCH_REDIAL_BACKOFF_MS} doubling, at most {@link DEFAULT_FETCH_REDIAL_ATTEMPTS}
   * attempts) until it answers or `timeoutMs` (the next deadline) ends; re-send the wants
   * again after each peer that came back. Peers given by id only are dialled by id.
   *
   * @throws nothing of a dial (logged; the deadline decides); `signal.reason` is swallowed too
   */
  async #recover (session: number, given: Array<PeerId | Multiaddr | string>, timeoutMs: number, signal: AbortSignal): Promise<void> {
    log('session %d: want-list before recovering: %o', session, this.wantList.summary())
    const retry = (): void => {
      this.wantList.retrySession(session)
      this.#scheduleFlush()
    }
    retry()
    const bounded = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
    await Promise.all(given.map(async (p) => {
      const target = isPeerId(p) ? p : typeof p === 'string' ? multiaddr(p) : p
      try {
        const known = isPeerId(p) ? p : this.#peerOfAddr(target as Multiaddr)
        if (known != null && !isPeerId(p)) await this.#libp2p.hangUp(known, { signal: bounded })
        const conn = await dialWithRetry(async (o) => await this.#libp2p.dial(target, o), {
          signal: bounded, target, attempts: DEFAULT_FETCH_REDIAL_ATTEMPTS, backoffMs: DEFAULT_FETCH_REDIAL_BACKOFF_MS
        })
        await this.#connectExchange(conn.remotePeer, bounded)
        log('session %d: redialled %s', session, String(target))
        retry()
      } catch (err: any) {
        log('session %d: redialling %s failed - %e', session, String(target), err)
      }
    }))
  }

  /**
   * A prompt redial of session `session` (`attempt` from 1; the session core spaces them with
   * back-off and jitter): none of its given peers is connected. Each given peer that is not
   * (`keys[i]` is `given[i]`'s id string) is dialled once (one `dialWithRetry` attempt, time-boxed
   * as every dial) and its exchange stream opened; the session's wants are re-sent after each
   * peer that came back (the want-list also re-assigns them when the peer connects).
   *
   * @throws nothing of a dial (logged; the core's next redial or the deadline decide)
   */
  async #redial (session: number, given: Array<PeerId | Multiaddr | string>, keys: string[], attempt: number, signal: AbortSignal): Promise<void> {
    await Promise.all(given.map(async (p, i) => {
      if (this.peerSelector.has(keys[i] as string)) return
      const target = isPeerId(p) ? p : typeof p === 'string' ? multiaddr(p) : p
      try {
        const conn = await dialWithRetry(async (o) => await this.#libp2p.dial(target, o), { signal, target, attempts: 1 })
        await this.#connectExchange(conn.remotePeer, signal)
        log('session %d: redialled %s (prompt redial %d)', session, String(target), attempt)
        this.wantList.retrySession(session)
        this.#scheduleFlush()
      } catch (err: any) {
        log('session %d: prompt redial %d of %s failed - %e', session, attempt, String(target), err)
      }
    }))
  }

  /**
   * What a swarm session redials (prompt redial, recovery): its peers found so far that are not
   * in the exchange now and not banned, by peer id (libp2p dials them at the addresses its peer
   * store holds: those the DHT, identify or the user gave). `keys[i]` is `targets[i]` as a string.
   */
  #swarmRedialTargets (swarm: SessionPeers): { targets: PeerId[], keys: string[] } {
    const now = Date.now()
    const keys = swarm.entries().map(([p]) => p).filter(k => !this.peerSelector.has(k) && !this.penalties.isBanned(k, now))
    return { targets: keys.map(k => peerIdFromString(k)), keys }
  }

  /** The peer id a multiaddr ends in (`/p2p/<id>`), if any. */
  #peerOfAddr (addr: Multiaddr): PeerId | undefined {
    const id = peerIdOf(addr)
    if (id == null) return undefined
    return this.network.peerId(id) ?? this.#libp2p.getConnections().find(c => c.remotePeer.toString() === id)?.remotePeer
  }

  /**
   * Dial `addr` through `dialWithRetry` (`@tensorswap/transport`): each attempt time-boxed to
   * DEFAULT_DIAL_ATTEMPT_TIMEOUT_MS, DEFAULT_DIAL_ATTEMPTS attempts with back-off. A QUIC
   * connect to a node that was hanging up on another peer at that moment was seen never to
   * complete (test/exchange/hostile.test.ts); the helper abandons it and a new attempt gets a
   * new connection.
   *
   * @throws PeerDialError - every attempt failed (naming `addr`; the last attempt's error, e.g.
   *   `TimeoutError`, as its `cause`); `signal.reason`
   */
  async #dial (addr: Multiaddr, signal?: AbortSignal): Promise<Connection> {
    try {
      return await dialWithRetry(async (o) => await this.#libp2p.dial(addr, o), { signal, target: addr })
    } catch (err) {
      signal?.throwIfAborted()
      throw new PeerDialError(addr.toString(), err)
    }
  }

  /**
   * Tell the exchange a block was added to the blockstore by someone else (e.g. an import), so
   * peers that asked for it are served.
   */
  notifyNewBlock (cid: CID): void {
    this.#blockStored(cid)
  }

  /** A snapshot of the statistics. */
  stats (): ExchangeStats {
    const wire: ExchangeStats['wire'] = {}
    for (const [peer, m] of this.network.stats()) wire[peer] = Object.fromEntries(m)
    const ledger: ExchangeStats['ledger'] = {}
    for (const peer of this.ledger.peers()) ledger[peer] = this.ledger.get(peer)
    const peers: ExchangeStats['peers'] = {}
    for (const peer of this.peerSelector.peers()) peers[peer] = this.peerSelector.stats(peer) as PeerStats
    return { wire, ledger, peers, ...this.#counters, wantlistSize: this.wantList.size, penalties: this.penalties.snapshot(Date.now()), compression: this.network.compressionStats() }
  }

  #blockStored (cid: CID): void {
    if (this.engine.blockAdded(cid).length > 0) this.#serve()
  }

  #scheduleFlush (): void {
    if (this.#flushQueued) return
    this.#flushQueued = true
    // once per turn of the event loop, not per microtask: a session hands out its wants with an
    // `await blockstore.has()` between each, and a microtask flush sent one want-list message
    // per want (2,900 messages for the 4,995 blocks of the human-models set, over a seeder's
    // inbound message limit; bench/README.md, "The model-shaped store")
    setImmediate(() => {
      this.#flushQueued = false
      this.#flush()
    })
  }

  #flush (): void {
    if (!this.#running) return
    for (const effect of this.wantList.flush(Date.now())) {
      if (effect.type === 'send') {
        const peer = this.#peerId(effect.peer)
        if (peer == null) continue
        const message: BitswapMessage = { wantlist: { full: false, entries: effect.entries }, blocks: [], presences: [], pendingBytes: 0 }
        for (const e of effect.entries) if (!e.cancel && e.wantType === 'block') log.trace('want-block %c to %p', e.cid, peer)
        this.network.send(peer, message, 'control').catch((err: any) => {
          // the want times out and fails over; a dead peer is reported by the registrar
          log('sending want-list to %p failed - %e', peer, err)
        })
      } else {
        const waiters = [...(this.#waiters.get(effect.key) ?? [])]
        let failed = false
        for (const w of waiters) {
          w.onUnavailable?.(effect.cid)
          if (w.failOnUnavailable && (effect.definitive || w.failOnTimeout)) {
            failed = true
            this.#removeWaiter(effect.key, w)
            this.wantList.cancel(effect.cid, w.session)
            w.reject(new BlockUnavailableError(unavailableMessage(effect.cid, effect.reasons), effect.cid))
          }
        }
        if (failed) this.#scheduleFlush()
      }
    }
  }

  #tick (): void {
    for (const t of this.wantList.tick(Date.now())) {
      if (t.why === 'unproven') log('want %c at %s given up after %d ms (unproven timeout, now %d ms), asking elsewhere', t.cid, t.peer, t.waitedMs, Math.round(this.wantList.unprovenTimeoutMs()))
      else log('want %c at %s given up after %d ms (%s timeout), asking elsewhere', t.cid, t.peer, t.waitedMs, t.why)
    }
    this.#flush()
  }

  /**
   * Score an offence of `peer` in {@link penalties} (spec/tensorswap.md §5); when that bans the
   * peer, it leaves the exchange's state and is hung up on. For offences found outside the
   * exchange (GraphSync's, wired by the node).
   *
   * @param count - how many offences of that kind (points = weight x count)
   * @returns whether this banned the peer
   */
  penalize (peer: PeerId, offence: Offence, count = 1): boolean {
    return this.#penalize(peer, offence, count)
  }

  #penalize (peer: PeerId, offence: Offence, count = 1): boolean {
    if (!this.penalties.penalize(peer.toString(), offence, Date.now(), count)) return false
    log('peer %p banned after %s', peer, offence)
    this.#onPeerDisconnected(peer)
    this.network.hangUp(peer).catch((err: any) => { log('hang up on %p failed - %e', peer, err) })
    return true
  }

  /**
   * The `PeerId` of a peer the exchange works with, by its string: known to the peer selector
   * (connected, speaking an exchange protocol, not banned; added and removed only by
   * {@link #onPeerConnected} / {@link #onPeerDisconnected}) and still reported by the network
   * (which owns the connected peers and their ids).
   */
  #peerId (key: string): PeerId | undefined {
    return this.peerSelector.has(key) ? this.network.peerId(key) : undefined
  }

  #onPeerConnected (peer: PeerId, protocol: string): void {
    const key = peer.toString()
    if (this.penalties.isBanned(key, Date.now())) return
    this.wantList.peerConnected(key, supportsHave(protocol), Date.now())
    this.#noExchange.delete(key)
    log('peer %p speaks %s', peer, protocol)
    for (const id of this.#swarms.keys()) this.#probe(id, key)
    for (const recount of this.#candidateWatchers) recount()
    this.#scheduleFlush()
  }

  /**
   * The one path by which a peer leaves the exchange's per-peer state (disconnect, ban): the
   * want-list fails its wants over and the selector forgets it; the engine drops its want-list.
   * The debt ledger keeps its numbers (they outlive connections by design) and the network
   * drops its own per-peer state before it calls this.
   */
  #onPeerDisconnected (peer: PeerId): void {
    const key = peer.toString()
    this.wantList.peerDisconnected(key)
    this.engine.peerDisconnected(key)
    for (const state of this.#swarms.values()) state.probed.delete(key)
    this.inboundRate.forget(key)
    for (const recount of this.#candidateWatchers) recount()
    this.#scheduleFlush()
  }

  #onBadInput (peer: PeerId, err: Error): void {
    const offence: Offence = err.name === 'MessageTooLargeError' || err.name === 'FrameTooLargeError'
      ? 'oversized'
      : err.name === 'TooManyStreamsError' ? 'tooManyStreams' : 'malformed'
    this.#penalize(peer, offence)
  }

  #onMessage (peer: PeerId, protocol: string, message: DecodedMessage, _bytes: number): void {
    const key = peer.toString()
    const now = Date.now()
    if (!this.peerSelector.has(key)) {
      // inbound stream before the registrar told us (identify pending): the network reported
      // the protocol already, so this only happens for banned-then-forgiven peers
      this.#onPeerConnected(peer, protocol)
    }
    let bytes = 0
    let blocks = 0
    for (const block of message.blocks) {
      const res = this.wantList.blockReceived(block.cid, key, block.bytes.byteLength, now)
      if (res.wanted) {
        log.trace('block %c from %p (%d bytes)', block.cid, peer, block.bytes.byteLength)
        blocks++
        bytes += block.bytes.byteLength
        this.#counters.blocksReceived++
        const waiters = this.#waiters.get(blockKey(block.cid)) ?? []
        this.#waiters.delete(blockKey(block.cid))
        for (const w of waiters) w.resolve({ bytes: block.bytes, peer: key })
        this.#probeAnswered(key, blockKey(block.cid))
      } else if (res.recent) {
        log.trace('late duplicate %c from %p (%d bytes)', block.cid, peer, block.bytes.byteLength)
        this.#counters.duplicateBlocks++
        this.#counters.duplicateBytes += block.bytes.byteLength
        this.#probeAnswered(key, blockKey(block.cid))
      } else if (this.#probeAnswered(key, blockKey(block.cid))) {
        // a small root answers a want-have with the block itself (Bitswap 1.2.0 MAY): not unrequested
        this.#counters.duplicateBlocks++
        this.#counters.duplicateBytes += block.bytes.byteLength
      } else {
        this.#counters.unrequestedBlocks++
        if (res.mismatch != null) log('block %c from %p: its bytes do not match (they hash to %c); asking elsewhere', res.mismatch, peer, block.cid)
        else log('unrequested block %c from %p dropped', block.cid, peer)
        if (res.moved != null) log('%p never delivered a block and sent junk: its %d wants asked elsewhere', peer, res.moved)
        this.#penalize(peer, 'unrequestedBlock')
      }
    }
    if (message.unverifiableBlocks > 0) this.#penalize(peer, 'unverifiableBlock', message.unverifiableBlocks)
    if (blocks > 0) this.ledger.recordReceived(key, bytes, blocks, now)
    for (const p of message.presences) {
      log.trace('%s %c from %p', p.type, p.cid, peer)
      this.wantList.presence(p.cid, key, p.type, now)
      if (p.type === 'have') this.#probeAnswered(key, blockKey(p.cid))
    }
    if (message.wantlist != null && !this.inboundRate.take(key, now)) {
      // over the per-peer message rate: the want-list is dropped (blocks and presences above
      // answer our own wants and are kept); a flood adds up to a ban (spec/tensorswap.md §3)
      log('want-list from %p dropped: over %d messages/s (burst %d)', peer, this.inboundRate.ratePerSecond, this.inboundRate.burst)
      this.#penalize(peer, 'rateLimited')
    } else if (message.wantlist != null) {
      const r = this.engine.messageReceived(key, message.wantlist)
      if (message.truncatedWants > 0 || r.overflow > 0) {
        // truncated, not refused: only repeated floods add up to a ban (spec/tensorswap.md §5)
        log('want-list from %p: %d entries over the per-message cap and %d over the per-peer cap dropped', peer, message.truncatedWants, r.overflow)
        this.#penalize(peer, 'wantOverflow')
      }
      if (r.queued > 0) this.#serve()
    }
    this.#scheduleFlush()
  }

  #serve (): void {
    const concurrency = this.#init.engineConcurrency ?? DEFAULT_ENGINE_CONCURRENCY
    const blocksPerBatch = this.#init.blocksPerBatch ?? DEFAULT_ENGINE_BLOCKS_PER_BATCH
    while (this.#running) {
      // presence batches (HAVE / DONT_HAVE, one per peer at a time) take no serving slot: they
      // are small and must not wait behind blocks being written (engine.ts)
      const full = this.#serving >= concurrency
      const batch = this.engine.nextBatch({
        presencesOnly: full,
        // a peer's second block batch in progress only while half the slots are free: peers that
        // stop reading cannot hold more slots with their waiting second batches (spec/tensorswap.md §4)
        maxPerPeer: this.#serving * 2 < concurrency ? undefined : 1,
        // a slow or shared link gets small batches (engine.ts "Swarm serving")
        // in blocks of the mean size the debt ledger says we sent that peer
        maxBlocks: (peer) => {
          const sent = this.ledger.get(peer)
          return blocksForLink(this.network.link(peer), blocksPerBatch, DEFAULT_ENGINE_BATCH_MS, sent.blocksSent > 0 ? sent.bytesSent / sent.blocksSent : DEFAULT_ESTIMATED_BLOCK_BYTES)
        }
      })
      if (batch == null) return
      const slot = !batch.presences
      if (slot) this.#serving++
      this.#serveBatch(batch)
        .catch((err: any) => { log.error('serving %s failed - %e', batch.peer, err) })
        .finally(() => {
          if (slot) this.#serving--
          this.#serve()
        })
    }
  }

  /**
   * Read a block to serve, verified against its CID (`getVerifiedBlock`): a copy whose bytes
   * no longer hash to it (a flipped bit on disk) is never sent. It is logged, deleted from the
   * store (so `has` answers no and a re-fetch can replace it) and reported as missing, so the
   * asker gets DONT_HAVE and fails over (spec/tensorswap.md section 4, "Serving verifies").
   *
   * @returns the bytes, or `undefined` for a corrupt copy (now deleted)
   * @throws the blockstore's errors other than a failed verification
   */
  async #readVerified (cid: CID): Promise<Uint8Array | undefined> {
    try {
      return await getVerifiedBlock(this.#blockstore, cid)
    } catch (err: any) {
      if (err?.name !== 'BlockHashMismatchError') throw err
      log.error('stored block %c is corrupt (its bytes do not match its hash): deleted, answering DONT_HAVE - %e', cid, err)
      try {
        await this.#blockstore.delete(cid)
      } catch (err2: any) {
        log.error('deleting corrupt block %c failed - %e', cid, err2)
      }
      return undefined
    }
  }

  /**
   * Answer one engine batch: its tasks are looked up and read at once (in parallel, the
   * message keeping the batch's order), then the message is sent once the peer's previous
   * batch was sent, so a peer's next batch is read while its previous one is written
   * (`DEFAULT_ENGINE_BATCHES_PER_PEER`) and every send and its deadline start only when the
   * data channel is free, as with one batch at a time.
   */
  async #serveBatch (batch: EngineBatch): Promise<void> {
    const outcomes = new Map<string, TaskOutcome>()
    const peer = this.#peerId(batch.peer)
    // block batches are sent in the order handed out; presence batches go at once
    const previous = batch.presences ? undefined : this.#sendTurns.get(batch.peer)
    let endTurn = (): void => {}
    const turn = new Promise<void>(resolve => { endTurn = resolve })
    if (!batch.presences) this.#sendTurns.set(batch.peer, turn)
    try {
      if (peer == null) {
        for (const t of batch.tasks) outcomes.set(t.key, 'declined')
        return
      }
      const answers = await Promise.all(batch.tasks.map(async task => await this.#answer(batch.peer, task, outcomes)))
      const blocks: Block[] = []
      const presences: BlockPresence[] = []
      for (const a of answers) {
        if (a?.block != null) blocks.push(a.block)
        if (a?.presence != null) presences.push(a.presence)
      }
      const blockBytes = blocks.reduce((n, b) => n + b.bytes.byteLength, 0)
      // upload limit (spec/tensorswap.md §11): wait for the bytes before the send deadline starts,
      // so our own pacing never counts against the peer as a slow reader
      if (blockBytes > 0 && this.#init.bandwidth != null) await this.#init.bandwidth.upload(batch.peer, blockBytes, { signal: this.#shutdown.signal })
      if (this.#peerId(batch.peer) !== peer) {
        // banned or gone while the blocks were read: never dial a peer back to answer it
        for (const t of batch.tasks) outcomes.set(t.key, 'declined')
        return
      }
      const stallTimeoutMs = this.#init.sendStallMs ?? DEFAULT_SEND_STALL_MS
      const deadlines: AbortSignal[] = []
      const sends: Array<Promise<number>> = []
      if (presences.length > 0) {
        const deadline = AbortSignal.timeout(sendTimeoutMs(0))
        deadlines.push(deadline)
        sends.push(this.network.send(peer, { blocks: [], presences, pendingBytes: 0 }, 'control', { signal: deadline, stallTimeoutMs }))
      }
      if (blocks.length > 0) {
        // the blocks go after the peer's previous block batch (it never rejects); the presences
        // above never wait for it, and this send's deadline starts only now
        await previous
        if (this.#peerId(batch.peer) !== peer) {
          // banned or gone meanwhile: the blocks were not sent
          for (const b of blocks) outcomes.set(blockKey(b.cid), 'declined')
        } else {
          const deadline = AbortSignal.timeout(sendTimeoutMs(blockBytes))
          deadlines.push(deadline)
          sends.push(this.network.send(peer, { blocks, presences: [], pendingBytes: 0 }, 'data', { signal: deadline, stallTimeoutMs }))
        }
      }
      try {
        await Promise.all(sends)
      } catch (err: any) {
        const timedOut = deadlines.some(d => d.aborted)
        if (timedOut || err?.name === 'SendStalledError') {
          // the peer stopped reading (or trickles): free the slot (network.send dropped the stream) and penalise
          log('peer %s did not read a batch (%s)', batch.peer, timedOut ? 'send timeout' : 'stalled')
          this.#penalize(peer, 'slowReader')
        }
        throw err
      }
      if (blocks.length > 0 && outcomes.get(blockKey(blocks[0].cid)) === 'block') {
        this.ledger.recordSent(batch.peer, blockBytes, blocks.length, Date.now())
        this.#counters.blocksSent += blocks.length
      }
    } catch (err: any) {
      // not delivered: do not retry in a loop, the peer re-asks (its want times out)
      log('batch for %s failed - %e', batch.peer, err)
      for (const t of batch.tasks) outcomes.set(t.key, 'declined')
    } finally {
      endTurn()
      if (!batch.presences && this.#sendTurns.get(batch.peer) === turn) this.#sendTurns.delete(batch.peer)
      this.engine.batchDone(batch, outcomes)
    }
  }

  /**
   * What to send `peer` for one task of a batch (the block, a presence, or nothing), its outcome
   * set in `outcomes`. A peer the ledger does not serve now is declined (DONT_HAVE when asked
   * for one). Identity blocks never go on the wire (the asker holds the block in its CID):
   * DONT_HAVE. A want-block, or a want-have for a small block, gets the block itself (Bitswap
   * 1.2.0 MAY), verified as read (a corrupt stored copy is deleted and answered DONT_HAVE).
   *
   * @throws the blockstore's errors other than a failed verification
   */
  async #answer (peer: string, task: EngineTask, outcomes: Map<string, TaskOutcome>): Promise<TaskAnswer> {
    const dontHave = (): TaskAnswer => task.sendDontHave ? { presence: { cid: task.cid, type: 'dont-have' } } : undefined
    if (!this.ledger.shouldServe(peer)) {
      outcomes.set(task.key, 'declined')
      return dontHave()
    }
    const has = task.cid.multihash.code !== HASH_IDENTITY && await this.#blockstore.has(task.cid)
    if (!has) {
      outcomes.set(task.key, 'missing')
      return dontHave()
    }
    if (task.wantType === 'have' && this.engine.answerHave(await blockSize(this.#blockstore, task.cid)) === 'have') {
      outcomes.set(task.key, 'have')
      return { presence: { cid: task.cid, type: 'have' } }
    }
    const bytes = await this.#readVerified(task.cid)
    if (bytes == null) {
      outcomes.set(task.key, 'missing')
      return dontHave()
    }
    outcomes.set(task.key, 'block')
    return { block: { cid: task.cid, bytes } }
  }
}

/** What one task of a serving batch puts in the message: a block, a presence, or nothing. */
type TaskAnswer = { block?: Block, presence?: BlockPresence } | undefined

/** Wire priority of a swarm session's root want-have (a peer answers it before block wants). */
const SESSION_PROBE_PRIORITY = 2 ** 30

const REASON_TEXT: Record<TriedReason, string> = {
  'dont-have': 'answered DONT_HAVE',
  timeout: 'timed out',
  mismatch: 'sent bytes that do not match its hash'
}

/**
 * The one-line message of a `BlockUnavailableError`: the block and each peer's answer.
 *
 * @param cid - the block
 * @param reasons - why each peer tried was given up (from the want-list)
 */
export function unavailableMessage (cid: CID, reasons: Array<{ peer: string, reason: TriedReason }>): string {
  if (reasons.length === 0) return `block ${cid}: no connected peer has it`
  return `block ${cid}: no peer has a valid copy (${reasons.map(r => `${r.peer} ${REASON_TEXT[r.reason]}`).join('; ')})`
}

/**
 * Create an exchange (not started).
 *
 * @param components - libp2p node, blockstore, optional datastore for the ledger
 * @param init - see {@link ExchangeInit}
 */
export function createExchange (components: ExchangeComponents, init: ExchangeInit = {}): Exchange {
  return new Exchange(components, init)
}

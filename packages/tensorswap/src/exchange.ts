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

import { logger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import { CustomProgressEvent } from 'progress-events'
import { raceSignal } from 'race-signal'
import { DEFAULT_DIAL_ATTEMPT_TIMEOUT_MS, DEFAULT_ENGINE_CONCURRENCY, DEFAULT_LEDGER_FLUSH_INTERVAL_MS, DIAL_ATTEMPTS, DEFAULT_SEND_DEADLINE_MS, DEFAULT_TICK_INTERVAL_MS } from './constants.js'
import { Engine } from './engine.js'
import { BlockUnavailableError, BlockVerificationError, NotStartedError } from './errors.js'
import { DebtLedger } from './ledger.js'
import { Network } from './network.js'
import { PeerSelector } from './peer-selector.js'
import { PenaltyBox } from './penalties.js'
import { readBlock, Session } from './session.js'
import { WantListManager } from './want-list.js'
import { supportsHave } from './wire/codec.js'
import { blockKey, canVerify } from './wire/hash.js'
import type { EngineInit, TaskOutcome, EngineBatch } from './engine.js'
import type { DebtLedgerInit, LedgerEntry } from './ledger.js'
import type { NetworkInit, WireStats } from './network.js'
import type { PeerSelectorInit, PeerStats } from './peer-selector.js'
import type { Offence } from './penalties.js'
import type { ChildrenFn, SessionProgressEvents, SessionResult } from './session.js'
import type { WantListInit } from './want-list.js'
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
  /** Engine batches in progress at once. @default {@link DEFAULT_ENGINE_CONCURRENCY} */
  engineConcurrency?: number
  /** Most time a serving batch waits for the peer to read it, ms (then `slowReader`). @default {@link DEFAULT_SEND_DEADLINE_MS} */
  sendDeadlineMs?: number
  /** Want timeout check interval, ms. @default {@link DEFAULT_TICK_INTERVAL_MS} */
  tickIntervalMs?: number
  /** Ledger flush interval, ms. @default {@link DEFAULT_LEDGER_FLUSH_INTERVAL_MS} */
  ledgerFlushIntervalMs?: number
  /** Session window: blocks asked for and not yet stored. @default 1024 */
  maxWantsAhead?: number
  /** Children function for sessions. @default `defaultChildren` */
  children?: ChildrenFn
}

/** Progress events of {@link Exchange.fetch}. */
export type FetchProgressEvents =
  | SessionProgressEvents
  | ProgressEvent<'tensorswap:session:unavailable', CID>

/** Options of {@link Exchange.fetch}. */
export interface FetchOptions extends AbortOptions, ProgressOptions<FetchProgressEvents> {
  /** Fetch only from these peers (dialled first when given as multiaddrs). */
  peers?: Array<PeerId | Multiaddr | string>
  /**
   * Fail with `BlockUnavailableError` when every candidate peer said DONT_HAVE or timed out;
   * when false, keep retrying until `signal` aborts. @default true
   */
  failOnUnavailable?: boolean
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
  /** Blocks received that were never requested (penalised). */
  unrequestedBlocks: number
  blocksSent: number
  wantlistSize: number
  /** Penalised peers: decayed score and, while banned, when the ban ends (epoch ms). */
  penalties: Record<string, { score: number, bannedUntilMs?: number }>
}

interface Waiter {
  session: number
  resolve: (v: { bytes: Uint8Array, peer: string }) => void
  reject: (err: unknown) => void
  failOnUnavailable: boolean
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
  readonly selector: PeerSelector
  readonly wantList: WantListManager
  readonly engine: Engine
  readonly ledger: DebtLedger
  readonly penalties: PenaltyBox
  readonly network: Network
  readonly #waiters = new Map<string, Waiter[]>()
  readonly #peerIds = new Map<string, PeerId>()
  #sessionIds = 0
  #flushQueued = false
  #serving = 0
  #tickTimer?: ReturnType<typeof setInterval>
  #ledgerTimer?: ReturnType<typeof setInterval>
  #running = false
  #counters = { blocksReceived: 0, duplicateBlocks: 0, unrequestedBlocks: 0, blocksSent: 0 }

  /**
   * @param components - see {@link ExchangeComponents}
   * @param init - see {@link ExchangeInit}
   */
  constructor (components: ExchangeComponents, init: ExchangeInit = {}) {
    this.#libp2p = components.libp2p
    this.#blockstore = components.blockstore
    this.#datastore = components.datastore
    this.#init = init
    this.selector = new PeerSelector(init)
    this.wantList = new WantListManager(this.selector, init)
    this.engine = new Engine(init)
    this.ledger = new DebtLedger(init)
    this.penalties = new PenaltyBox()
    this.network = new Network(this.#libp2p, {
      onMessage: (peer, protocol, message, bytes) => { this.#onMessage(peer, protocol, message, bytes) },
      onPeerConnected: (peer, protocol) => { this.#onPeerConnected(peer, protocol) },
      onPeerDisconnected: (peer) => { this.#onPeerDisconnected(peer) },
      onBadInput: (peer, err) => { this.#onBadInput(peer, err) },
      isBanned: (peer) => this.penalties.isBanned(peer.toString(), Date.now())
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
   * Stop: reject every waiting want (`NotStartedError`), close streams, flush the ledger.
   */
  async stop (options: AbortOptions = {}): Promise<void> {
    if (!this.#running) return
    this.#running = false
    clearInterval(this.#tickTimer)
    clearInterval(this.#ledgerTimer)
    for (const [, waiters] of this.#waiters) {
      for (const w of waiters) w.reject(new NotStartedError('exchange stopped'))
    }
    this.#waiters.clear()
    await this.network.stop(options)
    if (this.#datastore != null) await this.ledger.flush(this.#datastore, options)
  }

  /**
   * Fetch one block from peers. Resolves with bytes verified against `cid` (not stored).
   *
   * @throws `NotStartedError`; `BlockVerificationError` when `cid`'s hash cannot be verified;
   *   `BlockUnavailableError` (unless `failOnUnavailable: false`); `signal.reason`
   */
  async want (cid: CID, options: WantBlockOptions = {}): Promise<Uint8Array> {
    const { bytes } = await this.#want(cid, { session: ++this.#sessionIds, priority: options.priority ?? 1, signal: options.signal, peers: options.peers, failOnUnavailable: options.failOnUnavailable ?? true })
    return bytes
  }

  #want (cid: CID, o: { session: number, priority: number, sizeHint?: number, signal?: AbortSignal, peers?: string[], failOnUnavailable: boolean, onUnavailable?: (cid: CID) => void }): Promise<{ bytes: Uint8Array, peer: string }> {
    if (!this.#running) return Promise.reject(new NotStartedError('exchange is not started'))
    if (!canVerify(cid.multihash.code, cid.multihash.digest.byteLength)) {
      return Promise.reject(new BlockVerificationError(`CID ${cid}: hash function 0x${cid.multihash.code.toString(16)} cannot be verified`))
    }
    if (o.signal?.aborted === true) return Promise.reject(o.signal.reason)
    const key = blockKey(cid)
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        session: o.session,
        failOnUnavailable: o.failOnUnavailable,
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
      this.wantList.want(cid, o.session, { priority: o.priority, sizeHint: o.sizeHint, peers: o.peers })
      this.#scheduleFlush()
    })
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
   * deep pipeline, resume from what is stored, fail-over between peers.
   *
   * @throws `NotStartedError`; `BlockUnavailableError`; `signal.reason`; blockstore and
   *   decode errors of the DAG's blocks
   */
  async fetch (root: CID, options: FetchOptions = {}): Promise<SessionResult> {
    if (!this.#running) throw new NotStartedError('exchange is not started')
    let peers: string[] | undefined
    if (options.peers != null) {
      peers = []
      const connected: PeerId[] = []
      for (const p of options.peers) {
        if (typeof p !== 'string' && 'toMultihash' in p) {
          peers.push(p.toString())
          connected.push(p)
          continue
        }
        const conn = await this.#dial(typeof p === 'string' ? multiaddr(p) : p, options.signal)
        peers.push(conn.remotePeer.toString())
        connected.push(conn.remotePeer)
      }
      // do not wait for identify to learn what they speak: negotiate the exchange protocol now,
      // with every given peer before the first want (so one fast DONT_HAVE cannot fail a block
      // that a slower-to-connect peer has)
      const given = options.peers
      await Promise.all(connected.map((peer, i) => ({ peer, addr: given[i] })).filter(({ peer }) => !this.#peerIds.has(peer.toString())).map(async ({ peer, addr }) => {
        try {
          await this.network.connect(peer, { signal: options.signal })
        } catch (err: any) {
          options.signal?.throwIfAborted()
          log('opening an exchange stream to %p failed - %e', peer, err)
          // a connection that cannot open a stream (DEFAULT_STREAM_OPEN_TIMEOUT_MS) is no use:
          // dial the given address afresh, once
          if (addr == null || (typeof addr !== 'string' && 'toMultihash' in addr)) return
          try {
            await this.#libp2p.hangUp(peer, { signal: options.signal })
            await this.#dial(typeof addr === 'string' ? multiaddr(addr) : addr, options.signal)
            await this.network.connect(peer, { signal: options.signal })
          } catch (err2: any) {
            options.signal?.throwIfAborted()
            log('opening an exchange stream to %p failed again - %e', peer, err2)
          }
        }
      }))
    }
    const id = ++this.#sessionIds
    const session = new Session({
      blockstore: this.#blockstore,
      want: async (cid, o) => this.#want(cid, {
        ...o,
        peers,
        failOnUnavailable: options.failOnUnavailable ?? true,
        onUnavailable: (c) => { options.onProgress?.(new CustomProgressEvent<CID>('tensorswap:session:unavailable', c)) }
      }),
      onStored: (cid) => { this.#blockStored(cid) }
    }, { id, maxWantsAhead: this.#init.maxWantsAhead, maxBytesAhead: this.#init.maxBytesInFlight, children: this.#init.children })
    try {
      return await session.run(root, options)
    } finally {
      this.wantList.cancelSession(id)
      this.#scheduleFlush()
    }
  }

  /**
   * Dial `addr`, giving each attempt {@link DEFAULT_DIAL_ATTEMPT_TIMEOUT_MS} and trying
   * {@link DIAL_ATTEMPTS} times: `@chainsafe/libp2p-quic` 2.1.1 does not pass the abort signal to
   * its native connect, and a QUIC connect to a node that was hanging up on another peer at that
   * moment was seen never to complete (test/exchange/hostile.test.ts); racing the attempt
   * abandons it (its promise is left to settle on its own) and a new attempt gets a new
   * connection.
   *
   * @throws the last attempt's error (`TimeoutError` when it timed out); `signal.reason`
   */
  async #dial (addr: Multiaddr, signal?: AbortSignal): Promise<Connection> {
    let lastError: unknown
    for (let attempt = 1; attempt <= DIAL_ATTEMPTS; attempt++) {
      signal?.throwIfAborted()
      const attemptSignal = AbortSignal.any([AbortSignal.timeout(DEFAULT_DIAL_ATTEMPT_TIMEOUT_MS), ...(signal != null ? [signal] : [])])
      const dialing = this.#libp2p.dial(addr, { signal: attemptSignal })
      dialing.catch(() => {}) // an abandoned attempt settles later, unobserved
      try {
        return await raceSignal(dialing, attemptSignal)
      } catch (err) {
        lastError = err
        log('dial attempt %d to %a failed - %e', attempt, addr, err)
      }
    }
    throw lastError
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
    for (const peer of this.selector.peers()) peers[peer] = this.selector.stats(peer) as PeerStats
    return { wire, ledger, peers, ...this.#counters, wantlistSize: this.wantList.size, penalties: this.penalties.snapshot(Date.now()) }
  }

  #blockStored (cid: CID): void {
    if (this.engine.blockAdded(cid).length > 0) this.#serve()
  }

  #scheduleFlush (): void {
    if (this.#flushQueued) return
    this.#flushQueued = true
    queueMicrotask(() => {
      this.#flushQueued = false
      this.#flush()
    })
  }

  #flush (): void {
    if (!this.#running) return
    for (const effect of this.wantList.flush(Date.now())) {
      if (effect.type === 'send') {
        const peer = this.#peerIds.get(effect.peer)
        if (peer == null) continue
        const message: BitswapMessage = { wantlist: { full: false, entries: effect.entries }, blocks: [], presences: [], pendingBytes: 0 }
        this.network.send(peer, message, 'control').catch((err: any) => {
          // the want times out and fails over; a dead peer is reported by the registrar
          log('sending want-list to %p failed - %e', peer, err)
        })
      } else {
        const waiters = [...(this.#waiters.get(effect.key) ?? [])]
        for (const w of waiters) {
          w.onUnavailable?.(effect.cid)
          if (w.failOnUnavailable) {
            this.#removeWaiter(effect.key, w)
            this.wantList.cancel(effect.cid, w.session)
            w.reject(new BlockUnavailableError(`block ${effect.cid}: no connected peer has it (all answered DONT_HAVE or timed out)`))
          }
        }
        if (waiters.some(w => w.failOnUnavailable)) this.#scheduleFlush()
      }
    }
  }

  #tick (): void {
    this.wantList.tick(Date.now())
    this.#flush()
  }

  #penalize (peer: PeerId, offence: Offence, count = 1): void {
    if (this.penalties.penalize(peer.toString(), offence, Date.now(), count)) {
      log('peer %p banned after %s', peer, offence)
      this.#onPeerDisconnected(peer)
      this.network.hangUp(peer).catch((err: any) => { log('hang up on %p failed - %e', peer, err) })
    }
  }

  #onPeerConnected (peer: PeerId, protocol: string): void {
    const key = peer.toString()
    if (this.penalties.isBanned(key, Date.now())) return
    this.#peerIds.set(key, peer)
    this.wantList.peerConnected(key, supportsHave(protocol), Date.now())
    log('peer %p speaks %s', peer, protocol)
    this.#scheduleFlush()
  }

  #onPeerDisconnected (peer: PeerId): void {
    const key = peer.toString()
    this.#peerIds.delete(key)
    this.wantList.peerDisconnected(key)
    this.engine.peerDisconnected(key)
    this.#scheduleFlush()
  }

  #onBadInput (peer: PeerId, err: Error): void {
    const offence: Offence = err.name === 'MessageTooLargeError' || err.name === 'FrameTooLargeError' ? 'oversized' : 'malformed'
    this.#penalize(peer, offence)
  }

  #onMessage (peer: PeerId, protocol: string, message: DecodedMessage, _bytes: number): void {
    const key = peer.toString()
    const now = Date.now()
    if (!this.#peerIds.has(key)) {
      // inbound stream before the registrar told us (identify pending): the network reported
      // the protocol already, so this only happens for banned-then-forgiven peers
      this.#onPeerConnected(peer, protocol)
    }
    let bytes = 0
    let blocks = 0
    for (const block of message.blocks) {
      const res = this.wantList.blockReceived(block.cid, key, block.bytes.byteLength, now)
      if (res.wanted) {
        blocks++
        bytes += block.bytes.byteLength
        this.#counters.blocksReceived++
        const waiters = this.#waiters.get(blockKey(block.cid)) ?? []
        this.#waiters.delete(blockKey(block.cid))
        for (const w of waiters) w.resolve({ bytes: block.bytes, peer: key })
      } else if (res.recent) {
        this.#counters.duplicateBlocks++
      } else {
        this.#counters.unrequestedBlocks++
        log('unrequested block %c from %p dropped', block.cid, peer)
        this.#penalize(peer, 'unrequestedBlock')
      }
    }
    if (message.unverifiableBlocks > 0) this.#penalize(peer, 'unverifiableBlock', message.unverifiableBlocks)
    if (blocks > 0) this.ledger.recordReceived(key, bytes, blocks, now)
    for (const p of message.presences) this.wantList.presence(p.cid, key, p.type, now)
    if (message.wantlist != null) {
      const r = this.engine.messageReceived(key, message.wantlist)
      if (r.overflow > 0) this.#penalize(peer, 'wantOverflow', r.overflow)
      if (r.queued > 0) this.#serve()
    }
    this.#scheduleFlush()
  }

  #serve (): void {
    const concurrency = this.#init.engineConcurrency ?? DEFAULT_ENGINE_CONCURRENCY
    while (this.#running && this.#serving < concurrency) {
      const batch = this.engine.nextBatch()
      if (batch == null) return
      this.#serving++
      this.#serveBatch(batch)
        .catch((err: any) => { log.error('serving %s failed - %e', batch.peer, err) })
        .finally(() => {
          this.#serving--
          this.#serve()
        })
    }
  }

  async #serveBatch (batch: EngineBatch): Promise<void> {
    const outcomes = new Map<string, TaskOutcome>()
    const peer = this.#peerIds.get(batch.peer)
    try {
      if (peer == null) {
        for (const t of batch.tasks) outcomes.set(t.key, 'declined')
        return
      }
      const blocks: Block[] = []
      const presences: BlockPresence[] = []
      for (const task of batch.tasks) {
        if (!this.ledger.shouldServe(batch.peer)) {
          if (task.sendDontHave) presences.push({ cid: task.cid, type: 'dont-have' })
          outcomes.set(task.key, 'declined')
          continue
        }
        const has = await this.#blockstore.has(task.cid)
        if (!has) {
          if (task.sendDontHave) presences.push({ cid: task.cid, type: 'dont-have' })
          outcomes.set(task.key, 'missing')
        } else if (task.wantType === 'have') {
          presences.push({ cid: task.cid, type: 'have' })
          outcomes.set(task.key, 'have')
        } else {
          blocks.push({ cid: task.cid, bytes: await readBlock(this.#blockstore, task.cid) })
          outcomes.set(task.key, 'block')
        }
      }
      if (this.#peerIds.get(batch.peer) !== peer) {
        // banned or gone while the blocks were read: never dial a peer back to answer it
        for (const t of batch.tasks) outcomes.set(t.key, 'declined')
        return
      }
      const deadline = AbortSignal.timeout(this.#init.sendDeadlineMs ?? DEFAULT_SEND_DEADLINE_MS)
      const sends: Array<Promise<number>> = []
      if (presences.length > 0) sends.push(this.network.send(peer, { blocks: [], presences, pendingBytes: 0 }, 'control', { signal: deadline }))
      if (blocks.length > 0) sends.push(this.network.send(peer, { blocks, presences: [], pendingBytes: 0 }, 'data', { signal: deadline }))
      try {
        await Promise.all(sends)
      } catch (err) {
        if (deadline.aborted) {
          // the peer did not read in time: free the slot (network.send dropped the stream) and penalise
          log('peer %s did not read a batch within the send deadline', batch.peer)
          this.#penalize(peer, 'slowReader')
        }
        throw err
      }
      if (blocks.length > 0) {
        const bytes = blocks.reduce((n, b) => n + b.bytes.byteLength, 0)
        this.ledger.recordSent(batch.peer, bytes, blocks.length, Date.now())
        this.#counters.blocksSent += blocks.length
      }
    } catch (err: any) {
      // not delivered: do not retry in a loop, the peer re-asks (its want times out)
      log('batch for %s failed - %e', batch.peer, err)
      for (const t of batch.tasks) outcomes.set(t.key, 'declined')
    } finally {
      this.engine.batchDone(batch.peer, outcomes)
    }
  }
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

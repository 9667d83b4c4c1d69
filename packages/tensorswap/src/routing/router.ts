/**
 * The content router of a node: provides recorded roots on the DHT (on start, on demand, and
 * every reprovide interval), and finds the peers to fetch a root from — given peers, DHT
 * providers and, when asked, connected peers that answer a want for the root
 * (spec/tensorswap.md "Content routing").
 *
 * The I/O around `@libp2p/kad-dht`: queries, dials and timers live here; what is provided is
 * the provided-roots record ({@link ProvidedRoots}).
 *
 * @module
 */

import { logger } from '@libp2p/logger'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import {
  DEFAULT_BOOTSTRAP_WAIT_MS,
  DEFAULT_CONNECTED_PROBE_TIMEOUT_MS,
  DEFAULT_MAX_PROVIDERS,
  DEFAULT_PROVIDER_DIAL_ATTEMPTS,
  DEFAULT_PROVIDER_DIAL_BACKOFF_MS,
  DEFAULT_PROVIDER_DIAL_TIMEOUT_MS,
  DEFAULT_PROVIDER_GRACE_MS,
  DEFAULT_PROVIDER_RETRY_MS,
  DEFAULT_SESSION_FIRST_REQUERY_MS,
  DEFAULT_SESSION_PASS_MS,
  DEFAULT_SESSION_REQUERY_MS,
  DHT_PROTOCOL
} from '../constants.js'
import { dialPreferred, isPeerMismatch } from '../transport/node.js'
import { dialWithRetry } from '@tensorswap/transport'
import { NoProvidersError } from './errors.js'
import { ProvidedRoots } from './roots.js'
import { peerIdOf, type ResolvedRouting } from './config.js'
import type { PeerSource } from '../session-peers.js'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { CID } from 'multiformats/cid'

const log = logger('tensorswap:routing:router')

/** How a peer to fetch from was found (`given`: given by the user). See `PeerSource`. */
export type ProviderSource = PeerSource

/** A peer that can be fetched from, and how it was found. */
export interface FoundProvider {
  /** Peer id (string form). */
  peerId: string
  /** Its addresses as known when found (multiaddr strings, without `/p2p/`). */
  addrs: string[]
  source: ProviderSource
}

/** What the router needs of the node. */
export interface RouterComponents {
  libp2p: Libp2p
  /** Holds the provided-roots record. */
  datastore: Datastore
  /**
   * Ask one connected peer for a block (the exchange's `want`, limited to that peer): used to
   * probe connected peers. Resolves when the peer sent the verified block; rejects otherwise.
   */
  wantFrom?: (cid: CID, peer: string, options: { signal: AbortSignal }) => Promise<unknown>
}

/** Options of {@link ContentRouter.findProviders}. */
export interface FindProvidersOptions {
  signal?: AbortSignal
  /** Peers given by the user (multiaddrs ending in `/p2p/<id>`, or peer ids of connected peers): dialled, added as `given`. */
  given?: Array<string | Multiaddr | PeerId>
  /** Search the DHT. @default true when the node runs a DHT */
  dht?: boolean
  /** Probe connected peers with a want for the root: `'always'`, `'fallback'` (only when nothing else was found), `'never'`. @default 'fallback' */
  probeConnected?: 'always' | 'fallback' | 'never'
  /** Whole search budget, ms. @default the router's `findProvidersTimeoutMs` */
  timeoutMs?: number
  /** After the first peer is found, keep collecting this long, ms. @default {@link DEFAULT_PROVIDER_GRACE_MS} */
  graceMs?: number
  /** Stop after this many peers. @default {@link DEFAULT_MAX_PROVIDERS} */
  maxProviders?: number
  /** Dial each found provider and keep only those that answered (what `get` needs). @default true */
  dial?: boolean
  /** Called for each peer as soon as it is found (and, with `dial`, connected). */
  onFound?: (provider: FoundProvider) => void
  /** Peers to leave out (already known to the caller): not dialled, not reported. */
  skip?: (peerId: string) => boolean
}

/** Options of {@link ContentRouter.discover}. */
export interface DiscoverOptions extends Pick<FindProvidersOptions, 'given' | 'timeoutMs' | 'maxProviders'> {
  /** Ends the search (the fetch is done). */
  signal: AbortSignal
  /** Called for each peer found and connected. */
  onFound: (provider: FoundProvider) => void
  /** Longest wait between two DHT passes (the wait starts shorter and doubles up to it), ms. @default {@link DEFAULT_SESSION_REQUERY_MS} */
  requeryMs?: number
}

/** What {@link ContentRouter.discover} returns. */
export interface Discovery {
  /**
   * The first pass (given peers dialled, one DHT query to its end or its time budget) is over:
   * how long it took and what was skipped. Never rejects (an aborted search resolves).
   */
  firstPass: Promise<{ searchedMs: number, found: number, skipped: FindProvidersResult['skipped'] }>
  /** Every pass is over (the signal aborted, or `maxProviders` were found). Never rejects. */
  done: Promise<void>
}

/** Result of {@link ContentRouter.findProviders}. */
export interface FindProvidersResult {
  providers: FoundProvider[]
  /** Wall time of the search, ms. */
  searchedMs: number
  /** Peers found but skipped (unreachable, garbage addresses, self), with why. */
  skipped: Array<{ peerId?: string, addr?: string, reason: string }>
}

/** Delay before dial attempt `attempt` (1-based, > 1): exponential with ±50 % jitter, ms. */
export function backoffWithJitter (attempt: number, baseMs: number = DEFAULT_PROVIDER_DIAL_BACKOFF_MS, random: () => number = Math.random): number {
  return Math.round(baseMs * 2 ** (attempt - 2) * (0.5 + random()))
}

function isPeerId (p: unknown): p is PeerId {
  return typeof p === 'object' && p != null && 'toMultihash' in p
}

/**
 * Provides and finds content for one node. Create with the node's libp2p (carrying the `dht`
 * service when routing is on), `start()` to provide the recorded roots now and every
 * `reprovideIntervalMs`, `stop()` to end it (aborts provides in progress).
 */
export class ContentRouter {
  readonly #c: RouterComponents
  readonly #config: ResolvedRouting
  readonly #roots: ProvidedRoots
  #controller = new AbortController()
  #timer?: ReturnType<typeof setInterval>
  #providing = new Set<Promise<void>>()
  #onDiscovery?: (evt: CustomEvent<{ id: PeerId, multiaddrs: Multiaddr[] }>) => void

  /**
   * @param components - the node's libp2p, datastore and a want function for probes
   * @param config - resolved routing settings (`resolveRouting`)
   */
  constructor (components: RouterComponents, config: ResolvedRouting) {
    this.#c = components
    this.#config = config
    this.#roots = new ProvidedRoots(components.datastore)
  }

  /** The DHT service, when the node runs one. */
  get dht (): KadDHT | undefined {
    return (this.#c.libp2p.services as { dht?: KadDHT }).dht
  }

  /** Resolved settings. */
  get config (): ResolvedRouting {
    return this.#config
  }

  /**
   * Start: dial the bootstrap list (in the background), with mDNS dial each peer it discovers,
   * provide every recorded root (in the background) and again every `reprovideIntervalMs`.
   */
  start (): void {
    this.#controller = new AbortController()
    const signal = this.#controller.signal
    this.#background(this.connectBootstrap({ signal }).then(() => {}))
    if (this.#config.mdns) {
      // libp2p 3 does not dial discovered peers itself (bootstrap does, mDNS does not): dial
      // them so they join the DHT routing table and can be fetched from
      this.#onDiscovery = (evt) => {
        const { id, multiaddrs } = evt.detail
        if (this.#c.libp2p.getConnections(id).length > 0 || multiaddrs.length === 0) return
        const targets = multiaddrs.map(a => peerIdOf(a) == null ? a.encapsulate(`/p2p/${id.toString()}`) : a)
        this.#background(this.#dial(targets, signal).then((peer) => { log('connected to discovered peer %p', peer) }, (err) => {
          signal.throwIfAborted()
          log('discovered peer %p unreachable - %e', id, err)
        }))
      }
      this.#c.libp2p.addEventListener('peer:discovery', this.#onDiscovery as any)
    }
    if (this.dht == null) return
    this.#background(this.provideRecorded({ signal }))
    this.#timer = setInterval(() => {
      log('reprovide interval (%d ms) elapsed', this.#config.reprovideIntervalMs)
      this.#background(this.provideRecorded({ signal }))
    }, this.#config.reprovideIntervalMs)
    this.#timer.unref?.()
  }

  /** Stop reproviding and abort provides in progress; resolves when they ended. */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    if (this.#onDiscovery != null) this.#c.libp2p.removeEventListener('peer:discovery', this.#onDiscovery as any)
    this.#onDiscovery = undefined
    this.#controller.abort(new Error('content router stopped'))
    await Promise.allSettled([...this.#providing])
  }

  /** Run `p` in the background, logging (never throwing) its failure. */
  #background (p: Promise<void>): void {
    const tracked = p.catch((err) => {
      if (this.#controller.signal.aborted) return
      log.error('background routing task failed - %e', err)
    }).finally(() => { this.#providing.delete(tracked) })
    this.#providing.add(tracked)
  }

  /**
   * Provide in the background (see {@link provide}); for `add` and a completed `get`.
   * A no-op without a DHT or when the node has no listen address (nobody could dial it).
   */
  provideInBackground (cids: CID[]): void {
    if (this.dht == null || this.#c.libp2p.getMultiaddrs().length === 0) return
    this.#background(this.provide(cids, { signal: this.#controller.signal }).then(() => {}))
  }

  /**
   * Dial every bootstrap peer (in parallel, each with {@link DEFAULT_PROVIDER_DIAL_ATTEMPTS}
   * attempts and jittered back-off). Failures are logged, not thrown.
   *
   * @returns how many bootstrap peers are connected
   */
  async connectBootstrap (options: { signal?: AbortSignal } = {}): Promise<number> {
    const list = this.#config.bootstrap
    if (list.length === 0) return 0
    const signal = AbortSignal.any([AbortSignal.timeout(DEFAULT_BOOTSTRAP_WAIT_MS), ...(options.signal != null ? [options.signal] : [])])
    const results = await Promise.allSettled(list.map(async (ma) => await this.#dial([ma], signal)))
    let ok = 0
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') ok++
      else log('bootstrap peer %a unreachable - %e', list[i], r.reason)
    })
    log('connected to %d of %d bootstrap peers', ok, list.length)
    return ok
  }

  /** Dial the bootstrap list again, then provide every CID of the provided-roots record. */
  async provideRecorded (options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.connectBootstrap(options) // a bootstrap peer lost since the last time is dialled again
    const entries = await this.#roots.list(options)
    const cids = entries.flatMap(e => e.cids)
    if (cids.length === 0) return
    log('providing %d CIDs of %d recorded roots', cids.length, entries.length)
    await this.provide(cids, options)
  }

  /**
   * Announce this node as a provider of each CID on the DHT (`ADD_PROVIDER` to the closest
   * peers). Waits (inside kad-dht) until the routing table has a peer.
   *
   * @returns per CID, how many peers accepted the record (an empty map without a DHT)
   * @throws `signal.reason` when aborted; kad-dht's query errors are logged, not thrown
   */
  async provide (cids: CID[], options: { signal?: AbortSignal } = {}): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    const dht = this.dht
    if (dht == null) return out
    for (const cid of cids) {
      options.signal?.throwIfAborted()
      let accepted = 0
      let errors = 0
      for await (const evt of dht.provide(cid, { signal: options.signal })) {
        if (evt.name === 'PEER_RESPONSE' && evt.messageName === 'ADD_PROVIDER') accepted++
        else if (evt.name === 'QUERY_ERROR') errors++
      }
      out.set(cid.toString(), accepted)
      log('provided %c to %d peers (%d query errors)', cid, accepted, errors)
    }
    return out
  }

  /**
   * Dial one peer through `dialWithRetry` (`@tensorswap/transport`): its addresses one at a
   * time, fastest transport first (`dialPreferred`), up to {@link DEFAULT_PROVIDER_DIAL_ATTEMPTS}
   * rounds of at most {@link DEFAULT_PROVIDER_DIAL_TIMEOUT_MS} each, with a jittered back-off
   * ({@link backoffWithJitter}) doubled between rounds.
   *
   * @throws the last dial error; `signal.reason`
   */
  async #dial (addrs: Multiaddr[], signal: AbortSignal): Promise<PeerId> {
    const target = peerIdOf(addrs[0]) ?? addrs[0]?.toString()
    let attempt = 0
    // the one dial helper; a round is a dialPreferred over every address (each time-boxed there)
    const conn = await dialWithRetry(async (o) => {
      attempt++
      try {
        return await dialPreferred(this.#c.libp2p, addrs, { signal: o.signal, perAddressTimeoutMs: DEFAULT_PROVIDER_DIAL_TIMEOUT_MS / 2 })
      } catch (err) {
        log('dial attempt %d/%d to %s failed - %e', attempt, DEFAULT_PROVIDER_DIAL_ATTEMPTS, target, err)
        throw err
      }
    }, {
      attempts: DEFAULT_PROVIDER_DIAL_ATTEMPTS,
      attemptTimeoutMs: DEFAULT_PROVIDER_DIAL_TIMEOUT_MS,
      backoffMs: backoffWithJitter(2), // jittered once per peer, doubled per round by dialWithRetry
      signal,
      target,
      // another peer answered at its addresses: the record is stale, a second round is the same handshakes
      retryable: (err) => !isPeerMismatch(err),
      onLate: (late) => { log('late connection to %s kept for libp2p to manage (%a)', target, late.remoteAddr) }
    })
    return conn.remotePeer
  }

  /**
   * Find providers of `root` while a fetch runs (a swarm session, spec/tensorswap.md §9): the
   * given peers are dialled, then the DHT is searched in passes — one query to its end or its
   * time budget (`timeoutMs`; a pass is cut {@link DEFAULT_SESSION_PASS_MS} after its first
   * record once a provider is known), the next pass after a wait that starts at
   * {@link DEFAULT_SESSION_FIRST_REQUERY_MS} and doubles up to `requeryMs` (leechers that
   * provide the root once they hold the manifest show up within the first second) — until
   * `signal` aborts or `maxProviders` peers were found.
   *
   * A pass does not wait for the dials of the providers it found: each dial runs on its own and
   * reports the peer through `onFound` once it is connected, so a stale record (a leecher that
   * left; its dials take seconds to fail) never holds up the next pass. A provider whose dial
   * failed is not dialled again for {@link DEFAULT_PROVIDER_RETRY_MS}, doubled after each
   * further failure. The first pass resolves `firstPass` once its query is over and either a
   * provider is connected or every dial it started has ended. Bounded: one query at a time,
   * at most `maxProviders` peers, one dial per record at a time.
   */
  discover (root: CID, options: DiscoverOptions): Discovery {
    const known = new Set<string>()
    const dialling = new Set<string>()
    /** peer id -> when it may be dialled again (ms, performance clock) and its failures so far */
    const cooling = new Map<string, { untilMs: number, failures: number }>()
    const max = options.maxProviders ?? DEFAULT_MAX_PROVIDERS
    const timeoutMs = options.timeoutMs ?? this.#config.findProvidersTimeoutMs
    const requeryMs = options.requeryMs ?? DEFAULT_SESSION_REQUERY_MS
    let first: (v: { searchedMs: number, found: number, skipped: FindProvidersResult['skipped'] }) => void = () => {}
    const firstPass = new Promise<{ searchedMs: number, found: number, skipped: FindProvidersResult['skipped'] }>(resolve => { first = resolve })
    const started = performance.now()
    const skip = (id: string): boolean => known.has(id) || dialling.has(id) || (cooling.get(id)?.untilMs ?? 0) > performance.now()
    const report = (p: FoundProvider): void => {
      known.add(p.peerId)
      cooling.delete(p.peerId)
      try {
        options.onFound(p)
      } catch (err) {
        log.error('onFound failed - %e', err)
      }
    }
    const dialFound = (p: FoundProvider, skipped: FindProvidersResult['skipped']): Promise<void> | undefined => {
      if (skip(p.peerId) || known.size + dialling.size >= max) return
      const targets = p.addrs.map(a => multiaddr(a)).map(a => peerIdOf(a) == null ? a.encapsulate(`/p2p/${p.peerId}`) : a)
      if (targets.length === 0) {
        log('skipping provider %s: no addresses in its record', p.peerId)
        skipped.push({ peerId: p.peerId, reason: 'no addresses' })
        return
      }
      dialling.add(p.peerId)
      return this.#dial(targets, options.signal).then(
        () => { report(p) },
        (err) => {
          if (options.signal.aborted) return
          const failures = (cooling.get(p.peerId)?.failures ?? 0) + 1
          const waitMs = DEFAULT_PROVIDER_RETRY_MS * 2 ** (failures - 1)
          cooling.set(p.peerId, { untilMs: performance.now() + waitMs, failures })
          log('skipping provider %s for %d ms: none of its %d addresses answered - %e', p.peerId, waitMs, targets.length, err)
          skipped.push({ peerId: p.peerId, reason: `unreachable: ${String(err?.message ?? err)}` })
        }
      ).finally(() => { dialling.delete(p.peerId) })
    }
    const pass = async (given: FindProvidersOptions['given'], isFirst: boolean): Promise<FindProvidersResult['skipped']> => {
      // once a provider is known the fetch runs: a pass ends DEFAULT_SESSION_PASS_MS after its
      // first find (or after that long, when one was known before it) so the next one starts (a
      // first pass waiting on slow peers found the other leechers 19 s late)
      const cut = Math.min(timeoutMs, DEFAULT_SESSION_PASS_MS)
      const skipped: FindProvidersResult['skipped'] = []
      const dials = new Set<Promise<void>>()
      try {
        // given peers are dialled (and waited for) by findProviders; DHT records come back
        // undialled and are dialled here, in the background
        const r = await this.findProviders(root, {
          given,
          signal: options.signal,
          timeoutMs: known.size > 0 ? cut : timeoutMs,
          graceMs: cut,
          maxProviders: max - known.size,
          probeConnected: 'never', // the exchange's root want-have broadcast asks connected peers
          dial: false,
          skip,
          onFound: (p) => {
            if (p.source === 'given') {
              report(p)
              return
            }
            const d = dialFound(p, skipped)
            if (d != null) {
              dials.add(d)
              void d.finally(() => { dials.delete(d) })
            }
          }
        })
        skipped.push(...r.skipped)
      } catch (err: any) {
        if (err?.name !== NoProvidersError.name && !options.signal.aborted) log('provider search pass failed - %e', err)
      }
      // the first pass is over once a provider is connected or its dials have all ended
      while (isFirst && known.size === 0 && dials.size > 0 && !options.signal.aborted) await Promise.race(dials)
      return skipped
    }
    const done = (async () => {
      const skipped = await pass(options.given, true)
      first({ searchedMs: performance.now() - started, found: known.size, skipped })
      let waitMs = Math.min(DEFAULT_SESSION_FIRST_REQUERY_MS, requeryMs)
      while (!options.signal.aborted && known.size < max && this.dht != null) {
        await new Promise<void>(resolve => {
          const t = setTimeout(resolve, waitMs)
          options.signal.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true })
        })
        if (options.signal.aborted) break
        await pass(undefined, false)
        waitMs = Math.min(waitMs * 2, requeryMs)
      }
    })().catch((err) => { log.error('provider discovery failed - %e', err) })
    return { firstPass, done }
  }

  /**
   * Find the peers to fetch `root` from: the given peers (dialled), DHT providers (dialled,
   * unreachable ones skipped with a log line) and connected peers that answer a want for the
   * root (see `probeConnected`). Ends when the DHT query is exhausted, `graceMs` after the first
   * peer, at `maxProviders`, or at the time budget — whichever comes first.
   *
   * @throws NoProvidersError - nothing was found (`.cid`, `.searchedMs`); `signal.reason` when aborted
   */
  async findProviders (root: CID, options: FindProvidersOptions = {}): Promise<FindProvidersResult> {
    const started = performance.now()
    const outer = options.signal
    const timeoutMs = options.timeoutMs ?? this.#config.findProvidersTimeoutMs
    const graceMs = options.graceMs ?? DEFAULT_PROVIDER_GRACE_MS
    const max = options.maxProviders ?? DEFAULT_MAX_PROVIDERS
    const dial = options.dial ?? true
    const enough = new AbortController()
    const search = AbortSignal.any([enough.signal, AbortSignal.timeout(timeoutMs), ...(outer != null ? [outer] : [])])
    const self = this.#c.libp2p.peerId.toString()
    const found = new Map<string, FoundProvider>()
    const skipped: FindProvidersResult['skipped'] = []
    const pending = new Set<Promise<void>>()
    let graceTimer: ReturnType<typeof setTimeout> | undefined
    let done = false
    const add = (p: FoundProvider): void => {
      if (done || found.has(p.peerId) || found.size >= max) return
      found.set(p.peerId, p)
      log('found %s via %s at %s', p.peerId, p.source, p.addrs.join(', '))
      try {
        options.onFound?.(p)
      } catch (err) {
        log.error('onFound failed - %e', err)
      }
      if (found.size >= max) enough.abort(new Error('enough providers'))
      else graceTimer ??= setTimeout(() => { enough.abort(new Error('grace period over')) }, graceMs)
    }
    const track = (p: Promise<void>): void => {
      const t = p.finally(() => { pending.delete(t) })
      pending.add(t)
    }
    // a dial must outlive the search (a provider found just before the grace period ends)
    const dialSignal = outer ?? new AbortController().signal

    try {
      for (const g of options.given ?? []) {
        if (isPeerId(g)) {
          add({ peerId: g.toString(), addrs: this.#c.libp2p.getConnections(g).map(c => c.remoteAddr.toString()), source: 'given' })
          continue
        }
        const ma = typeof g === 'string' ? multiaddr(g) : g
        track(this.#dial([ma], dialSignal).then(
          (peer) => { add({ peerId: peer.toString(), addrs: [ma.decapsulateCode(421).toString()], source: 'given' }) },
          (err) => {
            // a dial still retrying when the fetch ended was skipped too: say so either way
            if (outer?.aborted === true) {
              log('skipping given peer %a: not reached before the fetch ended - %e', ma, err)
              return
            }
            log('skipping given peer %a: unreachable - %e', ma, err)
            skipped.push({ addr: ma.toString(), reason: `unreachable: ${String(err?.message ?? err)}` })
          }))
      }

      const dht = this.dht
      if (dht != null && options.dht !== false) {
        await this.connectBootstrap({ signal: search }).catch((err) => { log('bootstrap failed - %e', err) })
        try {
          for await (const evt of dht.findProviders(root, { signal: search })) {
            if (evt.name === 'QUERY_ERROR') {
              log('DHT query error from %p - %e', evt.from, evt.error)
              continue
            }
            if (evt.name !== 'PROVIDER') continue
            for (const info of evt.providers) {
              const id = info.id.toString()
              if (id === self || found.has(id) || options.skip?.(id) === true) continue
              const addrs = info.multiaddrs
              if (!dial) {
                add({ peerId: id, addrs: addrs.map(a => a.toString()), source: 'dht' })
                continue
              }
              const targets = addrs.map(a => peerIdOf(a) == null ? a.encapsulate(`/p2p/${id}`) : a)
              if (targets.length === 0) {
                log('skipping provider %p: no addresses in its record', info.id)
                skipped.push({ peerId: id, reason: 'no addresses' })
                continue
              }
              track(this.#dial(targets, dialSignal).then(
                () => { add({ peerId: id, addrs: addrs.map(a => a.toString()), source: 'dht' }) },
                (err) => {
                  log('skipping provider %p: none of its %d addresses answered - %e', info.id, addrs.length, err)
                  skipped.push({ peerId: id, reason: `unreachable: ${String(err?.message ?? err)}` })
                }))
            }
          }
        } catch (err) {
          if (outer?.aborted === true) throw outer.reason
          if (!search.aborted) throw err
          // the time budget, the grace period or max providers ended the query
        }
      }
      // with nothing found yet, a dial still running may bring the first provider; with
      // providers in hand the fetch starts now (the exchange takes its peers up front, so a
      // provider dialled later would not join it) and late dials only log
      // (with `onFound` the caller's fetch runs already: every dial is waited for and reported)
      while ((found.size === 0 || options.onFound != null) && pending.size > 0) await Promise.allSettled([...pending])

      const probe = options.probeConnected ?? 'fallback'
      if (this.#c.wantFrom != null && (probe === 'always' || (probe === 'fallback' && found.size === 0))) {
        for (const peer of this.#c.libp2p.getPeers()) {
          const id = peer.toString()
          if (found.has(id) || found.size >= max) continue
          outer?.throwIfAborted()
          try {
            await this.#c.wantFrom(root, id, { signal: AbortSignal.any([AbortSignal.timeout(DEFAULT_CONNECTED_PROBE_TIMEOUT_MS), ...(outer != null ? [outer] : [])]) })
            add({ peerId: id, addrs: this.#c.libp2p.getConnections(peer).map(c => c.remoteAddr.decapsulateCode(421).toString()), source: 'connected' })
          } catch (err: any) {
            outer?.throwIfAborted()
            log('connected peer %p does not have %c - %s', peer, root, err?.name ?? err)
          }
        }
      }
    } finally {
      clearTimeout(graceTimer)
    }
    done = true
    const searchedMs = performance.now() - started
    if (found.size === 0) {
      const why = [
        dial && skipped.length > 0 ? `${skipped.length} unreachable` : '',
        this.dht == null ? 'no DHT' : `${this.#config.bootstrap.length} bootstrap peers`,
        `DHT protocol ${DHT_PROTOCOL}`
      ].filter(s => s !== '').join(', ')
      throw new NoProvidersError(root.toString(), searchedMs, why)
    }
    return { providers: [...found.values()], searchedMs, skipped }
  }
}

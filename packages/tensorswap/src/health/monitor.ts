/**
 * The health driver: the timers and pings around the pure {@link PeerHealth} and
 * {@link ThroughputMeter} (spec/tensorswap.md §10 "Peer health").
 *
 * Every `sampleIntervalMs` it samples each connected peer's wire bytes (for throughput) and
 * pings, with libp2p's ping service (`/ipfs/ping/1.0.0`), the peers whose ping is due; each
 * outcome updates the peer's health, the new score goes to `onScore` (the node hands it to
 * the exchange's peer selector) and a peer whose pings failed `maxFailures` times in a row is
 * hung up on (logged under `tensorswap:health`, reported by a `tensorswap:health:disconnect`
 * progress event). A peer that does not speak ping is not pinged and keeps score 1.
 *
 * @module
 */

import { logger } from '@libp2p/logger'
import { CustomProgressEvent, type ProgressEvent } from 'progress-events'
import { DEFAULT_HEALTH_PING_TIMEOUT_MS, DEFAULT_THROUGHPUT_SAMPLE_INTERVAL_MS } from '../constants.js'
import { PeerHealth, type HealthStats, type PeerHealthInit } from './score.js'
import { ThroughputMeter, type ByteTotals, type Throughput, type ThroughputMeterInit, type ThroughputPoint } from './throughput.js'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'

const log = logger('tensorswap:health')

/** Detail of `tensorswap:health:ping`: one ping's outcome. */
export interface HealthPingDetail {
  peer: string
  ok: boolean
  /** Round trip, ms (when `ok`). */
  rttMs?: number
  /** Why it failed (an error's `.name`), when not `ok`. */
  error?: string
  /** The peer's health after it. */
  health: HealthStats
}

/** Detail of `tensorswap:health:disconnect`: a peer hung up on after failed pings. */
export interface HealthDisconnectDetail {
  peer: string
  health: HealthStats
}

/** Events of {@link HealthMonitor}. */
export type HealthEvents =
  | ProgressEvent<'tensorswap:health:ping', HealthPingDetail>
  | ProgressEvent<'tensorswap:health:disconnect', HealthDisconnectDetail>

/** Options of {@link HealthMonitor} (pure parts: {@link PeerHealthInit}, {@link ThroughputMeterInit}). */
export interface HealthMonitorInit extends PeerHealthInit, ThroughputMeterInit {
  /** A ping not answered within this long fails, ms. @default {@link DEFAULT_HEALTH_PING_TIMEOUT_MS} */
  pingTimeoutMs?: number
  /** Timer period: throughput samples and due pings, ms. @default {@link DEFAULT_THROUGHPUT_SAMPLE_INTERVAL_MS} */
  sampleIntervalMs?: number
  /** `false`: no pings (throughput is still sampled). @default true */
  ping?: boolean
}

/** What the monitor reads and tells. */
export interface HealthMonitorComponents {
  libp2p: Libp2p<{ ping: Ping }>
  /** Cumulative wire bytes per connected peer id (the exchange's counters). */
  totals: () => ReadonlyMap<string, ByteTotals>
  /** A peer's new health score in (0, 1]. */
  onScore?: (peer: string, score: number) => void
  /** Health events (pings, disconnects). */
  onEvent?: (evt: HealthEvents) => void
}

/** Pings connected peers, scores and drops the sick ones, samples throughput. See the module comment. */
export class HealthMonitor {
  /** The per-peer health state (pure). */
  readonly health: PeerHealth
  /** Per-peer and node-wide throughput (pure). */
  readonly throughput: ThroughputMeter
  readonly #components: HealthMonitorComponents
  readonly #pingTimeoutMs: number
  readonly #sampleIntervalMs: number
  readonly #ping: boolean
  #timer?: ReturnType<typeof setInterval>
  readonly #pings = new Set<AbortController>()
  readonly #onConnect = (evt: CustomEvent<PeerId>): void => { this.health.addPeer(evt.detail.toString(), Date.now()) }
  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => { this.health.removePeer(evt.detail.toString()) }

  /**
   * @param components - see {@link HealthMonitorComponents}
   * @param init - see {@link HealthMonitorInit}
   * @throws RangeError - a number out of its range
   */
  constructor (components: HealthMonitorComponents, init: HealthMonitorInit = {}) {
    this.#components = components
    this.health = new PeerHealth(init)
    this.throughput = new ThroughputMeter(init)
    this.#pingTimeoutMs = init.pingTimeoutMs ?? DEFAULT_HEALTH_PING_TIMEOUT_MS
    this.#sampleIntervalMs = init.sampleIntervalMs ?? DEFAULT_THROUGHPUT_SAMPLE_INTERVAL_MS
    this.#ping = init.ping ?? true
    if (!(this.#pingTimeoutMs > 0)) throw new RangeError(`HealthMonitor: pingTimeoutMs must be > 0, got ${this.#pingTimeoutMs}`)
    if (!(this.#sampleIntervalMs > 0)) throw new RangeError(`HealthMonitor: sampleIntervalMs must be > 0, got ${this.#sampleIntervalMs}`)
  }

  /** Track the connected peers and start the timer (idempotent). */
  start (): void {
    if (this.#timer != null) return
    const { libp2p } = this.#components
    const now = Date.now()
    for (const conn of libp2p.getConnections()) this.health.addPeer(conn.remotePeer.toString(), now)
    libp2p.addEventListener('peer:connect', this.#onConnect)
    libp2p.addEventListener('peer:disconnect', this.#onDisconnect)
    this.#timer = setInterval(() => { this.#tick() }, this.#sampleIntervalMs)
    this.#timer.unref?.()
  }

  /** Stop the timer and abort pings in flight. */
  stop (): void {
    if (this.#timer == null) return
    clearInterval(this.#timer)
    this.#timer = undefined
    const { libp2p } = this.#components
    libp2p.removeEventListener('peer:connect', this.#onConnect)
    libp2p.removeEventListener('peer:disconnect', this.#onDisconnect)
    for (const c of this.#pings) c.abort(new Error('health monitor stopped'))
    this.#pings.clear()
  }

  /** `peer`'s health, if tracked (connected). */
  stats (peer: string): HealthStats | undefined {
    return this.health.stats(peer)
  }

  /** `peer`'s throughput over the window. */
  rate (peer: string): Throughput {
    return this.throughput.rate(peer)
  }

  /** The node-wide throughput history, oldest first. */
  history (): ThroughputPoint[] {
    return this.throughput.history()
  }

  #tick (): void {
    const now = Date.now()
    try {
      this.throughput.sample(now, this.#components.totals())
    } catch (err: any) {
      log.error('throughput sample failed - %e', err)
    }
    if (!this.#ping) return
    const connected = new Map(this.#components.libp2p.getConnections().map(c => [c.remotePeer.toString(), c.remotePeer]))
    for (const key of this.health.due(now)) {
      const peer = connected.get(key)
      if (peer == null) {
        // gone between events: forget it rather than dial it back for a ping
        this.health.removePeer(key)
        continue
      }
      void this.#pingOne(key, peer)
    }
  }

  async #pingOne (key: string, peer: PeerId): Promise<void> {
    const controller = new AbortController()
    this.#pings.add(controller)
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(this.#pingTimeoutMs)])
    let rtt: number | undefined
    let error: any
    try {
      rtt = await this.#components.libp2p.services.ping.ping(peer, { signal })
    } catch (err: any) {
      error = err
    } finally {
      this.#pings.delete(controller)
    }
    if (controller.signal.aborted || !this.health.has(key)) return
    if (error?.name === 'UnsupportedProtocolError') {
      log('%p does not speak ping: not health-checked', peer)
      this.health.onUnsupported(key)
      return
    }
    const verdict = rtt != null ? this.health.onSuccess(key, rtt) : this.health.onFailure(key)
    const health = this.health.stats(key) as HealthStats
    if (rtt == null) log('ping %p failed (%d in a row) - %e', peer, health.consecutiveFailures, error)
    this.#safe(() => { this.#components.onScore?.(key, health.score) })
    this.#emit(new CustomProgressEvent<HealthPingDetail>('tensorswap:health:ping', { peer: key, ok: rtt != null, ...(rtt != null ? { rttMs: rtt } : { error: String(error?.name ?? error) }), health }))
    if (verdict === 'disconnect') {
      log('disconnecting %p: %d pings failed in a row (success rate %s)', peer, health.consecutiveFailures, health.successRate.toFixed(2))
      this.health.removePeer(key)
      this.#emit(new CustomProgressEvent<HealthDisconnectDetail>('tensorswap:health:disconnect', { peer: key, health }))
      const libp2p = this.#components.libp2p
      // a stopped peer never answers a graceful close: bounded, then the connections are aborted
      libp2p.hangUp(peer, { signal: AbortSignal.timeout(this.#pingTimeoutMs) }).catch((err: any) => {
        log('hang up on %p did not complete, aborting its connections - %e', peer, err)
        for (const conn of libp2p.getConnections(peer)) conn.abort(new Error(`peer unhealthy: ${health.consecutiveFailures} pings failed`))
      })
    }
  }

  #emit (evt: HealthEvents): void {
    this.#safe(() => { this.#components.onEvent?.(evt) })
  }

  #safe (fn: () => void): void {
    try {
      fn()
    } catch (err: any) {
      log.error('health handler threw - %e', err)
    }
  }
}

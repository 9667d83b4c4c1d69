/**
 * The debt ledger: bytes exchanged with each peer, and whether we serve it.
 *
 * Per peer: bytes and blocks sent and received, and the debt ratio
 * `r = sent / (received + 1)` (Bitswap paper, Benet 2014, "BitSwap Ledger"/"Strategy").
 * Strategies:
 * - `generous` (default): always serve — a model seeder wants its model out.
 * - `bitswap-paper`: serve with probability `1 - 1 / (1 + exp(6 - 3r))` (the paper's
 *   sigmoid: ~1 while r < 1, 0.5 at r = 2, ~0 by r = 4).
 * - `tit-for-tat`: serve freely for the first {@link TIT_FOR_TAT_GRACE_BYTES}, then only while
 *   `r <= TIT_FOR_TAT_MAX_RATIO`.
 *
 * Pure bookkeeping plus {@link DebtLedger.flush}/{@link DebtLedger.load} against an
 * `interface-datastore` store (key `/tensorswap/ledger/<peerId>`, JSON value), which the
 * exchange calls periodically and at stop.
 *
 * @module
 */

import { logger } from '@libp2p/logger'
import { Key } from 'interface-datastore'
import { LEDGER_KEY_PREFIX, TIT_FOR_TAT_GRACE_BYTES, TIT_FOR_TAT_MAX_RATIO } from './constants.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

const log = logger('tensorswap:exchange:ledger')

/** Which peers get served. See the module comment. */
export type LedgerStrategy = 'generous' | 'bitswap-paper' | 'tit-for-tat'

/** What we exchanged with one peer (bytes are block payload bytes). */
export interface LedgerEntry {
  bytesSent: number
  bytesReceived: number
  blocksSent: number
  blocksReceived: number
  /** Last exchange time, ms since the epoch (0: never). */
  lastExchangeMs: number
}

/** Options of {@link DebtLedger}. */
export interface DebtLedgerInit {
  /** @default 'generous' */
  strategy?: LedgerStrategy
  /** Source of uniform [0, 1) numbers for `bitswap-paper`. @default Math.random */
  random?: () => number
}

/**
 * The Bitswap paper's serve probability for debt ratio `r`: `1 - 1 / (1 + exp(6 - 3r))`.
 *
 * @param r - debt ratio, `sent / (received + 1)`
 * @returns probability in (0, 1)
 */
export function paperServeProbability (r: number): number {
  return 1 - 1 / (1 + Math.exp(6 - 3 * r))
}

const emptyEntry = (): LedgerEntry => ({ bytesSent: 0, bytesReceived: 0, blocksSent: 0, blocksReceived: 0, lastExchangeMs: 0 })

function isEntry (v: any): v is LedgerEntry {
  return v != null && typeof v === 'object' &&
    ['bytesSent', 'bytesReceived', 'blocksSent', 'blocksReceived', 'lastExchangeMs'].every(k => Number.isSafeInteger(v[k]) && v[k] >= 0)
}

/**
 * Per-peer byte accounting and the serving decision. Peer ids are strings.
 */
export class DebtLedger {
  /** The serving strategy in use (see {@link LedgerStrategy}). */
  readonly strategy: LedgerStrategy
  readonly #random: () => number
  readonly #entries = new Map<string, LedgerEntry>()
  readonly #dirty = new Set<string>()

  /** @param init - see {@link DebtLedgerInit} */
  constructor (init: DebtLedgerInit = {}) {
    this.strategy = init.strategy ?? 'generous'
    this.#random = init.random ?? Math.random
  }

  #entry (peer: string): LedgerEntry {
    let e = this.#entries.get(peer)
    if (e == null) {
      e = emptyEntry()
      this.#entries.set(peer, e)
    }
    return e
  }

  /** We sent `peer` `blocks` blocks totalling `bytes` bytes at `nowMs`. */
  recordSent (peer: string, bytes: number, blocks: number, nowMs: number): void {
    const e = this.#entry(peer)
    e.bytesSent += bytes
    e.blocksSent += blocks
    e.lastExchangeMs = nowMs
    this.#dirty.add(peer)
  }

  /** `peer` sent us `blocks` blocks totalling `bytes` bytes at `nowMs`. */
  recordReceived (peer: string, bytes: number, blocks: number, nowMs: number): void {
    const e = this.#entry(peer)
    e.bytesReceived += bytes
    e.blocksReceived += blocks
    e.lastExchangeMs = nowMs
    this.#dirty.add(peer)
  }

  /** A copy of `peer`'s entry (zeros when unknown). */
  get (peer: string): LedgerEntry {
    return { ...(this.#entries.get(peer) ?? emptyEntry()) }
  }

  /** Peers with an entry. */
  peers (): string[] {
    return [...this.#entries.keys()]
  }

  /** `sent / (received + 1)` in bytes for `peer`. */
  debtRatio (peer: string): number {
    const e = this.#entries.get(peer) ?? emptyEntry()
    return e.bytesSent / (e.bytesReceived + 1)
  }

  /**
   * Whether to serve `peer` now, by the configured strategy (one decision per block).
   */
  shouldServe (peer: string): boolean {
    switch (this.strategy) {
      case 'generous':
        return true
      case 'bitswap-paper':
        return this.#random() < paperServeProbability(this.debtRatio(peer))
      case 'tit-for-tat': {
        const e = this.#entries.get(peer) ?? emptyEntry()
        return e.bytesSent < TIT_FOR_TAT_GRACE_BYTES || this.debtRatio(peer) <= TIT_FOR_TAT_MAX_RATIO
      }
    }
  }

  /** Number of entries changed since the last flush. */
  get dirtyCount (): number { return this.#dirty.size }

  /**
   * Write changed entries to `datastore` under `/tensorswap/ledger/<peerId>` (one batch).
   *
   * @throws whatever the datastore throws; entries stay dirty then
   */
  async flush (datastore: Datastore, options: AbortOptions = {}): Promise<void> {
    if (this.#dirty.size === 0) return
    const peers = [...this.#dirty]
    const batch = datastore.batch()
    for (const peer of peers) {
      batch.put(new Key(LEDGER_KEY_PREFIX + peer), new TextEncoder().encode(JSON.stringify(this.#entries.get(peer))))
    }
    await batch.commit(options)
    for (const peer of peers) this.#dirty.delete(peer)
  }

  /**
   * Read every persisted entry from `datastore`, adding to what is in memory. Entries that do
   * not parse are skipped and logged (a corrupt record must not stop the node).
   *
   * @returns number of entries loaded
   */
  async load (datastore: Datastore, options: AbortOptions = {}): Promise<number> {
    let n = 0
    for await (const { key, value } of datastore.query({ prefix: LEDGER_KEY_PREFIX }, options)) {
      const peer = key.toString().slice(LEDGER_KEY_PREFIX.length)
      let parsed: unknown
      try {
        parsed = JSON.parse(new TextDecoder().decode(value))
      } catch (err) {
        log.error('ledger record %s is not JSON, skipped - %e', key.toString(), err)
        continue
      }
      if (!isEntry(parsed)) {
        log.error('ledger record %s has invalid fields, skipped', key.toString())
        continue
      }
      const e = this.#entry(peer)
      e.bytesSent += parsed.bytesSent
      e.bytesReceived += parsed.bytesReceived
      e.blocksSent += parsed.blocksSent
      e.blocksReceived += parsed.blocksReceived
      e.lastExchangeMs = Math.max(e.lastExchangeMs, parsed.lastExchangeMs)
      n++
    }
    return n
  }

  /**
   * Check internal consistency; throws `Error` naming the broken invariant (tests only).
   */
  assertInvariants (): void {
    for (const [peer, e] of this.#entries) {
      if (!isEntry(e)) throw new Error(`ledger ${peer}: invalid entry ${JSON.stringify(e)}`)
    }
    for (const peer of this.#dirty) if (!this.#entries.has(peer)) throw new Error(`ledger ${peer}: dirty without entry`)
  }
}

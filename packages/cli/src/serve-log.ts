/**
 * What `serve` says about the transfers it serves: a pure state machine fed the exchange
 * ledger's per-peer sent counters (`{bytesSent, blocksSent}`) and the time; a peer's burst of
 * sending is one transfer, reported once it has been idle for `idleMs`.
 */
import { formatBytes } from './output.js'

/** Per peer id, what the exchange has sent it so far (the debt ledger's counters). */
export type SentCounters = Record<string, { bytesSent: number, blocksSent: number }>

/** Transfers in progress, per peer: counters at the start, and the last time they moved. */
interface Burst { fromBytes: number, fromBlocks: number, bytes: number, blocks: number, startedMs: number, lastMoveMs: number }

/** Turns ledger snapshots into one `served <peer>: N blocks (X MB) in S s` line per transfer. */
export class TransferLog {
  readonly #idleMs: number
  readonly #last = new Map<string, { bytes: number, blocks: number }>()
  readonly #bursts = new Map<string, Burst>()

  /** @param idleMs - how long a peer's counters must stay still to end its transfer, ms */
  constructor (idleMs = 1000) { this.#idleMs = idleMs }

  /**
   * Feed a snapshot taken at `nowMs` (ms); returns the lines of the transfers that ended.
   * Counters only grow; a peer first seen with counters above 0 starts from them.
   */
  update (sent: SentCounters, nowMs: number): string[] {
    const lines: string[] = []
    for (const [peer, s] of Object.entries(sent)) {
      const prev = this.#last.get(peer) ?? { bytes: 0, blocks: 0 }
      this.#last.set(peer, { bytes: s.bytesSent, blocks: s.blocksSent })
      if (s.bytesSent === prev.bytes && s.blocksSent === prev.blocks) continue
      const b = this.#bursts.get(peer)
      if (b == null) this.#bursts.set(peer, { fromBytes: prev.bytes, fromBlocks: prev.blocks, bytes: s.bytesSent, blocks: s.blocksSent, startedMs: nowMs, lastMoveMs: nowMs })
      else Object.assign(b, { bytes: s.bytesSent, blocks: s.blocksSent, lastMoveMs: nowMs })
    }
    for (const [peer, b] of this.#bursts) {
      if (nowMs - b.lastMoveMs < this.#idleMs) continue
      this.#bursts.delete(peer)
      const seconds = Math.max(b.lastMoveMs - b.startedMs, 0) / 1000
      lines.push(`served ${peer}: ${b.blocks - b.fromBlocks} blocks (${formatBytes(b.bytes - b.fromBytes)}) in ${seconds.toFixed(1)} s`)
    }
    return lines
  }
}

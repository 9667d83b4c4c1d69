/**
 * `tensorswap stat`: what the repo holds and what this node exchanged: blocks and their bytes,
 * block bytes sent to and received from peers (the debt ledger, kept across runs), connected
 * peers (0 without a daemon). `--json`: `{repo, online, blocks, bytes, bytesSent,
 * bytesReceived, peers}`.
 */
import { DebtLedger, type LedgerEntry } from 'tensorswap'
import { defineCommand } from '../command.js'
import { formatBytes, printResult } from '../output.js'

/** `stat`'s result (`--json`). */
export interface StatResult {
  /** The repo directory. */
  repo: string
  /** Whether a daemon runs on the repo (this ran in it). */
  online: boolean
  /** Blocks stored. */
  blocks: number
  /** Their bytes. */
  bytes: number
  /** Block bytes sent to peers, every run of this repo (the ledger). */
  bytesSent: number
  /** Block bytes received from peers, every run of this repo (the ledger). */
  bytesReceived: number
  /** Peers connected now (0 without a daemon). */
  peers: number
}

/** `stat`. @throws the blockstore's and datastore's read errors */
export const statCommand = defineCommand<Record<string, never>, StatResult>({
  name: 'stat',
  options: {},
  async execute (ctx) {
    const { repo, node } = ctx
    let blocks = 0
    let bytes = 0
    for await (const { cid } of repo.blockstore.getAll({ signal: ctx.signal })) {
      blocks++
      bytes += await repo.blockstore.size(cid, { signal: ctx.signal }) ?? 0
    }
    let entries: LedgerEntry[]
    if (node != null) {
      entries = Object.values(node.exchange.stats().ledger)
    } else {
      const ledger = new DebtLedger()
      await ledger.load(repo.datastore, { signal: ctx.signal })
      entries = ledger.peers().map(p => ledger.get(p))
    }
    const peers = node != null ? new Set(node.libp2p.getConnections().map(c => c.remotePeer.toString())).size : 0
    return {
      repo: repo.path,
      online: ctx.daemon,
      blocks,
      bytes,
      bytesSent: entries.reduce((a, e) => a + e.bytesSent, 0),
      bytesReceived: entries.reduce((a, e) => a + e.bytesReceived, 0),
      peers
    }
  },
  render (r, opts) {
    printResult(opts, r, [
      `repo ${r.repo} (${r.online ? 'daemon running' : 'no daemon'})`,
      `blocks ${r.blocks} (${formatBytes(r.bytes)})`,
      `sent ${formatBytes(r.bytesSent)}, received ${formatBytes(r.bytesReceived)}`,
      `peers ${r.peers}`
    ])
  }
})

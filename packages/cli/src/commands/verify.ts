/**
 * `tensorswap verify [root...] [--repair]`: re-hash every block in the repo and, from the given
 * roots, list reachable blocks that are missing. Exit 1 when any block is corrupt (or, with
 * roots, missing), 0 when all is well. `--repair` deletes the corrupt blocks so the next `get`
 * fetches them again. `--json`: `{"roots", "blocks", "bytes", "seconds", "MBps", "corrupt",
 * "missing", "repaired", "corruptCids", "missingCids"}`.
 */
import { verifyStore } from '@tensorswap/blockstore'
import { parseCid } from '../args.js'
import { defineCommand } from '../command.js'
import { formatBytes, info, printResult } from '../output.js'
import { megabytesPerSecond } from '../summary.js'

/** Options of `verify`. */
export interface VerifyOptions {
  /** Roots whose DAGs must be complete. */
  roots?: string[]
  /** Delete corrupt blocks. */
  repair?: boolean
}

/** `verify`'s result (`--json`). */
export interface VerifyResult {
  roots: string[]
  blocks: number
  bytes: number
  seconds: number
  MBps: number
  corrupt: number
  missing: number
  repaired: boolean
  corruptCids: string[]
  missingCids: string[]
}

/** `verify`; exit code 1 when something is corrupt or missing. @throws UsageError (not a CID) */
export const verifyCommand = defineCommand<VerifyOptions, VerifyResult>({
  name: 'verify',
  options: { roots: 'string[]', repair: 'boolean' },
  validate: (o) => { (o.roots ?? []).forEach(parseCid) },
  async execute (ctx, o) {
    const roots = (o.roots ?? []).map(parseCid)
    const bar = ctx.bar('verify')
    const started = performance.now()
    const r = await verifyStore(ctx.repo.blockstore, {
      roots,
      repair: o.repair === true,
      signal: ctx.signal,
      onProgress: (evt) => { bar.add(evt.detail.bytes) }
    }).finally(() => { bar.stop() })
    const seconds = (performance.now() - started) / 1000
    return {
      roots: roots.map(c => c.toString()),
      blocks: r.blocks,
      bytes: r.bytes,
      seconds,
      MBps: megabytesPerSecond(r.bytes, seconds),
      corrupt: r.corrupt.length,
      missing: r.missing.length,
      repaired: r.repaired,
      corruptCids: r.corrupt.map(c => c.toString()),
      missingCids: r.missing.map(c => c.toString())
    }
  },
  render (r, opts) {
    for (const cid of r.corruptCids) info(opts, `corrupt ${cid}${r.repaired ? ' (removed)' : ''}`)
    for (const cid of r.missingCids) info(opts, `missing ${cid}`)
    printResult(opts, r, [`${r.blocks} blocks (${formatBytes(r.bytes)}) checked: ${r.corrupt} corrupt${r.repaired ? ' (removed)' : ''}, ${r.missing} missing`])
    if (r.corrupt > 0 || r.missing > 0) process.exitCode = 1
  }
})

/**
 * `tensorswap verify [root...] [--repair]`: re-hash every block in the repo and, from the given
 * roots, list reachable blocks that are missing. Exit 1 when any block is corrupt (or, with
 * roots, missing), 0 when all is well. `--repair` deletes the corrupt blocks so the next `get`
 * fetches them again. `--json`: `{"blocks", "bytes", "corrupt", "missing", "repaired",
 * "corruptCids", "missingCids"}`.
 */
import { verifyStore } from '@tensorswap/blockstore'
import { parseCid } from '../args.js'
import { byteProgress, formatBytes, info, printResult, type GlobalOptions } from '../output.js'
import { withRepo } from '../repo.js'
import { megabytesPerSecond } from '../summary.js'

/** Options of `verify`. */
export interface VerifyOptions extends GlobalOptions {
  /** Delete corrupt blocks. */
  repair?: boolean
}

/** Run `verify`; sets `process.exitCode` to 1 when something is corrupt or missing. */
export async function verify (rootTexts: string[], opts: VerifyOptions): Promise<void> {
  const roots = rootTexts.map(parseCid)
  await withRepo(opts, async (repo) => {
    const bar = byteProgress(opts, 'verify')
    const started = performance.now()
    const r = await verifyStore(repo.blockstore, {
      roots,
      repair: opts.repair === true,
      onProgress: (evt) => { bar.add(evt.detail.bytes) }
    })
    bar.stop()
    for (const cid of r.corrupt) info(opts, `corrupt ${cid.toString()}${r.repaired ? ' (removed)' : ''}`)
    for (const cid of r.missing) info(opts, `missing ${cid.toString()}`)
    const seconds = (performance.now() - started) / 1000
    printResult(opts, {
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
    }, [`${r.blocks} blocks (${formatBytes(r.bytes)}) checked: ${r.corrupt.length} corrupt${r.repaired ? ' (removed)' : ''}, ${r.missing.length} missing`])
    if (r.corrupt.length > 0 || r.missing.length > 0) process.exitCode = 1
  })
}

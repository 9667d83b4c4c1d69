/**
 * `tensorswap pin add|rm|ls` and `tensorswap gc`: the roots the repo keeps, and freeing what no
 * pin reaches (packages/blockstore/src/pins.ts). `add` and `get` pin their roots.
 * `--json`: pin add/rm `{cid, pinned}`, ls `{pins: [{cid, pinnedAt}]}`, gc `{kept, blocks,
 * bytes, diskBytes, missing}`.
 */
import { addPin, gc as runGc, listPins, removePin } from '@tensorswap/blockstore'
import { parseCid } from '../args.js'
import { formatBytes, info, printResult, type GlobalOptions } from '../output.js'
import { withRepo } from '../repo.js'

/** `pin add <cid...>`. */
export async function pinAdd (cids: string[], opts: GlobalOptions): Promise<void> {
  const parsed = cids.map(parseCid)
  await withRepo(opts, async (repo) => {
    for (const cid of parsed) await addPin(repo.datastore, cid)
    printResult(opts, { pinned: parsed.map(c => c.toString()) }, parsed.map(c => `pinned ${c.toString()}`))
  })
}

/** `pin rm <cid...>`: exit 1 when one was not pinned. */
export async function pinRm (cids: string[], opts: GlobalOptions): Promise<void> {
  const parsed = cids.map(parseCid)
  await withRepo(opts, async (repo) => {
    const removed: string[] = []
    const absent: string[] = []
    for (const cid of parsed) (await removePin(repo.datastore, cid) ? removed : absent).push(cid.toString())
    printResult(opts, { removed, notPinned: absent }, [...removed.map(c => `unpinned ${c}`), ...absent.map(c => `not pinned ${c}`)])
    if (absent.length > 0) process.exitCode = 1
  })
}

/** `pin ls`. */
export async function pinLs (opts: GlobalOptions): Promise<void> {
  await withRepo(opts, async (repo) => {
    const pins = await listPins(repo.datastore)
    printResult(opts, { pins: pins.map(p => ({ cid: p.cid.toString(), pinnedAt: new Date(p.pinnedAt).toISOString() })) }, pins.map(p => p.cid.toString()))
  })
}

/** `gc`: free every block no pin reaches. */
export async function gc (opts: GlobalOptions): Promise<void> {
  await withRepo(opts, async (repo) => {
    const r = await runGc(repo.blockstore, repo.blockstore.store, repo.datastore)
    for (const cid of r.missing) info(opts, `pinned but not stored: ${cid.toString()}`)
    printResult(opts, { kept: r.kept, blocks: r.blocks, bytes: r.bytes, diskBytes: r.diskBytes, missing: r.missing.map(c => c.toString()) },
      [`freed ${r.blocks} blocks (${formatBytes(r.bytes)}; ${formatBytes(r.diskBytes)} of disk given back), kept ${r.kept}`])
  })
}

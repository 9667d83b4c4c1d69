/**
 * `tensorswap pin add|rm|ls` and `tensorswap gc`: the roots the repo keeps, and freeing what no
 * pin reaches (packages/blockstore/src/pins.ts). `add` and `get` pin their roots.
 * `--json`: pin add `{pinned}`, rm `{removed, notPinned}`, ls `{pins: [{cid, pinnedAt}]}`,
 * gc `{kept, blocks, bytes, diskBytes, missing}`.
 */
import { addPin, gc as runGc, listPins, removePin } from '@tensorswap/blockstore'
import { parseCid } from '../args.js'
import { defineCommand } from '../command.js'
import { formatBytes, info, printResult } from '../output.js'

/** Options of `pin add` and `pin rm`. */
export interface PinOptions {
  /** Root CIDs. */
  cids: string[]
}

/** `pin add <cid...>`. @throws UsageError (not a CID) */
export const pinAddCommand = defineCommand<PinOptions, { pinned: string[] }>({
  name: 'pin/add',
  options: { cids: 'string[]' },
  validate: (o) => { o.cids.forEach(parseCid) },
  async execute (ctx, o) {
    const cids = o.cids.map(parseCid)
    for (const cid of cids) await addPin(ctx.repo.datastore, cid)
    return { pinned: cids.map(c => c.toString()) }
  },
  render (r, opts) { printResult(opts, r, r.pinned.map(c => `pinned ${c}`)) }
})

/** `pin rm <cid...>`: exit 1 when one was not pinned. @throws UsageError (not a CID) */
export const pinRmCommand = defineCommand<PinOptions, { removed: string[], notPinned: string[] }>({
  name: 'pin/rm',
  options: { cids: 'string[]' },
  validate: (o) => { o.cids.forEach(parseCid) },
  async execute (ctx, o) {
    const removed: string[] = []
    const notPinned: string[] = []
    for (const cid of o.cids.map(parseCid)) (await removePin(ctx.repo.datastore, cid) ? removed : notPinned).push(cid.toString())
    return { removed, notPinned }
  },
  render (r, opts) {
    printResult(opts, r, [...r.removed.map(c => `unpinned ${c}`), ...r.notPinned.map(c => `not pinned ${c}`)])
    if (r.notPinned.length > 0) process.exitCode = 1
  }
})

/** `pin ls`. */
export const pinLsCommand = defineCommand<Record<string, never>, { pins: Array<{ cid: string, pinnedAt: string }> }>({
  name: 'pin/ls',
  options: {},
  async execute (ctx) {
    const pins = await listPins(ctx.repo.datastore)
    return { pins: pins.map(p => ({ cid: p.cid.toString(), pinnedAt: new Date(p.pinnedAt).toISOString() })) }
  },
  render (r, opts) { printResult(opts, r, r.pins.map(p => p.cid)) }
})

/** `gc`'s result (`--json`): blocks kept and freed, bytes freed, disk given back (bytes), pinned roots not stored. */
export interface GcResult { kept: number, blocks: number, bytes: number, diskBytes: number, missing: string[] }

/** `gc`: free every block no pin reaches. */
export const gcCommand = defineCommand<Record<string, never>, GcResult>({
  name: 'gc',
  options: {},
  async execute (ctx) {
    const r = await runGc(ctx.repo.blockstore, ctx.repo.blockstore.store, ctx.repo.datastore)
    return { kept: r.kept, blocks: r.blocks, bytes: r.bytes, diskBytes: r.diskBytes, missing: r.missing.map(c => c.toString()) }
  },
  render (r, opts) {
    for (const cid of r.missing) info(opts, `pinned but not stored: ${cid}`)
    printResult(opts, r, [`freed ${r.blocks} blocks (${formatBytes(r.bytes)}; ${formatBytes(r.diskBytes)} of disk given back), kept ${r.kept}`])
  }
})

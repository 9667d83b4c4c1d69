/**
 * `tensorswap diff <cidA> <cidB>`: compare two model manifests in the local repo: tensors
 * added, removed and changed (name, bytes), and the bytes of chunks B has that A has not (what
 * a peer holding A fetches to hold B). `--json`: `{"added": [{name, bytes}], "removed": [...],
 * "changed": [...], "unchanged": N, "newChunkBytes", "totalBytes"}`.
 */
import { blockSize } from '@tensorswap/blockstore'
import { diffManifests, readManifest, type ManifestDiff } from '@tensorswap/model'
import { parseCid } from '../args.js'
import { defineCommand } from '../command.js'
import { formatBytes, printResult } from '../output.js'

/** Options of `diff`. */
export interface DiffOptions { cidA: string, cidB: string }

/** `diff`. @throws NotAManifestError (model) when a CID is not a manifest; the blockstore's NotFoundError when it is not in the repo */
export const diffCommand = defineCommand<DiffOptions, ManifestDiff>({
  name: 'diff',
  options: { cidA: 'string', cidB: 'string' },
  validate: (o) => { parseCid(o.cidA); parseCid(o.cidB) },
  async execute (ctx, o) {
    const { blockstore } = ctx.repo
    const [ma, mb] = [await readManifest(blockstore, parseCid(o.cidA)), await readManifest(blockstore, parseCid(o.cidB))]
    return await diffManifests(ma, mb, async (cid) => await blockSize(blockstore, cid))
  },
  render (d, opts) {
    const pct = d.totalBytes > 0 ? (100 * d.newChunkBytes / d.totalBytes).toFixed(1) : '0.0'
    printResult(opts, d, [
      ...d.added.map(t => `+ ${t.name} ${formatBytes(t.bytes)}`),
      ...d.removed.map(t => `- ${t.name} ${formatBytes(t.bytes)}`),
      ...d.changed.map(t => `~ ${t.name} ${formatBytes(t.bytes)}`),
      `${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed, ${d.unchanged} unchanged; new chunks ${formatBytes(d.newChunkBytes)} of ${formatBytes(d.totalBytes)} (${pct}%)`
    ])
  }
})

/**
 * `tensorswap diff <cidA> <cidB>`: compare two model manifests in the local repo: tensors
 * added, removed and changed (name, bytes), and the bytes of chunks B has that A has not (what
 * a peer holding A fetches to hold B). `--json`: `{"added": [{name, bytes}], "removed": [...],
 * "changed": [...], "unchanged": N, "newChunkBytes", "totalBytes"}`.
 */
import { blockSize } from '@tensorswap/blockstore'
import { diffManifests, readManifest } from '@tensorswap/model'
import { parseCid } from '../args.js'
import { formatBytes, printResult, type GlobalOptions } from '../output.js'
import { withRepo } from '../repo.js'

/** Run `diff`. @throws NotAManifestError (model) when a CID is not a manifest; the blockstore's NotFoundError when it is not in the repo */
export async function diff (aText: string, bText: string, opts: GlobalOptions): Promise<void> {
  const a = parseCid(aText)
  const b = parseCid(bText)
  await withRepo(opts, async (repo) => {
    const [ma, mb] = [await readManifest(repo.blockstore, a), await readManifest(repo.blockstore, b)]
    const d = await diffManifests(ma, mb, async (cid) => await blockSize(repo.blockstore, cid))
    const pct = d.totalBytes > 0 ? (100 * d.newChunkBytes / d.totalBytes).toFixed(1) : '0.0'
    printResult(opts, d, [
      ...d.added.map(t => `+ ${t.name} ${formatBytes(t.bytes)}`),
      ...d.removed.map(t => `- ${t.name} ${formatBytes(t.bytes)}`),
      ...d.changed.map(t => `~ ${t.name} ${formatBytes(t.bytes)}`),
      `${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed, ${d.unchanged} unchanged; new chunks ${formatBytes(d.newChunkBytes)} of ${formatBytes(d.totalBytes)} (${pct}%)`
    ])
  })
}

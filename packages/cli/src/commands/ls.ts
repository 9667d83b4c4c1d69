/**
 * `tensorswap ls <cid>`: files with their UnixFS CIDs and sizes, and tensors with name, dtype,
 * shape and bytes.
 */
import { listModel } from '@tensorswap/model'
import { parseCid } from '../args.js'
import { printResult, type GlobalOptions } from '../output.js'
import { withRepo } from '../repo.js'
import type { JsonFile } from '../summary.js'

/** Run `ls`; `--json`: `{root, files:[{path, cid, bytes}], tensors:[{name, file, dtype, shape, offset, bytes, chunks}]}`. */
export async function ls (cidText: string, opts: GlobalOptions): Promise<void> {
  const cid = parseCid(cidText)
  await withRepo(opts, async (repo) => {
    const listing = await listModel(repo.blockstore, cid)
    const files: JsonFile[] = listing.files.map(f => ({ path: f.path, cid: f.cid.toString(), bytes: f.size }))
    const tensors = listing.tensors.map(t => ({
      name: t.name, file: t.file, dtype: t.dtype, shape: t.shape, offset: t.offset, bytes: t.length, chunks: t.chunks.length
    }))
    const lines = files.map(f => `${f.cid}\t${f.bytes}\t${f.path}`)
    if (tensors.length > 0) {
      lines.push('')
      for (const t of tensors) lines.push(`${t.name}\t${t.dtype}\t[${t.shape.join(',')}]\t${t.bytes}`)
    }
    printResult(opts, { root: cid.toString(), files, tensors }, lines)
  })
}

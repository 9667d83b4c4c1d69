/**
 * `tensorswap ls <cid>`: files with their UnixFS CIDs and sizes, and tensors with name, dtype,
 * shape and bytes.
 */
import { listModel } from '@tensorswap/model'
import { parseCid } from '../args.js'
import { defineCommand } from '../command.js'
import { printResult } from '../output.js'
import type { JsonFile } from '../summary.js'

/** Options of `ls`. */
export interface LsOptions { cid: string }

/** `ls`'s result (`--json`): `{root, files:[{path, cid, bytes}], tensors:[{name, file, dtype, shape, offset, bytes, chunks}]}`. */
export interface LsResult {
  root: string
  files: JsonFile[]
  tensors: Array<{ name: string, file: string, dtype: string, shape: number[], offset: number, bytes: number, chunks: number }>
}

/** `ls`. @throws UsageError (not a CID); the blockstore's NotFoundError; InvalidDagError */
export const lsCommand = defineCommand<LsOptions, LsResult>({
  name: 'ls',
  options: { cid: 'string' },
  validate: (o) => { parseCid(o.cid) },
  async execute (ctx, o) {
    const cid = parseCid(o.cid)
    const listing = await listModel(ctx.repo.blockstore, cid)
    return {
      root: cid.toString(),
      files: listing.files.map(f => ({ path: f.path, cid: f.cid.toString(), bytes: f.size })),
      tensors: listing.tensors.map(t => ({
        name: t.name, file: t.file, dtype: t.dtype, shape: t.shape, offset: t.offset, bytes: t.length, chunks: t.chunks.length
      }))
    }
  },
  render (r, opts) {
    const lines = r.files.map(f => `${f.cid}\t${f.bytes}\t${f.path}`)
    if (r.tensors.length > 0) {
      lines.push('')
      for (const t of r.tensors) lines.push(`${t.name}\t${t.dtype}\t[${t.shape.join(',')}]\t${t.bytes}`)
    }
    printResult(opts, r, lines)
  }
})

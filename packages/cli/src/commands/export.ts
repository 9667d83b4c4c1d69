/**
 * `tensorswap export <cid> -o DIR`: write a model's files byte-exact into DIR; files already
 * there with the right bytes are kept (src/write-files.ts).
 */
import { parseCid } from '../args.js'
import { defineCommand } from '../command.js'
import { info, printResult } from '../output.js'
import { megabytesPerSecond, type JsonFile } from '../summary.js'
import { singleFile, streamFile } from '@tensorswap/model'
import { writeFiles } from '../write-files.js'
import { UsageError } from '../errors.js'

/** Options of `export`. */
export interface ExportOptions {
  cid: string
  /** Output directory (absolute through the daemon), or `-` for a single file on stdout. */
  output: string
}

/** `export`'s result (`--json`), `bytes` written (src/summary.ts); `{stdout: true, ...}` for `-o -` (nothing printed on stdout but the bytes). */
export type ExportResult = {
  root: string
  output: string
  files: JsonFile[]
  filesWritten: number
  filesKept: number
  bytes: number
  seconds: number
  MBps: number
} | { stdout: true, bytes: number, file: string }

/**
 * `export`. `-o -`: a single-file root's bytes on stdout.
 * @throws UsageError - `-o -` with a directory root; the blockstore's NotFoundError; InvalidDagError
 */
export const exportCommand = defineCommand<ExportOptions, ExportResult>({
  name: 'export',
  options: { cid: 'string', output: 'string' },
  paths: ['output'],
  validate: (o) => { parseCid(o.cid) },
  async execute (ctx, o) {
    const cid = parseCid(o.cid)
    const { repo } = ctx
    if (o.output === '-') {
      const file = await singleFile(repo.blockstore, cid)
      if (file == null) throw new UsageError(`export -o -: ${cid.toString()} is a directory; stdout takes a single file (use -o DIR)`)
      const bytes = await streamFile(repo.blockstore, file.cid, ctx.stdout, { signal: ctx.signal })
      return { stdout: true, bytes, file: file.cid.toString() }
    }
    const bar = ctx.bar('export')
    const started = performance.now()
    const result = await writeFiles(repo.blockstore, cid, o.output, {
      signal: ctx.signal,
      onTotal: (bytes) => { bar.setTotal(bytes) },
      onBytes: (done) => { bar.update(done) }
    }).finally(() => { bar.stop() })
    const seconds = (performance.now() - started) / 1000
    return {
      root: cid.toString(),
      output: o.output,
      files: result.files,
      filesWritten: result.written,
      filesKept: result.kept,
      bytes: result.bytes,
      seconds,
      MBps: megabytesPerSecond(result.bytes, seconds)
    }
  },
  render (r, opts) {
    if ('stdout' in r) {
      info(opts, `wrote ${r.bytes} bytes of ${r.file} to stdout`)
      return
    }
    printResult(opts, r, [`exported ${r.filesWritten} files, ${r.bytes} bytes to ${r.output}${keptNote(r.filesKept)}`])
  }
})

/** `, N already there` (files kept because their bytes were right), or nothing. */
export function keptNote (kept: number): string {
  return kept > 0 ? `, ${kept} already there` : ''
}

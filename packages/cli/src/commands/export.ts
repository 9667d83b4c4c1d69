/**
 * `tensorswap export <cid> -o DIR`: write a model's files byte-exact into DIR; files already
 * there with the right bytes are kept (src/write-files.ts).
 */
import { parseCid } from '../args.js'
import { byteProgress, info, printResult, type GlobalOptions } from '../output.js'
import { withRepo } from '../repo.js'
import { megabytesPerSecond } from '../summary.js'
import { singleFile, streamFile } from '@tensorswap/model'
import { writeFiles } from '../write-files.js'
import { UsageError } from '../errors.js'

/**
 * Run `export`; `--json`: `{root, output, files, filesWritten, filesKept, bytes, seconds, MBps}`
 * with `bytes` written (src/summary.ts). `-o -`: a single-file root's bytes on stdout.
 * @throws UsageError - `-o -` with a directory root
 */
export async function exportCommand (cidText: string, opts: GlobalOptions & { output: string }): Promise<void> {
  const cid = parseCid(cidText)
  await withRepo(opts, async (repo) => {
    if (opts.output === '-') {
      const file = await singleFile(repo.blockstore, cid)
      if (file == null) throw new UsageError(`export -o -: ${cid.toString()} is a directory; stdout takes a single file (use -o DIR)`)
      const bytes = await streamFile(repo.blockstore, file.cid, process.stdout)
      info(opts, `wrote ${bytes} bytes of ${file.cid.toString()} to stdout`)
      return
    }
    const bar = byteProgress(opts, 'export')
    const started = performance.now()
    const result = await writeFiles(repo.blockstore, cid, opts.output, {
      onBytes: (done) => { bar.update(done) }
    }).finally(() => bar.stop())
    const seconds = (performance.now() - started) / 1000
    printResult(opts, {
      root: cid.toString(),
      output: opts.output,
      files: result.files,
      filesWritten: result.written,
      filesKept: result.kept,
      bytes: result.bytes,
      seconds,
      MBps: megabytesPerSecond(result.bytes, seconds)
    }, [`exported ${result.written} files, ${result.bytes} bytes to ${opts.output}${keptNote(result.kept)}`])
  })
}

/** `, N already there` (files kept because their bytes were right), or nothing. */
export function keptNote (kept: number): string {
  return kept > 0 ? `, ${kept} already there` : ''
}

/**
 * `tensorswap export <cid> -o DIR`: write a model's files byte-exact into DIR.
 */
import { exportModel } from '@tensorswap/model'
import { parseCid } from '../args.js'
import { byteProgress, printResult, type GlobalOptions } from '../output.js'
import { withRepo } from '../repo.js'
import { feedProgress } from '../progress.js'

/** Run `export`. */
export async function exportCommand (cidText: string, opts: GlobalOptions & { output: string }): Promise<void> {
  const cid = parseCid(cidText)
  await withRepo(opts, async (repo) => {
    const bar = byteProgress(opts, 'export')
    const started = performance.now()
    const result = await exportModel(repo.blockstore, cid, opts.output, {
      onProgress: (evt) => { feedProgress(bar, evt) }
    }).finally(() => bar.stop())
    const seconds = (performance.now() - started) / 1000
    printResult(opts, { cid: cid.toString(), output: opts.output, files: result.files, bytes: result.bytes, seconds },
      [`exported ${result.files} files, ${result.bytes} bytes to ${opts.output}`])
  })
}

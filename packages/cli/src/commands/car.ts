/**
 * `tensorswap car export <cid> -o FILE` and `tensorswap car import FILE`.
 */
import { createWriteStream } from 'node:fs'
import { exportCar, importCarFile } from '@tensorswap/blockstore'
import { parseCid } from '../args.js'
import { byteProgress, printResult, type GlobalOptions } from '../output.js'
import { withRepo } from '../repo.js'
import { feedProgress } from '../progress.js'

/** Run `car export`: CARv1, blocks in DFS order (`order=dfs`), no duplicates. */
export async function carExport (cidText: string, opts: GlobalOptions & { output: string }): Promise<void> {
  const cid = parseCid(cidText)
  await withRepo(opts, async (repo) => {
    const bar = byteProgress(opts, 'car export')
    const out = createWriteStream(opts.output)
    const result = await exportCar(repo.blockstore, cid, out, {
      onProgress: (evt) => { feedProgress(bar, evt) }
    }).finally(() => bar.stop())
    await new Promise<void>((resolve, reject) => { out.end((err?: Error | null) => { if (err != null) reject(err); else resolve() }) })
    printResult(opts, { root: cid.toString(), output: opts.output, blocks: result.blocks, bytes: result.bytes },
      [`wrote ${result.blocks} blocks to ${opts.output}`, cid.toString()])
  })
}

/** Run `car import`: CARv1 or CARv2, every block verified before it is stored. */
export async function carImport (file: string, opts: GlobalOptions): Promise<void> {
  await withRepo(opts, async (repo) => {
    const bar = byteProgress(opts, 'car import')
    const result = await importCarFile(repo.blockstore, file, {
      onProgress: (evt) => { feedProgress(bar, evt) }
    }).finally(() => bar.stop())
    const roots = result.roots.map(r => r.toString())
    printResult(opts, { roots, blocks: result.blocks, bytes: result.bytes },
      [`imported ${result.blocks} blocks`, ...roots])
  })
}

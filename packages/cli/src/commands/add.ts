/**
 * `tensorswap add <path>`: import a model file or directory into the repo and print the root
 * CID (the DAG-CBOR manifest) as the last line of stdout.
 */
import { stat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { importModel } from '@tensorswap/model'
import { byteProgress, printResult, type GlobalOptions } from '../output.js'
import { withRepo } from '../repo.js'
import { feedProgress } from '../progress.js'

/** Total size in bytes of a file or of every file under a directory. */
async function totalBytes (path: string): Promise<number> {
  const s = await stat(path)
  if (!s.isDirectory()) return s.size
  let sum = 0
  for (const entry of await readdir(path)) sum += await totalBytes(join(path, entry))
  return sum
}

/** Run `add`. */
export async function add (path: string, opts: GlobalOptions & { name?: string }): Promise<void> {
  const total = await totalBytes(path)
  await withRepo(opts, async (repo) => {
    const bar = byteProgress(opts, 'import')
    bar.setTotal(total)
    const started = performance.now()
    const result = await importModel(repo.blockstore, path, {
      name: opts.name,
      onProgress: (evt) => { feedProgress(bar, evt) }
    }).finally(() => bar.stop())
    const seconds = (performance.now() - started) / 1000
    printResult(opts, {
      root: result.root.toString(),
      files: result.files.toString(),
      tensors: result.manifest.tensors.length,
      bytes: result.bytes,
      blocks: result.blocks,
      seconds
    }, [
      `files ${result.files.toString()}`,
      `tensors ${result.manifest.tensors.length}`,
      result.root.toString()
    ])
  })
}

/**
 * `tensorswap add <path>`: import a model file or directory into the repo and print the root
 * CID (the DAG-CBOR manifest) as the last line of stdout.
 */
import { stat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { importModel } from '@tensorswap/model'
import { addPin } from '@tensorswap/blockstore'
import { recordProvidedRoot } from 'tensorswap/routing'
import { byteProgress, printResult, type GlobalOptions } from '../output.js'
import { countingSink, withRepo } from '../repo.js'
import { jsonFiles, megabytesPerSecond, type JsonTensor } from '../summary.js'
import { feedProgress } from '../progress.js'

/** Total size in bytes of a file or of every file under a directory. */
async function totalBytes (path: string): Promise<number> {
  const s = await stat(path)
  if (!s.isDirectory()) return s.size
  let sum = 0
  for (const entry of await readdir(path)) sum += await totalBytes(join(path, entry))
  return sum
}

/**
 * Run `add`: stdout gets `files <cid>`, `tensors <n>` and the root CID last (only the root with
 * `--quiet`, for `$(tensorswap add -q DIR)`); `--json`: `{root, filesRoot, files, tensors,
 * bytes, blocks, blocksStored, blocksLocal, seconds, MBps}` (src/summary.ts).
 */
export async function add (path: string, opts: GlobalOptions & { name?: string, copy?: boolean }): Promise<void> {
  const total = await totalBytes(path)
  await withRepo(opts, async (repo) => {
    const bar = byteProgress(opts, 'import')
    bar.setTotal(total)
    const started = performance.now()
    const sink = countingSink(repo.blockstore)
    const result = await importModel(sink, path, {
      name: opts.name,
      // --no-copy: leaves stay in the source files, the repo records where (re-checked on read)
      noCopy: opts.copy === false,
      onProgress: (evt) => { feedProgress(bar, evt) }
    }).finally(() => bar.stop())
    // `serve` provides what this records (spec/tensorswap.md "Content routing")
    await recordProvidedRoot(repo.datastore, repo.blockstore, result.root)
    await addPin(repo.datastore, result.root)
    const seconds = (performance.now() - started) / 1000
    const tensors: JsonTensor[] = result.manifest.tensors.map(t => ({ name: t.name, file: t.file, dtype: t.dtype, shape: t.shape, bytes: t.length }))
    const root = result.root.toString()
    printResult(opts, {
      root,
      filesRoot: result.files.toString(),
      files: await jsonFiles(repo.blockstore, result.root),
      tensors,
      bytes: result.bytes,
      blocks: sink.blocks,
      blocksStored: sink.blocksStored,
      blocksLocal: sink.blocks - sink.blocksStored,
      seconds,
      MBps: megabytesPerSecond(result.bytes, seconds)
    }, opts.quiet === true
      ? [root]
      : [`files ${result.files.toString()}`, `tensors ${result.manifest.tensors.length}`, root])
  }, true)
}

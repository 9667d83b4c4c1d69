/**
 * `tensorswap car export <cid> -o FILE` and `tensorswap car import FILE`.
 */
import { createWriteStream } from 'node:fs'
import * as dagCbor from '@ipld/dag-cbor'
import { readManifest } from '@tensorswap/model'
import { exportCar, importCar, importCarFile, type ImportCarProgressEvents } from '@tensorswap/blockstore'
import { parseCid } from '../args.js'
import { byteProgress, info, printResult, type GlobalOptions } from '../output.js'
import { countingSink, withRepo } from '../repo.js'
import { megabytesPerSecond } from '../summary.js'
import { UsageError } from '../errors.js'
import type { Repo } from '@tensorswap/blockstore'
import type { CID } from 'multiformats/cid'
import { feedProgress } from '../progress.js'

/**
 * Run `car export`: CARv1, blocks in DFS order (`order=dfs`), no duplicates; `--json`:
 * `{root, output, blocks, bytes, seconds, MBps}`. `--files`: only a model's UnixFS files DAG,
 * rooted at its files root, a CAR `ipfs-car unpack` writes the files of. `-o -` writes the CAR to stdout (the
 * summary line goes to stderr).
 */
export async function carExport (cidText: string, opts: GlobalOptions & { output: string, files?: boolean }): Promise<void> {
  const cid = parseCid(cidText)
  await withRepo(opts, async (repo) => {
    const bar = byteProgress(opts, 'car export')
    const started = performance.now()
    const toStdout = opts.output === '-'
    const out = toStdout ? process.stdout : createWriteStream(opts.output)
    // --files: the model's UnixFS files DAG alone, its root the CAR's only root (`ipfs-car unpack` reads it)
    const root = opts.files === true ? await filesRoot(repo.blockstore, cid) : cid
    const result = await exportCar(repo.blockstore, root, out, {
      onProgress: (evt) => { feedProgress(bar, evt) }
    }).finally(() => bar.stop())
    // stdout stays open (the process ends it); a file is flushed and closed
    if (!toStdout) await new Promise<void>((resolve, reject) => { out.end((err?: Error | null) => { if (err != null) reject(err); else resolve() }) })
    const seconds = (performance.now() - started) / 1000
    if (toStdout) {
      info(opts, `wrote ${result.blocks} blocks (${result.bytes} bytes) of ${root.toString()} to stdout`)
      return
    }
    printResult(opts, { root: root.toString(), output: opts.output, blocks: result.blocks, bytes: result.bytes, seconds, MBps: megabytesPerSecond(result.bytes, seconds) },
      [`wrote ${result.blocks} blocks to ${opts.output}`, root.toString()])
  })
}

/**
 * The UnixFS root of the files under `root`: a manifest's `files`; a UnixFS root itself.
 * @throws UsageError - a DAG-CBOR root that is not a TensorSwap manifest
 */
async function filesRoot (blockstore: Repo['blockstore'], root: CID): Promise<CID> {
  if (root.code !== dagCbor.code) return root
  try {
    return (await readManifest(blockstore, root)).files
  } catch (err) {
    if ((err as Error).name === 'NotAManifestError') throw new UsageError(`car export --files: ${root.toString()} is not a model manifest`)
    throw err
  }
}

/**
 * Run `car import FILE` (`-`: stdin): CARv1 or CARv2, every block verified before it is stored; `--json`:
 * `{roots, blocks, blocksStored, blocksLocal, bytes, seconds, MBps}`.
 */
export async function carImport (file: string, opts: GlobalOptions): Promise<void> {
  await withRepo(opts, async (repo) => {
    const bar = byteProgress(opts, 'car import')
    const started = performance.now()
    const sink = countingSink(repo.blockstore)
    const onProgress = (evt: ImportCarProgressEvents): void => { feedProgress(bar, evt) }
    const result = await (file === '-'
      ? importCar(sink, process.stdin, { onProgress, name: 'stdin' })
      : importCarFile(sink, file, { onProgress })
    ).finally(() => bar.stop())
    const roots = result.roots.map(r => r.toString())
    const seconds = (performance.now() - started) / 1000
    printResult(opts, { roots, blocks: result.blocks, blocksStored: sink.blocksStored, blocksLocal: sink.blocks - sink.blocksStored, bytes: result.bytes, seconds, MBps: megabytesPerSecond(result.bytes, seconds) },
      [`imported ${result.blocks} blocks`, ...roots])
  })
}

/**
 * `tensorswap car export <cid> -o FILE` and `tensorswap car import FILE`.
 */
import { createWriteStream } from 'node:fs'
import * as dagCbor from '@ipld/dag-cbor'
import { readManifest } from '@tensorswap/model'
import { exportCar, importCar, importCarFile, type ImportCarProgressEvents } from '@tensorswap/blockstore'
import { parseCid } from '../args.js'
import { defineCommand } from '../command.js'
import { info, printResult } from '../output.js'
import { countingSink } from '../repo.js'
import { megabytesPerSecond } from '../summary.js'
import { UsageError } from '../errors.js'
import type { Repo } from '@tensorswap/blockstore'
import type { CID } from 'multiformats/cid'
import { feedProgress } from '../progress.js'

/** Options of `car export`. */
export interface CarExportOptions {
  cid: string
  /** CAR file (absolute through the daemon), or `-` for stdout. */
  output: string
  /** Only the model's UnixFS files DAG, rooted at its files root. */
  files?: boolean
}

/** `car export`'s result (`--json`: all but `stdout`). */
export interface CarExportResult { root: string, output: string, blocks: number, bytes: number, seconds: number, MBps: number }

/**
 * `car export`: CARv1, blocks in DFS order (`order=dfs`), no duplicates. `--files`: only a
 * model's UnixFS files DAG, rooted at its files root, a CAR `ipfs-car unpack` writes the files
 * of. `-o -` writes the CAR to stdout (the summary line goes to stderr).
 * @throws UsageError (not a CID; `--files` on a DAG-CBOR root that is not a manifest); the CAR writer's errors
 */
export const carExportCommand = defineCommand<CarExportOptions, CarExportResult>({
  name: 'car/export',
  options: { cid: 'string', output: 'string', files: 'boolean' },
  paths: ['output'],
  validate: (o) => { parseCid(o.cid) },
  async execute (ctx, o) {
    const cid = parseCid(o.cid)
    const bar = ctx.bar('car export')
    const started = performance.now()
    const toStdout = o.output === '-'
    // --files: the model's UnixFS files DAG alone, its root the CAR's only root (`ipfs-car unpack` reads it)
    const root = o.files === true ? await filesRoot(ctx.repo.blockstore, cid) : cid
    const out = toStdout ? ctx.stdout : createWriteStream(o.output)
    const result = await exportCar(ctx.repo.blockstore, root, out, {
      signal: ctx.signal,
      onProgress: (evt) => { feedProgress(bar, evt) }
    }).finally(() => { bar.stop() })
    // stdout stays open (the process ends it); a file is flushed and closed
    if (!toStdout) await new Promise<void>((resolve, reject) => { out.end((err?: Error | null) => { if (err != null) reject(err); else resolve() }) })
    const seconds = (performance.now() - started) / 1000
    return { root: root.toString(), output: o.output, blocks: result.blocks, bytes: result.bytes, seconds, MBps: megabytesPerSecond(result.bytes, seconds) }
  },
  render (r, opts) {
    if (r.output === '-') {
      info(opts, `wrote ${r.blocks} blocks (${r.bytes} bytes) of ${r.root} to stdout`)
      return
    }
    printResult(opts, r, [`wrote ${r.blocks} blocks to ${r.output}`, r.root])
  }
})

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

/** Options of `car import`. */
export interface CarImportOptions {
  /** CAR file (absolute through the daemon), or `-` for stdin. */
  file: string
}

/** `car import`'s result (`--json`). */
export interface CarImportResult { roots: string[], blocks: number, blocksStored: number, blocksLocal: number, bytes: number, seconds: number, MBps: number }

/**
 * `car import FILE` (`-`: stdin): CARv1 or CARv2, every block verified before it is stored.
 * @throws the CAR reader's errors (a bad header, a block that does not match its CID, ...)
 */
export const carImportCommand = defineCommand<CarImportOptions, CarImportResult>({
  name: 'car/import',
  options: { file: 'string' },
  paths: ['file'],
  stdin: (o) => o.file === '-',
  async execute (ctx, o) {
    const bar = ctx.bar('car import')
    const started = performance.now()
    const sink = countingSink(ctx.repo.blockstore, ctx.stored)
    const onProgress = (evt: ImportCarProgressEvents): void => { feedProgress(bar, evt) }
    const result = await (o.file === '-'
      ? importCar(sink, ctx.stdin ?? [], { onProgress, name: 'stdin', signal: ctx.signal })
      : importCarFile(sink, o.file, { onProgress, signal: ctx.signal })
    ).finally(() => { bar.stop() })
    const seconds = (performance.now() - started) / 1000
    return { roots: result.roots.map(r => r.toString()), blocks: result.blocks, blocksStored: sink.blocksStored, blocksLocal: sink.blocks - sink.blocksStored, bytes: result.bytes, seconds, MBps: megabytesPerSecond(result.bytes, seconds) }
  },
  render (r, opts) {
    printResult(opts, r, [`imported ${r.blocks} blocks`, ...r.roots])
  }
})

/**
 * `tensorswap add <path>`: import a model file or directory into the repo and print the root
 * CID (the DAG-CBOR manifest) as the last line of stdout. Through the daemon its blocks are
 * served at once and its root provided.
 */
import { stat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { importModel } from '@tensorswap/model'
import { addPin } from '@tensorswap/blockstore'
import { recordProvidedRoot } from 'tensorswap/routing'
import { defineCommand } from '../command.js'
import { printResult } from '../output.js'
import { countingSink } from '../repo.js'
import { jsonFiles, megabytesPerSecond, type JsonFile, type JsonTensor } from '../summary.js'
import { feedProgress } from '../progress.js'

/** Total size in bytes of a file or of every file under a directory. */
async function totalBytes (path: string): Promise<number> {
  const s = await stat(path)
  if (!s.isDirectory()) return s.size
  let sum = 0
  for (const entry of await readdir(path)) sum += await totalBytes(join(path, entry))
  return sum
}

/** Options of `add`. */
export interface AddOptions {
  /** File or directory (absolute through the daemon). */
  path: string
  /** Model name stored in the manifest. */
  name?: string
  /** `false` (`--no-copy`): reference the files in place instead of copying them into the repo. */
  copy?: boolean
}

/** `add`'s result (`--json`, src/summary.ts). */
export interface AddResult {
  root: string
  filesRoot: string
  files: JsonFile[]
  tensors: JsonTensor[]
  bytes: number
  blocks: number
  blocksStored: number
  blocksLocal: number
  seconds: number
  MBps: number
}

/**
 * `add`: stdout gets `files <cid>`, `tensors <n>` and the root CID last (only the root with
 * `--quiet`, for `$(tensorswap add -q DIR)`).
 * @throws the import's errors (ENOENT for a missing path, the format parsers' errors)
 */
export const addCommand = defineCommand<AddOptions, AddResult>({
  name: 'add',
  options: { path: 'string', name: 'string', copy: 'boolean' },
  paths: ['path'],
  create: true,
  async execute (ctx, o) {
    const total = await totalBytes(o.path)
    const { repo } = ctx
    const bar = ctx.bar('import')
    bar.setTotal(total)
    const started = performance.now()
    const sink = countingSink(repo.blockstore, ctx.stored)
    const result = await importModel(sink, o.path, {
      name: o.name,
      // --no-copy: leaves stay in the source files, the repo records where (re-checked on read)
      noCopy: o.copy === false,
      signal: ctx.signal,
      onProgress: (evt) => { feedProgress(bar, evt) }
    }).finally(() => { bar.stop() })
    // `serve` provides what this records (spec/tensorswap.md "Content routing"); the daemon at once
    const cids = await recordProvidedRoot(repo.datastore, repo.blockstore, result.root)
    ctx.node?.routing?.provideInBackground(cids)
    await addPin(repo.datastore, result.root)
    const seconds = (performance.now() - started) / 1000
    return {
      root: result.root.toString(),
      filesRoot: result.files.toString(),
      files: await jsonFiles(repo.blockstore, result.root),
      tensors: result.manifest.tensors.map(t => ({ name: t.name, file: t.file, dtype: t.dtype, shape: t.shape, bytes: t.length })),
      bytes: result.bytes,
      blocks: sink.blocks,
      blocksStored: sink.blocksStored,
      blocksLocal: sink.blocks - sink.blocksStored,
      seconds,
      MBps: megabytesPerSecond(result.bytes, seconds)
    }
  },
  render (r, opts) {
    printResult(opts, r, opts.quiet === true ? [r.root] : [`files ${r.filesRoot}`, `tensors ${r.tensors.length}`, r.root])
  }
})

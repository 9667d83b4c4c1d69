/**
 * `get --include GLOB` / `--exclude GLOB`: fetch and write only some files of a model (as
 * `huggingface-cli download --include/--exclude`). The directory structure is read first (the
 * manifest, the UnixFS directory nodes: one block each, from the peers when not local), the
 * file paths are matched, and then only the chosen files' DAGs are fetched (`node.get` per file,
 * a few at a time) and written byte-exact (kept when already right, else `NAME.part` then
 * renamed: src/write-files.ts).
 *
 * Globs are the ones `--tensors` takes (`globToRegExp` of `@tensorswap/model`): `*` any run of
 * characters, `/` included (so `*.json` matches `config.json` and `sub/config.json`, as the
 * fnmatch of huggingface_hub), `?` one character, `[0-3]`, `[!0-3]`, `{a,b}`; anchored at both
 * ends, matched against the file's path under the model root (`a/b.bin`; a single-file model:
 * its file name).
 */
import { basename, dirname, join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import * as raw from 'multiformats/codecs/raw'
import { multiaddr } from '@multiformats/multiaddr'
import { directoryEntries, entityKind, globToRegExp, isSafeName, singleFileName, validateManifest, type VerifiedBlockSource } from '@tensorswap/model'
import { getBlockUnverified, getVerifiedBlock, mapLimit } from '@tensorswap/blockstore'
import { dialWithRetry, type GetResult, type TensorSwapNode } from 'tensorswap'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { CommandContext } from './command.js'
import { UsageError } from './errors.js'
import { resumeLine } from './output.js'
import { unixfsDagBytes } from './progress.js'
import { megabytesPerSecond, messagesSince, type JsonFile } from './summary.js'
import { filesBytes, writeFiles } from './write-files.js'
import { daemonRouting, type RoutingFlags } from './routing.js'
import { GET_FILES_CONCURRENCY } from './constants.js'
import { localDag } from './local-dag.js'

/** `--include` / `--exclude`: globs over file paths (each repeatable). */
export interface FileSelection {
  include?: string[]
  exclude?: string[]
}

/**
 * Check the globs of a {@link FileSelection} (no repo needed).
 * @throws {UsageError} an empty glob
 */
export function checkFileSelection (sel: FileSelection): void {
  for (const [flag, globs] of [['--include', sel.include], ['--exclude', sel.exclude]] as const) {
    for (const g of globs ?? []) if (g.length === 0) throw new UsageError(`${flag} needs a non-empty glob`)
  }
}

/** Whether a {@link FileSelection} restricts the files at all. */
export function selectsFiles (sel: FileSelection): boolean {
  return (sel.include ?? []).length > 0 || (sel.exclude ?? []).length > 0
}

/**
 * The predicate of a {@link FileSelection}: a path is chosen when it matches some `--include`
 * (any path, with none given) and no `--exclude`.
 */
export function fileFilter (sel: FileSelection): (path: string) => boolean {
  const inc = (sel.include ?? []).map(globToRegExp)
  const exc = (sel.exclude ?? []).map(globToRegExp)
  return (path) => (inc.length === 0 || inc.some(r => r.test(path))) && !exc.some(r => r.test(path))
}

/** A file of the model DAG. */
export interface DagFile {
  /** Path under the model root, `/`-separated (a single-file model: its file name). */
  path: string
  cid: CID
  /** Bytes of the file's blocks (its DAG), when known from a link's `Tsize` or its root block. */
  dagBytes?: number
}

/** What {@link listFiles} found. */
export interface FileListing {
  /** Every file reached, in DAG order. */
  files: DagFile[]
  /** True when the root is a single file (its path is its file name, not a path in a directory). */
  single: boolean
}

/**
 * The files of the model at `root` (a manifest, a UnixFS directory or file), reading only the
 * manifest, the directory nodes and the root blocks of files that could be directories. A raw
 * leaf and a manifest's tensor file are known to be files without being read.
 *
 * @param source - verified blocks (fetched from the network when not local, see {@link getFiles})
 * @throws InvalidDagError - an unsafe name (`..`, `/`) or a bad HAMT; NotAManifestError; `source`'s errors
 */
export async function listFiles (source: VerifiedBlockSource, root: CID, options: { signal?: AbortSignal } = {}): Promise<FileListing> {
  const { signal } = options
  let filesRoot = root
  let name: string | undefined
  const knownFiles = new Set<string>()
  if (root.code === dagCbor.code) {
    const manifest = validateManifest(dagCbor.decode(await source.getBlock(root, { signal })), `manifest ${root.toString()}`)
    filesRoot = manifest.files
    name = manifest.name
    for (const t of manifest.tensors) knownFiles.add(t.file)
  }
  const files: DagFile[] = []
  const visit = async (cid: CID, path: string, tsize: number | undefined): Promise<boolean> => {
    if (cid.code === raw.code || (path !== '' && knownFiles.has(path))) {
      files.push({ path, cid, dagBytes: tsize })
      return true
    }
    const bytes = await source.getBlock(cid, { signal })
    const kind = entityKind(cid, bytes)
    if (kind.kind === 'file') {
      files.push({ path, cid, dagBytes: unixfsDagBytes(cid, bytes) ?? tsize })
      return true
    }
    if ((kind.kind !== 'directory' && kind.kind !== 'hamt-directory') || kind.node == null) return false
    const sizes = new Map(kind.node.node.Links.map(l => [l.Hash.toString() + '/' + (l.Name ?? ''), l.Tsize]))
    for await (const e of directoryEntries(source, cid, kind.node, { signal })) {
      if (!isSafeName(e.name)) continue // exportModel refuses such a tree; it is not ours to write
      await visit(e.cid, path === '' ? e.name : `${path}/${e.name}`, sizes.get(e.cid.toString() + '/' + e.name))
    }
    return false
  }
  const rootIsFile = await visit(filesRoot, '', undefined)
  if (rootIsFile) files[0].path = singleFileName(root, name)
  return { files, single: rootIsFile }
}

/** What {@link getFiles} needs from `get`. */
export interface GetFilesOptions extends FileSelection, RoutingFlags {
  output?: string
  peer?: string[]
  progressTimeoutMs?: number
}

/** Per-peer counters since a snapshot (get.ts `peersSince`). */
export type PeersSince = (before: ReturnType<TensorSwapNode['exchange']['stats']>, peers: GetResult['peers']) => GetResult['peers']

/**
 * `get --include/--exclude`: list the files ({@link listFiles}), choose them
 * ({@link fileFilter}), fetch only those (resuming from stored blocks), write them with `-o`.
 * `--json`: `get`'s shape (src/summary.ts) with `files` holding the chosen files only and
 * `bytes`/`blocks` what came from the network (the structure's blocks included).
 *
 * @param node - the node (`undefined`: no source given, every block must be local)
 * @throws {UsageError} the globs choose no file (the message names a few paths); no source for a block not local
 * @throws the fetch's errors (`BlockUnavailableError`, `FetchStalledError`, the dial's), `signal.reason`
 */
export async function getFiles (ctx: CommandContext, node: TensorSwapNode | undefined, root: CID, o: GetFilesOptions, needsSource: string, peersSince: PeersSince): Promise<{ json: Record<string, unknown> & { root: string }, written?: { files: number, bytes: number, kept: number } }> {
  const { signal } = ctx
  const started = performance.now()
  const blockstore = ctx.repo.blockstore
  const before = node?.exchange.stats()
  const bar = ctx.bar('get', ' | peers {peers}', { peers: 0 })
  const seenPeers = new Set<string>()
  const fetched = { bytes: 0, blocks: 0, blocksLocal: 0 }
  let localBytes = 0
  let resumeSaid = false
  let chosen: DagFile[] = []
  let lastPeers: GetResult['peers'] = {}
  const onBlock = (bytes: number, local: boolean, peer?: string): void => {
    if (peer != null) seenPeers.add(peer)
    if (local) {
      localBytes += bytes
    } else if (!resumeSaid) {
      resumeSaid = true
      if (localBytes > 0) bar.log(resumeLine(localBytes))
    }
    bar.add(bytes, { peers: seenPeers.size }, local)
  }
  try {
    // who to ask: the given peers (dialled), else providers found, else every connected peer
    let peers: PeerId[] | undefined
    if (node != null) {
      if ((o.peer ?? []).length > 0) {
        peers = []
        for (const p of o.peer ?? []) {
          const ma = multiaddr(p)
          peers.push((await dialWithRetry(async (d) => await node.libp2p.dial(ma, d), { signal, target: ma })).remotePeer)
        }
      } else {
        if (ctx.daemon) await daemonRouting(node, o, ctx.log, signal)
        if (node.routing != null && node.libp2p.getConnections().length === 0) await node.findProviders(root, { signal })
      }
    }
    const ids = peers?.map(p => p.toString())
    const source: VerifiedBlockSource = {
      getBlock: async (cid, opts) => {
        if (await blockstore.has(cid, opts)) {
          const bytes = await getVerifiedBlock(blockstore, cid, opts)
          fetched.blocksLocal++
          onBlock(bytes.byteLength, true)
          return bytes
        }
        if (node == null) throw new UsageError(`${needsSource}: block ${cid.toString()} of ${root.toString()} is not in the repo`)
        const bytes = await node.exchange.want(cid, { signal: opts.signal, ...(ids != null ? { peers: ids } : {}) }) // verified against cid
        await blockstore.put(cid, bytes, opts)
        ctx.stored(cid)
        fetched.blocks++
        fetched.bytes += bytes.byteLength
        onBlock(bytes.byteLength, false)
        return bytes
      }
    }
    const listing = await listFiles(source, root, { signal })
    const filter = fileFilter(o)
    chosen = listing.files.filter(f => filter(f.path))
    if (chosen.length === 0) {
      const paths = listing.files.slice(0, 4).map(f => f.path)
      const more = listing.files.length > 4 ? `, ... (${listing.files.length} files)` : ''
      const flags = [...(o.include ?? []).map(g => `--include ${JSON.stringify(g)}`), ...(o.exclude ?? []).map(g => `--exclude ${JSON.stringify(g)}`)].join(' ')
      throw new UsageError(`${flags} matches no file of this model; its files are ${paths.join(', ')}${more}`)
    }
    bar.setTotal(localBytes + fetched.bytes + chosen.reduce((a, f) => a + (f.dagBytes ?? 0), 0))
    // the chosen files' DAGs: a block already stored is not fetched again (a rerun resumes)
    await mapLimit(chosen, GET_FILES_CONCURRENCY, async (f) => {
      if (node == null) {
        // no source: every block must be here (read through the verified source)
        await checkLocal(blockstore, f.cid, root, needsSource, signal)
        return
      }
      const r = await node.get(f.cid, {
        signal,
        findProviders: false,
        progressTimeoutMs: o.progressTimeoutMs,
        ...(peers != null ? { peers } : {}),
        onProgress: (evt) => {
          if (evt.type !== 'tensorswap:session:block') return
          onBlock(evt.detail.bytes, evt.detail.from === 'local', evt.detail.peer)
        }
      })
      lastPeers = r.peers
      fetched.bytes += r.fetch.bytesFetched
      fetched.blocks += r.fetch.blocksFetched
      fetched.blocksLocal += r.fetch.blocksLocal
    })
  } finally {
    bar.stop()
  }
  const seconds = (performance.now() - started) / 1000
  const files: JsonFile[] = []
  let written: { files: number, bytes: number, kept: number } | undefined
  if (o.output != null) {
    const wbar = ctx.bar('write')
    written = { files: 0, bytes: 0, kept: 0 }
    try {
      const sizes: number[] = []
      for (const f of chosen) sizes.push(await filesBytes(blockstore, f.cid, signal))
      wbar.setTotal(sizes.reduce((a, n) => a + n, 0))
      let base = 0
      for (const [i, f] of chosen.entries()) {
        const from = base
        const w = await writeFiles(blockstore, f.cid, join(o.output, dirname(f.path)), { signal, fileName: basename(f.path), onBytes: (done) => { wbar.update(from + done) } })
        base += sizes[i]
        written.files += w.written
        written.kept += w.kept
        written.bytes += w.bytes
        files.push(...w.files.map(x => ({ ...x, path: f.path })))
      }
    } finally {
      wbar.stop()
    }
  } else {
    for (const f of chosen) files.push({ path: f.path, cid: f.cid.toString(), bytes: await fileSize(blockstore, f.cid) })
  }
  return {
    json: {
      root: root.toString(),
      ...(o.output != null ? { output: o.output } : {}),
      bytes: fetched.bytes,
      blocks: fetched.blocks,
      blocksLocal: fetched.blocksLocal,
      seconds,
      MBps: megabytesPerSecond(fetched.bytes, seconds),
      files,
      filesWritten: written?.files ?? 0,
      filesKept: written?.kept ?? 0,
      peers: before != null ? peersSince(before, lastPeers) : {},
      // blocks that arrived twice (two peers answered one want), as get's (src/summary.ts)
      ...(node != null && before != null ? duplicates(before, node.exchange.stats()) : {}),
      ...(node != null && before != null ? { messages: messagesSince(before, node.exchange.stats()) } : {})
    },
    ...(written != null ? { written } : {})
  }
}

/** Blocks and bytes received more than once between two exchange snapshots. */
function duplicates (before: ReturnType<TensorSwapNode['exchange']['stats']>, after: ReturnType<TensorSwapNode['exchange']['stats']>): { duplicateBlocks: number, duplicateBytes: number } {
  return { duplicateBlocks: after.duplicateBlocks - before.duplicateBlocks, duplicateBytes: after.duplicateBytes - before.duplicateBytes }
}

/** Size in bytes of the UnixFS file at `cid` (stored). */
async function fileSize (blockstore: CommandContext['repo']['blockstore'], cid: CID): Promise<number> {
  const bytes = await getBlockUnverified(blockstore, cid)
  return entityKind(cid, bytes).size ?? bytes.byteLength
}

/**
 * Every block of the file DAG at `cid` is stored.
 * @throws {UsageError} one is missing (naming it)
 */
async function checkLocal (blockstore: CommandContext['repo']['blockstore'], cid: CID, root: CID, needsSource: string, signal: AbortSignal): Promise<void> {
  const local = await localDag(blockstore, cid, { signal })
  if (local.missing != null) throw new UsageError(`${needsSource}: block ${local.missing.toString()} of ${root.toString()} is not in the repo`)
}

/**
 * `tensorswap get <cid> -o DIR --peer MULTIADDR...`: fetch a model (or any UnixFS DAG) from
 * peers, verify every block, write the files byte-exact. With `--tensors GLOB` / `--layers A-B`,
 * fetch only those tensors (over GraphSync when the peer speaks it, else Bitswap) and write one
 * raw file per tensor plus `tensors.json` (spec/graphsync.md).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createTensorSwap, type TensorSwapNode } from 'tensorswap'
import { layerIndex, parseLayerRange, selectTensorIndices } from 'tensorswap/tensors'
import { multiaddr } from '@multiformats/multiaddr'
import { openCliRepo } from '../repo.js'
import { readManifest } from '@tensorswap/model'
import { parseCid, parsePeerAddr } from '../args.js'
import { UsageError } from '../errors.js'
import { byteProgress, interruptible, printResult, resumeLine, type GlobalOptions } from '../output.js'
import { unixfsDagBytes } from '../progress.js'
import { getBlockUnverified } from '@tensorswap/blockstore'
import * as dagCbor from '@ipld/dag-cbor'
import { megabytesPerSecond, type JsonTensor } from '../summary.js'
import { writeFiles } from '../write-files.js'
import { localDag } from '../local-dag.js'
import type { Repo } from '@tensorswap/blockstore'
import { canDiscover, routingInit, type RoutingFlags } from '../routing.js'
import { limitsInit, type LimitFlags } from '../limits.js'
import { keptNote } from './export.js'
import type { CID } from 'multiformats/cid'

/** Options of `get`. */
export interface GetCommandOptions extends GlobalOptions, RoutingFlags, LimitFlags {
  /** Output directory; without it the DAG is fetched into the repo only. */
  output?: string
  peer?: string[]
  /** Trustless gateway URLs to fetch from (alone, or behind the peers). */
  gatewaySource?: string[]
  tensors?: string
  layers?: string
  /** `--timeout <seconds>`: the progress deadline (spec/tensorswap.md section 4). */
  timeout?: string
}

/**
 * Parse `--timeout <seconds>` into ms (a positive number of seconds, fractions allowed).
 * @throws {UsageError} for anything else
 */
export function parseTimeout (text: string): number {
  const seconds = Number(text)
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--timeout ${JSON.stringify(text)}: expected a positive number of seconds`)
  return seconds * 1000
}

/** Run `get`. */
export async function get (cidText: string, opts: GetCommandOptions): Promise<void> {
  const root = parseCid(cidText)
  const peers = opts.peer ?? []
  const gateways = opts.gatewaySource ?? []
  routingInit(opts) // a bad flag is a usage error before the repo is opened
  limitsInit(opts)
  for (const g of gateways) {
    if (!/^https?:\/\/[^/]/.test(g)) throw new UsageError(`--gateway-source ${g}: expected an http(s) URL`)
  }
  if (peers.length === 0 && (opts.tensors != null || opts.layers != null)) throw new UsageError('--tensors/--layers need a --peer')
  if (opts.output == null && (opts.tensors != null || opts.layers != null)) throw new UsageError('--tensors/--layers need -o DIR')
  for (const p of peers) parsePeerAddr(p)
  if (opts.layers != null) {
    try {
      parseLayerRange(opts.layers)
    } catch (err: any) {
      throw new UsageError(err.message)
    }
  }
  if (opts.tensors != null && opts.tensors.length === 0) throw new UsageError('--tensors needs a non-empty glob')
  const progressTimeoutMs = opts.timeout != null ? parseTimeout(opts.timeout) : undefined
  const repo = await openCliRepo(opts, true)
  const routing = routingInit(opts, repo.config.bootstrap)
  if (peers.length === 0 && gateways.length === 0 && !canDiscover(routing)) {
    // no source given: fine when every block is here already
    try {
      const local = await localDag(repo.blockstore, root)
      if (local.missing != null) throw new UsageError(`get needs a --peer MULTIADDR, --bootstrap MULTIADDR (or "bootstrap" in the repo config), --mdns or --gateway-source URL: block ${local.missing.toString()} of ${root.toString()} is not in the repo`)
      await printGot(repo.blockstore, root, opts, { bytes: 0, blocks: 0, blocksLocal: local.blocks, seconds: 0, peers: {} })
    } finally {
      await repo.close()
    }
    return
  }
  const node = await createTensorSwap({ repo, listen: [], routing, limits: limitsInit(opts, repo.config) }).catch(async (err) => { await repo.close(); throw err })
  try {
    await node.start()
    await interruptible(async () => {
      if (opts.tensors != null || opts.layers != null) {
        await getTensors(node, root, { ...opts, output: opts.output as string }, peers[0])
      } else {
        await getAll(node, root, opts, peers, progressTimeoutMs)
      }
    })
  } finally {
    await node.stop()
    await repo.close()
  }
}

/**
 * The whole DAG, then its files (kept when already right, src/write-files.ts); `--json`:
 * `{root, output, bytes, blocks, blocksLocal, seconds, MBps, files, filesWritten, filesKept,
 * peers:{<id>:{bytesReceived, blocksReceived, wireBytesReceived:{<protocol>: bytes}}}}` with
 * `bytes`/`blocks` fetched from the network (src/summary.ts).
 */
async function getAll (node: TensorSwapNode, root: CID, opts: GetCommandOptions, peers: string[], progressTimeoutMs?: number, signal?: AbortSignal): Promise<void> {
  const bar = byteProgress(opts, 'get', ' | peers {peers}', { peers: 0 })
  const seenPeers = new Set<string>()
  let localBytes = 0
  let resumeSaid = false
  // the total: the manifest block (if any) + the bytes under the UnixFS root (its block + the
  // links' Tsize), known as soon as that block is stored
  let total = 0
  let filesRoot: CID | undefined = root.code === dagCbor.code ? undefined : root
  let sized = false
  const sizeFiles = (cid: CID): void => {
    if (sized) return
    sized = true
    getBlockUnverified(node.repo.blockstore, cid).then(bytes => {
      total += unixfsDagBytes(cid, bytes) ?? 0
      bar.setTotal(total)
    }, (err: Error) => { bar.log(`progress: no total, cannot read ${cid.toString()}: ${err.message}`) })
  }
  const result = await node.get(root, {
    signal,
    peers,
    gatewaySources: opts.gatewaySource,
    progressTimeoutMs,
    onProgress: (evt) => {
      if (evt.type !== 'tensorswap:session:block') return
      const d = evt.detail
      if (d.peer != null) seenPeers.add(d.peer)
      const local = d.from === 'local'
      if (local) localBytes += d.bytes
      else if (!resumeSaid) {
        resumeSaid = true
        if (localBytes > 0) bar.log(resumeLine(localBytes))
      }
      if (filesRoot == null && d.cid.equals(root)) {
        total += d.bytes
        readManifest(node.repo.blockstore, root).then(m => {
          filesRoot = m.files
          // the files root may have arrived already
          Promise.resolve(node.repo.blockstore.has(m.files)).then(has => { if (has) sizeFiles(m.files) }, (err: Error) => { bar.log(`progress: no total: ${err.message}`) })
        }, (err: Error) => { bar.log(`progress: no total, cannot read the manifest: ${err.message}`) })
      } else if (filesRoot != null && d.cid.equals(filesRoot)) {
        sizeFiles(filesRoot)
      }
      bar.add(d.bytes, { peers: seenPeers.size }, local)
    }
  }).finally(() => { bar.stop() })
  await printGot(node.repo.blockstore, root, opts, {
    bytes: result.fetch.bytesFetched,
    blocks: result.fetch.blocksFetched,
    blocksLocal: result.fetch.blocksLocal,
    seconds: result.seconds,
    peers: result.peers,
    ...(result.providers != null ? { providers: result.providers, searchedMs: Math.round(result.searchedMs ?? 0) } : {})
  }, signal)
}

/** What a whole-DAG `get` fetched. */
interface Fetched { bytes: number, blocks: number, blocksLocal: number, seconds: number, peers: Record<string, unknown>, providers?: Array<{ peerId: string, source: string }>, searchedMs?: number }

/** Write the files when `-o` is given (src/write-files.ts) and print `get`'s result. */
async function printGot (blockstore: Repo['blockstore'], root: CID, opts: GetCommandOptions, got: Fetched, signal?: AbortSignal): Promise<void> {
  const written = opts.output != null ? await writeFiles(blockstore, root, opts.output, { signal }) : undefined
  printResult(opts, {
    root: root.toString(),
    ...(opts.output != null ? { output: opts.output } : {}),
    bytes: got.bytes,
    blocks: got.blocks,
    blocksLocal: got.blocksLocal,
    seconds: got.seconds,
    MBps: megabytesPerSecond(got.bytes, got.seconds),
    files: written?.files ?? [],
    filesWritten: written?.written ?? 0,
    filesKept: written?.kept ?? 0,
    peers: got.peers,
    ...(got.providers != null ? { providers: got.providers, searchedMs: got.searchedMs } : {})
  }, [
    ...(got.providers != null ? got.providers.map(p => `peer ${p.peerId} found via ${p.source}`) : []),
    `fetched ${got.blocks} blocks (${got.bytes} bytes) in ${got.seconds.toFixed(2)} s, ${got.blocksLocal} already local`,
    ...(written != null && opts.output != null ? [`wrote ${written.written} files (${written.bytes} bytes) to ${opts.output}${keptNote(written.kept)}`] : [])
  ])
}

/** A glob no tensor name matches (names never hold NUL), to fetch a manifest only. */
const NO_TENSOR_GLOB = '\0'

/**
 * Fetch the manifest (one block, from `peer`) when it is not local, and check the selection
 * names some tensor before anything is written: a `--layers` range holding none of the
 * model's numbered layers, or a `--tensors` glob matching no tensor, is a usage error naming
 * the model's layer range or a few of its tensor names.
 * @returns the block and bytes fetched (the manifest, or nothing)
 * @throws {UsageError} the selection names nothing (or only the head, for a range past the last layer)
 */
async function checkSelection (node: TensorSwapNode, root: CID, opts: GetCommandOptions, peer: string): Promise<{ blocks: number, bytes: number }> {
  const fetched = { blocks: 0, bytes: 0 }
  if (!await node.repo.blockstore.has(root)) {
    // the manifest alone, over the protocol `tensors` picks (GraphSync, else Bitswap): a
    // selection naming no tensor makes it fetch the manifest and stop there
    try {
      for await (const t of node.tensors(root, {
        peer,
        glob: NO_TENSOR_GLOB,
        onProgress: (evt) => {
          if (evt.type === 'tensorswap:graphsync:request:block' && evt.detail.from !== 'local') { fetched.blocks++; fetched.bytes += evt.detail.bytes }
          if (evt.type === 'tensorswap:bitswap-tensors:block') { fetched.blocks++; fetched.bytes += evt.detail.bytes }
        }
      })) throw new Error(`a tensor named ${JSON.stringify(t.name)} matched the no-tensor glob`)
    } catch (err) {
      if ((err as Error).name !== 'InvalidTensorSelectionError') throw err
    }
  }
  const manifest = await readManifest(node.repo.blockstore, root)
  const layers = manifest.tensors.map(t => layerIndex(t.name)).filter((i): i is number => i !== undefined)
  if (opts.layers != null) {
    const [a, b] = parseLayerRange(opts.layers)
    if (!layers.some(i => i >= a && i <= b)) {
      const range = layers.length === 0 ? 'the model has no numbered layers' : `the model's layers are ${Math.min(...layers)}-${Math.max(...layers)}`
      throw new UsageError(`--layers ${opts.layers}: no layer in ${a}-${b}; ${range}`)
    }
  }
  if (selectTensorIndices(manifest, { glob: opts.tensors, layers: opts.layers }).length === 0) {
    const names = manifest.tensors.slice(0, 3).map(t => t.name)
    const more = manifest.tensors.length > 3 ? `, ... (${manifest.tensors.length} tensors)` : ''
    const what = opts.layers != null ? `--tensors ${JSON.stringify(opts.tensors)} with --layers ${opts.layers}` : `--tensors ${JSON.stringify(opts.tensors)}`
    throw new UsageError(`${what} matches no tensor of this model; its tensors are named like ${names.join(', ')}${more}`)
  }
  return fetched
}

/**
 * `--tensors` / `--layers`: one raw file per tensor (`<encodeURIComponent(name)>.bin`, written
 * as each tensor arrives, computation order) and `tensors.json` (spec/graphsync.md "What
 * `get --tensors` writes"). GraphSync when the peer speaks it, else Bitswap. `--json`:
 * `{root, output, protocol, tensors, bytes, blocks, blocksLocal, seconds, MBps}`, `bytes`/`blocks`
 * fetched from the network.
 */
async function getTensors (node: TensorSwapNode, root: CID, opts: GetCommandOptions & { output: string }, peer: string, signal?: AbortSignal): Promise<void> {
  const manifestFetched = await checkSelection(node, root, opts, peer)
  await mkdir(opts.output, { recursive: true })
  const started = performance.now()
  const index: Array<JsonTensor & { quantization?: unknown }> = []
  const bar = byteProgress(opts, 'tensors')
  let protocol: string | undefined
  const fetched = { ...manifestFetched, blocksLocal: 0 }
  try {
    const source = node.tensors(root, {
      signal,
      peer,
      glob: opts.tensors,
      layers: opts.layers,
      onProgress: (evt) => {
        if (evt.type === 'tensorswap:tensors:protocol') {
          protocol = evt.detail.protocol
          bar.log(`fetching tensors from ${evt.detail.peer} over ${evt.detail.protocol}`)
        } else if (evt.type === 'tensorswap:graphsync:request:block' && evt.detail.from === 'local') {
          fetched.blocksLocal++
        } else if (evt.type === 'tensorswap:graphsync:request:block' || evt.type === 'tensorswap:bitswap-tensors:block') {
          fetched.blocks++
          fetched.bytes += evt.detail.bytes
        }
      }
    })
    for await (const t of source) {
      const file = `${encodeURIComponent(t.name)}.bin`
      await writeFile(join(opts.output, file), t.bytes)
      const entry: (typeof index)[number] = { name: t.name, file, dtype: t.dtype, shape: t.shape, bytes: t.bytes.byteLength }
      if (t.quantization !== undefined) entry.quantization = t.quantization
      index.push(entry)
      bar.add(t.bytes.byteLength)
    }
  } finally {
    bar.stop()
  }
  await writeFile(join(opts.output, 'tensors.json'), JSON.stringify({ root: root.toString(), tensors: index }, null, 2) + '\n')
  const seconds = (performance.now() - started) / 1000
  const tensorBytes = index.reduce((a, t) => a + t.bytes, 0)
  printResult(opts, { root: root.toString(), output: opts.output, protocol, tensors: index, ...fetched, seconds, MBps: megabytesPerSecond(fetched.bytes, seconds) }, [
    `fetched ${index.length} tensors (${tensorBytes} bytes) over ${protocol ?? '-'} in ${seconds.toFixed(2)} s into ${opts.output}`
  ])
}

/**
 * `tensorswap get <cid> -o DIR --peer MULTIADDR...`: fetch a model (or any UnixFS DAG) from
 * peers, verify every block, write the files byte-exact. With `--tensors GLOB` / `--layers A-B`,
 * fetch only those tensors (over GraphSync when the peer speaks it, else Bitswap) and write one
 * raw file per tensor plus `tensors.json` (spec/graphsync.md).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { GetResult, TensorSwapNode } from 'tensorswap'
import { layerIndex, parseLayerRange, selectTensorIndices } from 'tensorswap/tensors'
import { readManifest } from '@tensorswap/model'
import { parseCid, parsePeerAddr } from '../args.js'
import { UsageError } from '../errors.js'
import { printResult, resumeLine } from '../output.js'
import { defineCommand, type CommandContext } from '../command.js'
import { unixfsDagBytes } from '../progress.js'
import { getBlockUnverified } from '@tensorswap/blockstore'
import * as dagCbor from '@ipld/dag-cbor'
import { megabytesPerSecond, messagesSince, type JsonFile, type JsonTensor, type MessageTotals } from '../summary.js'
import { writeFiles } from '../write-files.js'
import { localDag } from '../local-dag.js'
import { canDiscover, daemonRouting, routingInit, type RoutingFlags } from '../routing.js'
import { leecherListen } from 'tensorswap/routing'
import { multiaddr } from '@multiformats/multiaddr'
import { limitsInit, type LimitFlags } from '../limits.js'
import { keptNote } from './export.js'
import type { CID } from 'multiformats/cid'
import { checkFileSelection, getFiles, selectsFiles, type FileSelection } from '../get-files.js'

/** Options of `get`. */
export interface GetCommandOptions extends RoutingFlags, LimitFlags, FileSelection {
  /** Root CID. */
  cid: string
  /** Output directory (absolute through the daemon); without it the DAG is fetched into the repo only. */
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

/** Whether `get` was given a source: a peer or a gateway. */
function hasSource (o: GetCommandOptions): boolean {
  return (o.peer ?? []).length > 0 || (o.gatewaySource ?? []).length > 0
}

const NEEDS_SOURCE = 'get needs a --peer MULTIADDR, --bootstrap MULTIADDR (or "bootstrap" in the repo config), --mdns or --gateway-source URL'

/** `get`'s `--json` result: see {@link getAll} and {@link getTensors}. */
export type GetJson = Record<string, unknown> & { root: string }

/** What `get` returns: the `--json` object, and what its text lines need beyond it. */
export interface GetCommandResult {
  json: GetJson
  /** Text: `peer <id> found via <source>` lines. */
  providers?: Array<{ peerId: string, source: string }>
  /** Files written with `-o`: count and bytes. */
  written?: { files: number, bytes: number, kept: number }
  /** `--tensors`/`--layers`: tensors written and their bytes. */
  tensors?: { count: number, bytes: number, protocol?: string, seconds: number }
}

/**
 * `get`: fetch (resuming from stored blocks), verify, write the files with `-o`. Without a
 * daemon a node without listen addresses is started when a source is given; through the
 * daemon its node, connections and routing are used (and the blocks are served at once).
 * @throws UsageError (bad flags; no source for a DAG not all local); the fetch's errors
 */
export const getCommand = defineCommand<GetCommandOptions, GetCommandResult>({
  name: 'get',
  options: { cid: 'string', output: 'string', peer: 'string[]', gatewaySource: 'string[]', tensors: 'string', layers: 'string', timeout: 'string', bootstrap: 'string[]', mdns: 'boolean', findTimeout: 'string', maxUploadRate: 'string', maxDownloadRate: 'string', maxUploadRatePerPeer: 'string', maxDownloadRatePerPeer: 'string', include: 'string[]', exclude: 'string[]' },
  paths: ['output'],
  create: true,
  interruptible: true,
  validate: (o) => {
    parseCid(o.cid)
    const peers = o.peer ?? []
    routingInit(o)
    limitsInit(o)
    for (const g of o.gatewaySource ?? []) {
      if (!/^https?:\/\/[^/]/.test(g)) throw new UsageError(`--gateway-source ${g}: expected an http(s) URL`)
    }
    if (peers.length === 0 && (o.tensors != null || o.layers != null)) throw new UsageError('--tensors/--layers need a --peer')
    if (o.output == null && (o.tensors != null || o.layers != null)) throw new UsageError('--tensors/--layers need -o DIR')
    for (const p of peers) parsePeerAddr(p)
    if (o.layers != null) {
      try {
        parseLayerRange(o.layers)
      } catch (err: any) {
        throw new UsageError(err.message)
      }
    }
    if (o.tensors != null && o.tensors.length === 0) throw new UsageError('--tensors needs a non-empty glob')
    checkFileSelection(o)
    if (selectsFiles(o) && (o.tensors != null || o.layers != null)) throw new UsageError('--include/--exclude choose files, --tensors/--layers tensors: give one or the other')
    if (selectsFiles(o) && (o.gatewaySource ?? []).length > 0) throw new UsageError('--include/--exclude fetch from peers (--peer, or the daemon\'s and the DHT\'s), not from --gateway-source')
    if (o.timeout != null) parseTimeout(o.timeout)
  },
  localNode: (o, repo) => {
    const routing = routingInit(o, repo.config.bootstrap)
    // no source given: fine when every block is here already (no node then)
    if (!hasSource(o) && !canDiscover(routing)) return undefined
    // a get that finds its providers by routing is a leecher: it listens and serves what it
    // has while it runs, and provides the root (a DHT client: it leaves when done),
    // spec/tensorswap.md §9 "Leechers serve"; with only --peer/--gateway-source it dials out only
    if (!canDiscover(routing)) return { listen: [], routing, limits: limitsInit(o, repo.config) }
    const targets = [...(routing.bootstrap ?? []), ...(o.peer ?? [])].filter(a => a !== 'amino').map(a => multiaddr(a))
    return { listen: leecherListen(targets, repo.config.listen), routing: { dhtMode: 'client', ...routing }, limits: limitsInit(o, repo.config) }
  },
  async execute (ctx, o) {
    const root = parseCid(o.cid)
    const progressTimeoutMs = o.timeout != null ? parseTimeout(o.timeout) : undefined
    const node = ctx.node
    if (ctx.daemon && Object.keys(limitsInit(o)).length > 0) ctx.log('rate limits: the daemon\'s apply (serve --max-*-rate, or config set, then restart serve)')
    // --include/--exclude: only the chosen files (src/get-files.ts)
    if (selectsFiles(o)) return await getFiles(ctx, node, root, { ...o, progressTimeoutMs }, NEEDS_SOURCE, peersSince)
    if (node == null || (ctx.daemon && !hasSource(o))) {
      // every block local: no peer needed (through the daemon too, before any search)
      const local = await localDag(ctx.repo.blockstore, root, { signal: ctx.signal })
      if (local.missing == null) return await gotResult(ctx, root, o, { bytes: 0, blocks: 0, blocksLocal: local.blocks, seconds: 0, peers: {} })
      const why = `block ${local.missing.toString()} of ${root.toString()} is not in the repo`
      if (node == null) throw new UsageError(`${NEEDS_SOURCE}: ${why}`)
      if (!await daemonRouting(node, o, ctx.log, ctx.signal)) throw new UsageError(`${NEEDS_SOURCE} (the daemon has no bootstrap peers, mDNS or connections): ${why}`)
    } else if (ctx.daemon) {
      await daemonRouting(node, o, ctx.log, ctx.signal)
    }
    if (o.tensors != null || o.layers != null) {
      return await getTensors(ctx, node, root, { ...o, output: o.output as string }, (o.peer ?? [])[0])
    }
    return await getAll(ctx, node, root, o, progressTimeoutMs)
  },
  render (r, opts) {
    const lines: string[] = []
    if (r.tensors != null) {
      lines.push(`fetched ${r.tensors.count} tensors (${r.tensors.bytes} bytes) over ${r.tensors.protocol ?? '-'} in ${r.tensors.seconds.toFixed(2)} s into ${String(r.json.output)}`)
    } else {
      const j = r.json as unknown as { blocks: number, bytes: number, seconds: number, blocksLocal: number, output?: string }
      lines.push(...(r.providers ?? []).map(p => `peer ${p.peerId} found via ${p.source}`))
      lines.push(`fetched ${j.blocks} blocks (${j.bytes} bytes) in ${j.seconds.toFixed(2)} s, ${j.blocksLocal} already local`)
      if (r.written != null && j.output != null) lines.push(`wrote ${r.written.files} files (${r.written.bytes} bytes) to ${j.output}${keptNote(r.written.kept)}`)
    }
    printResult(opts, r.json, lines)
  }
})

/**
 * Per peer, what this `get` received: `node.get`'s per-peer counters (the node's whole life)
 * minus those taken before it started, so a daemon reports this command's bytes only.
 */
function peersSince (before: ReturnType<TensorSwapNode['exchange']['stats']>, peers: GetResult['peers']): GetResult['peers'] {
  const out: GetResult['peers'] = {}
  for (const [peer, p] of Object.entries(peers)) {
    const b = before.ledger[peer]
    const bytesReceived = p.bytesReceived - (b?.bytesReceived ?? 0)
    if (bytesReceived === 0) continue
    const wire = before.wire[peer] ?? {}
    const wireBytesReceived = Object.fromEntries(Object.entries(p.wireBytesReceived).map(([proto, n]) => [proto, n - (wire[proto]?.bytesReceived ?? 0)]))
    out[peer] = { ...p, bytesReceived, blocksReceived: p.blocksReceived - (b?.blocksReceived ?? 0), wireBytesReceived }
  }
  return out
}

/**
 * The whole DAG, then its files (kept when already right, src/write-files.ts); `--json`:
 * `{root, output, bytes, blocks, blocksLocal, seconds, MBps, files, filesWritten, filesKept,
 * peers:{<id>:{bytesReceived, blocksReceived, wireBytesReceived:{<protocol>: bytes}}},
 * duplicateBlocks, duplicateBytes, messages:{sent, received}}` with `bytes`/`blocks` fetched
 * from the network (src/summary.ts) and `messages` as {@link MessageTotals}.
 */
async function getAll (ctx: CommandContext, node: TensorSwapNode, root: CID, opts: GetCommandOptions, progressTimeoutMs?: number): Promise<GetCommandResult> {
  const { signal } = ctx
  const peers = opts.peer ?? []
  const before = node.exchange.stats()
  const bar = ctx.bar('get', ' | peers {peers}', { peers: 0 })
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
    // write once: leaves go straight into DIR/NAME.part, which writeFiles then finishes in place
    placeInto: opts.output,
    gatewaySources: opts.gatewaySource,
    progressTimeoutMs,
    onProgress: (evt) => {
      if (evt.type === 'tensorswap:fetch:dial-failed') {
        bar.log(`${evt.detail.error.message}; fetching from the other peers`)
        return
      }
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
  return await gotResult(ctx, root, opts, {
    bytes: result.fetch.bytesFetched,
    blocks: result.fetch.blocksFetched,
    blocksLocal: result.fetch.blocksLocal,
    seconds: result.seconds,
    peers: peersSince(before, result.peers),
    ...duplicatesSince(before, node.exchange.stats()),
    messages: messagesSince(before, node.exchange.stats()),
    ...(result.providers != null ? { providers: result.providers, searchedMs: Math.round(result.searchedMs ?? 0) } : {})
  })
}

/** What a whole-DAG `get` fetched. */
interface Fetched { bytes: number, blocks: number, blocksLocal: number, seconds: number, peers: Record<string, unknown>, providers?: Array<{ peerId: string, source: string }>, searchedMs?: number, duplicateBlocks?: number, duplicateBytes?: number, messages?: MessageTotals }

/**
 * Blocks (and their bytes) that arrived again after a copy was stored, during this `get`: a
 * want-block goes to one peer at a time, so these are late answers of a peer the want was
 * taken from (timed out) and small blocks sent in place of a HAVE (Bitswap 1.2.0).
 */
function duplicatesSince (before: ReturnType<TensorSwapNode['exchange']['stats']>, after: ReturnType<TensorSwapNode['exchange']['stats']>): { duplicateBlocks: number, duplicateBytes: number } {
  return { duplicateBlocks: after.duplicateBlocks - before.duplicateBlocks, duplicateBytes: after.duplicateBytes - before.duplicateBytes }
}

/** Write the files when `-o` is given (src/write-files.ts) and build `get`'s result. */
async function gotResult (ctx: CommandContext, root: CID, opts: GetCommandOptions, got: Fetched): Promise<GetCommandResult> {
  let written: Awaited<ReturnType<typeof writeFiles>> | undefined
  if (opts.output != null) {
    const bar = ctx.bar('write')
    written = await writeFiles(ctx.repo.blockstore, root, opts.output, { signal: ctx.signal, onTotal: (bytes) => { bar.setTotal(bytes) }, onBytes: (done) => { bar.update(done) } }).finally(() => { bar.stop() })
  }
  const files: JsonFile[] = written?.files ?? []
  return {
    json: {
      root: root.toString(),
      ...(opts.output != null ? { output: opts.output } : {}),
      bytes: got.bytes,
      blocks: got.blocks,
      blocksLocal: got.blocksLocal,
      seconds: got.seconds,
      MBps: megabytesPerSecond(got.bytes, got.seconds),
      files,
      filesWritten: written?.written ?? 0,
      filesKept: written?.kept ?? 0,
      peers: got.peers,
      ...(got.duplicateBlocks != null ? { duplicateBlocks: got.duplicateBlocks, duplicateBytes: got.duplicateBytes } : {}),
      ...(got.messages != null ? { messages: got.messages } : {}),
      ...(got.providers != null ? { providers: got.providers, searchedMs: got.searchedMs } : {})
    },
    ...(got.providers != null ? { providers: got.providers } : {}),
    ...(written != null ? { written: { files: written.written, bytes: written.bytes, kept: written.kept } } : {})
  }
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
async function checkSelection (node: TensorSwapNode, root: CID, opts: GetCommandOptions, peer: string, signal: AbortSignal): Promise<{ blocks: number, bytes: number }> {
  const fetched = { blocks: 0, bytes: 0 }
  if (!await node.repo.blockstore.has(root)) {
    // the manifest alone, over the protocol `tensors` picks (GraphSync, else Bitswap): a
    // selection naming no tensor makes it fetch the manifest and stop there
    try {
      for await (const t of node.tensors(root, {
        peer,
        signal,
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
async function getTensors (ctx: CommandContext, node: TensorSwapNode, root: CID, opts: GetCommandOptions & { output: string }, peer: string): Promise<GetCommandResult> {
  const { signal } = ctx
  const manifestFetched = await checkSelection(node, root, opts, peer, signal)
  await mkdir(opts.output, { recursive: true })
  const started = performance.now()
  const index: Array<JsonTensor & { quantization?: unknown }> = []
  const bar = ctx.bar('tensors')
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
  return {
    json: { root: root.toString(), output: opts.output, protocol, tensors: index, ...fetched, seconds, MBps: megabytesPerSecond(fetched.bytes, seconds) },
    tensors: { count: index.length, bytes: tensorBytes, protocol, seconds }
  }
}

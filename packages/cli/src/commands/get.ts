/**
 * `tensorswap get <cid> -o DIR --peer MULTIADDR...`: fetch a model (or any UnixFS DAG) from
 * peers, verify every block, write the files byte-exact. With `--tensors GLOB` / `--layers A-B`,
 * fetch only those tensors (over GraphSync when the peer speaks it, else Bitswap) and write one
 * raw file per tensor plus `tensors.json` (spec/graphsync.md).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createTensorSwap, type TensorSwapNode } from 'tensorswap'
import { parseLayerRange } from 'tensorswap/graphsync'
import { openRepo, resolveRepoPath } from '@tensorswap/blockstore'
import { readManifest } from '@tensorswap/model'
import { parseCid } from '../args.js'
import { UsageError } from '../errors.js'
import { byteProgress, info, printResult, type GlobalOptions } from '../output.js'
import type { CID } from 'multiformats/cid'

/** Options of `get`. */
export interface GetCommandOptions extends GlobalOptions {
  output: string
  peer?: string[]
  /** Trustless gateway URLs to fetch from (alone, or behind the peers). */
  gatewaySource?: string[]
  tensors?: string
  layers?: string
}

/** Run `get`. */
export async function get (cidText: string, opts: GetCommandOptions): Promise<void> {
  const root = parseCid(cidText)
  const peers = opts.peer ?? []
  const gateways = opts.gatewaySource ?? []
  if (peers.length === 0 && gateways.length === 0) throw new UsageError('get needs at least one --peer MULTIADDR or --gateway-source URL')
  for (const g of gateways) {
    if (!/^https?:\/\/[^/]/.test(g)) throw new UsageError(`--gateway-source ${g}: expected an http(s) URL`)
  }
  if (peers.length === 0 && (opts.tensors != null || opts.layers != null)) throw new UsageError('--tensors/--layers need a --peer')
  for (const p of peers) {
    if (!p.includes('/p2p/')) throw new UsageError(`--peer ${p}: the multiaddr must end in /p2p/<peer id>`)
  }
  if (opts.layers != null) {
    try {
      parseLayerRange(opts.layers)
    } catch (err: any) {
      throw new UsageError(err.message)
    }
  }
  if (opts.tensors != null && opts.tensors.length === 0) throw new UsageError('--tensors needs a non-empty glob')
  const repo = await openRepo(resolveRepoPath(opts.repo))
  const node = await createTensorSwap({ repo, listen: [] }).catch(async (err) => { await repo.close(); throw err })
  try {
    await node.start()
    if (opts.tensors != null || opts.layers != null) {
      await getTensors(node, root, opts, peers[0])
    } else {
      await getAll(node, root, opts, peers)
    }
  } finally {
    await node.stop()
    await repo.close()
  }
}

async function getAll (node: TensorSwapNode, root: CID, opts: GetCommandOptions, peers: string[]): Promise<void> {
  const bar = byteProgress(opts, 'get', ' | peers {peers}')
  const seenPeers = new Set<string>()
  let total = 0
  const result = await node.get(root, {
    peers,
    gatewaySources: opts.gatewaySource,
    output: opts.output,
    onProgress: (evt) => {
      if (evt.type !== 'tensorswap:session:block') return
      const d = evt.detail as { cid: CID, peer?: string, bytes: number }
      if (d.peer != null) seenPeers.add(d.peer)
      if (total === 0 && d.cid.equals(root)) {
        // the manifest arrives first: its tensors give the size to expect
        readManifest(node.repo.blockstore, root).then(m => {
          total = m.tensors.reduce((a, t) => a + t.length, 0)
          bar.setTotal(total)
        }, () => {})
      }
      bar.add(d.bytes, { peers: seenPeers.size })
    }
  }).finally(() => { bar.stop() })
  const written = result.export
  const seconds = result.seconds
  printResult(opts, {
    cid: root.toString(),
    output: opts.output,
    bytes: result.fetch.bytesFetched,
    blocks: result.fetch.blocksFetched,
    blocksLocal: result.fetch.blocksLocal,
    seconds,
    mbps: result.fetch.bytesFetched / 1e6 / Math.max(seconds, 1e-9),
    files: written?.files,
    fileBytes: written?.bytes,
    peers: result.peers
  }, [
    `fetched ${result.fetch.blocksFetched} blocks (${result.fetch.bytesFetched} bytes) in ${seconds.toFixed(2)} s, ${result.fetch.blocksLocal} already local`,
    `wrote ${written?.files ?? 0} files (${written?.bytes ?? 0} bytes) to ${opts.output}`
  ])
}

/**
 * `--tensors` / `--layers`: one raw file per tensor (`<encodeURIComponent(name)>.bin`, written
 * as each tensor arrives, computation order) and `tensors.json` (spec/graphsync.md "What
 * `get --tensors` writes"). GraphSync when the peer speaks it, else Bitswap.
 */
async function getTensors (node: TensorSwapNode, root: CID, opts: GetCommandOptions, peer: string): Promise<void> {
  await mkdir(opts.output, { recursive: true })
  const started = performance.now()
  const index: Array<{ name: string, file: string, dtype: string, shape: number[], bytes: number, quantization?: unknown }> = []
  const bar = byteProgress(opts, 'tensors')
  let protocol: string | undefined
  const fetched = { blocksFetched: 0, bytesFetched: 0, blocksLocal: 0 }
  try {
    const source = node.tensors(root, {
      peer,
      glob: opts.tensors,
      layers: opts.layers,
      onProgress: (evt) => {
        if (evt.type === 'tensorswap:tensors:protocol') {
          protocol = evt.detail.protocol
          info(opts, `fetching tensors from ${evt.detail.peer} over ${evt.detail.protocol}`)
        } else if (evt.type === 'tensorswap:graphsync:request:block' && evt.detail.source === 'local') {
          fetched.blocksLocal++
        } else if (evt.type === 'tensorswap:graphsync:request:block' || evt.type === 'tensorswap:bitswap-tensors:block') {
          fetched.blocksFetched++
          fetched.bytesFetched += evt.detail.bytes
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
  const bytes = index.reduce((a, t) => a + t.bytes, 0)
  printResult(opts, { cid: root.toString(), output: opts.output, protocol, tensors: index, bytes, seconds, ...fetched }, [
    `fetched ${index.length} tensors (${bytes} bytes) over ${protocol ?? '-'} in ${seconds.toFixed(2)} s into ${opts.output}`
  ])
}

/**
 * `tensorswap get <cid> -o DIR --peer MULTIADDR...`: fetch a model (or any UnixFS DAG) from
 * peers, verify every block, write the files byte-exact. With `--tensors GLOB` / `--layers A-B`,
 * fetch only those tensors over GraphSync and write one raw file per tensor plus
 * `tensors.json` (spec/graphsync.md).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createTensorSwap, type TensorSwapNode } from 'tensorswap'
import { openRepo, resolveRepoPath } from '@tensorswap/blockstore'
import { readManifest } from '@tensorswap/model'
import { parseCid } from '../args.js'
import { UsageError } from '../errors.js'
import { byteProgress, printResult, type GlobalOptions } from '../output.js'
import type { CID } from 'multiformats/cid'

/** Options of `get`. */
export interface GetCommandOptions extends GlobalOptions {
  output: string
  peer?: string[]
  tensors?: string
  layers?: string
}

/** Run `get`. */
export async function get (cidText: string, opts: GetCommandOptions): Promise<void> {
  const root = parseCid(cidText)
  const peers = opts.peer ?? []
  if (peers.length === 0) throw new UsageError('get needs at least one --peer MULTIADDR')
  for (const p of peers) {
    if (!p.includes('/p2p/')) throw new UsageError(`--peer ${p}: the multiaddr must end in /p2p/<peer id>`)
  }
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

async function getTensors (node: TensorSwapNode, root: CID, opts: GetCommandOptions, peer: string): Promise<void> {
  await mkdir(opts.output, { recursive: true })
  const started = performance.now()
  const index: Array<{ name: string, dtype: string, shape: number[], bytes: number, file: string }> = []
  const bar = byteProgress(opts, 'tensors')
  try {
    for await (const t of node.tensors(root, { peer, glob: opts.tensors, layers: opts.layers })) {
      const file = `${encodeURIComponent(t.name)}.bin`
      await writeFile(join(opts.output, file), t.bytes)
      index.push({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.bytes.byteLength, file })
      bar.add(t.bytes.byteLength)
    }
  } finally {
    bar.stop()
  }
  await writeFile(join(opts.output, 'tensors.json'), JSON.stringify({ root: root.toString(), tensors: index }, null, 2) + '\n')
  const seconds = (performance.now() - started) / 1000
  const bytes = index.reduce((a, t) => a + t.bytes, 0)
  printResult(opts, { cid: root.toString(), output: opts.output, tensors: index, bytes, seconds }, [
    `fetched ${index.length} tensors (${bytes} bytes) in ${seconds.toFixed(2)} s into ${opts.output}`
  ])
}

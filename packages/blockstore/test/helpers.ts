import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { NotFoundError } from 'interface-store'
import { base32 } from 'multiformats/bases/base32'
import type { CID } from 'multiformats/cid'

/** Repo root (/work/main): test files live in packages/blockstore/dist/test. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..')

export async function tmpDir (prefix = 'ts-blockstore-'): Promise<string> {
  return await fs.mkdtemp(path.join(os.tmpdir(), prefix))
}

export async function rmDir (dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true })
}

/** Store key of a CID: base32 of its multihash. */
export function mhKey (cid: CID): string {
  return base32.baseEncode(cid.multihash.bytes)
}

/** Map-backed store implementing the parts of Blockstore that CAR import/export use. */
export class MemStore {
  readonly map = new Map<string, Uint8Array>()
  puts = 0
  async put (cid: CID, bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<CID> {
    this.puts++
    if (!(bytes instanceof Uint8Array)) throw new Error('test store expects whole blocks')
    this.map.set(mhKey(cid), bytes.slice())
    return cid
  }

  async * get (cid: CID): AsyncGenerator<Uint8Array> {
    const bytes = this.map.get(mhKey(cid))
    if (bytes == null) throw new NotFoundError(`missing ${cid}`)
    yield bytes
  }
}

export function concat (chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0))
  let o = 0
  for (const c of chunks) { out.set(c, o); o += c.byteLength }
  return out
}

export function sha256hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** Deterministic pseudo-random bytes (xorshift), so test data is reproducible. */
export function pseudoRandomBytes (length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

const execFileP = promisify(execFile)

/** Run the installed ipfs-car CLI with the project's Node. */
export async function ipfsCar (args: string[], cwd: string): Promise<{ stdout: string, stderr: string }> {
  const node = path.join(ROOT, 'node_modules/.bin/node')
  const bin = path.join(ROOT, 'node_modules/ipfs-car/bin.js')
  return await execFileP(node, [bin, ...args], { cwd, maxBuffer: 64 << 20 })
}

/** Async iterable of `bytes` split into chunks of the given sizes (cycled). */
export async function * chunked (bytes: Uint8Array, sizes: number[] = [65536]): AsyncGenerator<Uint8Array> {
  let o = 0
  let i = 0
  while (o < bytes.byteLength) {
    const n = Math.max(1, sizes[i++ % sizes.length])
    yield bytes.subarray(o, o + n)
    o += n
  }
}

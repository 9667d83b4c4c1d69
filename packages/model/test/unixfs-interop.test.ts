/**
 * The DAG we write for files without a tensor layout, and for directories, is exactly the
 * DAG of `ipfs-unixfs-importer` (what Helia and `ipfs-car --no-wrap` use) with
 * `{ cidVersion: 1, rawLeaves: true, layout: balanced({maxChildrenPerNode}), chunker:
 * fixedSize({chunkSize}), reduceSingleLeafToSelf: true }`.
 */

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, it, before, after } from 'node:test'
import { MemoryBlockstore } from 'blockstore-core'
import fc from 'fast-check'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { importModel, exportModel, listModel } from '../src/index.js'
import { sha256Hex, tempDir } from './fixtures.js'
import { countBlocks } from './helpers.js'
import type { CID } from 'multiformats/cid'

async function importerFileCid (bytes: Uint8Array, chunkSize = 1_048_576, maxChildrenPerNode = 1024): Promise<CID> {
  const store = new MemoryBlockstore()
  let last: CID | undefined
  for await (const entry of importer([{ content: bytes }], store, {
    cidVersion: 1, rawLeaves: true, reduceSingleLeafToSelf: true,
    layout: balanced({ maxChildrenPerNode }), chunker: fixedSize({ chunkSize })
  })) {
    last = entry.cid
  }
  return last as CID
}

describe('plain files get the ipfs-unixfs-importer CID', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  before(async () => { tmp = await tempDir() })
  after(async () => { await tmp.cleanup() })

  const MiB = 1_048_576
  for (const size of [0, 1, 1000, MiB - 1, MiB, MiB + 1, 3 * MiB + 12345]) {
    it(`${size} bytes with 1 MiB leaves, 1024 links`, async () => {
      const bytes = randomBytes(size)
      const path = join(tmp.dir, `plain-${size}.bin`)
      await writeFile(path, bytes)
      const store = new MemoryBlockstore()
      const result = await importModel(store, path)
      assert.equal(result.files.toString(), (await importerFileCid(bytes)).toString())
      assert.equal(result.manifest.tensors.length, 0)
      assert.equal(result.bytes, size)
    })
  }

  it('the real ipfs-car --no-wrap gives the same root CID', async () => {
    const bytes = randomBytes(3 * 1_048_576 + 77)
    const path = join(tmp.dir, 'car-input.bin')
    await writeFile(path, bytes)
    const bin = join(dirname(fileURLToPath(import.meta.url)), '../../../../node_modules/ipfs-car/bin.js')
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'pack', path, '--no-wrap', '-o', join(tmp.dir, 'out.car')])
    const result = await importModel(new MemoryBlockstore(), path)
    assert.equal(result.files.toString(), stdout.trim().split('\n').pop())
  })

  it('multi-level trees (small chunk size and fan-out) match, including a partial last group', async () => {
    // 16-byte leaves, 4 links per node: 4^3 = 64 leaves fill three levels, +1 starts a fourth
    for (const leaves of [2, 4, 5, 16, 17, 64, 65, 100]) {
      for (const extra of [0, 7]) {
        const bytes = randomBytes(leaves * 16 + extra)
        const path = join(tmp.dir, `tree-${leaves}-${extra}.bin`)
        await writeFile(path, bytes)
        const result = await importModel(new MemoryBlockstore(), path, { chunkSize: 16, maxChildrenPerNode: 4 })
        assert.equal(result.files.toString(), (await importerFileCid(bytes, 16, 4)).toString(), `${leaves} leaves + ${extra}`)
      }
    }
  })

  it('property: any size, chunk size and fan-out give the importer CID, and export is byte-exact', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 2, max: 6 }),
      async (size, chunkSize, maxChildren) => {
        const bytes = randomBytes(size)
        const path = join(tmp.dir, 'prop.bin')
        await writeFile(path, bytes)
        const store = new MemoryBlockstore()
        const result = await importModel(store, path, { chunkSize, maxChildrenPerNode: maxChildren })
        assert.equal(result.files.toString(), (await importerFileCid(bytes, chunkSize, maxChildren)).toString())
        const out = join(tmp.dir, 'prop-out')
        await exportModel(store, result.root, out, { fileName: 'x.bin' })
        assert.equal(sha256Hex(await readFile(join(out, 'x.bin'))), sha256Hex(bytes))
      }), { numRuns: 25 })
  })
})

describe('directories get the ipfs-unixfs-importer wrapWithDirectory CID', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  before(async () => { tmp = await tempDir() })
  after(async () => { await tmp.cleanup() })

  it('nested tree with unicode names, an empty directory and multi-leaf files', async () => {
    const root = join(tmp.dir, 'model')
    const files: Record<string, Uint8Array> = {
      'config.json': Buffer.from('{"a":1}'),
      'b.bin': randomBytes(2_500_000),
      'B.txt': Buffer.from('upper case sorts first'),
      'sub/z.bin': randomBytes(10),
      'sub/deeper/ünïcödé.bin': randomBytes(1_048_577),
      'sub/a b.txt': Buffer.alloc(0),
      'zz/only.txt': Buffer.from('x')
    }
    for (const [rel, bytes] of Object.entries(files)) {
      await mkdir(join(root, rel, '..'), { recursive: true })
      await writeFile(join(root, rel), bytes)
    }
    await mkdir(join(root, 'empty'), { recursive: true })

    const store = new MemoryBlockstore()
    const result = await importModel(store, root)

    const oracle = new MemoryBlockstore()
    const candidates = [
      ...Object.entries(files).map(([path, content]) => ({ path, content })),
      { path: 'empty' }
    ]
    let last: CID | undefined
    for await (const entry of importer(candidates, oracle, {
      cidVersion: 1, rawLeaves: true, reduceSingleLeafToSelf: true, wrapWithDirectory: true,
      layout: balanced({ maxChildrenPerNode: 1024 }), chunker: fixedSize({ chunkSize: 1_048_576 })
    })) {
      last = entry.cid
    }
    assert.equal(result.files.toString(), (last as CID).toString())
    assert.equal(result.manifest.name, 'model')

    const listing = await listModel(store, result.root)
    assert.deepEqual(listing.files.map(f => f.path).sort(), Object.keys(files).sort())
    for (const f of listing.files) assert.equal(f.size, files[f.path].byteLength)

    const out = join(tmp.dir, 'out')
    const exported = await exportModel(store, result.root, out)
    assert.equal(exported.files, Object.keys(files).length)
    for (const [rel, bytes] of Object.entries(files)) {
      assert.equal(sha256Hex(await readFile(join(out, rel))), sha256Hex(bytes), rel)
    }
  })
})

describe('limits refused before writing', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  before(async () => { tmp = await tempDir() })
  after(async () => { await tmp.cleanup() })

  it('a directory the importer would HAMT-shard -> DirectoryTooLargeError; one entry less stays flat and equal', async () => {
    // each entry counts utf8(name) + 36 bytes: 200-byte names give 236 bytes, the limit is 262144:
    // 1110 entries (261960) stay flat, 1111 (262196) are sharded
    const flat = join(tmp.dir, 'flat')
    const big = join(tmp.dir, 'big')
    await mkdir(flat)
    await mkdir(big)
    const names = Array.from({ length: 1111 }, (_, i) => `${String(i).padStart(8, '0')}${'x'.repeat(192)}`)
    await Promise.all(names.slice(0, 1110).map(async n => writeFile(join(flat, n), n)))
    await Promise.all(names.map(async n => writeFile(join(big, n), n)))

    const store = new MemoryBlockstore()
    await assert.rejects(importModel(store, big), { name: 'DirectoryTooLargeError' })
    assert.equal(await countBlocks(store), 0)

    const ours = await importModel(new MemoryBlockstore(), flat)
    const oracle = async (n: string[]): Promise<{ cid: CID, type?: string }> => {
      let last: { cid: CID, type?: string } | undefined
      for await (const e of importer(n.map(name => ({ path: name, content: Buffer.from(name) })), new MemoryBlockstore(), {
        cidVersion: 1, rawLeaves: true, wrapWithDirectory: true, layout: balanced({ maxChildrenPerNode: 1024 }), chunker: fixedSize({ chunkSize: 1_048_576 })
      })) last = { cid: e.cid, type: e.unixfs?.type }
      return last as { cid: CID, type?: string }
    }
    const flatOracle = await oracle(names.slice(0, 1110))
    assert.equal(flatOracle.type, 'directory')
    assert.equal(ours.files.toString(), flatOracle.cid.toString())
    assert.equal((await oracle(names)).type, 'hamt-sharded-directory')
  })
})

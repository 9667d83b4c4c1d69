import assert from 'node:assert/strict'
import { createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { CarReader } from '@ipld/car'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { importBytes } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import { encodeVarint, exportCar, FsBlockstore, getBlockUnverified, hashBlock, importCar, importCarFile, links, verifyBlock } from '../src/index.js'
import { chunked, concat, ipfsCar, MemStore, mhKey, pseudoRandomBytes, rmDir, sha256hex, tmpDir } from './helpers.js'

async function exportToBytes (store: Pick<FsBlockstore, 'get'>, root: CID, opts: Parameters<typeof exportCar>[3] = {}): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  await exportCar(store, root, async (chunk) => { chunks.push(chunk.slice()) }, opts)
  return concat(chunks)
}

/** Reference DFS pre-order written recursively (fine for the small test DAGs). */
async function dfs (store: Pick<FsBlockstore, 'get'>, cid: CID, out: string[] = []): Promise<string[]> {
  out.push(cid.toString())
  for (const l of links(cid, await getBlockUnverified(store, cid))) await dfs(store, l, out)
  return out
}

async function readCar (bytes: Uint8Array): Promise<{ roots: string[], cids: string[] }> {
  const reader = await CarReader.fromBytes(bytes)
  const cids: string[] = []
  for await (const { cid, bytes: b } of reader.blocks()) {
    verifyBlock(cid as any, b)
    cids.push(cid.toString())
  }
  return { roots: (await reader.getRoots()).map(String), cids }
}

/** Frame `varint(len) || payload` */
function frame (payload: Uint8Array): Uint8Array {
  return concat([encodeVarint(payload.byteLength), payload])
}

function section (cid: CID, bytes: Uint8Array): Uint8Array {
  return frame(concat([cid.bytes, bytes]))
}

function v1Header (roots: CID[], version: number = 1): Uint8Array {
  return frame(dagCbor.encode({ version, roots }))
}

/** Every block in the store verifies; returns how many there are. */
async function assertStoreVerified (store: MemStore | FsBlockstore): Promise<number> {
  let n = 0
  if (store instanceof MemStore) {
    for (const [, bytes] of store.map) {
      verifyBlock(hashBlock(bytes), bytes) // keys are multihashes of sha2-256
      n++
    }
    return n
  }
  for await (const pair of store.getAll()) {
    const chunks: Uint8Array[] = []
    for await (const c of pair.bytes) chunks.push(c)
    verifyBlock(pair.cid, concat(chunks))
    n++
  }
  return n
}

describe('CAR export/import', () => {
  let dir: string
  let store: FsBlockstore
  let fileBytes: Uint8Array
  let fileRoot: CID

  before(async () => {
    dir = await tmpDir()
    store = new FsBlockstore(path.join(dir, 'src-blocks'))
    await store.open()
    // a 3-level UnixFS file: 40 leaves of 4 KiB, 4 children per node
    fileBytes = pseudoRandomBytes(40 * 4096 + 123, 42)
    const res = await importBytes(fileBytes, store, {
      rawLeaves: true,
      cidVersion: 1,
      chunker: fixedSize({ chunkSize: 4096 }),
      layout: balanced({ maxChildrenPerNode: 4 })
    })
    fileRoot = res.cid
  })
  after(async () => { await rmDir(dir) })

  it('exports DFS pre-order, readable by @ipld/car, and round-trips through FsBlockstore', async () => {
    const car = await exportToBytes(store, fileRoot)
    const { roots, cids } = await readCar(car)
    assert.deepEqual(roots, [fileRoot.toString()])
    assert.deepEqual(cids, await dfs(store, fileRoot))
    assert.ok(cids.length > 50)

    const dest = new FsBlockstore(path.join(dir, 'round-trip'))
    await dest.open()
    const result = await importCar(dest, chunked(car, [1000, 7, 65536]))
    assert.deepEqual(result.roots.map(String), [fileRoot.toString()])
    assert.equal(result.blocks, cids.length)
    // re-export from the imported copy is byte-identical
    assert.deepEqual(await exportToBytes(dest, fileRoot), car)
    assert.equal(await assertStoreVerified(dest), cids.length)
  })

  it('dups and scope', async () => {
    const m = new MemStore()
    const put = async (value: unknown): Promise<CID> => {
      const bytes = dagCbor.encode(value)
      const cid = hashBlock(bytes, dagCbor.code)
      await m.put(cid, bytes)
      return cid
    }
    const leaf = hashBlock(new Uint8Array([1, 2, 3]))
    await m.put(leaf, new Uint8Array([1, 2, 3]))
    const z = await put({ z: leaf })
    const x = await put({ x: z })
    const y = await put({ y: z })
    const root = await put({ a: x, b: y })
    const order = (await readCar(await exportToBytes(m, root))).cids
    assert.deepEqual(order, [root, x, z, leaf, y].map(String))
    const withDups = (await readCar(await exportToBytes(m, root, { dups: true }))).cids
    assert.deepEqual(withDups, [root, x, z, leaf, y, z, leaf].map(String))
    const onlyRoot = await exportToBytes(m, root, { scope: 'block' })
    assert.deepEqual((await readCar(onlyRoot)).cids, [root.toString()])
  })

  it('missing block -> BlockNotFoundError naming the CID', async () => {
    const m = new MemStore()
    const missing = hashBlock(new Uint8Array([7]))
    const bytes = dagCbor.encode({ l: missing })
    const root = hashBlock(bytes, dagCbor.code)
    await m.put(root, bytes)
    await assert.rejects(exportToBytes(m, root), (err: any) => err.name === 'BlockNotFoundError' && err.cid.equals(missing) && err.message.includes(missing.toString()))
  })

  it('survives a deep DAG (iterative traversal)', async () => {
    const m = new MemStore()
    let cid = hashBlock(new Uint8Array([0]))
    await m.put(cid, new Uint8Array([0]))
    const depth = 5_000
    for (let i = 0; i < depth; i++) {
      const bytes = dagCbor.encode({ next: cid })
      cid = hashBlock(bytes, dagCbor.code)
      await m.put(cid, bytes)
    }
    const { blocks } = await exportCar(m, cid, async () => {})
    assert.equal(blocks, depth + 1)
  })

  it('respects writable-stream back-pressure', async () => {
    let maxBuffered = 0
    let largestChunk = 0
    const received: Uint8Array[] = []
    const out = new Writable({
      highWaterMark: 16,
      write (chunk: Uint8Array, _enc, cb) {
        received.push(new Uint8Array(chunk))
        setImmediate(cb)
      }
    })
    const origWrite = out.write.bind(out)
    out.write = ((chunk: Uint8Array, ...rest: any[]) => {
      largestChunk = Math.max(largestChunk, chunk.byteLength)
      const ok = origWrite(chunk, ...rest)
      maxBuffered = Math.max(maxBuffered, out.writableLength)
      return ok
    }) as any
    await exportCar(store, fileRoot, out)
    out.end()
    // without waiting for 'drain' the whole CAR would queue up in the stream
    assert.ok(maxBuffered <= largestChunk + 16, `buffered ${maxBuffered} > ${largestChunk}`)
    assert.deepEqual(concat(received), await exportToBytes(store, fileRoot))
  })

  it('imports a CAR written by `ipfs-car pack`, and ipfs-car unpacks our export byte-exact', async () => {
    const work = await tmpDir()
    const input = path.join(work, 'model.bin')
    const big = pseudoRandomBytes((2 << 20) + 12345, 3) // > 2 chunks of 1 MiB
    await fs.writeFile(input, big)
    const { stdout } = await ipfsCar(['pack', input, '--no-wrap', '--output', path.join(work, 'in.car')], work)
    const dest = new FsBlockstore(path.join(work, 'blocks'))
    await dest.open()
    const { roots, blocks } = await importCarFile(dest, path.join(work, 'in.car'))
    assert.equal(roots.length, 1)
    assert.ok(stdout.includes(roots[0].toString()) || (await ipfsCar(['roots', path.join(work, 'in.car')], work)).stdout.includes(roots[0].toString()))
    assert.equal(blocks, 4) // 3 raw leaves + dag-pb root
    assert.equal(await assertStoreVerified(dest), 4)

    const outCar = path.join(work, 'out.car')
    const ws = createWriteStream(outCar)
    await exportCar(dest, roots[0], ws)
    await new Promise<void>((resolve, reject) => { ws.end(() => { resolve() }); ws.on('error', reject) })
    const unpacked = path.join(work, 'unpacked.bin')
    await ipfsCar(['unpack', outCar, '--output', unpacked], work)
    assert.equal(sha256hex(await fs.readFile(unpacked)), sha256hex(big))
    await rmDir(work)
  })

  it('ipfs-car unpacks our export of an importer-built UnixFS file', async () => {
    const work = await tmpDir()
    const outCar = path.join(work, 'x.car')
    await fs.writeFile(outCar, await exportToBytes(store, fileRoot))
    await ipfsCar(['unpack', outCar, '--output', path.join(work, 'f')], work)
    assert.equal(sha256hex(await fs.readFile(path.join(work, 'f'))), sha256hex(fileBytes))
    await rmDir(work)
  })

  it('imports CARv2 (pragma, header, padding, data payload, ignored index)', async () => {
    const v1 = await exportToBytes(store, fileRoot)
    const padding = 7
    const dataOffset = 11 + 40 + padding
    const header = new Uint8Array(40)
    const view = new DataView(header.buffer)
    view.setBigUint64(16, BigInt(dataOffset), true)
    view.setBigUint64(24, BigInt(v1.byteLength), true)
    view.setBigUint64(32, BigInt(dataOffset + v1.byteLength), true)
    const pragma = Uint8Array.from([0x0a, 0xa1, 0x67, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x02])
    const index = pseudoRandomBytes(300, 5) // not a valid index: must be ignored, not parsed
    const v2 = concat([pragma, header, new Uint8Array(padding), v1, index])
    const m = new MemStore()
    const res = await importCar(m, chunked(v2, [33]))
    assert.deepEqual(res.roots.map(String), [fileRoot.toString()])
    assert.equal(res.blocks, (await readCar(v1)).cids.length)

    // data size that cuts the last section -> InvalidCarError
    view.setBigUint64(24, BigInt(v1.byteLength - 3), true)
    const cut = concat([pragma, header, new Uint8Array(padding), v1, index])
    await assert.rejects(importCar(new MemStore(), chunked(cut)), { name: 'InvalidCarError' })
    // data offset inside the header -> InvalidCarError
    view.setBigUint64(16, 20n, true)
    await assert.rejects(importCar(new MemStore(), [concat([pragma, header, v1])]), (err: any) => err.name === 'InvalidCarError' && err.offset === 11)
  })

  describe('hostile input', () => {
    const blocks = [pseudoRandomBytes(500, 11), pseudoRandomBytes(600, 12), pseudoRandomBytes(700, 13)]
    const cids = blocks.map(b => hashBlock(b))
    const header = v1Header([cids[0]])
    const sections = blocks.map((b, i) => section(cids[i], b))
    const good = concat([header, ...sections])
    /** Byte offsets where a CARv1 made of `header` and the first i sections ends, by i. */
    const boundaries = sections.map((_, i) => concat([header, ...sections.slice(0, i)]).byteLength).concat(good.byteLength)

    it('a good CAR imports', async () => {
      const m = new MemStore()
      const res = await importCar(m, [good])
      assert.equal(res.blocks, 3)
      assert.equal(res.bytes, 1800)
    })

    it('truncated header', async () => {
      await assert.rejects(importCar(new MemStore(), [header.subarray(0, 5)]), (err: any) => err.name === 'InvalidCarError' && err.offset === 0)
      await assert.rejects(importCar(new MemStore(), []), (err: any) => err.name === 'InvalidCarError' && err.offset === 0)
    })

    it('truncated block: earlier blocks stored and verified, the cut one not', async () => {
      const m = new MemStore()
      const cutAt = header.byteLength + sections[0].byteLength + 100
      await assert.rejects(importCar(m, chunked(good.subarray(0, cutAt), [64])), (err: any) =>
        err.name === 'InvalidCarError' && err.offset === header.byteLength + sections[0].byteLength)
      assert.equal(await assertStoreVerified(m), 1)
    })

    it('bad varint', async () => {
      const bad = concat([header, sections[0], new Uint8Array(10).fill(0xff)])
      await assert.rejects(importCar(new MemStore(), [bad]), (err: any) =>
        err.name === 'InvalidCarError' && err.offset === header.byteLength + sections[0].byteLength)
      // non-minimal varint (0x81 0x00 = 1 with a redundant byte)
      await assert.rejects(importCar(new MemStore(), [concat([header, Uint8Array.from([0x81, 0x00])])]), { name: 'InvalidCarError' })
    })

    it('section length over the go-car max section size (8 MiB)', async () => {
      const huge = concat([header, encodeVarint((8 << 20) + 1), new Uint8Array(16)])
      await assert.rejects(importCar(new MemStore(), [huge]), (err: any) => err.name === 'InvalidCarError' && err.offset === header.byteLength)
      await assert.rejects(importCar(new MemStore(), [good], { maxSectionSize: 100 }), { name: 'InvalidCarError' })
    })

    it('CID parse failure and zero-length section', async () => {
      const badCid = concat([header, frame(Uint8Array.from([0x05, 0x55, 0x12, 0x20, 1, 2, 3]))])
      await assert.rejects(importCar(new MemStore(), [badCid]), (err: any) => err.name === 'InvalidCarError' && err.offset === header.byteLength)
      await assert.rejects(importCar(new MemStore(), [concat([header, Uint8Array.from([0])])]), { name: 'InvalidCarError' })
    })

    it('unsupported version, bad header', async () => {
      await assert.rejects(importCar(new MemStore(), [concat([v1Header([cids[0]], 3), sections[0]])]), { name: 'InvalidCarError' })
      await assert.rejects(importCar(new MemStore(), [concat([v1Header([]), sections[0]])]), { name: 'InvalidCarError' })
      await assert.rejects(importCar(new MemStore(), [concat([frame(Uint8Array.from([0xff, 0xff])), sections[0]])]), { name: 'InvalidCarError' })
    })

    it('corrupted block bytes -> BlockHashMismatchError, nothing unverified stored', async () => {
      const corrupt = good.slice()
      const at = header.byteLength + sections[0].byteLength + 50 // inside block 2
      corrupt[at] ^= 0x01
      const m = new MemStore()
      await assert.rejects(importCar(m, [corrupt]), (err: any) =>
        err.name === 'BlockHashMismatchError' && err.offset === header.byteLength + sections[0].byteLength && err.cid.equals(cids[1]))
      assert.equal(await assertStoreVerified(m), 1)
      assert.equal(m.map.has(mhKey(cids[1])), false)
    })

    it('importCarFile names the file in errors', async () => {
      const d = await tmpDir()
      const file = path.join(d, 'broken.car')
      await fs.writeFile(file, good.subarray(0, good.byteLength - 1))
      await assert.rejects(importCarFile(new MemStore(), file), (err: any) => err.name === 'InvalidCarError' && err.message.includes(file))
      await rmDir(d)
    })

    it('property: chunking never changes the result; any truncation is an InvalidCarError with only verified blocks stored', async () => {
      await fc.assert(fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 900 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: good.byteLength }),
        async (sizes, cut) => {
          const m = new MemStore()
          // a cut exactly between two sections leaves a valid, shorter CAR
          const complete = boundaries.indexOf(cut)
          if (complete >= 0) {
            const res = await importCar(m, chunked(good.subarray(0, cut), sizes))
            assert.equal(res.blocks, complete)
          } else {
            await assert.rejects(importCar(m, chunked(good.subarray(0, cut), sizes)), { name: 'InvalidCarError' })
          }
          await assertStoreVerified(m)
        }), { numRuns: 150, examples: [[[1], boundaries[1]], [[7], boundaries[2]], [[3], boundaries[0]]] })
    })
  })

  describe('abort', () => {
    it('importCar stops when the signal aborts mid-stream', async () => {
      const car = await exportToBytes(store, fileRoot)
      const controller = new AbortController()
      const m = new MemStore()
      let chunks = 0
      const source = (async function * () {
        for await (const c of chunked(car, [2048])) {
          if (++chunks === 5) controller.abort()
          yield c
        }
      })()
      await assert.rejects(importCar(m, source, { signal: controller.signal }), { name: 'AbortError' })
      assert.ok(m.map.size < (await readCar(car)).cids.length)
      await assert.rejects(importCar(m, [car], { signal: AbortSignal.abort() }), { name: 'AbortError' })
    })

    it('importCar aborts while waiting on a stalled source', async () => {
      const controller = new AbortController()
      const source = (async function * () {
        yield v1Header([fileRoot])
        await new Promise(() => {}) // never produces more
      })()
      const p = importCar(new MemStore(), source, { signal: controller.signal })
      setImmediate(() => { controller.abort() })
      await assert.rejects(p, { name: 'AbortError' })
    })

    it('exportCar stops when the signal aborts mid-export', async () => {
      const controller = new AbortController()
      let writes = 0
      await assert.rejects(exportCar(store, fileRoot, async () => {
        if (++writes === 3) controller.abort()
      }, { signal: controller.signal }), { name: 'AbortError' })
      assert.ok(writes <= 4)
      await assert.rejects(exportCar(store, fileRoot, async () => {}, { signal: AbortSignal.abort() }), { name: 'AbortError' })
    })
  })
})

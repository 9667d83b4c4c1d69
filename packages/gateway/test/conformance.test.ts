/**
 * Trustless-gateway conformance points on small hand-built DAGs (`@ipld/dag-pb` + `ipfs-unixfs`
 * in a MemoryBlockstore): IPIP-402 `entity-bytes` past the end, `only-if-cached` for a missing
 * path block, `Content-Location` with `car-*` parameters, the hash functions served (the
 * blockstore's `canVerify`), and hostile UnixFS file nodes answered with an error status before
 * any response byte (never a 200 that is cut).
 */

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { hashBlock, importCar, HASH_SHA2_512 } from '@tensorswap/blockstore'
import { MemoryBlockstore } from 'blockstore-core'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { createGatewayServer } from '../src/index.js'
import type { GatewayServer } from '../src/index.js'

interface Res { status: number, headers: Headers, body: Uint8Array }

async function get (base: string, path: string, init: RequestInit = {}): Promise<Res> {
  const r = await fetch(base + path, { redirect: 'manual', ...init })
  return { status: r.status, headers: r.headers, body: new Uint8Array(await r.arrayBuffer()) }
}

/** The CIDs of a CAR body, in order (each block verified by importCar). */
async function carCids (bytes: Uint8Array): Promise<string[]> {
  const cids: string[] = []
  await importCar({ put: async (cid: CID) => { cids.push(cid.toString()); return cid } } as any, [bytes])
  return cids
}

const enc = new TextEncoder()

describe('gateway conformance (hand-built DAGs)', () => {
  const store = new MemoryBlockstore()
  let gateway: GatewayServer
  let base: string
  let file: CID // two raw leaves, 12 bytes
  let leaves: CID[]
  let dir: CID // { 'a.txt': file, 'gone.txt': absent }
  let sha512: CID
  const hostile: Record<string, CID> = {}

  async function putPb (data: Uint8Array, links: dagPb.PBLink[]): Promise<CID> {
    const bytes = dagPb.encode(dagPb.prepare({ Data: data, Links: links }))
    const cid = hashBlock(bytes, dagPb.code)
    await store.put(cid, bytes)
    return cid
  }

  /** A file root over `leaves` with the given blocksizes, `filesize` appended, link names. */
  async function fileNode (opts: { blockSizes?: bigint[], fileSize?: number, names?: string[] } = {}): Promise<CID> {
    let data = new UnixFS({ type: 'file', blockSizes: opts.blockSizes ?? [7n, 5n] }).marshal()
    if (opts.fileSize !== undefined) data = Uint8Array.from([...data, 0x18, opts.fileSize])
    return await putPb(data, leaves.map((Hash, i) => ({ Hash, Name: opts.names?.[i] ?? '', Tsize: 7 })))
  }

  before(async () => {
    leaves = []
    for (const s of ['hello, ', 'world']) {
      const cid = hashBlock(enc.encode(s), raw.code)
      await store.put(cid, enc.encode(s))
      leaves.push(cid)
    }
    file = await fileNode()
    const gone = hashBlock(enc.encode('never stored'), raw.code)
    dir = await putPb(new UnixFS({ type: 'directory' }).marshal(), [{ Hash: file, Name: 'a.txt', Tsize: 40 }, { Hash: gone, Name: 'gone.txt', Tsize: 12 }])
    const payload = enc.encode('a sha2-512 block')
    sha512 = hashBlock(payload, raw.code, HASH_SHA2_512)
    await store.put(sha512, payload)
    hostile['links/blocksizes mismatch'] = await fileNode({ blockSizes: [7n] })
    hostile['filesize mismatch'] = await fileNode({ fileSize: 13 })
    hostile['named chunk link'] = await fileNode({ names: ['', 'evil'] })
    gateway = createGatewayServer({ blockstore: store })
    base = (await gateway.listen('127.0.0.1', 0)).url
  })

  after(async () => {
    await gateway.close()
  })

  it('entity-bytes past the end of a file is a CAR with the file root block only (IPIP-402), not 400', async () => {
    for (const eb of ['12:*', '12:20', '100:200', '-0:-13']) {
      const r = await get(base, `/ipfs/${file}?format=car&entity-bytes=${eb}`)
      assert.equal(r.status, 200, eb)
      assert.match(r.headers.get('content-type') ?? '', /^application\/vnd\.ipld\.car/, eb)
      assert.deepEqual(await carCids(r.body), [file.toString()], eb)
    }
    // a range inside the file still sends the leaves it overlaps
    assert.deepEqual(await carCids((await get(base, `/ipfs/${file}?format=car&entity-bytes=8:*`)).body), [file, leaves[1]].map(String))
    // through a path: the path blocks, then the file root
    assert.deepEqual(await carCids((await get(base, `/ipfs/${dir}/a.txt?format=car&entity-bytes=50:*`)).body), [dir, file].map(String))
    // malformed entity-bytes stays 400
    assert.equal((await get(base, `/ipfs/${file}?format=car&entity-bytes=5:2`)).status, 400)
  })

  it('only-if-cached: a missing block on the path (or the root) is 412, not 404', async () => {
    const oic = { headers: { 'Cache-Control': 'only-if-cached' } }
    for (const q of ['', '?format=car']) {
      const r = await get(base, `/ipfs/${dir}/gone.txt${q}`, oic)
      assert.equal(r.status, 412, `only-if-cached ${q}`)
      assert.match(new TextDecoder().decode(r.body), /only-if-cached/)
      // the same request without only-if-cached: the plain 404 of a non-recursive gateway
      assert.equal((await get(base, `/ipfs/${dir}/gone.txt${q}`)).status, 404, q)
    }
    const missingRoot = hashBlock(enc.encode('not here either'), raw.code)
    assert.equal((await get(base, `/ipfs/${missingRoot}?format=raw`, oic)).status, 412)
    // cached content is still served
    const ok = await get(base, `/ipfs/${dir}/a.txt`, oic)
    assert.equal(ok.status, 200)
    assert.equal(new TextDecoder().decode(ok.body), 'hello, world')
  })

  it('Content-Location names the canonical CAR URL when car-* parameters come with format=car', async () => {
    const loc = async (path: string, init?: RequestInit): Promise<string | null> => {
      const r = await get(base, path, init)
      assert.equal(r.status, 200, path)
      return r.headers.get('content-location')
    }
    const params = (l: string | null): Record<string, string> => {
      assert.ok(l !== null)
      const u = new URL(l, 'http://x')
      assert.equal(u.pathname, `/ipfs/${file}`)
      return Object.fromEntries(u.searchParams)
    }
    assert.deepEqual(params(await loc(`/ipfs/${file}?format=car&car-dups=y`)), { format: 'car', 'car-version': '1', 'car-order': 'dfs', 'car-dups': 'y' })
    assert.deepEqual(params(await loc(`/ipfs/${file}?format=car&car-version=1&car-order=unk&dag-scope=entity`)), { format: 'car', 'car-version': '1', 'car-order': 'dfs', 'car-dups': 'n', 'dag-scope': 'entity' })
    // negotiated by Accept: the URL with the Accept parameters
    assert.deepEqual(params(await loc(`/ipfs/${file}`, { headers: { Accept: 'application/vnd.ipld.car; version=1; dups=y' } })), { format: 'car', 'car-version': '1', 'car-order': 'dfs', 'car-dups': 'y' })
    // a URL that names the format and no car-* parameter is already canonical
    assert.equal(await loc(`/ipfs/${file}?format=car`), null)
    assert.equal(await loc(`/ipfs/${file}?format=raw`), null)
    // 304 keeps it
    const first = await get(base, `/ipfs/${file}?format=car&car-dups=y`)
    const nm = await get(base, `/ipfs/${file}?format=car&car-dups=y`, { headers: { 'If-None-Match': first.headers.get('etag') ?? '' } })
    assert.equal(nm.status, 304)
    assert.equal(nm.headers.get('content-location'), first.headers.get('content-location'))
  })

  it('serves the hash functions the blockstore verifies (sha2-512 too), not only sha2-256', async () => {
    const r = await get(base, `/ipfs/${sha512}?format=raw`)
    assert.equal(r.status, 200)
    assert.equal(new TextDecoder().decode(r.body), 'a sha2-512 block')
    assert.deepEqual(await carCids((await get(base, `/ipfs/${sha512}?format=car`)).body), [sha512.toString()])
    assert.equal((await get(base, `/ipfs/${sha512}`)).status, 200)
    // what the blockstore cannot verify is still 400: another function, a truncated sha2-512
    const blake = CID.createV1(raw.code, Digest.create(0xb220, new Uint8Array(32)))
    const truncated = CID.createV1(raw.code, Digest.create(HASH_SHA2_512, sha512.multihash.digest.subarray(0, 32)))
    for (const cid of [blake, truncated]) {
      const r = await get(base, `/ipfs/${cid}?format=raw`)
      assert.equal(r.status, 400, cid.toString())
      assert.match(new TextDecoder().decode(r.body), /verifies identity, sha2-256, sha2-512/)
    }
  })

  it('hostile UnixFS file nodes are 502 before any byte: no 200 that is cut mid-stream', async () => {
    for (const [what, cid] of Object.entries(hostile)) {
      for (const [path, init] of [
        [`/ipfs/${cid}`, {}],
        [`/ipfs/${cid}`, { headers: { Range: 'bytes=0-3' } }],
        [`/ipfs/${cid}`, { method: 'HEAD' }],
        [`/ipfs/${cid}?format=car&dag-scope=entity`, {}],
        [`/ipfs/${cid}?format=car&entity-bytes=0:3`, {}]
      ] as Array<[string, RequestInit]>) {
        const r = await get(base, path, init)
        const label = `${what}: ${init.method ?? 'GET'} ${path} ${JSON.stringify(init.headers ?? {})}`
        assert.equal(r.status, 502, label)
        assert.match(r.headers.get('content-type') ?? '', /^text\/plain/, label)
        if (init.method !== 'HEAD') assert.match(new TextDecoder().decode(r.body), /^malformed DAG: /, label)
      }
    }
    // control: the sound file serves all of it
    const ok = await get(base, `/ipfs/${file}`)
    assert.equal(ok.status, 200)
    assert.equal(new TextDecoder().decode(ok.body), 'hello, world')
  })
})

/**
 * Gateway server behaviour against a real imported model (human-models TF.js graph models) in
 * an FsBlockstore: trustless responses, CAR scopes and entity-bytes, Range downloads,
 * listings, manifest paths, error statuses, metrics, fetchMissing, back-pressure and abort.
 */

import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { readFile, rm, writeFile, mkdir } from 'node:fs/promises'
import { get as httpGet } from 'node:http'
import { connect } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { FsBlockstore, exportCar, importCar, hashBlock } from '@tensorswap/blockstore'
import { importModel, listModel } from '@tensorswap/model'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { createGatewayServer, createMetrics, METRIC_NAMES, CACHE_CONTROL_IMMUTABLE, BUSY_RETRY_AFTER_SECONDS } from '../src/index.js'
import { makeModelDir } from './helpers.js'
import type { GatewayProgressEvents, GatewayServer } from '../src/index.js'
import type { Registry } from 'prom-client'

interface Res { status: number, headers: Headers, body: Uint8Array }

async function get (base: string, path: string, init: RequestInit = {}): Promise<Res> {
  const r = await fetch(base + path, { redirect: 'manual', ...init })
  return { status: r.status, headers: r.headers, body: new Uint8Array(await r.arrayBuffer()) }
}

/** Parse (and verify, through importCar) a CAR body: roots and blocks in order. */
async function parseCar (bytes: Uint8Array): Promise<{ roots: CID[], blocks: Array<{ cid: CID, bytes: Uint8Array }> }> {
  const blocks: Array<{ cid: CID, bytes: Uint8Array }> = []
  const { roots } = await importCar({ put: async (cid: CID, b: any) => { blocks.push({ cid, bytes: b }); return cid } } as any, [bytes])
  return { roots, blocks }
}

function sha (b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

function text (b: Uint8Array): string {
  return new TextDecoder().decode(b)
}

/** Wait until `read()` returns the same value 5 polls in a row (100 ms apart), at most `maxPolls`. */
async function settle (read: () => number, maxPolls = 100): Promise<number> {
  let last = read()
  let same = 0
  for (let i = 0; i < maxPolls && same < 5; i++) {
    await new Promise(resolve => setTimeout(resolve, 100))
    const now = read()
    same = now === last ? same + 1 : 0
    last = now
  }
  return last
}

describe('gateway server', () => {
  let tmp: string
  let modelDir: string
  let store: FsBlockstore
  let reads = 0
  let gateway: GatewayServer
  let base: string
  let registry: Registry
  const events: GatewayProgressEvents[] = []
  let root: CID // manifest
  let files: CID // UnixFS directory
  let binCid: CID // movenet-lightning.bin (multi-block UnixFS file)
  let binBytes: Uint8Array
  let jsonCid: CID // movenet-lightning.json
  let bigCid: CID // 40 MiB random file
  let bigBlocks: number

  before(async () => {
    ({ tmp, modelDir } = await makeModelDir())
    store = new FsBlockstore(join(tmp, 'repo'), { fsync: false })
    await store.open()
    const imported = await importModel(store, modelDir)
    root = imported.root
    files = imported.files
    const listing = await listModel(store, root)
    binCid = listing.files.find(f => f.path === 'movenet-lightning.bin')!.cid
    jsonCid = listing.files.find(f => f.path === 'movenet-lightning.json')!.cid
    binBytes = await readFile(join(modelDir, 'movenet-lightning.bin'))
    // a large plain file for back-pressure and abort tests (40 x 1 MiB leaves + root)
    await mkdir(join(tmp, 'big'))
    await writeFile(join(tmp, 'big', 'weights.bin'), randomBytes(40 << 20))
    const big = await importModel(store, join(tmp, 'big', 'weights.bin'))
    bigCid = big.files
    bigBlocks = 41
    registry = createMetrics({ defaultMetrics: false })
    const counting = {
      get: (cid: CID, options?: any) => { reads++; return store.get(cid, options) },
      has: async (cid: CID, options?: any) => await store.has(cid, options)
    }
    gateway = createGatewayServer({ blockstore: counting, metrics: registry, onProgress: e => events.push(e) })
    base = (await gateway.listen('127.0.0.1', 0)).url
  })

  after(async () => {
    await gateway.close()
    await store.close()
    await rm(tmp, { recursive: true, force: true })
  })

  it('serves a raw block with the trustless headers, by ?format=raw and by Accept', async () => {
    const expected = await readFile(store.blockPath(binCid))
    const r = await get(base, `/ipfs/${binCid}?format=raw`)
    assert.equal(r.status, 200)
    assert.deepEqual(r.body, new Uint8Array(expected))
    assert.equal(r.headers.get('content-type'), 'application/vnd.ipld.raw')
    assert.equal(r.headers.get('content-length'), String(expected.byteLength))
    assert.equal(r.headers.get('etag'), `"${binCid}.raw"`)
    assert.equal(r.headers.get('cache-control'), CACHE_CONTROL_IMMUTABLE)
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff')
    assert.equal(r.headers.get('content-disposition'), `attachment; filename="${binCid}.bin"`)
    assert.equal(r.headers.get('x-ipfs-path'), `/ipfs/${binCid}`)
    assert.equal(r.headers.get('x-ipfs-roots'), binCid.toString())
    assert.equal(r.headers.get('content-location'), null)

    const a = await get(base, `/ipfs/${binCid}`, { headers: { Accept: 'application/vnd.ipld.raw' } })
    assert.equal(a.status, 200)
    assert.deepEqual(a.body, r.body)
    assert.equal(a.headers.get('content-location'), `/ipfs/${binCid}?format=raw`)

    const h = await get(base, `/ipfs/${binCid}?format=raw`, { method: 'HEAD' })
    assert.equal(h.status, 200)
    assert.equal(h.body.byteLength, 0)
    assert.equal(h.headers.get('content-length'), String(expected.byteLength))
  })

  it('answers the bafkqaaa probe paths', async () => {
    const raw = await get(base, '/ipfs/bafkqaaa?format=raw')
    assert.equal(raw.status, 200)
    assert.equal(raw.body.byteLength, 0)
    const car = await get(base, '/ipfs/bafkqaaa?format=car')
    assert.equal(car.status, 200)
    const parsed = await parseCar(car.body)
    assert.deepEqual(parsed.roots.map(String), ['bafkqaaa'])
    assert.equal(parsed.blocks.length, 0)
    const head = await get(base, '/ipfs/bafkqaaa', { method: 'HEAD', headers: { Accept: 'application/vnd.ipld.raw' } })
    assert.equal(head.status, 200)
  })

  it('streams a CAR byte-identical to exportCar (dfs, dups=n and dups=y) with the negotiated Content-Type', async () => {
    for (const dups of [false, true]) {
      const chunks: Uint8Array[] = []
      await exportCar(store, files, async (c) => { chunks.push(c) }, { dups })
      const expected = Buffer.concat(chunks)
      const r = await get(base, `/ipfs/${files}`, { headers: { Accept: `application/vnd.ipld.car; version=1; order=dfs; dups=${dups ? 'y' : 'n'}` } })
      assert.equal(r.status, 200)
      assert.equal(r.headers.get('content-type'), `application/vnd.ipld.car; version=1; order=dfs; dups=${dups ? 'y' : 'n'}`)
      assert.equal(r.headers.get('content-disposition'), `attachment; filename="${files}.car"`)
      // the canonical URL of the variant sent: `?format=car` alone would be dups=n
      assert.equal(r.headers.get('content-location'), `/ipfs/${files}?format=car&car-version=1&car-order=dfs&car-dups=${dups ? 'y' : 'n'}`)
      assert.equal(r.headers.get('accept-ranges'), 'none')
      assert.match(r.headers.get('etag') ?? '', new RegExp(`^"${files}\\.car\\.[0-9a-f]{16}"$`))
      assert.equal(Buffer.compare(Buffer.from(r.body), expected), 0)
    }
    const q = await get(base, `/ipfs/${files}?format=car&car-dups=y`)
    assert.equal(q.headers.get('content-type'), 'application/vnd.ipld.car; version=1; order=dfs; dups=y')
    const unk = await get(base, `/ipfs/${files}?format=car`, { headers: { Accept: 'application/vnd.ipld.car; order=unk' } })
    assert.equal(unk.headers.get('content-type'), 'application/vnd.ipld.car; version=1; order=dfs; dups=n')
    const etags = new Set([q, unk].map(r => r.headers.get('etag')))
    assert.equal(etags.size, 2, 'dups is part of the Etag')
  })

  it('dag-scope=block and entity return the terminal block, the directory node, the whole file', async () => {
    const block = await parseCar((await get(base, `/ipfs/${files}?format=car&dag-scope=block`)).body)
    assert.deepEqual(block.blocks.map(b => b.cid.toString()), [files.toString()])
    const dir = await parseCar((await get(base, `/ipfs/${files}?format=car&dag-scope=entity`)).body)
    assert.deepEqual(dir.blocks.map(b => b.cid.toString()), [files.toString()])
    const file = await parseCar((await get(base, `/ipfs/${binCid}?format=car&dag-scope=entity&car-dups=y`)).body)
    const all = await parseCar((await get(base, `/ipfs/${binCid}?format=car&dag-scope=all&car-dups=y`)).body)
    assert.deepEqual(file.blocks.map(b => b.cid.toString()), all.blocks.map(b => b.cid.toString()))
    // dups=y: every leaf occurrence, so the leaves concatenate to the file
    const leaves = file.blocks.slice(1).map(b => b.bytes)
    assert.equal(sha(Buffer.concat(leaves)), sha(binBytes), 'the entity CAR holds the whole file')
  })

  it('CAR with a path sends the blocks crossed first, then the terminal entity; X-Ipfs-Roots names each segment', async () => {
    const r = await get(base, `/ipfs/${root}/movenet-lightning.json?format=car&dag-scope=entity`)
    assert.equal(r.status, 200)
    assert.equal(r.headers.get('x-ipfs-roots'), `${root},${jsonCid}`)
    const car = await parseCar(r.body)
    assert.deepEqual(car.roots.map(String), [jsonCid.toString()])
    assert.deepEqual(car.blocks.map(b => b.cid.toString()), [root.toString(), files.toString(), jsonCid.toString()])
    assert.equal(sha(car.blocks[2].bytes), sha(await readFile(join(modelDir, 'movenet-lightning.json'))))
  })

  it('entity-bytes sends only the root and the leaves overlapping the range', async () => {
    const rootNode = dagPb.decode(await readFile(store.blockPath(binCid)))
    const sizes = UnixFS.unmarshal(rootNode.Data!).blockSizes.map(Number)
    const size = binBytes.byteLength
    const expectLeaves = (from: number, to: number): string[] => {
      const out: string[] = []
      let at = 0
      rootNode.Links.forEach((l, i) => {
        if (at <= to && at + sizes[i] > from) out.push(l.Hash.toString())
        at += sizes[i]
      })
      return out
    }
    const cases: Array<[string, number, number]> = [
      ['0:0', 0, 0],
      ['1000:3000000', 1000, 3000000],
      [`${size - 1}:*`, size - 1, size - 1],
      ['-1024:*', size - 1024, size - 1],
      ['499:-1000', 499, size - 1000],
      ['2000000:99999999', 2000000, size - 1]
    ]
    for (const [param, from, to] of cases) {
      const r = await get(base, `/ipfs/${binCid}?format=car&car-dups=y&entity-bytes=${param}`)
      assert.equal(r.status, 200, param)
      const car = await parseCar(r.body)
      const cids = car.blocks.map(b => b.cid.toString())
      assert.deepEqual(cids, [binCid.toString(), ...expectLeaves(from, to)], param)
      assert.ok(cids.length < rootNode.Links.length + 1 || from === 0, `${param} is a strict subset`)
      // the leaves cover [from, to] of the real file
      let at = 0
      const offsets = new Map<string, number>()
      rootNode.Links.forEach((l, i) => { offsets.set(l.Hash.toString(), at); at += sizes[i] })
      for (const b of car.blocks.slice(1)) {
        const off = offsets.get(b.cid.toString())!
        assert.equal(Buffer.compare(Buffer.from(b.bytes), binBytes.subarray(off, off + b.bytes.byteLength)), 0)
      }
    }
    // IPIP-402: a range past the end needs no leaf, only the block proving the entity
    const outside = await get(base, `/ipfs/${binCid}?format=car&entity-bytes=${size}:*`)
    assert.equal(outside.status, 200)
    assert.deepEqual((await parseCar(outside.body)).blocks.map(b => b.cid.toString()), [binCid.toString()])
    // on a directory entity-bytes is ignored: same as dag-scope=entity
    const dir = await parseCar((await get(base, `/ipfs/${files}?format=car&entity-bytes=0:10`)).body)
    assert.deepEqual(dir.blocks.map(b => b.cid.toString()), [files.toString()])
  })

  it('downloads a model file through its manifest path, byte-exact', async () => {
    for (const name of ['movenet-lightning.bin', 'blazeface.json']) {
      const r = await get(base, `/ipfs/${root}/${name}`)
      assert.equal(r.status, 200, name)
      const disk = await readFile(join(modelDir, name))
      assert.equal(r.headers.get('content-length'), String(disk.byteLength))
      assert.equal(r.headers.get('accept-ranges'), 'bytes')
      assert.equal(sha(r.body), sha(disk), name)
    }
    const json = await get(base, `/ipfs/${root}/blazeface.json`)
    assert.equal(json.headers.get('content-type'), 'application/json')
    const dl = await get(base, `/ipfs/${root}/blazeface.json?download=true`)
    assert.equal(dl.headers.get('content-disposition'), 'attachment; filename="blazeface.json"')
  })

  it('serves single byte ranges exactly (206, Content-Range) and 416 for unsatisfiable ones', async () => {
    const size = binBytes.byteLength
    const cases: Array<[string, number, number]> = [
      ['bytes=0-0', 0, 0],
      ['bytes=100-2000000', 100, 2000000],
      ['bytes=1048575-1048577', 1048575, 1048577],
      [`bytes=${size - 10}-`, size - 10, size - 1],
      ['bytes=-500', size - 500, size - 1],
      ['bytes=4000000-999999999999999999999', 4000000, size - 1]
    ]
    for (const [range, first, last] of cases) {
      const r = await get(base, `/ipfs/${binCid}`, { headers: { Range: range } })
      assert.equal(r.status, 206, range)
      assert.equal(r.headers.get('content-range'), `bytes ${first}-${last}/${size}`, range)
      assert.equal(r.headers.get('content-length'), String(last - first + 1), range)
      assert.deepEqual(r.body, new Uint8Array(binBytes.subarray(first, last + 1)), range)
    }
    for (const range of [`bytes=${size}-`, 'bytes=99999999999999999999999-', 'bytes=-0']) {
      const r = await get(base, `/ipfs/${binCid}`, { headers: { Range: range } })
      assert.equal(r.status, 416, range)
      assert.equal(r.headers.get('content-range'), `bytes */${size}`)
    }
    // several ranges, other units and junk are ignored: the whole file
    for (const range of ['bytes=0-1,5-6', 'items=0-1', 'bytes=abc']) {
      const r = await get(base, `/ipfs/${binCid}`, { headers: { Range: range } })
      assert.equal(r.status, 200, range)
      assert.equal(r.body.byteLength, size)
    }
  })

  it('lists a manifest and a directory (301 to the trailing slash first)', async () => {
    const redirect = await get(base, `/ipfs/${root}`)
    assert.equal(redirect.status, 301)
    assert.equal(redirect.headers.get('location'), `/ipfs/${root}/`)
    const m = await get(base, `/ipfs/${root}/`)
    assert.equal(m.status, 200)
    assert.equal(m.headers.get('content-type'), 'text/html; charset=utf-8')
    assert.match(m.headers.get('etag') ?? '', /^"DirIndex-.*_CID-/)
    const html = text(m.body)
    for (const f of ['blazeface.bin', 'blazeface.json', 'movenet-lightning.bin', 'movenet-lightning.json']) {
      assert.ok(html.includes(`href="/ipfs/${root}/${f}"`), f)
    }
    const d = text((await get(base, `/ipfs/${files}/`)).body)
    assert.ok(d.includes(`href="/ipfs/${files}/movenet-lightning.bin"`))
    assert.ok(d.includes(String(binBytes.byteLength)))
  })

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await get(base, `/ipfs/${jsonCid}?format=raw`)
    const r = await get(base, `/ipfs/${jsonCid}?format=raw`, { headers: { 'If-None-Match': `"x", ${first.headers.get('etag')!}` } })
    assert.equal(r.status, 304)
    assert.equal(r.body.byteLength, 0)
  })

  it('If-None-Match: weak tags and * match, no-cache and If-Modified-Since do not change the answer, other tags are 200', async () => {
    const etag = (await get(base, `/ipfs/${jsonCid}?format=raw`)).headers.get('etag')!
    for (const inm of [`W/${etag}`, '*', ` "a" ,${etag}`]) {
      const r = await get(base, `/ipfs/${jsonCid}?format=raw`, { headers: { 'If-None-Match': inm, 'Cache-Control': 'no-cache', 'If-Modified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' } })
      assert.equal(r.status, 304, inm)
      assert.equal(r.headers.get('etag'), etag)
    }
    for (const inm of ['"x"', `W/"x", "y"`, '']) {
      const r = await get(base, `/ipfs/${jsonCid}?format=raw`, { headers: { 'If-None-Match': inm } })
      assert.equal(r.status, 200, inm)
    }
  })

  it('Content-Disposition: ASCII names quoted, other names with an ASCII fallback and filename*', async () => {
    const cd = async (query: string): Promise<string | null> => (await get(base, `/ipfs/${jsonCid}?format=raw&${query}`)).headers.get('content-disposition')
    assert.equal(await cd('filename=model.bin'), 'attachment; filename="model.bin"')
    assert.equal(await cd('filename=a%20b.bin'), 'attachment; filename="a b.bin"')
    assert.equal(await cd(`filename=${encodeURIComponent('模型.bin')}`), `attachment; filename="__.bin"; filename*=UTF-8''${encodeURIComponent('模型.bin')}`)
    assert.equal(await cd(`filename=${encodeURIComponent('a"b.bin')}`), `attachment; filename="a_b.bin"; filename*=UTF-8''a%22b.bin`)
    const inline = await get(base, `/ipfs/${root}/blazeface.json?filename=${encodeURIComponent('café.json')}`)
    assert.equal(inline.headers.get('content-disposition'), `inline; filename="caf_.json"; filename*=UTF-8''caf%C3%A9.json`)
  })

  it('answers bad input with the spec status and a one-line text body', async () => {
    const weird = hashBlock(new TextEncoder().encode('opaque'), 0x300001)
    await store.put(weird, new TextEncoder().encode('opaque'))
    const plainCbor = hashBlock(dagCbor.encode({ hello: 'world' }), dagCbor.code)
    await store.put(plainCbor, dagCbor.encode({ hello: 'world' }))
    const missing = hashBlock(randomBytes(32))
    const blake = CID.createV1(0x55, Digest.create(0xb220, new Uint8Array(32)))
    const cases: Array<[string, RequestInit, number]> = [
      ['/ipfs/notacid', {}, 400],
      ['/ipfs/bafy', { headers: { Accept: 'application/vnd.ipld.car' } }, 400],
      [`/ipfs/${files}?format=tar`, {}, 400],
      [`/ipfs/${files}?format=dag-json`, {}, 400],
      [`/ipfs/${files}?format=nonsense`, {}, 400],
      [`/ipfs/${files}?format=car&dag-scope=tree`, {}, 400],
      [`/ipfs/${binCid}?format=car&entity-bytes=abc`, {}, 400],
      [`/ipfs/${binCid}?format=car&entity-bytes=5:2`, {}, 400],
      [`/ipfs/${binCid}?format=car&entity-bytes=99999999999999999999:*`, {}, 400],
      [`/ipfs/${binCid}?format=car&car-version=2`, {}, 400],
      [`/ipfs/${binCid}?format=car&car-dups=maybe`, {}, 400],
      [`/ipfs/${files}/movenet-lightning.bin?format=raw`, {}, 400],
      [`/ipfs/${files}?dag-scope=all`, {}, 400],
      [`/ipfs/${files}/%E0%A4%A`, {}, 400],
      [`/ipfs/${files}/a%2Fb`, {}, 400],
      [`/ipfs/${blake}?format=raw`, {}, 400],
      [`/ipfs/${weird}?format=car`, {}, 400],
      [`/ipfs/${files}`, { headers: { Accept: 'application/x-tar' } }, 406],
      [`/ipfs/${files}`, { headers: { Accept: 'application/vnd.ipld.car; version=2' } }, 406],
      [`/ipfs/${files}`, { headers: { Accept: 'application/vnd.ipld.car; order=random, application/vnd.ipld.dag-json' } }, 406],
      [`/ipfs/${missing}?format=raw`, {}, 404],
      [`/ipfs/${missing}?format=car`, {}, 404],
      [`/ipfs/${missing}`, {}, 404],
      [`/ipfs/${missing}`, { method: 'HEAD' }, 404],
      [`/ipfs/${files}/no-such-file`, {}, 404],
      [`/ipfs/${root}/no-such-file?format=car`, {}, 404],
      [`/ipfs/${jsonCid}/below-a-file`, {}, 404],
      ['/nothing-here', {}, 404],
      [`/ipfs/${missing}?format=raw`, { headers: { 'Cache-Control': 'only-if-cached' } }, 412],
      [`/ipfs/${binCid}`, { headers: { Range: `bytes=${binBytes.byteLength + 1}-` } }, 416],
      ['/ipns/example.com', {}, 501],
      [`/ipfs/${plainCbor}`, {}, 501],
      [`/ipfs/${plainCbor}/hello?format=car`, {}, 501],
      [`/ipfs/${weird}`, {}, 501],
      [`/ipfs/${files}`, { method: 'POST' }, 405]
    ]
    for (const [path, init, status] of cases) {
      const r = await get(base, path, init)
      assert.equal(r.status, status, `${init.method ?? 'GET'} ${path} ${JSON.stringify(init.headers ?? {})}`)
      if (init.method === 'HEAD') continue
      const body = text(r.body)
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain/, path)
      assert.ok(body.endsWith('\n') && body.indexOf('\n') === body.length - 1 && body.length > 1, `one-line body for ${path}: ${JSON.stringify(body)}`)
      assert.equal(r.headers.get('cache-control'), null, 'errors are not cached as immutable')
    }
    // an opaque codec is still served as a raw block, and as a block-scoped CAR
    const raw = await get(base, `/ipfs/${weird}?format=raw`)
    assert.equal(raw.status, 200)
    assert.equal(text(raw.body), 'opaque')
    const car = await parseCar((await get(base, `/ipfs/${weird}?format=car&dag-scope=block`)).body)
    assert.deepEqual(car.blocks.map(b => b.cid.toString()), [weird.toString()])
  })

  it('exposes Prometheus metrics with the documented names', async () => {
    const before = await registry.getSingleMetricAsString(METRIC_NAMES.gatewayResponseBytes)
    await get(base, `/ipfs/${jsonCid}?format=raw`)
    const r = await get(base, '/metrics')
    assert.equal(r.status, 200)
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    const body = text(r.body)
    for (const name of Object.values(METRIC_NAMES)) assert.ok(body.includes(name), name)
    assert.match(body, /tensorswap_gateway_blocks_served_total\{format="raw"\} \d+/)
    assert.match(body, /tensorswap_gateway_requests_total\{route="ipfs",format="raw",status="200"\} \d+/)
    assert.match(body, /tensorswap_gateway_request_duration_seconds_bucket\{le="\+Inf",route="ipfs",format="raw"\} \d+/)
    const m = /tensorswap_gateway_response_bytes_total\{route="ipfs",format="raw"\} (\d+)/.exec(body)
    assert.ok(m != null && Number(m[1]) > 0)
    assert.notEqual(before, await registry.getSingleMetricAsString(METRIC_NAMES.gatewayResponseBytes))
  })

  it('a client that reads nothing does not make the server buffer more than one block past the high-water mark', async () => {
    events.length = 0
    const readsBefore = reads
    const socket = connect((gateway.server.address() as any).port, '127.0.0.1')
    await once(socket, 'connect')
    socket.pause() // never read
    socket.write(`GET /ipfs/${bigCid}?format=car HTTP/1.1\r\nHost: x\r\n\r\n`)
    const readsNow = await settle(() => reads)
    const pressure = events.filter(e => e.type === 'tensorswap:gateway:backpressure')
    assert.ok(pressure.length > 0, 'the server hit back-pressure')
    // what this process holds: the response buffer and the socket buffer, each at most one block over its mark
    const maxHeld = Math.max(...pressure.map(e => (e.detail as any).writableLength + (e.detail as any).socketBuffered))
    assert.ok(maxHeld <= 2 * ((1 << 20) + 64 * 1024), `held ${maxHeld} bytes`)
    // the walk stopped well before the end (the kernel's socket buffers hold the rest)
    assert.ok(readsNow - readsBefore < bigBlocks - 10, `read ${readsNow - readsBefore} of ${bigBlocks} blocks`)
    socket.destroy()
    const done = await waitForResponseEvent(events, `/ipfs/${bigCid}`)
    assert.equal(done.aborted, true)
    assert.equal(await settle(() => reads), readsNow, 'no block is read after the client left')
  })

  it('a client that disconnects mid-CAR stops the traversal and releases the request', async () => {
    events.length = 0
    const readsBefore = reads
    const controller = new AbortController()
    const res = await fetch(`${base}/ipfs/${bigCid}?format=car`, { signal: controller.signal })
    const reader = res.body!.getReader()
    let got = 0
    while (got < 2 << 20) {
      const { value, done } = await reader.read()
      if (done) break
      got += value.byteLength
    }
    controller.abort()
    const done = await waitForResponseEvent(events, `/ipfs/${bigCid}`)
    assert.equal(done.aborted, true)
    const total = await settle(() => reads) - readsBefore
    assert.ok(total < bigBlocks, `read ${total} of ${bigBlocks} blocks`)
    const inFlight = await registry.getSingleMetric(METRIC_NAMES.gatewayRequestsInFlight)!.get()
    assert.equal(inFlight.values[0].value, 0)
    const aborted = await registry.getSingleMetric(METRIC_NAMES.gatewayRequestsAborted)!.get()
    assert.ok(aborted.values.some(v => v.labels.format === 'car' && v.value >= 1))
  })

  it('fetchMissing brings absent blocks from peers; failures are 502/504 with Retry-After; only-if-cached does not fetch', async () => {
    const empty = new FsBlockstore(join(tmp, 'empty'), { fsync: false })
    await empty.open()
    const fetched: string[] = []
    let mode: 'ok' | 'timeout' | 'fail' = 'ok'
    const gw = createGatewayServer({
      blockstore: empty,
      fetchTimeoutMs: 200,
      fetchMissing: async (cid, { signal }) => {
        fetched.push(cid.toString())
        if (mode === 'timeout') {
          await new Promise((resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }) })
        }
        if (mode === 'fail') throw new Error('no providers')
        const bytes = await readFile(store.blockPath(cid))
        await empty.put(cid, bytes)
      }
    })
    const url = (await gw.listen('127.0.0.1', 0)).url
    try {
      const cached = await get(url, `/ipfs/${jsonCid}?format=raw`, { headers: { 'Cache-Control': 'only-if-cached' } })
      assert.equal(cached.status, 412)
      assert.equal(fetched.length, 0)
      const r = await get(url, `/ipfs/${root}/movenet-lightning.json`)
      assert.equal(r.status, 200)
      assert.equal(sha(r.body), sha(await readFile(join(modelDir, 'movenet-lightning.json'))))
      assert.deepEqual(fetched, [root, files, jsonCid].map(String))
      assert.equal(await empty.has(jsonCid), true)
      mode = 'timeout'
      const t = await get(url, `/ipfs/${binCid}?format=raw`)
      assert.equal(t.status, 504)
      assert.ok(Number(t.headers.get('retry-after')) > 0)
      mode = 'fail'
      const f = await get(url, `/ipfs/${binCid}?format=raw`)
      assert.equal(f.status, 502)
      assert.ok(Number(f.headers.get('retry-after')) > 0)
    } finally {
      await gw.close()
      await empty.close()
    }
  })

  it('over maxConcurrentResponses concurrent HTTP requests are answered 503 with Retry-After; capacity returns when responses end', async () => {
    const empty = new FsBlockstore(join(tmp, 'busy'), { fsync: false })
    await empty.open()
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    let waiting = 0
    const gw = createGatewayServer({
      blockstore: empty,
      maxConcurrentResponses: 2,
      fetchMissing: async (cid) => {
        waiting++
        await gate
        await empty.put(cid, await readFile(store.blockPath(cid)))
      }
    })
    const url = (await gw.listen('127.0.0.1', 0)).url
    try {
      // two real requests held open by a missing block, a third concurrent one is refused
      const held = [get(url, `/ipfs/${jsonCid}?format=raw`), get(url, `/ipfs/${binCid}?format=raw`)]
      for (let i = 0; i < 100 && waiting < 2; i++) await new Promise(resolve => setTimeout(resolve, 20))
      assert.equal(waiting, 2)
      const busy = await get(url, `/ipfs/${jsonCid}?format=raw`)
      assert.equal(busy.status, 503)
      assert.equal(busy.headers.get('retry-after'), String(BUSY_RETRY_AFTER_SECONDS))
      assert.equal((await get(url, '/metrics')).status, 200, '/metrics is not counted')
      release()
      assert.deepEqual((await Promise.all(held)).map(r => r.status), [200, 200])
      const after = await Promise.all([get(url, `/ipfs/${jsonCid}?format=raw`), get(url, `/ipfs/${binCid}?format=raw`)])
      assert.deepEqual(after.map(r => r.status), [200, 200])
    } finally {
      await gw.close()
      await empty.close()
    }
  })

  it('one client gets at most maxResponsesPerClient at once: its next request waits, then 503 or its turn; another client is served meanwhile', async () => {
    const empty = new FsBlockstore(join(tmp, 'per-client'), { fsync: false })
    await empty.open()
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    const gated = new Set([jsonCid.toString(), binCid.toString()])
    let waiting = 0
    const gw = createGatewayServer({
      blockstore: empty,
      maxResponsesPerClient: 2,
      clientQueueWaitMs: 300,
      fetchMissing: async (cid) => {
        if (gated.has(cid.toString())) {
          waiting++
          await gate
        }
        await empty.put(cid, await readFile(store.blockPath(cid)))
      }
    })
    const url = (await gw.listen('127.0.0.1', 0)).url
    /** GET `path` from the local address `from` (another loopback host is another client). */
    const getFrom = async (from: string, path: string): Promise<{ status: number, retryAfter?: string }> => await new Promise((resolve, reject) => {
      httpGet(`${url}${path}`, { agent: false, localAddress: from }, (res) => {
        res.resume()
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, ...(res.headers['retry-after'] != null ? { retryAfter: String(res.headers['retry-after']) } : {}) }) })
      }).on('error', reject)
    })
    try {
      // two responses of 127.0.0.1 held open by missing blocks
      const held = [getFrom('127.0.0.1', `/ipfs/${jsonCid}?format=raw`), getFrom('127.0.0.1', `/ipfs/${binCid}?format=raw`)]
      for (let i = 0; i < 100 && waiting < 2; i++) await new Promise(resolve => setTimeout(resolve, 20))
      assert.equal(waiting, 2)
      // its third waits for a slot and gets none within clientQueueWaitMs; it read no block
      const t0 = Date.now()
      const third = await getFrom('127.0.0.1', `/ipfs/${root}?format=raw`)
      assert.equal(third.status, 503)
      assert.equal(third.retryAfter, String(BUSY_RETRY_AFTER_SECONDS))
      assert.ok(Date.now() - t0 >= 250, `it waited for a slot first (${Date.now() - t0} ms)`)
      assert.equal(await empty.has(root), false, 'the waiting request fetched nothing')
      // another client is served at once
      assert.equal((await getFrom('127.0.0.2', `/ipfs/${root}?format=raw`)).status, 200)
      // a waiting request of 127.0.0.1 gets the slot of the first response that ends
      const fourth = getFrom('127.0.0.1', `/ipfs/${root}?format=raw`)
      await new Promise(resolve => setTimeout(resolve, 50))
      release()
      assert.deepEqual((await Promise.all([...held, fourth])).map(r => r.status), [200, 200, 200])
    } finally {
      await gw.close()
      await empty.close()
    }
  })

  it('close() returns while a slow client is still connected', async () => {
    const gw = createGatewayServer({ blockstore: store })
    const { url } = await gw.listen('127.0.0.1', 0)
    const socket = connect(Number(new URL(url).port), '127.0.0.1')
    await once(socket, 'connect')
    socket.pause()
    socket.write(`GET /ipfs/${bigCid}?format=car HTTP/1.1\r\nHost: x\r\n\r\n`)
    await new Promise(resolve => setTimeout(resolve, 200))
    await gw.close()
    assert.equal(gw.server.listening, false)
    socket.destroy()
  })

  it('a client reading below minClientBytesPerSecond is cut off and counted; one reading fast gets the whole CAR', async () => {
    const gw = createGatewayServer({ blockstore: store, minClientBytesPerSecond: 1024 * 1024, sendGraceMs: 300 })
    const { url } = await gw.listen('127.0.0.1', 0)
    try {
      // never reads: the socket and response buffers fill, no drain comes
      const socket = connect(Number(new URL(url).port), '127.0.0.1')
      await once(socket, 'connect')
      socket.pause()
      socket.write(`GET /ipfs/${bigCid}?format=car HTTP/1.1\r\nHost: x\r\n\r\n`)
      // the deadline is 300 ms + the buffered bytes (a few MiB at most) at 1 MiB/s: poll the counter
      const slowCount = async (): Promise<string | undefined> => /tensorswap_gateway_slow_clients_total\{format="car"\} (\d+)/.exec(text((await get(url, '/metrics')).body))?.[1]
      const started = Date.now()
      while (await slowCount() !== '1' && Date.now() - started < 120_000) await new Promise(resolve => setTimeout(resolve, 200))
      assert.equal(await slowCount(), '1', `not cut off within ${Date.now() - started} ms`)
      // its socket was destroyed: a read now ends instead of blocking
      socket.resume()
      await once(socket, 'close')
      // a fast reader of the same CAR is not cut off
      const whole = await get(url, `/ipfs/${bigCid}?format=car`)
      assert.equal(whole.status, 200)
      assert.ok(whole.body.byteLength > 40 * 1024 * 1024)
    } finally {
      await gw.close()
    }
  })
})

async function waitForResponseEvent (events: GatewayProgressEvents[], path: string): Promise<{ aborted: boolean, status: number }> {
  for (let i = 0; i < 200; i++) {
    const e = events.find(e => e.type === 'tensorswap:gateway:response' && (e.detail as any).path === path)
    if (e !== undefined) return e.detail as any
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`no response event for ${path}`)
}

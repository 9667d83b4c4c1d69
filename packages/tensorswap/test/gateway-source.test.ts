/**
 * TrustlessGatewaySource against hostile fake gateways that lie about blocks, sizes, types and
 * CARs. The same client against our own gateway (`@tensorswap/gateway`, which this package must
 * not depend on) is the cross-package test `test/gateway/gateway-source.test.ts`.
 */

import assert from 'node:assert/strict'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { encodeVarint, hashBlock } from '@tensorswap/blockstore'
import { CID } from 'multiformats/cid'
import { DEFAULT_GATEWAY_TIMEOUT_MS, TrustlessGatewaySource } from '../src/gateway-source.js'
import { DEFAULT_MAX_BLOCK_BYTES } from '../src/constants.js'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'

const here = dirname(fileURLToPath(import.meta.url))
const REPO_ROOT = join(here, '../../../..')

async function rejectsNamed (p: Promise<unknown> | (() => Promise<unknown>), name: string): Promise<any> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err: any) {
    assert.equal(err?.name, name, `expected ${name}, got ${String(err?.name)}: ${String(err?.message)}`)
    return err
  }
  assert.fail(`expected ${name}, nothing was thrown`)
}

async function drain (it: AsyncIterable<{ cid: CID, bytes: Uint8Array }>): Promise<Array<{ cid: CID, bytes: Uint8Array }>> {
  const out: Array<{ cid: CID, bytes: Uint8Array }> = []
  for await (const b of it) out.push(b)
  return out
}

// ---- hostile gateways ----

function carBytes (roots: CID[], blocks: Array<{ cid: CID, bytes: Uint8Array }>): Uint8Array {
  const header = dagCbor.encode({ roots, version: 1 })
  const parts: Uint8Array[] = [encodeVarint(header.byteLength), header]
  for (const b of blocks) parts.push(encodeVarint(b.cid.bytes.byteLength + b.bytes.byteLength), b.cid.bytes, b.bytes)
  return Buffer.concat(parts)
}

describe('TrustlessGatewaySource against hostile gateways', () => {
  let server: Server
  let url: string
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => { res.end() }
  const leafA = new TextEncoder().encode('leaf a')
  const leafB = new TextEncoder().encode('leaf b')
  const a = hashBlock(leafA)
  const b = hashBlock(leafB)
  const nodeBytes = dagPb.encode(dagPb.prepare({ Links: [{ Hash: a, Name: '', Tsize: 6 }, { Hash: b, Name: '', Tsize: 6 }] }))
  const node = hashBlock(nodeBytes, dagPb.code)
  const stranger = new TextEncoder().encode('not linked')
  const strangerCid = hashBlock(stranger)
  const CAR = 'application/vnd.ipld.car; version=1; order=dfs; dups=n'

  before(async () => {
    server = createServer((req, res) => { handler(req, res) })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    url = `http://127.0.0.1:${(server.address() as any).port}`
  })
  after(async () => {
    server.closeAllConnections()
    server.close()
    await once(server, 'close')
  })

  it('sends the trustless request line and Accept headers', async () => {
    let seen: { url?: string, accept?: string } = {}
    handler = (req, res) => { seen = { url: req.url, accept: req.headers.accept }; res.writeHead(200, { 'Content-Type': 'application/vnd.ipld.raw' }); res.end(leafA) }
    await new TrustlessGatewaySource(url).getBlock(a)
    assert.deepEqual(seen, { url: `/ipfs/${a}?format=raw`, accept: 'application/vnd.ipld.raw' })
    handler = (req, res) => { seen = { url: req.url, accept: req.headers.accept }; res.writeHead(200, { 'Content-Type': CAR }); res.end(carBytes([node], [{ cid: node, bytes: nodeBytes }])) }
    await drain(new TrustlessGatewaySource(url).getCar(node, { dagScope: 'block' }))
    assert.deepEqual(seen, { url: `/ipfs/${node}?format=car&dag-scope=block`, accept: 'application/vnd.ipld.car; version=1; order=dfs; dups=n' })
    await drain(new TrustlessGatewaySource(url).getCar(node, { entityBytes: { from: 5, to: '*' }, dups: true }))
    assert.deepEqual(seen, { url: `/ipfs/${node}?format=car&entity-bytes=5%3A*`, accept: 'application/vnd.ipld.car; version=1; order=dfs; dups=y' })
  })

  it('rejects a raw block whose bytes do not match the CID', async () => {
    handler = (_req, res) => { res.writeHead(200, { 'Content-Type': 'application/vnd.ipld.raw' }); res.end(leafB) }
    await rejectsNamed(new TrustlessGatewaySource(url).getBlock(a), 'BlockHashMismatchError')
  })

  it('aborts oversize raw responses, declared or streamed', async () => {
    const big = new Uint8Array(4096)
    handler = (_req, res) => { res.writeHead(200, { 'Content-Type': 'application/vnd.ipld.raw', 'Content-Length': String(big.byteLength) }); res.end(big) }
    await rejectsNamed(new TrustlessGatewaySource(url, { maxBlockBytes: 1024 }).getBlock(a), 'GatewayBlockTooLargeError')
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/vnd.ipld.raw' }) // chunked, no length
      res.write(big.subarray(0, 800))
      setTimeout(() => { res.end(big.subarray(800)) }, 10)
    }
    await rejectsNamed(new TrustlessGatewaySource(url, { maxBlockBytes: 1024 }).getBlock(a), 'GatewayBlockTooLargeError')
  })

  it('rejects a response of the wrong media type', async () => {
    handler = (_req, res) => { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end('<html>') }
    await rejectsNamed(new TrustlessGatewaySource(url).getBlock(a), 'InvalidGatewayResponseError')
    handler = (_req, res) => { res.writeHead(200, { 'Content-Type': 'application/vnd.ipld.car; version=2' }); res.end() }
    await rejectsNamed(drain(new TrustlessGatewaySource(url).getCar(node)), 'InvalidGatewayResponseError')
  })

  it('reports HTTP errors with their status', async () => {
    handler = (_req, res) => { res.writeHead(406, { 'Content-Type': 'text/plain' }); res.end('not acceptable\n') }
    const err = await rejectsNamed(new TrustlessGatewaySource(url).getBlock(a), 'GatewayRequestError')
    assert.equal(err.status, 406)
    const err2 = await rejectsNamed(drain(new TrustlessGatewaySource(url).getCar(node)), 'GatewayRequestError')
    assert.equal(err2.status, 406)
  })

  it('rejects CARs with an unreachable block, a corrupt block, missing blocks or an oversize section', async () => {
    const serve = (bytes: Uint8Array) => (_req: IncomingMessage, res: ServerResponse) => { res.writeHead(200, { 'Content-Type': CAR }); res.end(bytes) }
    const src = new TrustlessGatewaySource(url)
    handler = serve(carBytes([node], [{ cid: node, bytes: nodeBytes }, { cid: strangerCid, bytes: stranger }]))
    const e = await rejectsNamed(drain(src.getCar(node)), 'UnexpectedBlockError')
    assert.equal(e.cid.toString(), strangerCid.toString())
    handler = serve(carBytes([node], [{ cid: node, bytes: nodeBytes }, { cid: a, bytes: leafB }]))
    await rejectsNamed(drain(src.getCar(node)), 'BlockHashMismatchError')
    handler = serve(carBytes([node], [{ cid: node, bytes: nodeBytes }, { cid: a, bytes: leafA }]))
    const inc = await rejectsNamed(drain(src.getCar(node)), 'IncompleteCarError')
    assert.equal(inc.missing, 1)
    handler = serve(carBytes([node], []))
    await rejectsNamed(drain(src.getCar(node, { dagScope: 'block' })), 'IncompleteCarError')
    handler = serve(carBytes([node], [{ cid: node, bytes: nodeBytes }, { cid: a, bytes: leafA }, { cid: b, bytes: leafB }]))
    const ok = await drain(src.getCar(node))
    assert.deepEqual(ok.map(x => x.cid.toString()), [node, a, b].map(String))
    const bigLeaf = new Uint8Array(4096)
    const bigCid = hashBlock(bigLeaf)
    handler = serve(carBytes([bigCid], [{ cid: bigCid, bytes: bigLeaf }]))
    await rejectsNamed(drain(new TrustlessGatewaySource(url, { maxBlockBytes: 1024 }).getCar(bigCid)), 'InvalidCarError')
    handler = serve(carBytes([node], [{ cid: node, bytes: nodeBytes }]).subarray(0, 20))
    await rejectsNamed(drain(src.getCar(node)), 'InvalidCarError')
  })

  it('yields duplicates once', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/vnd.ipld.car; version=1; order=dfs; dups=y' })
      res.end(carBytes([node], [{ cid: node, bytes: nodeBytes }, { cid: a, bytes: leafA }, { cid: a, bytes: leafA }, { cid: b, bytes: leafB }]))
    }
    const got = await drain(new TrustlessGatewaySource(url).getCar(node, { dups: true }))
    assert.deepEqual(got.map(x => x.cid.toString()), [node, a, b].map(String))
  })

  it('times out a silent gateway (raw and CAR)', async () => {
    handler = () => { /* never answer */ }
    await rejectsNamed(new TrustlessGatewaySource(url, { timeoutMs: 200 }).getBlock(a), 'GatewayTimeoutError')
    handler = (_req, res) => { res.writeHead(200, { 'Content-Type': CAR }); res.write(carBytes([node], []).subarray(0, 5)) /* then stall */ }
    await rejectsNamed(drain(new TrustlessGatewaySource(url, { timeoutMs: 200 }).getCar(node)), 'GatewayTimeoutError')
  })

  it('spec/gateway.md states the client defaults', async () => {
    const spec = await readFile(join(REPO_ROOT, 'spec/gateway.md'), 'utf8')
    assert.ok(spec.includes(`timeoutMs = ${DEFAULT_GATEWAY_TIMEOUT_MS}, maxBlockBytes = ${DEFAULT_MAX_BLOCK_BYTES / 1048576} MiB`))
  })

  it('answers identity CIDs without a request and refuses non-http URLs', async () => {
    handler = () => { assert.fail('no request expected') }
    const probe = CID.parse('bafkqaaa')
    assert.equal((await new TrustlessGatewaySource(url).getBlock(probe)).byteLength, 0)
    assert.throws(() => new TrustlessGatewaySource('ftp://example.com'), { name: 'TypeError' })
  })
})

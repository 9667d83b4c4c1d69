import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import {
  encodeMessage, decodeMessage, blockToWire, blockFromWire, parsePrefix, allSelector, s,
  RequestType, ResponseStatusCode, LinkAction, Extension, MAX_MESSAGE_SIZE, isTerminalStatus,
  encodeDoNotSendCids, decodeDoNotSendCids, encodeDoNotSendFirstBlocks, decodeDoNotSendFirstBlocks, PROTOCOL_ID
} from '../src/index.js'
import type { GraphSyncMessage } from '../src/index.js'

const data = new TextEncoder().encode('hello graphsync')
const cid = CID.createV1(0x55, await sha256.digest(data))
const id = Uint8Array.from(randomBytes(16))

function sample (): GraphSyncMessage {
  return {
    requests: [
      { id, type: RequestType.New, priority: 5, root: cid, selector: s.exploreFields({ b: s.matcher(), a: allSelector }), extensions: { [Extension.DoNotSendCids]: encodeDoNotSendCids([cid]), [Extension.DoNotSendFirstBlocks]: encodeDoNotSendFirstBlocks(3) } },
      { id, type: RequestType.Cancel }
    ],
    responses: [{ requestId: id, status: ResponseStatusCode.PartialResponse, metadata: [{ link: cid, action: LinkAction.Present }, { link: cid, action: LinkAction.Missing }], extensions: { x: { y: [1, 'z'] } } }],
    blocks: [blockToWire(cid, data)]
  }
}

describe('GraphSync 2.0.0 messages', () => {
  it('uses the 2.0.0 protocol id and status codes', () => {
    assert.equal(PROTOCOL_ID, '/ipfs/graphsync/2.0.0')
    assert.equal(ResponseStatusCode.RequestCompletedFull, 20)
    assert.equal(ResponseStatusCode.RequestCancelled, 35)
    assert.equal(ResponseStatusCode.PartialResponse, 14)
    assert.ok(isTerminalStatus(ResponseStatusCode.RequestFailedContentNotFound))
    assert.ok(!isTerminalStatus(ResponseStatusCode.RequestPaused))
  })

  it('encodes with the schema keys', () => {
    const raw = dagCbor.decode(encodeMessage(sample())) as any
    assert.deepEqual(Object.keys(raw), ['gs2'])
    assert.deepEqual(Object.keys(raw.gs2).sort(), ['blk', 'req', 'rsp'])
    assert.deepEqual(Object.keys(raw.gs2.req[0]).sort(), ['ext', 'id', 'pri', 'root', 'sel', 'type'])
    assert.deepEqual(Object.keys(raw.gs2.rsp[0]).sort(), ['ext', 'meta', 'reqid', 'stat'])
    assert.equal(raw.gs2.rsp[0].meta[0][1], 'p')
    assert.deepEqual(raw.gs2.blk[0][0], Uint8Array.of(1, 0x55, 0x12, 32))
    assert.equal(raw.gs2.req[1].type, 'c')
    assert.deepEqual(Object.keys(raw.gs2.req[1]).sort(), ['id', 'type'])
  })

  it('round-trips a message', async () => {
    const msg = sample()
    const back = decodeMessage(encodeMessage(msg))
    assert.deepEqual(back.requests[0].selector, s.exploreFields({ a: allSelector, b: s.matcher() })) // canonical order on the wire
    assert.deepEqual({ ...back, requests: back.requests.map(r => ({ ...r, selector: undefined })) },
      { ...msg, requests: msg.requests.map(r => ({ ...r, selector: undefined })) })
    assert.deepEqual(decodeDoNotSendCids(back.requests[0].extensions?.[Extension.DoNotSendCids]).map(String), [cid.toString()])
    assert.equal(decodeDoNotSendFirstBlocks(back.requests[0].extensions?.[Extension.DoNotSendFirstBlocks]), 3)
    const blk = await blockFromWire(back.blocks[0])
    assert.ok(blk.cid.equals(cid))
  })

  it('property: random messages round-trip', () => {
    const arbId = fc.uint8Array({ minLength: 16, maxLength: 16 })
    const arbMsg = fc.record({
      requests: fc.array(fc.record({ id: arbId, type: fc.constantFrom(RequestType.Cancel, RequestType.Update), priority: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }, { noNullPrototype: true }), { maxLength: 3 }),
      responses: fc.array(fc.record({
        requestId: arbId,
        status: fc.constantFrom(...Object.values(ResponseStatusCode)),
        metadata: fc.array(fc.record({ link: fc.constant(cid), action: fc.constantFrom(...Object.values(LinkAction)) }, { noNullPrototype: true }), { maxLength: 3 })
      }, { noNullPrototype: true }), { maxLength: 3 }),
      blocks: fc.array(fc.uint8Array({ maxLength: 64 }).map(d => ({ prefix: Uint8Array.of(1, 0x55, 0x12, 32), data: d })), { maxLength: 3 })
    }, { noNullPrototype: true })
    fc.assert(fc.property(arbMsg, msg => {
      assert.deepEqual(decodeMessage(encodeMessage(msg as GraphSyncMessage)), msg)
    }), { numRuns: 200 })
  })

  const bad: Array<[string, unknown]> = [
    ['not gs2', { gs1: {} }],
    ['extra root key', { gs2: {}, x: 1 }],
    ['unknown gs2 key', { gs2: { foo: [] } }],
    ['req not list', { gs2: { req: {} } }],
    ['short id', { gs2: { req: [{ id: new Uint8Array(8), type: 'c' }] } }],
    ['bad type', { gs2: { req: [{ id, type: 'x' }] } }],
    ['new without root', { gs2: { req: [{ id, type: 'n', sel: { '.': {} } }] } }],
    ['new without sel', { gs2: { req: [{ id, type: 'n', root: cid }] } }],
    ['invalid selector', { gs2: { req: [{ id, type: 'n', root: cid, sel: { '@': {} } }] } }],
    ['root not link', { gs2: { req: [{ id, type: 'n', root: 'bafy', sel: { '.': {} } }] } }],
    ['pri too large', { gs2: { req: [{ id, type: 'c', pri: 2 ** 40 }] } }],
    ['unknown request key', { gs2: { req: [{ id, type: 'c', canc: true }] } }],
    ['unknown status', { gs2: { rsp: [{ reqid: id, stat: 99 }] } }],
    ['bad action', { gs2: { rsp: [{ reqid: id, stat: 20, meta: [[cid, 'q']] }] } }],
    ['meta not tuple', { gs2: { rsp: [{ reqid: id, stat: 20, meta: [{ link: cid, action: 'p' }] }] } }],
    ['block not tuple', { gs2: { blk: [[Uint8Array.of(1, 0x55, 0x12, 32)]] } }],
    ['bad prefix', { gs2: { blk: [[Uint8Array.of(1, 0x55), data]] } }],
    ['prefix trailing bytes', { gs2: { blk: [[Uint8Array.of(1, 0x55, 0x12, 32, 0), data]] } }],
    ['ext not map', { gs2: { rsp: [{ reqid: id, stat: 20, ext: [1] }] } }]
  ]
  for (const [name, node] of bad) {
    it(`rejects ${name}`, () => {
      assert.throws(() => decodeMessage(dagCbor.encode(node)), { name: 'InvalidMessageError' })
    })
  }

  it('rejects non-DAG-CBOR, truncated and oversized input', () => {
    const good = encodeMessage(sample())
    assert.throws(() => decodeMessage(good.subarray(0, good.length - 3)), { name: 'InvalidMessageError' })
    assert.throws(() => decodeMessage(Uint8Array.of(0xbf, 0xff)), { name: 'InvalidMessageError' })
    assert.throws(() => decodeMessage(new Uint8Array(MAX_MESSAGE_SIZE + 1)), { name: 'InvalidMessageError' })
    assert.throws(() => decodeMessage(good, { maxSize: 10 }), { name: 'InvalidMessageError' })
  })

  it('survives random bytes with a typed error', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), bytes => {
      try {
        decodeMessage(bytes)
      } catch (err: any) {
        assert.equal(err.name, 'InvalidMessageError')
      }
    }), { numRuns: 500 })
  })

  it('refuses to encode invalid messages', () => {
    assert.throws(() => encodeMessage({ requests: [{ id: new Uint8Array(3), type: 'c' }], responses: [], blocks: [] }), { name: 'InvalidMessageError' })
    assert.throws(() => encodeMessage({ requests: [{ id, type: 'n' }], responses: [], blocks: [] }), { name: 'InvalidMessageError' })
    assert.throws(() => encodeMessage({ requests: [], responses: [], blocks: [{ prefix: new Uint8Array(300000), data }] }), { name: 'InvalidMessageError' })
    assert.throws(() => encodeMessage({ requests: [], responses: [], blocks: [{ prefix: Uint8Array.of(1, 0x55, 0x12, 32), data: new Uint8Array(MAX_MESSAGE_SIZE) }] }), { name: 'InvalidMessageError' })
  })

  it('parses CID prefixes, including v0', async () => {
    assert.deepEqual(parsePrefix(Uint8Array.of(0, 0x70, 0x12, 32)), { version: 0, codec: 0x70, multihashCode: 0x12, digestLength: 32 })
    assert.throws(() => parsePrefix(Uint8Array.of(0, 0x71, 0x12, 32)), { name: 'InvalidMessageError' })
    assert.throws(() => parsePrefix(Uint8Array.of(2, 0x71, 0x12, 32)), { name: 'InvalidMessageError' })
    await assert.rejects(blockFromWire({ prefix: Uint8Array.of(1, 0x55, 0x12, 20), data }), { name: 'InvalidMessageError' })
    await assert.rejects(blockFromWire({ prefix: Uint8Array.of(1, 0x55, 0x1e, 32), data }), { name: 'UnsupportedHashError' })
  })

  it('validates extension values', () => {
    assert.throws(() => decodeDoNotSendCids(['x']), { name: 'InvalidMessageError' })
    assert.throws(() => decodeDoNotSendFirstBlocks(-1), { name: 'InvalidMessageError' })
  })
})

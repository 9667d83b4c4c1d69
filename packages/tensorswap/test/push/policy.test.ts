/**
 * The push policy and messages (spec/tensorswap.md §8): who may push, the pending cap, the size
 * limit, request/response decoding of bad input; the §8 limits table states the constants.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import {
  DEFAULT_MAX_PENDING_PUSHES_PER_PEER, DEFAULT_MAX_PUSH_DAG_BYTES, DEFAULT_MAX_PUSH_FRAME_BYTES, DEFAULT_PUSH_REQUEST_TIMEOUT_MS,
  PushPolicy, decodePushRequest, decodePushResponse, encodePushRequest, encodePushResponse, parsePushAccept
} from '../../src/push/index.js'

const ROOT_CID = CID.parse('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
const A = '12D3KooWHzKz5Lr2Rq6Ct3gN4nN7n4B5xUQmVqK6n3Y8Ve5r6u5S'
const B = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
const req = (bytes = 1000): { root: CID, bytes: number, blocks: number } => ({ root: ROOT_CID, bytes, blocks: 3 })

describe('PushPolicy', () => {
  it('refuses every push by default', () => {
    const p = new PushPolicy()
    assert.equal(p.acceptsAny, false)
    assert.deepEqual(p.admit(A, req()), { ok: false, reason: 'pushes from this peer are not accepted', offence: true })
  })

  it('admits listed peers only, or any', () => {
    const listed = new PushPolicy({ accept: [A] })
    assert.deepEqual(listed.admit(A, req()), { ok: true })
    assert.equal(listed.admit(B, req()).ok, false)
    assert.equal(new PushPolicy({ accept: 'any' }).admit(B, req()).ok, true)
  })

  it('caps pending pushes per peer until released', () => {
    const p = new PushPolicy({ accept: 'any' })
    for (let i = 0; i < DEFAULT_MAX_PENDING_PUSHES_PER_PEER; i++) assert.equal(p.admit(A, req()).ok, true)
    assert.deepEqual(p.admit(A, req()), { ok: false, reason: `too many pending pushes (2 of at most 2)`, offence: false }, 'a full queue is no offence')
    assert.equal(p.admit(B, req()).ok, true, 'another peer is not held up')
    p.release(A)
    assert.equal(p.pending(A), 1)
    assert.equal(p.admit(A, req()).ok, true)
    p.release(A); p.release(A); p.release(A)
    assert.equal(p.pending(A), 0)
  })

  it('refuses an announced DAG over the limit, and does not count it pending', () => {
    const p = new PushPolicy({ accept: 'any', maxDagBytes: 1000 })
    assert.equal(p.admit(A, req(1000)).ok, true)
    assert.deepEqual(p.admit(A, req(1001)), { ok: false, reason: 'announced DAG of 1001 bytes exceeds the limit of 1000 bytes', offence: true })
    assert.equal(p.pending(A), 1)
    assert.equal(new PushPolicy({ accept: 'any' }).maxDagBytes, 64 * 2 ** 30)
  })

  it('parses --accept-push entries', () => {
    assert.equal(parsePushAccept(['any', A]), 'any')
    assert.deepEqual(parsePushAccept([A]), [A])
    assert.throws(() => parsePushAccept(['nope']), { name: 'InvalidPeerIdError' })
  })
})

describe('push messages', () => {
  it('round-trip', () => {
    assert.deepEqual(decodePushRequest(encodePushRequest(req())), req())
    const ok = { ok: true as const, blocks: 3, bytes: 10, blocksAlreadyThere: 1, seconds: 0.25 }
    assert.deepEqual(decodePushResponse(encodePushResponse(ok)), ok)
    assert.deepEqual(decodePushResponse(encodePushResponse({ ok: false, reason: 'x'.repeat(600) })), { ok: false, reason: 'x'.repeat(512) })
  })

  it('reject bad requests by InvalidPushMessageError', () => {
    const bad = [
      new TextEncoder().encode('{"root":1}'),
      dagCbor.encode([1, 2]),
      dagCbor.encode({ root: 'bafy', bytes: 1, blocks: 1 }),
      dagCbor.encode({ root: ROOT_CID, bytes: -1, blocks: 1 }),
      dagCbor.encode({ root: ROOT_CID, bytes: 2 ** 60, blocks: 1 }),
      dagCbor.encode({ root: ROOT_CID, bytes: 1.5, blocks: 1 }),
      dagCbor.encode({ root: ROOT_CID, bytes: 1 })
    ]
    for (const b of bad) assert.throws(() => decodePushRequest(b), { name: 'InvalidPushMessageError' })
    assert.throws(() => decodePushResponse(dagCbor.encode({ ok: 'yes' })), { name: 'InvalidPushMessageError' })
  })
})

describe('push limits', () => {
  it('spec/tensorswap.md §8 states the constants', async () => {
    const spec = await readFile(join(dirname(fileURLToPath(import.meta.url)), '../../../../../spec/tensorswap.md'), 'utf8')
    const section = spec.slice(spec.indexOf('## 8. Push'))
    const row = (name: string): string | undefined => new RegExp(`^\\| ${name} \\| ([^|]+) \\|`, 'm').exec(section)?.[1].trim()
    assert.equal(row('request and response frame'), `${DEFAULT_MAX_PUSH_FRAME_BYTES / 1024} KiB`)
    assert.match(row('announced DAG size') ?? '', new RegExp(`^${DEFAULT_MAX_PUSH_DAG_BYTES / 2 ** 30} GiB`))
    assert.equal(row('pending pushes per peer'), String(DEFAULT_MAX_PENDING_PUSHES_PER_PEER))
    assert.equal(row('wait for the request'), `${DEFAULT_PUSH_REQUEST_TIMEOUT_MS / 1000} s`)
  })
})

import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { Uint8ArrayList } from 'uint8arraylist'
import { digestOf } from '@tensorswap/blockstore'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { BITSWAP_110, BITSWAP_120, TENSORSWAP_100 } from '../src/constants.js'
import { Message } from '../src/wire/bitswap.js'
import { decodeMessage, decodePrefix, encodeMessage, encodePrefix, splitMessage } from '../src/wire/codec.js'
import type { BitswapMessage, WantEntry } from '../src/wire/codec.js'

const RAW = 0x55
const DAG_PB = 0x70

function rawCid (bytes: Uint8Array, codec = RAW): CID {
  return CID.createV1(codec, Digest.create(0x12, createHash('sha256').update(bytes).digest()))
}

function entry (cid: CID, over: Partial<WantEntry> = {}): WantEntry {
  return { cid, priority: 1, cancel: false, wantType: 'block', sendDontHave: false, ...over }
}

describe('wire codec', () => {
  it('round-trips a 1.2.0 message with every field', () => {
    const data = new TextEncoder().encode('hello tensors')
    const cid = rawCid(data)
    const msg: BitswapMessage = {
      wantlist: { full: true, entries: [entry(cid, { priority: 7, wantType: 'have', sendDontHave: true }), entry(rawCid(Uint8Array.of(1)), { cancel: true })] },
      blocks: [{ cid, bytes: data }],
      presences: [{ cid, type: 'dont-have' }, { cid, type: 'have' }],
      pendingBytes: 12345
    }
    const decoded = decodeMessage(encodeMessage(msg, BITSWAP_120))
    assert.equal(decoded.wantlist?.full, true)
    assert.deepEqual(decoded.wantlist?.entries.map(e => [e.cid.toString(), e.priority, e.cancel, e.wantType, e.sendDontHave]),
      msg.wantlist?.entries.map(e => [e.cid.toString(), e.priority, e.cancel, e.wantType, e.sendDontHave]))
    assert.equal(decoded.blocks.length, 1)
    assert.ok(decoded.blocks[0]?.cid.equals(cid))
    assert.deepEqual(decoded.blocks[0]?.bytes, data)
    assert.deepEqual(decoded.presences.map(p => p.type), ['dont-have', 'have'])
    assert.equal(decoded.pendingBytes, 12345)
  })

  it('rebuilds a block CID from prefix + data, so tampered bytes give another CID', () => {
    const data = new TextEncoder().encode('original')
    const cid = rawCid(data, DAG_PB)
    const tampered = Message.encode({ blocks: [], blockPresences: [], pendingBytes: 0, payload: [{ prefix: encodePrefix(cid) as Uint8Array<ArrayBuffer>, data: new TextEncoder().encode('0riginal') }] })
    const decoded = decodeMessage(tampered)
    assert.equal(decoded.blocks.length, 1)
    assert.equal(decoded.blocks[0]?.cid.code, DAG_PB)
    assert.ok(!(decoded.blocks[0]?.cid.equals(cid) ?? true))
  })

  it('accepts sha2-512 blocks; counts identity, unknown-hash and truncated-digest blocks as unverifiable', () => {
    const data = new TextEncoder().encode('payload')
    const sha512 = CID.createV1(RAW, Digest.create(0x13, createHash('sha512').update(data).digest()))
    const prefixes = [
      encodePrefix(sha512),
      Uint8Array.of(1, RAW, 0x00, data.byteLength), // identity: never sent, the CID carries the block
      Uint8Array.of(1, RAW, 0x16, 32), // sha3-256
      Uint8Array.of(1, RAW, 0x12, 20) // truncated sha2-256
    ]
    const decoded = decodeMessage(Message.encode({ blocks: [], blockPresences: [], pendingBytes: 0, payload: prefixes.map(prefix => ({ prefix: prefix as Uint8Array<ArrayBuffer>, data })) }))
    assert.deepEqual(decoded.blocks.map(b => b.cid.toString()), [sha512.toString()])
    assert.equal(decoded.unverifiableBlocks, 3)
  })

  it('decodes CIDv0 prefixes and Bitswap 1.0.0 blocks as CIDv0', () => {
    const data = Uint8Array.of(10, 0)
    const v0 = CID.createV0(Digest.create(0x12, createHash('sha256').update(data).digest()))
    assert.deepEqual(decodePrefix(encodePrefix(v0)), { version: 0, codec: DAG_PB, hashCode: 0x12, hashLength: 32 })
    const decoded = decodeMessage(Message.encode({ blocks: [data], payload: [], blockPresences: [], pendingBytes: 0 }))
    assert.ok(decoded.blocks[0]?.cid.equals(v0))
  })

  it('rejects bad prefixes, bad CIDs, unknown enum values and garbage with InvalidMessageError', () => {
    assert.throws(() => decodePrefix(Uint8Array.of(2, 0x55, 0x12, 32)), { name: 'InvalidMessageError' })
    assert.throws(() => decodePrefix(Uint8Array.of(1, 0x55, 0x12)), { name: 'InvalidMessageError' })
    assert.throws(() => decodePrefix(Uint8Array.of(1, 0x55, 0x12, 32, 0)), { name: 'InvalidMessageError' })
    assert.throws(() => decodePrefix(Uint8Array.of(0, 0x55, 0x12, 32)), { name: 'InvalidMessageError' })
    const badCid = Message.encode({ blocks: [], payload: [], pendingBytes: 0, blockPresences: [{ cid: Uint8Array.of(1, 2, 3), type: Message.BlockPresenceType.Have }] })
    assert.throws(() => decodeMessage(badCid), { name: 'InvalidMessageError' })
    // field 4 (blockPresences) with type = 7: not a BlockPresenceType
    const cid = rawCid(Uint8Array.of(1)).bytes
    const presence = Uint8Array.from([0x0a, cid.length, ...cid, 0x10, 7])
    const unknownEnum = Uint8Array.from([0x22, presence.length, ...presence])
    assert.throws(() => decodeMessage(unknownEnum), { name: 'InvalidMessageError' })
    assert.throws(() => decodeMessage(Uint8Array.of(0x0a, 0xff, 0xff, 0xff)), { name: 'InvalidMessageError' })
  })

  it('truncates a long want-list to its highest-priority wants and keeps every cancel', () => {
    const cids = Array.from({ length: 11 }, (_, i) => rawCid(Uint8Array.of(i)))
    const entries = cids.map((c, i) => entry(c, { priority: i === 3 ? 100 : 1 }))
    entries.push(entry(rawCid(Uint8Array.of(99)), { cancel: true }))
    const bytes = encodeMessage({ wantlist: { full: false, entries }, blocks: [], presences: [], pendingBytes: 0 }, BITSWAP_120)
    const m = decodeMessage(bytes, { maxWantlistSize: 4 })
    assert.equal(m.truncatedWants, 7)
    assert.deepEqual(m.wantlist?.entries.map(e => [e.cid.toString(), e.cancel]), [
      [cids[0]?.toString(), false], [cids[1]?.toString(), false], [cids[2]?.toString(), false], [cids[3]?.toString(), false],
      [rawCid(Uint8Array.of(99)).toString(), true]
    ])
    const top = decodeMessage(bytes, { maxWantlistSize: 1 })
    assert.deepEqual(top.wantlist?.entries.filter(e => !e.cancel).map(e => e.cid.toString()), [cids[3]?.toString()])
    // boxo's 1024 cap with a message of 3000 wants: truncated, never MessageTooLargeError
    const many = Array.from({ length: 3000 }, (_, i) => entry(rawCid(new TextEncoder().encode(`b${i}`))))
    const big = decodeMessage(encodeMessage({ wantlist: { full: true, entries: many }, blocks: [], presences: [], pendingBytes: 0 }, BITSWAP_120))
    assert.equal(big.wantlist?.entries.length, 1024)
    assert.equal(big.truncatedWants, 3000 - 1024)
    const exact = decodeMessage(bytes, { maxWantlistSize: 11 })
    assert.equal(exact.wantlist?.entries.length, 12)
    assert.equal(exact.truncatedWants, 0)
  })

  it('rejects oversized messages and blocks with MessageTooLargeError', () => {
    const cids = Array.from({ length: 11 }, (_, i) => rawCid(Uint8Array.of(i)))
    const bytes = encodeMessage({ wantlist: { full: false, entries: cids.map(c => entry(c)) }, blocks: [], presences: [], pendingBytes: 0 }, BITSWAP_120)
    assert.throws(() => decodeMessage(bytes, { maxMessageBytes: bytes.byteLength - 1 }), { name: 'MessageTooLargeError' })
    const big = new Uint8Array(1000)
    const withBlock = encodeMessage({ blocks: [{ cid: rawCid(big), bytes: big }], presences: [], pendingBytes: 0 }, BITSWAP_120)
    assert.throws(() => decodeMessage(withBlock, { maxBlockBytes: 999 }), { name: 'MessageTooLargeError' })
  })

  it('downgrades for Bitswap 1.1.0: no presences, no want-have, no sendDontHave', () => {
    const a = rawCid(Uint8Array.of(1))
    const b = rawCid(Uint8Array.of(2))
    const msg: BitswapMessage = {
      wantlist: { full: false, entries: [entry(a, { wantType: 'have', sendDontHave: true }), entry(b, { sendDontHave: true }), entry(a, { cancel: true, wantType: 'have' })] },
      blocks: [],
      presences: [{ cid: a, type: 'have' }],
      pendingBytes: 99
    }
    const d = decodeMessage(encodeMessage(msg, BITSWAP_110))
    assert.deepEqual(d.presences, [])
    assert.equal(d.pendingBytes, 0)
    assert.deepEqual(d.wantlist?.entries.map(e => [e.cid.toString(), e.wantType, e.sendDontHave, e.cancel]), [[b.toString(), 'block', false, false], [a.toString(), 'block', false, true]])
    // tensorswap keeps everything
    assert.equal(decodeMessage(encodeMessage(msg, TENSORSWAP_100)).presences.length, 1)
  })

  it('splitMessage keeps every part under the cap and loses nothing (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.uint8Array({ minLength: 0, maxLength: 3000 }), { maxLength: 12 }),
      fc.array(fc.tuple(fc.integer({ min: -5, max: 1 << 20 }), fc.boolean()), { maxLength: 60 }),
      fc.nat(60),
      fc.boolean(),
      fc.integer({ min: 3200, max: 9000 }),
      (blocks, wants, presences, full, max) => {
        const msg: BitswapMessage = {
          wantlist: { full, entries: wants.map(([p, c], i) => entry(rawCid(Uint8Array.of(i, 1)), { priority: p, cancel: c })) },
          blocks: blocks.map(b => ({ cid: rawCid(b), bytes: b })),
          presences: Array.from({ length: presences }, (_, i) => ({ cid: rawCid(Uint8Array.of(i, 2)), type: 'have' as const })),
          pendingBytes: 777
        }
        const parts = splitMessage(msg, BITSWAP_120, { maxMessageBytes: max })
        let entries = 0; let blockCount = 0; let presenceCount = 0
        parts.forEach((p, i) => {
          assert.ok(p.byteLength <= max, `part ${i} is ${p.byteLength} > ${max}`)
          const d = decodeMessage(p, { maxMessageBytes: max })
          entries += d.wantlist?.entries.length ?? 0
          blockCount += d.blocks.length
          presenceCount += d.presences.length
          assert.equal(d.wantlist?.full ?? false, full && i === 0)
          assert.equal(d.pendingBytes, i === parts.length - 1 ? 777 : 0)
        })
        assert.equal(entries, wants.length)
        assert.equal(blockCount, blocks.length)
        assert.equal(presenceCount, presences)
      }), { numRuns: 150 })
  })

  it('encodes byte-identical to protons, with block bytes referenced, not copied (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { maxLength: 6 }),
      fc.option(fc.array(fc.tuple(fc.integer({ min: -5, max: 1 << 20 }), fc.boolean()), { maxLength: 10 })),
      fc.nat(5),
      fc.boolean(),
      fc.nat(1 << 30),
      (blocks, wants, presences, full, pendingBytes) => {
        const msg: BitswapMessage = {
          ...(wants == null ? {} : { wantlist: { full, entries: wants.map(([p, c], i) => entry(rawCid(Uint8Array.of(i, 1)), { priority: p, cancel: c })) } }),
          blocks: blocks.map(b => ({ cid: rawCid(b), bytes: b })),
          presences: Array.from({ length: presences }, (_, i) => ({ cid: rawCid(Uint8Array.of(i, 2)), type: 'have' as const })),
          pendingBytes
        }
        const reference = Message.encode({
          wantlist: msg.wantlist == null ? undefined : { full: msg.wantlist.full, entries: msg.wantlist.entries.map(e => ({ block: e.cid.bytes as Uint8Array<ArrayBuffer>, priority: e.priority, cancel: e.cancel, wantType: Message.Wantlist.WantType.Block, sendDontHave: false })) },
          blocks: [],
          payload: msg.blocks.map(b => ({ prefix: encodePrefix(b.cid) as Uint8Array<ArrayBuffer>, data: b.bytes as Uint8Array<ArrayBuffer> })),
          blockPresences: msg.presences.map(p => ({ cid: p.cid.bytes as Uint8Array<ArrayBuffer>, type: Message.BlockPresenceType.Have })),
          pendingBytes
        })
        assert.deepEqual(encodeMessage(msg, BITSWAP_120), reference)
        const parts = splitMessage(msg, BITSWAP_120)
        if (blocks.length > 0) {
          assert.equal(parts.length, 1)
          const chunks = [...parts[0]]
          for (const b of blocks.filter(b => b.byteLength > 0)) assert.ok(chunks.includes(b), 'the block itself is a chunk of the frame')
        }
      }), { numRuns: 200 })
  })

  it('splitMessage refuses a block that cannot fit in any message', () => {
    const big = new Uint8Array(5000)
    assert.throws(() => splitMessage({ blocks: [{ cid: rawCid(big), bytes: big }], presences: [], pendingBytes: 0 }, BITSWAP_120, { maxMessageBytes: 4096 }), { name: 'MessageTooLargeError' })
  })
})

describe('wire codec: a message held in chunks (as read from a socket)', () => {
  /** `bytes` cut at the given offsets into a list of chunks (each a copy, in its own buffer). */
  function chunked (bytes: Uint8Array, cuts: number[]): Uint8ArrayList {
    const at = [...new Set(cuts.map(c => c % (bytes.byteLength + 1)))].sort((a, b) => a - b)
    const list = new Uint8ArrayList()
    let from = 0
    for (const c of [...at, bytes.byteLength]) {
      if (c > from) list.append(bytes.slice(from, c))
      from = Math.max(from, c)
    }
    return list
  }

  /** What a decode gives, comparable: the message, or the error's name. */
  function outcome (input: Uint8Array | Uint8ArrayList): unknown {
    try {
      const m = decodeMessage(input)
      return {
        wantlist: m.wantlist == null ? null : { full: m.wantlist.full, entries: m.wantlist.entries.map(e => [e.cid.toString(), e.priority, e.cancel, e.wantType, e.sendDontHave]) },
        blocks: m.blocks.map(b => [b.cid.toString(), Buffer.from(b.bytes).toString('hex')]),
        presences: m.presences.map(p => [p.cid.toString(), p.type]),
        pendingBytes: m.pendingBytes,
        acceptCodecs: m.acceptCodecs,
        compressed: m.compressed.length,
        unverifiableBlocks: m.unverifiableBlocks
      }
    } catch (err: any) {
      assert.ok(['InvalidMessageError', 'MessageTooLargeError'].includes(err?.name), `untyped error ${err?.name}: ${err?.message}`)
      return { error: err.name }
    }
  }

  const messages = fc.tuple(
    fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 6 }),
    fc.option(fc.array(fc.tuple(fc.integer({ min: -5, max: 1 << 20 }), fc.boolean()), { maxLength: 5 }), { nil: undefined }),
    fc.nat(4),
    fc.integer({ min: -3, max: 1 << 20 })
  ).map(([blocks, wants, presences, pendingBytes]): BitswapMessage => ({
    ...(wants == null ? {} : { wantlist: { full: false, entries: wants.map(([p, c], i) => entry(rawCid(Uint8Array.of(i, 1)), { priority: p, cancel: c, wantType: c ? 'block' : 'have' })) } }),
    blocks: blocks.map(b => ({ cid: rawCid(b), bytes: b })),
    presences: Array.from({ length: presences }, (_, i) => ({ cid: rawCid(Uint8Array.of(i, 2)), type: i % 2 === 0 ? 'have' as const : 'dont-have' as const })),
    pendingBytes
  }))

  it('decodes as the joined bytes do, for messages cut anywhere', () => {
    fc.assert(fc.property(messages, fc.array(fc.nat(), { maxLength: 12 }), (msg, cuts) => {
      const bytes = encodeMessage(msg, TENSORSWAP_100)
      assert.deepEqual(outcome(chunked(bytes, cuts)), outcome(bytes))
    }), { numRuns: 300 })
  })

  it('mutated and truncated input: only typed errors, and every block it yields hashes to its CID', () => {
    // not always what the joined bytes give: protons reads a malformed sub-message past its
    // declared end into the next fields, the chunked path stops at the declared end
    fc.assert(fc.property(messages, fc.array(fc.nat(), { maxLength: 12 }), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }), fc.option(fc.nat(), { nil: undefined }), (msg, cuts, edits, cut) => {
      let bytes = encodeMessage(msg, TENSORSWAP_100).slice()
      for (const [at, value] of edits) if (bytes.byteLength > 0) bytes[at % bytes.byteLength] = value
      if (cut != null) bytes = bytes.subarray(0, cut % (bytes.byteLength + 1))
      let m
      try {
        m = decodeMessage(chunked(bytes, cuts))
      } catch (err: any) {
        assert.ok(['InvalidMessageError', 'MessageTooLargeError'].includes(err?.name), `untyped error ${err?.name}: ${err?.message}`)
        return
      }
      for (const b of m.blocks) {
        const algorithm = ({ 0x12: 'sha256', 0x13: 'sha512' } as Record<number, string>)[b.cid.multihash.code]
        const digest = algorithm != null ? new Uint8Array(createHash(algorithm).update(b.bytes).digest()) : digestOf(b.cid.multihash.code, b.bytes)
        assert.deepEqual(b.cid.multihash.digest, digest)
      }
      if (edits.length === 0 && cut == null) assert.deepEqual(outcome(chunked(bytes, cuts)), outcome(bytes))
    }), { numRuns: 1000 })
  })

  it('gives a block that lies in one chunk as a view of that chunk, and copies one that spans chunks', () => {
    const a = new Uint8Array(40_000).map((_, i) => i * 7)
    const b = new Uint8Array(40_000).map((_, i) => i * 13)
    const bytes = encodeMessage({ blocks: [{ cid: rawCid(a), bytes: a }, { cid: rawCid(b), bytes: b }], presences: [], pendingBytes: 0 }, TENSORSWAP_100)
    // block a and the start of block b in the first chunk, the rest of b in the second
    const list = chunked(bytes, [60_000])
    const first = [...list][0] as Uint8Array
    const m = decodeMessage(list)
    assert.equal(m.blocks.length, 2)
    assert.equal(m.blocks[0]?.bytes.buffer, first.buffer, 'block a is a view of the first chunk')
    assert.notEqual(m.blocks[1]?.bytes.buffer, first.buffer, 'block b spans the chunks: its own copy')
    assert.deepEqual(m.blocks[0]?.bytes, a)
    assert.deepEqual(m.blocks[1]?.bytes, b)
  })
})

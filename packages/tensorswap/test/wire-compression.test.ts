/**
 * Wire compression units (spec/tensorswap.md §12): byte planes, compressing and inflating one
 * block, the shape checks `decodeMessage` makes of fields 100/101, message splitting under the
 * inflated-bytes cap, and the pure compression policy. Real tensors: test/compression/.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { constants as zlib, zstdCompressSync } from 'node:zlib'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import * as c from '../src/constants.js'
import { BITSWAP_120, COMPRESSION_MAX_RATIO, DEFAULT_MAX_BLOCK_BYTES, DEFAULT_MAX_INFLATED_MESSAGE_BYTES, MIN_COMPRESS_BLOCK_BYTES, TENSORSWAP_100 } from '../src/constants.js'
import { Message } from '../src/wire/bitswap.js'
import { decodeMessage, decodePrefix, encodeMessage, encodePrefix, splitMessage } from '../src/wire/codec.js'
import { compressBlock, compressBlockSync, inflateBlock, inflateBlocks, PLANE_STORED, PLANE_ZSTD, SUPPORTED_PLANE_CODECS } from '../src/wire/compression.js'
import { CompressionPolicy } from '../src/wire/compression-policy.js'
import { CpuWait, readSchedstat } from '../src/wire/cpu-wait.js'
import { LinkRateEstimator } from '../src/wire/link-rate.js'
import { analyseBlock, joinPlanes, planeLength, splitPlanes } from '../src/wire/planes.js'
import type { CompressedBlockIn } from '../src/wire/compression.js'
import type { PlaneWidth } from '../src/wire/planes.js'

const RAW = 0x55

function rawCid (bytes: Uint8Array): CID {
  return CID.createV1(RAW, Digest.create(0x12, createHash('sha256').update(bytes).digest()))
}

/**
 * Float32 values shaped like trained weights (sum of uniforms ~ normal, scale 0.05), from a
 * seeded generator, little-endian: the sign/exponent byte varies little, the mantissa a lot.
 */
function weightLike (elements: number, seed = 1): Uint8Array {
  let s = seed >>> 0
  const next = (): number => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32 }
  const v = new Float32Array(elements)
  for (let i = 0; i < elements; i++) v[i] = (next() + next() + next() + next() - 2) * 0.05
  return new Uint8Array(v.buffer)
}

/** The same values as IEEE half (truncated mantissa; enough for a shape test). */
function halfLike (elements: number, seed = 1): Uint8Array {
  const f = new Float32Array(weightLike(elements, seed).buffer)
  const out = new Uint8Array(elements * 2)
  const dv = new DataView(out.buffer)
  const u = new Uint32Array(f.buffer)
  for (let i = 0; i < elements; i++) {
    const x = u[i]
    const sign = (x >>> 16) & 0x8000
    const exp = ((x >>> 23) & 0xff) - 127 + 15
    const half = exp <= 0 ? sign : exp >= 31 ? sign | 0x7c00 : sign | (exp << 10) | ((x >>> 13) & 0x3ff)
    dv.setUint16(i * 2, half, true)
  }
  return out
}

/** A compressed block as `decodeMessage` hands it over, from the wire form. */
function incoming (c: Message.CompressedBlock): CompressedBlockIn {
  return { prefix: decodePrefix(c.prefix, 'prefix'), length: c.length, width: c.width as PlaneWidth, planes: c.planes }
}

/** A message of one compressed block (as a hostile sender may write it), encoded. */
function encodeCompressed (blocks: Message.CompressedBlock[]): Uint8Array {
  return Message.encode({ blocks: [], payload: [], blockPresences: [], pendingBytes: 0, compressed: blocks, acceptCodecs: 0 })
}

describe('byte planes', () => {
  it('split puts byte k of every element in plane k; a tail shorter than an element goes to the first planes', () => {
    const b = Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert.deepEqual(splitPlanes(b, 4).map(p => [...p]), [[0, 4, 8], [1, 5, 9], [2, 6], [3, 7]])
    assert.deepEqual(splitPlanes(b.subarray(0, 7), 2).map(p => [...p]), [[0, 2, 4, 6], [1, 3, 5]])
    assert.deepEqual(splitPlanes(b, 1).map(p => [...p]), [[...b]])
    assert.deepEqual([0, 1, 2, 3].map(k => planeLength(10, 4, k)), [3, 3, 2, 2])
    assert.equal(planeLength(1, 4, 3), 0)
  })

  it('join(split(bytes)) is the identity for any bytes and width (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 4099 }), fc.constantFrom<PlaneWidth>(1, 2, 4), (bytes, width) => {
      const planes = splitPlanes(bytes, width)
      assert.equal(planes.length, width)
      planes.forEach((p, k) => { assert.equal(p.byteLength, planeLength(bytes.byteLength, width, k)) })
      assert.deepEqual(joinPlanes(planes, bytes.byteLength), bytes)
    }), { numRuns: 300 })
  })

  it('analysis finds the element width of float data and no structure in random bytes', () => {
    assert.equal(analyseBlock(weightLike(64 * 1024)).width, 4)
    assert.equal(analyseBlock(halfLike(128 * 1024)).width, 2)
    const random = analyseBlock(randomBytes(256 * 1024))
    assert.ok(random.ratio > 0.99, `random bytes: estimated ratio ${random.ratio}`)
    const zeros = analyseBlock(new Uint8Array(64 * 1024))
    assert.equal(zeros.width, 1, 'a tie goes to the fewest planes')
    assert.equal(zeros.ratio, 0)
  })
})

describe('compressBlock / inflateBlock', () => {
  it('round-trips float data: same bytes, same CID, fewer bytes on the wire', async () => {
    for (const [what, bytes] of [['f32', weightLike(256 * 1024)], ['f16', halfLike(512 * 1024)], ['odd length', weightLike(70_001).subarray(0, 280_003)]] as const) {
      const cid = rawCid(bytes)
      const c = await compressBlock({ cid, bytes }, encodePrefix(cid))
      assert.ok(c != null, `${what}: compressed`)
      const wire = c.planes.reduce((n, p) => n + p.data.byteLength, 0)
      assert.ok(wire <= bytes.byteLength * COMPRESSION_MAX_RATIO, `${what}: ${wire} of ${bytes.byteLength}`)
      assert.ok(c.planes.some(p => p.codec === PLANE_ZSTD), `${what}: a zstd plane`)
      const back = await inflateBlock(incoming(c))
      assert.ok(back != null)
      assert.ok(back.cid.equals(cid), `${what}: the CID rebuilt from the bytes is the block's`)
      assert.deepEqual(back.bytes, bytes)
    }
  })

  it('compressBlockSync gives exactly what compressBlock gives (same planes, same bytes)', async () => {
    for (const bytes of [weightLike(256 * 1024, 3), halfLike(512 * 1024, 4), randomBytes(64 * 1024), weightLike(1000)]) {
      const cid = rawCid(bytes)
      const sync = compressBlockSync({ cid, bytes }, encodePrefix(cid))
      const async = await compressBlock({ cid, bytes }, encodePrefix(cid))
      assert.equal(sync == null, async == null)
      if (sync == null || async == null) continue
      // zstd frames differ by a few bytes (the async stream feeds zstd in chunks); the planes,
      // their codecs and what they inflate to are the same
      assert.deepEqual(sync.planes.map(p => p.codec), async.planes.map(p => p.codec))
      const wire = (b: typeof sync): number => b.planes.reduce((n, p) => n + p.data.byteLength, 0)
      assert.ok(Math.abs(wire(sync) - wire(async)) <= wire(async) * 0.01, `${wire(sync)} against ${wire(async)}`)
      assert.deepEqual((await inflateBlock(incoming(sync)))?.bytes, bytes)
    }
  })

  it('leaves short blocks and random bytes plain', async () => {
    const short = weightLike(MIN_COMPRESS_BLOCK_BYTES / 4 - 1)
    assert.equal(await compressBlock({ cid: rawCid(short), bytes: short }, encodePrefix(rawCid(short))), undefined)
    const random = randomBytes(256 * 1024)
    assert.equal(await compressBlock({ cid: rawCid(random), bytes: random }, encodePrefix(rawCid(random))), undefined)
  })

  it('a plane that inflates past its length (zip bomb) is refused: MessageTooLargeError', async () => {
    const cid = rawCid(new Uint8Array(64 * 1024))
    // 8 MiB of zeros in 275 bytes, for a block that says it is 64 KiB
    const bomb = zstdCompressSync(new Uint8Array(8 << 20))
    await assert.rejects(inflateBlock({ prefix: decodePrefix(encodePrefix(cid), 'p'), length: 64 * 1024, width: 1, planes: [{ codec: PLANE_ZSTD, data: bomb }] }), { name: 'MessageTooLargeError' })
  })

  it('a truncated frame, a frame that inflates short, a frame asking for a large window, an unknown codec: InvalidMessageError', async () => {
    const bytes = weightLike(64 * 1024)
    const cid = rawCid(bytes)
    const c = await compressBlock({ cid, bytes }, encodePrefix(cid))
    assert.ok(c != null)
    const k = c.planes.findIndex(p => p.codec === PLANE_ZSTD)
    const withPlane = (data: Uint8Array, codec = PLANE_ZSTD): CompressedBlockIn => {
      const planes = c.planes.slice()
      planes[k] = { codec, data: data as Uint8Array<ArrayBuffer> }
      return { ...incoming(c), planes }
    }
    const frame = c.planes[k].data
    await assert.rejects(inflateBlock(withPlane(frame.subarray(0, frame.byteLength >> 1))), { name: 'InvalidMessageError' })
    await assert.rejects(inflateBlock(withPlane(zstdCompressSync(new Uint8Array(planeLength(bytes.byteLength, c.width, k) - 1)))), { name: 'InvalidMessageError' })
    await assert.rejects(inflateBlock(withPlane(randomBytes(frame.byteLength))), { name: 'InvalidMessageError' })
    // a frame whose header asks for a 128 MiB window (window descriptor exponent 17): refused before decoding
    const plain = zstdCompressSync(new Uint8Array(planeLength(bytes.byteLength, c.width, k)), { params: { [zlib.ZSTD_c_contentSizeFlag]: 0, [zlib.ZSTD_c_checksumFlag]: 0 } })
    const wide = Buffer.from(plain)
    assert.equal(wide[4], 0, 'no single-segment flag: byte 5 is the window descriptor')
    wide[5] = 17 << 3
    await assert.rejects(inflateBlock(withPlane(wide)), (err: any) => err.name === 'InvalidMessageError' && /windowTooLarge/.test(err.message))
    await assert.rejects(inflateBlock(withPlane(frame, 7)), { name: 'InvalidMessageError' })
  })

  it('planes that inflate to other bytes yield a block of another CID (the want is not satisfied)', async () => {
    const bytes = weightLike(64 * 1024)
    const cid = rawCid(bytes)
    const c = await compressBlock({ cid, bytes }, encodePrefix(cid))
    assert.ok(c != null)
    const k = c.planes.findIndex(p => p.codec === PLANE_STORED)
    assert.ok(k >= 0, 'a stored (mantissa) plane')
    const planes = c.planes.map(p => ({ ...p, data: new Uint8Array(p.data) }))
    planes[k].data[10] ^= 0xff
    const { blocks } = await inflateBlocks([{ ...incoming(c), planes }])
    assert.equal(blocks.length, 1)
    assert.equal(blocks[0].cid.equals(cid), false)
    assert.ok(blocks[0].cid.equals(rawCid(blocks[0].bytes)), 'the CID is always the hash of the bytes')
  })
})

describe('fields 100 and 101 on the wire', () => {
  it('round-trip on /tensorswap/1.0.0 through encode, split and decode, then inflate (property)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1024, max: 40_000 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 3 }), async (elements, seed, cut) => {
      const bytes = weightLike(elements, seed).subarray(0, elements * 4 - cut)
      const cid = rawCid(bytes)
      const c = await compressBlock({ cid, bytes }, encodePrefix(cid))
      if (c == null) return
      const parts = splitMessage({ blocks: [], presences: [], pendingBytes: 0, compressed: [c], acceptCodecs: SUPPORTED_PLANE_CODECS }, TENSORSWAP_100)
      assert.equal(parts.length, 1)
      const m = decodeMessage(parts[0])
      assert.equal(m.acceptCodecs, SUPPORTED_PLANE_CODECS)
      assert.equal(m.compressed.length, 1)
      const { blocks } = await inflateBlocks(m.compressed)
      assert.ok(blocks[0].cid.equals(cid))
      assert.deepEqual(blocks[0].bytes, bytes)
    }), { numRuns: 40 })
  })

  it('Bitswap peers see neither: acceptCodecs is dropped and compressed blocks cannot be encoded for them', async () => {
    const bytes = weightLike(16 * 1024)
    const cid = rawCid(bytes)
    const c = await compressBlock({ cid, bytes }, encodePrefix(cid))
    assert.ok(c != null)
    const wants = { wantlist: { full: true, entries: [{ cid, priority: 1, cancel: false, wantType: 'block' as const, sendDontHave: true }] }, blocks: [], presences: [], pendingBytes: 0, acceptCodecs: SUPPORTED_PLANE_CODECS }
    assert.equal(decodeMessage(encodeMessage(wants, TENSORSWAP_100)).acceptCodecs, SUPPORTED_PLANE_CODECS)
    const bitswap = encodeMessage(wants, BITSWAP_120)
    assert.equal(decodeMessage(bitswap).acceptCodecs, 0)
    assert.equal(Message.decode(bitswap).acceptCodecs, 0, 'field 101 is not on the wire')
    assert.throws(() => splitMessage({ blocks: [], presences: [], pendingBytes: 0, compressed: [c] }, BITSWAP_120), /cannot be sent on \/ipfs\/bitswap\/1\.2\.0/)
  })

  it('decode refuses a declared length over the block limit or a message inflating over its cap: MessageTooLargeError, nothing inflated', () => {
    const prefix = encodePrefix(rawCid(Uint8Array.of(1))) as Uint8Array<ArrayBuffer>
    const tiny = zstdCompressSync(new Uint8Array(16))
    const big = { prefix, length: DEFAULT_MAX_BLOCK_BYTES + 1, width: 1, planes: [{ codec: PLANE_ZSTD, data: tiny }] }
    assert.throws(() => decodeMessage(encodeCompressed([big])), { name: 'MessageTooLargeError' })
    const two = { prefix, length: DEFAULT_MAX_BLOCK_BYTES, width: 1, planes: [{ codec: PLANE_ZSTD, data: tiny }] }
    const over = Math.floor(DEFAULT_MAX_INFLATED_MESSAGE_BYTES / DEFAULT_MAX_BLOCK_BYTES) + 1
    assert.throws(() => decodeMessage(encodeCompressed(Array.from({ length: over }, () => two))), { name: 'MessageTooLargeError' })
    assert.equal(decodeMessage(encodeCompressed(Array.from({ length: over - 1 }, () => two))).compressed.length, over - 1, 'at the cap: accepted')
  })

  it('decode refuses malformed shapes: InvalidMessageError', () => {
    const prefix = encodePrefix(rawCid(Uint8Array.of(1))) as Uint8Array<ArrayBuffer>
    const z = zstdCompressSync(new Uint8Array(600))
    const ok = { prefix, length: 1000, width: 2, planes: [{ codec: PLANE_ZSTD, data: z }, { codec: PLANE_STORED, data: new Uint8Array(500) }] }
    assert.equal(decodeMessage(encodeCompressed([ok])).compressed.length, 1, 'control: the well-formed block decodes')
    const bad: Array<[string, Message.CompressedBlock]> = [
      ['width 3', { ...ok, width: 3, planes: [...ok.planes, ok.planes[1]] }],
      ['planes not equal to width', { ...ok, planes: ok.planes.slice(0, 1) }],
      ['a stored plane of the wrong length', { ...ok, planes: [ok.planes[0], { codec: PLANE_STORED, data: new Uint8Array(499) }] }],
      ['a zstd plane no shorter than its plane', { ...ok, planes: [{ codec: PLANE_ZSTD, data: new Uint8Array(500) }, ok.planes[1]] }],
      ['an empty zstd plane', { ...ok, planes: [{ codec: PLANE_ZSTD, data: new Uint8Array(0) }, ok.planes[1]] }],
      ['an unknown codec', { ...ok, planes: [{ codec: 2, data: z }, ok.planes[1]] }],
      ['a bad prefix', { ...ok, prefix: Uint8Array.of(0xff) }]
    ]
    for (const [what, block] of bad) assert.throws(() => decodeMessage(encodeCompressed([block])), { name: 'InvalidMessageError' }, what)
  })

  it('split keeps the compressed blocks of each part under the inflated-bytes cap', async () => {
    const blocks = await Promise.all(Array.from({ length: 6 }, async (_, i) => {
      const bytes = weightLike(256 * 1024, i + 1)
      const cid = rawCid(bytes)
      const c = await compressBlock({ cid, bytes }, encodePrefix(cid))
      assert.ok(c != null)
      return c
    }))
    const cap = 2 * 1024 * 1024
    const parts = splitMessage({ blocks: [], presences: [], pendingBytes: 0, compressed: blocks }, TENSORSWAP_100, { maxInflatedBytes: cap })
    assert.equal(parts.length, 3)
    for (const p of parts) {
      const m = decodeMessage(p, { maxInflatedBytes: cap })
      assert.ok(m.compressed.reduce((n, b) => n + b.length, 0) <= cap)
    }
  })
})

/**
 * A sender writing `writeBytes` at a time into a socket buffer of `bufferBytes` that a link
 * drains at `rate` bytes/ms: a write returns at once while the buffer has room for it, else
 * when the link made room. `gaps(i)` is how long the sender waits before write i, ms (idle, or
 * its compressor). Feeds `record` with each write's start and drain, as the network does.
 */
function simulate (est: LinkRateEstimator, opts: { rate: number, bufferBytes: number, writeBytes: number, writes: number, gaps?: (i: number) => number, t0?: number }): number {
  let t = opts.t0 ?? 0
  let buffered = 0
  let at = t // time `buffered` was last updated
  for (let i = 0; i < opts.writes; i++) {
    t += opts.gaps?.(i) ?? 0
    buffered = Math.max(0, buffered - (t - at) * opts.rate)
    at = t
    const start = t
    const over = buffered + opts.writeBytes - opts.bufferBytes
    if (over > 0) t += over / opts.rate
    buffered = Math.max(0, buffered - (t - at) * opts.rate) + opts.writeBytes
    at = t
    est.record(opts.writeBytes, start, t)
  }
  return t
}

describe('LinkRateEstimator (busy periods)', () => {
  const MiB = 1024 * 1024
  const link = { rate: 12_500, bufferBytes: 4 * MiB, writeBytes: 256 * 1024 } // 100 Mbit/s, a 4 MiB socket buffer

  it('converges to the link rate behind a large socket buffer', () => {
    const est = new LinkRateEstimator()
    simulate(est, { ...link, writes: 200 }) // 50 MiB, ~4 s
    const rate = est.bytesPerMs ?? 0
    assert.ok(Math.abs(rate - link.rate) / link.rate < 0.1, `busy-period estimate ${rate.toFixed(0)} bytes/ms against ${link.rate}`)
  })

  it('gives no rate until LINK_MIN_PERIOD_MS of busy time: writes a buffer swallows whole are not a rate', () => {
    const est = new LinkRateEstimator()
    simulate(est, { ...link, writes: 8 }) // 2 MiB into an empty 4 MiB buffer: no time at all
    assert.equal(est.bytesPerMs, undefined)
    assert.equal(est.writes, 8)
  })

  it('idle time between transfers is not the link\'s: two busy periods 1 s apart read the rate of one', () => {
    const est = new LinkRateEstimator()
    const t = simulate(est, { ...link, writes: 100 })
    const before = est.bytesPerMs ?? 0
    simulate(est, { ...link, writes: 100, t0: t + 1000 })
    const after = est.bytesPerMs ?? 0
    assert.equal(est.periods, 1, 'the first period closed and counted')
    assert.ok(after > before * 0.9 && after < link.rate * 1.2, `${before.toFixed(0)} then ${after.toFixed(0)} bytes/ms`)
  })

  it('a slow sender is not a slow link: writes that never wait give no rate, however few bytes per ms', () => {
    const est = new LinkRateEstimator()
    // loopback-like: 256 KiB every 5 ms (50 MB/s of sender), a link that takes each at once
    simulate(est, { rate: 1e6, bufferBytes: 64 * MiB, writeBytes: 256 * 1024, writes: 200, gaps: () => 5 })
    assert.ok(est.writes === 200 && est.blockedShare != null && est.blockedShare < 0.01, `blocked ${est.blockedShare}`)
    assert.equal(est.bytesPerMs, undefined)
    // the same sender on a 12.5 MB/s link: it waits, and the rate is the link's
    const capped = new LinkRateEstimator()
    simulate(capped, { ...link, writes: 200, gaps: () => 5 })
    assert.ok((capped.blockedShare ?? 0) > c.LINK_MIN_BLOCKED_SHARE)
    assert.ok(Math.abs((capped.bytesPerMs ?? 0) - link.rate) / link.rate < 0.1, `${capped.bytesPerMs} bytes/ms`)
  })

  it('time this thread spent compressing while a write waited is not waiting for the link', () => {
    const est = new LinkRateEstimator()
    let t = 0
    for (let i = 0; i < 50; i++, t += 6) est.record(256 * 1024, t, t + 5, 5) // the drain was seen late only because we compressed
    assert.equal(est.bytesPerMs, undefined)
    assert.ok((est.blockedShare ?? 1) < 0.01)
  })

  // a gap within LINK_BUSY_GAP_MS is taken as the link still busy, so the buffer is made to
  // hold at least that much of the link's time (a 100 Mbit/s link: tbf's 50 ms queue alone)
  it('never reads the link slower than it is, whatever the sender\'s waits (a compressor wait must not feed itself) (property)', () => {
    fc.assert(fc.property(
      fc.double({ min: 100, max: 200_000, noNaN: true }),
      fc.integer({ min: 1, max: 16 }),
      fc.integer({ min: 4 * 1024, max: MiB }),
      fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0, max: c.LINK_BUSY_GAP_MS * 1.5, noNaN: true }), fc.double({ min: 0, max: 200, noNaN: true })), { minLength: 1, maxLength: 50 }),
      (rate, writesBuffered, writeBytes, gaps) => {
        const est = new LinkRateEstimator()
        simulate(est, { rate, bufferBytes: Math.max(writesBuffered * writeBytes, Math.ceil(rate * c.LINK_BUSY_GAP_MS)), writeBytes, writes: 300, gaps: i => gaps[i % gaps.length] })
        const r = est.bytesPerMs
        if (r != null) assert.ok(r >= rate * 0.999, `${r} against ${rate}`)
      }), { numRuns: 300 })
  })
})

describe('CompressionPolicy', () => {
  const MiB = 1024 * 1024
  /** `n` writes of `bytes` back to back, each draining in `ms`, from `t0`. */
  const busy = (p: CompressionPolicy, peer: string, n: number, bytes: number, ms: number, t0 = 0): number => {
    let t = t0
    for (let i = 0; i < n; i++, t += ms) p.recordWrite(peer, bytes, t, t + ms)
    return t
  }

  it('sends plain until a link rate is measured (LINK_MIN_PERIOD_MS of busy time)', () => {
    const p = new CompressionPolicy()
    assert.equal(p.worthTrying('a'), false)
    p.recordWrite('a', MiB, 0, c.LINK_MIN_PERIOD_MS / 2)
    assert.equal(p.link('a').writes, 1)
    assert.equal(p.worthTrying('a'), false, 'half the minimum busy time is not a rate')
    p.recordWrite('a', MiB, c.LINK_MIN_PERIOD_MS / 2, c.LINK_MIN_PERIOD_MS)
    assert.ok(Math.abs((p.link('a').bytesPerMs ?? 0) - 2 * MiB / c.LINK_MIN_PERIOD_MS) < 1)
    busy(p, 'a', 10, MiB, 100, c.LINK_MIN_PERIOD_MS) // then 10 MB/s
    assert.equal(p.worthTrying('a'), true, '~10 MB/s against a 100 MB/s prior compressor')
    assert.equal(p.shouldCompress('a', 0.8), true)
    assert.equal(p.shouldCompress('a', 0.96), false, 'over maxRatio')
    p.forget('a')
    assert.equal(p.worthTrying('a'), false)
  })

  it(`sends plain while the main thread waits for a CPU more than COMPRESS_MAX_CPU_WAIT_SHARE (${c.COMPRESS_MAX_CPU_WAIT_SHARE}) of its runnable time`, () => {
    let wait: number | undefined
    const p = new CompressionPolicy({ cpuWait: () => wait })
    busy(p, 'a', 10, MiB, 100) // 10 MB/s: worth compressing for
    assert.equal(p.worthTrying('a'), true, 'unknown contention: as without it')
    wait = 0.13 // one leecher and its seeder on 2 cores
    assert.equal(p.worthTrying('a'), true)
    assert.equal(p.contended(), false)
    wait = 0.75 // six leechers and a seeder on 2 cores
    assert.equal(p.contended(), true)
    assert.equal(p.worthTrying('a'), false)
    wait = c.COMPRESS_MAX_CPU_WAIT_SHARE
    assert.equal(p.worthTrying('a'), true, 'at the bound: still compressed')
  })

  it('never compresses for a link faster than share x compressor speed (loopback)', () => {
    const p = new CompressionPolicy()
    busy(p, 'lo', 20, 4 * MiB, 2) // 2 GB/s
    assert.equal(p.worthTrying('lo'), false)
    assert.equal(p.shouldCompress('lo', 0.1), false)
  })

  it('a measured compressor slower than the prior turns compression off for the same link', () => {
    const p = new CompressionPolicy()
    busy(p, 'a', 4, MiB, 30) // ~35 MB/s
    assert.equal(p.worthTrying('a'), true)
    p.recordCompress(MiB, 100) // 10 MB/s compressor
    const prior = c.COMPRESS_PRIOR_WEIGHT_BYTES / c.DEFAULT_PRIOR_COMPRESS_BYTES_PER_MS
    const d = c.COMPRESS_SPEED_DECAY // per MiB: this batch is 1 MiB
    assert.ok(Math.abs(p.compressBytesPerMs - (c.COMPRESS_PRIOR_WEIGHT_BYTES * d + MiB) / (prior * d + 100)) < 1e-6, 'the prior weighs as one batch')
    assert.equal(p.worthTrying('a'), false)
  })

  it('a first small block, slow per byte (zstd set-up), does not stand for the compressor', () => {
    const p = new CompressionPolicy()
    busy(p, 'a', 4, MiB, 100) // 10 MB/s
    p.recordCompress(5184, 1.4) // measured: 3.7 MB/s
    assert.ok(p.compressBytesPerMs > 0.8 * c.DEFAULT_PRIOR_COMPRESS_BYTES_PER_MS, `${p.compressBytesPerMs.toFixed(0)} bytes/ms`)
    assert.equal(p.worthTrying('a'), true)
  })

  it('many small batches do not erase the history, and one paused block among them weighs by its bytes (measured sequence)', () => {
    const p = new CompressionPolicy()
    busy(p, 'a', 10, MiB, 80) // 13 MB/s
    for (let i = 0; i < 4; i++) p.recordCompress(500_000, 6, i) // ~83 MB/s
    for (let i = 0; i < 20; i++) p.recordCompress(7000, 0.4, 10 + i) // small blocks, ~17 MB/s each
    p.recordCompress(49152, 10.4, 40) // a pause
    assert.ok(p.compressBytesPerMs > 40_000, `${p.compressBytesPerMs.toFixed(0)} bytes/ms`)
    assert.equal(p.worthTrying('a', 41), true, 'a 13 MB/s link is still worth compressing for')
  })

  it('the compressor speed weighs batches by their bytes: a small slow batch barely moves it', () => {
    const p = new CompressionPolicy()
    p.recordCompress(4 * MiB, 20, 0) // ~210 MB/s
    p.recordCompress(5000, 4, 1) // 1.25 MB/s: fixed costs of one small block
    assert.ok(p.compressBytesPerMs > 150_000, `${p.compressBytesPerMs.toFixed(0)} bytes/ms`)
    assert.ok(p.compressBytesPerMs < 4 * MiB / 20)
  })

  it('a slow compressor measurement is forgotten after COMPRESS_SPEED_MAX_AGE_MS, so it is measured again', () => {
    const p = new CompressionPolicy()
    busy(p, 'a', 4, MiB, 100) // 10 MB/s
    p.recordCompress(MiB, 1000, 0) // 1 MB/s
    assert.equal(p.worthTrying('a', 1), false)
    assert.equal(p.worthTrying('a', c.COMPRESS_SPEED_MAX_AGE_MS - 1), false)
    assert.equal(p.worthTrying('a', c.COMPRESS_SPEED_MAX_AGE_MS), true, 'back to the prior: the next batch is compressed and measured')
    p.recordCompress(MiB, 5, c.COMPRESS_SPEED_MAX_AGE_MS + 10)
    assert.ok(p.compressBytesPerMs > c.DEFAULT_PRIOR_COMPRESS_BYTES_PER_MS, 'the forgotten measurement does not weigh in the new one')
    assert.equal(p.worthTrying('a', c.COMPRESS_SPEED_MAX_AGE_MS + 20), true)
  })

  it('the decision is monotone: compressing for a link means compressing for any slower one (property)', () => {
    fc.assert(fc.property(fc.double({ min: 1, max: 1e6, noNaN: true }), fc.double({ min: 1, max: 1e6, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 1e3, max: 1e6, noNaN: true }), (r1, r2, ratio, speed) => {
      const [fast, slow] = r1 >= r2 ? [r1, r2] : [r2, r1]
      const p = new CompressionPolicy({ priorCompressBytesPerMs: speed })
      p.recordWrite('fast', Math.round(fast * 1000), 0, 1000)
      p.recordWrite('slow', Math.round(slow * 1000), 0, 1000)
      if (p.shouldCompress('fast', ratio)) assert.equal(p.shouldCompress('slow', ratio), true)
      if (p.shouldCompress('slow', ratio)) assert.equal(p.worthTrying('slow'), true)
    }), { numRuns: 500 })
  })
})

describe('spec/tensorswap.md §12 states the constants', () => {
  it('limits table and the decision\'s parameters', async () => {
    const spec = await readFile(fileURLToPath(new URL('../../../../spec/tensorswap.md', import.meta.url)), 'utf8')
    const section = spec.slice(spec.indexOf('## 12. Wire compression'))
    const prose = section.replace(/\s+/g, ' ')
    const row = (name: string): string | undefined => new RegExp(`^\\| ${name} \\| ([^|]+) \\|`, 'm').exec(section)?.[1].trim()
    const MiB = 1024 * 1024
    assert.equal(row('decompressed length of a compressed block'), `${c.DEFAULT_MAX_BLOCK_BYTES / MiB} MiB (the block limit, §3)`)
    assert.equal(row('decompressed bytes of the compressed blocks of one message'), `${c.DEFAULT_MAX_INFLATED_MESSAGE_BYTES / MiB} MiB`)
    assert.equal(row('zstd window of a plane'), `2^${c.ZSTD_WINDOW_LOG_MAX} bytes`)
    assert.equal(row('smallest block compressed'), `${c.MIN_COMPRESS_BLOCK_BYTES / 1024} KiB`)
    assert.equal(row('largest ratio sent compressed'), String(c.COMPRESSION_MAX_RATIO))
    assert.equal(row('zstd level'), String(c.DEFAULT_ZSTD_LEVEL))
    assert.equal(row('zstd'), String(PLANE_ZSTD))
    assert.equal(row('stored'), String(PLANE_STORED))
    for (const phrase of [
      `(bit 1: zstd, value ${SUPPORTED_PLANE_CODECS})`,
      `a write starting more than ${c.LINK_BUSY_GAP_MS} ms after the previous one drained opens a new period`,
      `periods under ${c.LINK_MIN_PERIOD_MS} ms not counted, decay ${c.LINK_PERIOD_DECAY} per period, the open period counted once it is ${c.LINK_MIN_PERIOD_MS} ms long`,
      `at least ${c.LINK_MIN_BLOCKED_SHARE} of the busy time waiting for their drain`,
      `decay ${c.COMPRESS_SPEED_DECAY} per MiB compressed, assumed ${c.DEFAULT_PRIOR_COMPRESS_BYTES_PER_MS.toLocaleString('en')} bytes/ms`,
      `the assumed speed weighing as one batch of ${c.COMPRESS_PRIOR_WEIGHT_BYTES / MiB} MiB`,
      `a speed not refreshed for ${c.COMPRESS_SPEED_MAX_AGE_MS / 1000} s (nothing compressed since) is forgotten for the assumed one`,
      `a share s = ${c.COMPRESSOR_TIME_SHARE} of the time`,
      `a link faster than ${c.COMPRESSOR_TIME_SHARE * c.COMPRESSION_MAX_RATIO} C`,
      `estimated ratio is over ${c.PLANE_STORE_RATIO} stored`,
      `at most ${c.DEFAULT_MAX_INFLATED_MESSAGE_BYTES / MiB} MiB decompressed, besides the ${c.DEFAULT_MAX_MESSAGE_BYTES / MiB} MiB encoded cap`
    ]) assert.ok(prose.includes(phrase), `spec says "${phrase}"`)
  })
})

describe('CpuWait (/proc/self/schedstat)', () => {
  it('takes the share over the window (the thread\'s life until a reading is that old), reading at most once per interval', () => {
    const counters = [{ runNs: 1e9, waitNs: 0 }, { runNs: 1.2e9, waitNs: 0.6e9 }, { runNs: 1.4e9, waitNs: 1.4e9 }]
    let reads = 0
    const w = new CpuWait({ read: () => counters[reads++], intervalMs: 250, windowMs: 1000 })
    assert.equal(w.share(100), 0, 'over the life so far: 1 s on a CPU, no wait')
    assert.equal(w.share(200), 0, 'within the interval: no read')
    assert.equal(reads, 1)
    assert.ok(Math.abs((w.share(400) ?? -1) - 0.6 / 1.8) < 1e-9, 'no reading 1 s old yet: still over the life (a burst of 0.75 counts as part of it)')
    assert.ok(Math.abs((w.share(1500) ?? -1) - 0.8) < 1e-9, 'from the newest reading at least 1 s old (t = 400): 0.8 s waiting of 1.0 s')
    assert.ok(Math.abs((w.share(1600) ?? -1) - 0.8) < 1e-9)
    assert.equal(reads, 3)
  })

  it('reports nothing, once, where the counters do not exist', () => {
    let reads = 0
    const w = new CpuWait({ read: () => { reads++; return undefined } })
    assert.equal(w.share(0), undefined)
    assert.equal(w.share(10_000), undefined)
    assert.equal(reads, 1)
  })

  it('reads this process\'s real counters on Linux: time on a CPU grows with work', () => {
    const a = readSchedstat()
    if (process.platform !== 'linux') {
      assert.equal(a, undefined)
      return
    }
    assert.ok(a != null && a.runNs > 0 && a.waitNs >= 0, JSON.stringify(a))
    let x = 0
    const until = performance.now() + 30
    while (performance.now() < until) x++
    const b = readSchedstat()
    // on a CPU or waiting for one, most of the 30 ms are counted (a busy machine moves some to
    // the wait; a VM's stolen time is in neither: CI saw 23 ms run, 0 waited), never more than
    // the wall time that passed
    const wallNs = (performance.now() - until + 30) * 1e6
    const counted = b == null ? 0 : (b.runNs - a.runNs) + (b.waitNs - a.waitNs)
    assert.ok(b != null && counted >= 15e6 && counted <= wallNs + 2e6 && b.runNs > a.runNs, `ran ${((b?.runNs ?? 0) - a.runNs) / 1e6} ms, waited ${((b?.waitNs ?? 0) - a.waitNs) / 1e6} ms for 30 ms of work (${x})`)
  })
})

/**
 * Wire compression on real weights (spec/tensorswap.md §12): the human-models float tensors as
 * F32, real F16 (the float16-quantized weights as stored) and BF16 (the F32 ones rounded), cut
 * into the blocks a model import makes. Every block round-trips through compress, the wire
 * codec and inflate to its own bytes and CID; the element width found is the dtype's; the
 * compression ratio of each dtype is what bench/README.md reports (bounds generous).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { before, describe, it } from 'node:test'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { TENSORSWAP_100, analyseBlock, compressBlock, decodeMessage, encodePrefix, inflateBlocks, splitMessage } from 'tensorswap'
import { realTensors, type RealDtype, type RealTensor } from '../helpers/model.js'

const MiB = 1024 * 1024
/** Bytes of each dtype used: enough tensors for a ratio, small enough for seconds. */
const SAMPLE_BYTES = 6 * MiB

function rawCid (bytes: Uint8Array): CID {
  return CID.createV1(0x55, Digest.create(0x12, createHash('sha256').update(bytes).digest()))
}

/** The leaves an import cuts from `tensors`: each tensor in chunks of at most 1 MiB. */
function leaves (tensors: RealTensor[]): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const t of tensors) for (let at = 0; at < t.bytes.byteLength; at += MiB) out.push(t.bytes.subarray(at, Math.min(t.bytes.byteLength, at + MiB)))
  return out
}

/** Upper bounds of the whole-sample ratio (compressed / raw) per dtype; measured 0.84 / 0.80 / 0.69. */
const MAX_RATIO: Record<RealDtype, number> = { F32: 0.9, F16: 0.88, BF16: 0.78 }
const WIDTH: Record<RealDtype, number> = { F32: 4, F16: 2, BF16: 2 }

describe('wire compression of real tensors', () => {
  const samples = new Map<RealDtype, RealTensor[]>()
  before(async () => {
    for (const dtype of ['F32', 'F16', 'BF16'] as const) samples.set(dtype, await realTensors(dtype, SAMPLE_BYTES, 64 * 1024))
  })

  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    it(`${dtype}: every block round-trips to its bytes and CID; width ${WIDTH[dtype]}; ratio under ${MAX_RATIO[dtype]}`, async () => {
      const blocks = leaves(samples.get(dtype) ?? [])
      assert.ok(blocks.length >= 6, `${blocks.length} blocks`)
      let raw = 0
      let wire = 0
      const widths = new Map<number, number>()
      for (const bytes of blocks) {
        const cid = rawCid(bytes)
        const a = analyseBlock(bytes)
        widths.set(a.width, (widths.get(a.width) ?? 0) + bytes.byteLength)
        const c = await compressBlock({ cid, bytes }, encodePrefix(cid), { analysis: a })
        raw += bytes.byteLength
        if (c == null) {
          wire += bytes.byteLength
          continue
        }
        wire += c.planes.reduce((n, p) => n + p.data.byteLength, 0)
        const [part] = splitMessage({ blocks: [], presences: [], pendingBytes: 0, compressed: [c] }, TENSORSWAP_100)
        const { blocks: back } = await inflateBlocks(decodeMessage(part).compressed)
        assert.ok(back[0].cid.equals(cid), 'same CID')
        assert.ok(Buffer.from(back[0].bytes).equals(bytes), 'same bytes')
      }
      const mostly = [...widths.entries()].sort((x, y) => y[1] - x[1])[0][0]
      assert.equal(mostly, WIDTH[dtype], `width by bytes: ${JSON.stringify([...widths])}`)
      const ratio = wire / raw
      assert.ok(ratio < MAX_RATIO[dtype], `${dtype}: ${wire} / ${raw} = ${ratio.toFixed(3)}`)
    })
  }

  it('any slice of a real tensor round-trips (property)', async () => {
    const all = [...samples.values()].flat()
    await fc.assert(fc.asyncProperty(fc.nat({ max: all.length - 1 }), fc.nat(), fc.integer({ min: 1, max: 300_000 }), async (i, start, length) => {
      const t = all[i].bytes
      const from = start % t.byteLength
      const bytes = t.subarray(from, Math.min(t.byteLength, from + length))
      const cid = rawCid(bytes)
      const c = await compressBlock({ cid, bytes }, encodePrefix(cid))
      if (c == null) return
      const { blocks } = await inflateBlocks(decodeMessage(splitMessage({ blocks: [], presences: [], pendingBytes: 0, compressed: [c] }, TENSORSWAP_100)[0]).compressed)
      assert.ok(blocks[0].cid.equals(cid))
    }), { numRuns: 60 })
  })
})

/**
 * Tensor-aware block compression for `/tensorswap/1.0.0` (spec/tensorswap.md §12): a block is
 * split into byte planes by its element width (`planes.ts`) and each plane is stored or
 * compressed with zstd (Node's built-in zlib: `zstdCompress` on the libuv thread pool, or
 * `zstdCompressSync` where the caller wants to time the compressor's own work).
 * The CID of a compressed block is never sent: the receiver rebuilds it by hashing the
 * decompressed bytes, exactly as for a plain block, so a block that decompresses to the wrong
 * bytes cannot satisfy a want.
 *
 * Decompression never trusts the sender: each plane is inflated with `maxOutputLength` set to
 * the plane's length (a zip bomb stops there), a zstd window over {@link ZSTD_WINDOW_LOG_MAX}
 * is refused before decoding, and a plane that inflates to any other length is refused.
 *
 * @module
 */

import { promisify } from 'node:util'
import { constants as zlib, zstdCompress, zstdCompressSync, zstdDecompress } from 'node:zlib'
import { cidOf } from '@tensorswap/blockstore'
import { COMPRESSION_MAX_RATIO, DEFAULT_ZSTD_LEVEL, MIN_COMPRESS_BLOCK_BYTES, PLANE_STORE_RATIO, ZSTD_WINDOW_LOG_MAX } from '../constants.js'
import { InvalidMessageError, MessageTooLargeError } from '../errors.js'
import { analyseBlock, joinPlanes, planeLength, splitPlanes } from './planes.js'
import type { Message } from './bitswap.js'
import type { Block, CidPrefix } from './codec.js'
import type { BlockAnalysis, PlaneWidth } from './planes.js'

const compress = promisify(zstdCompress)
const decompress = promisify(zstdDecompress)

/** Plane codec 0: the plane's bytes as they are. Always understood, never advertised. */
export const PLANE_STORED = 0
/** Plane codec 1: one zstd frame (RFC 8878) that decompresses to the plane. */
export const PLANE_ZSTD = 1

/** The `acceptCodecs` bitmask of this implementation: bit k set = plane codec k decoded. */
export const SUPPORTED_PLANE_CODECS = 1 << PLANE_ZSTD

/** A received compressed block, checked for shape by `decodeMessage` and not yet inflated. */
export interface CompressedBlockIn {
  prefix: CidPrefix
  /** Length of the block, decompressed, bytes (at most the block limit). */
  length: number
  width: PlaneWidth
  /** Exactly `width` planes; a stored plane has exactly its length, a zstd plane at most that. */
  planes: Array<{ codec: number, data: Uint8Array }>
}

/** Options of {@link compressBlock}. */
export interface CompressBlockOptions {
  /** zstd level. @default {@link DEFAULT_ZSTD_LEVEL} */
  level?: number
  /** Send compressed only at or below this ratio. @default {@link COMPRESSION_MAX_RATIO} */
  maxRatio?: number
  /** A sample analysis already made of these bytes ({@link analyseBlock}). */
  analysis?: BlockAnalysis
}

/**
 * Compress one block: byte planes by its detected element width, each plane zstd-compressed
 * unless its estimated ratio says it is random (then stored).
 *
 * @param block - the block (bytes and CID; the CID gives the prefix)
 * @param prefix - the block's CID prefix as sent (`encodePrefix(block.cid)`)
 * @returns the wire form, or `undefined` when the block is short or its compressed size would
 *   exceed `maxRatio` of its length (send it plain)
 * @throws zlib's errors (none expected for valid options)
 */
export async function compressBlock (block: Block, prefix: Uint8Array, options: CompressBlockOptions = {}): Promise<Message.CompressedBlock | undefined> {
  const plan = planBlock(block.bytes, options)
  if (plan == null) return undefined
  const planes = await Promise.all(plan.planes.map(async (plane, k) => plan.zstd[k] ? asPlane(plane, await compress(plane, plan.params(plane))) : stored(plane)))
  return finish(block.bytes, prefix, plan, planes)
}

/**
 * {@link compressBlock} on this thread: the same result, computed synchronously, so the time
 * the call takes is the compressor's own work (planes and zstd), never a wait for a thread of
 * the pool (which the store's disk reads share). One 1 MiB block of F16 takes a few ms; the
 * network calls it only for a link slower than the compressor, where the event loop has time.
 *
 * @param block - the block (bytes and CID)
 * @param prefix - the block's CID prefix as sent (`encodePrefix(block.cid)`)
 * @returns as {@link compressBlock}
 * @throws zlib's errors (none expected for valid options)
 */
export function compressBlockSync (block: Block, prefix: Uint8Array, options: CompressBlockOptions = {}): Message.CompressedBlock | undefined {
  const plan = planBlock(block.bytes, options)
  if (plan == null) return undefined
  const planes = plan.planes.map((plane, k) => plan.zstd[k] ? asPlane(plane, zstdCompressSync(plane, plan.params(plane))) : stored(plane))
  return finish(block.bytes, prefix, plan, planes)
}

type Plane = Message.CompressedBlock['planes'][number]

interface Plan {
  planes: Uint8Array[]
  /** Per plane: give it to zstd (else stored). */
  zstd: boolean[]
  width: PlaneWidth
  maxRatio: number
  params: (plane: Uint8Array) => { pledgedSrcSize: number, params: Record<number, number> }
}

/** The planes of `bytes` and which go to zstd, or `undefined` when the block is sent plain. */
function planBlock (bytes: Uint8Array, options: CompressBlockOptions): Plan | undefined {
  const maxRatio = options.maxRatio ?? COMPRESSION_MAX_RATIO
  if (bytes.byteLength < MIN_COMPRESS_BLOCK_BYTES) return undefined
  const analysis = options.analysis ?? analyseBlock(bytes)
  if (analysis.ratio > maxRatio) return undefined
  const level = options.level ?? DEFAULT_ZSTD_LEVEL
  const planes = splitPlanes(bytes, analysis.width)
  return {
    planes,
    zstd: planes.map((plane, k) => plane.byteLength > 0 && (analysis.planeRatios[k] ?? 1) <= PLANE_STORE_RATIO),
    width: analysis.width,
    maxRatio,
    params: plane => ({
      pledgedSrcSize: plane.byteLength,
      params: { [zlib.ZSTD_c_compressionLevel]: level, [zlib.ZSTD_c_windowLog]: Math.min(ZSTD_WINDOW_LOG_MAX, Math.max(10, Math.ceil(Math.log2(plane.byteLength)))) }
    })
  }
}

function stored (plane: Uint8Array): Plane {
  return { codec: PLANE_STORED, data: plane as Uint8Array<ArrayBuffer> }
}

/** The zstd frame `z` of `plane`, or the plane stored when zstd did not shrink it. */
function asPlane (plane: Uint8Array, z: Buffer): Plane {
  return z.byteLength < plane.byteLength ? { codec: PLANE_ZSTD, data: new Uint8Array(z.buffer, z.byteOffset, z.byteLength) as Uint8Array<ArrayBuffer> } : stored(plane)
}

/** The wire form, or `undefined` when the planes total more than `maxRatio` of the block. */
function finish (bytes: Uint8Array, prefix: Uint8Array, plan: Plan, planes: Plane[]): Message.CompressedBlock | undefined {
  const wire = planes.reduce((n, p) => n + p.data.byteLength, 0)
  if (wire > bytes.byteLength * plan.maxRatio) return undefined
  return { prefix: prefix as Uint8Array<ArrayBuffer>, length: bytes.byteLength, width: plan.width, planes }
}

/**
 * Inflate one received compressed block and rebuild its CID from the bytes.
 *
 * @param block - as `decodeMessage` checked it
 * @returns the block, verified by construction (its CID is the hash of its bytes), or
 *   `undefined` when the prefix names no hash we can compute (counted unverifiable)
 * @throws `MessageTooLargeError` when a zstd plane inflates past its length (a zip bomb);
 *   `InvalidMessageError` when a plane is not a zstd frame, is truncated, asks for a window
 *   over {@link ZSTD_WINDOW_LOG_MAX}, inflates to fewer bytes than its length, or names an
 *   unknown codec
 */
export async function inflateBlock (block: CompressedBlockIn): Promise<Block | undefined> {
  const planes = await Promise.all(block.planes.map(async (plane, k) => {
    const expected = planeLength(block.length, block.width, k)
    if (plane.codec === PLANE_STORED) {
      if (plane.data.byteLength !== expected) throw new InvalidMessageError(`compressed block: stored plane ${k} has ${plane.data.byteLength} bytes, not ${expected}`)
      return plane.data
    }
    if (plane.codec !== PLANE_ZSTD) throw new InvalidMessageError(`compressed block: plane ${k} has unknown codec ${plane.codec}`)
    let out: Buffer
    try {
      out = await decompress(plane.data, { maxOutputLength: Math.max(1, expected), params: { [zlib.ZSTD_d_windowLogMax]: ZSTD_WINDOW_LOG_MAX } })
    } catch (err: any) {
      if (err?.code === 'ERR_BUFFER_TOO_LARGE') throw new MessageTooLargeError(`compressed block: plane ${k} inflates past its ${expected} bytes`)
      throw new InvalidMessageError(`compressed block: plane ${k} does not inflate (${String(err?.code ?? err?.message)})`)
    }
    if (out.byteLength !== expected) throw new InvalidMessageError(`compressed block: plane ${k} inflates to ${out.byteLength} bytes, not ${expected}`)
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
  }))
  const bytes = joinPlanes(planes, block.length)
  const cid = cidOf(block.prefix.version, block.prefix.codec, block.prefix.hashCode, bytes)
  return cid == null ? undefined : { cid, bytes }
}

/**
 * Inflate the compressed blocks of one message, in order.
 *
 * @returns the blocks and how many named a hash we cannot compute
 * @throws as {@link inflateBlock}; the first failure rejects the whole message
 */
export async function inflateBlocks (blocks: CompressedBlockIn[]): Promise<{ blocks: Block[], unverifiable: number }> {
  const out: Block[] = []
  let unverifiable = 0
  for (const b of blocks) {
    const block = await inflateBlock(b)
    if (block == null) unverifiable++
    else out.push(block)
  }
  return { blocks: out, unverifiable }
}

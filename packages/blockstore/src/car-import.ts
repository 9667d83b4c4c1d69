/**
 * Streaming CAR import (CARv1 and CARv2), verifying every block before it is stored.
 */

import { createReadStream } from 'node:fs'
import * as dagCbor from '@ipld/dag-cbor'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { CustomProgressEvent } from 'progress-events'
import { CARV2_HEADER_SIZE, CARV2_PRAGMA, MAX_CAR_HEADER_SIZE, MAX_CAR_SECTION_SIZE } from './constants.js'
import { BlockHashMismatchError, InvalidCarError, UnsupportedHashError } from './errors.js'
import { StreamReader } from './stream-reader.js'
import { verifyBlock } from './verify.js'
import type { BlockProgressDetail } from './progress.js'
import type { Blockstore } from 'interface-blockstore'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

const log = logger('tensorswap:blockstore:car-import')

/** Progress events of {@link importCar}. */
export type ImportCarProgressEvents =
  ProgressEvent<'tensorswap:car:import:header', { version: 1 | 2, roots: CID[] }> |
  ProgressEvent<'tensorswap:car:import:block', BlockProgressDetail & { /** Byte offset of the block's section in the CAR stream. */ offset: number }>

/** Options of {@link importCar}. */
export interface ImportCarOptions extends ProgressOptions<ImportCarProgressEvents> {
  /** Abort the import; blocks already stored stay (each is verified and complete). */
  signal?: AbortSignal
  /** Name of the source used in error messages (e.g. the file path); `importCarFile` sets it. */
  name?: string
  /**
   * Largest section (`varint || CID || block`, excluding the varint) accepted, in bytes.
   *
   * @default 8388608 (MAX_CAR_SECTION_SIZE, go-car's DefaultMaxAllowedSectionSize)
   */
  maxSectionSize?: number
  /**
   * Largest CARv1 header accepted, in bytes.
   *
   * @default 33554432 (MAX_CAR_HEADER_SIZE, go-car's DefaultMaxAllowedHeaderSize)
   */
  maxHeaderSize?: number
}

/** Result of {@link importCar}. */
export interface ImportCarResult {
  /** Roots from the (inner) CARv1 header, in header order. */
  roots: CID[]
  /** Number of block sections read (duplicates counted; each is stored once). */
  blocks: number
  /** Sum of block sizes read, in bytes (CIDs and framing excluded). */
  bytes: number
}

/**
 * Read a CAR stream and store every block, verified, into `blockstore`.
 *
 * Formats: CARv1 (ipld specs, transport/car/carv1: `varint(len) || dag-cbor { version: 1, roots }`
 * then sections `varint(len) || CID || block`) and CARv2 (transport/car/carv2: the 11-byte pragma,
 * a 40-byte header with little-endian data offset and size, the CARv1 data payload, an optional
 * index which is ignored). Streaming with bounded memory: one section (<= `maxSectionSize`) plus
 * one source chunk is buffered at a time. Every block is checked with `verifyBlock` **before** it
 * is put; nothing unverified is stored. Reading stops at the end of a CARv2 data payload.
 *
 * @param blockstore - destination; its `put` receives `{ signal }`
 * @param source - CAR bytes in chunks of any size
 * @param options - signal, onProgress, limits, name for messages
 * @returns roots, block count and block bytes
 * @throws InvalidCarError - malformed input, with `offset`: truncated header or block, bad or
 *   over-long varint, header/section over the limits, header not dag-cbor or without roots, CID
 *   parse failure, zero-length section, unsupported version, CARv2 data payload out of bounds
 * @throws BlockHashMismatchError - a block does not hash to its CID (`offset`, `cid` set)
 * @throws UnsupportedHashError - a block's CID uses a hash `verifyBlock` cannot check (not identity, sha2-256, sha2-512)
 * @throws AbortError - `options.signal` aborted
 */
export async function importCar (blockstore: Pick<Blockstore, 'put'>, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: ImportCarOptions = {}): Promise<ImportCarResult> {
  const { signal } = options
  signal?.throwIfAborted()
  const reader = new StreamReader(source, signal)
  const ctx: Ctx = {
    reader,
    label: options.name != null ? `CAR ${options.name}` : 'CAR',
    maxSectionSize: options.maxSectionSize ?? MAX_CAR_SECTION_SIZE,
    maxHeaderSize: options.maxHeaderSize ?? MAX_CAR_HEADER_SIZE
  }
  try {
    let header = await readHeader(ctx, Infinity)
    let limit = Infinity
    if (header.version === 2) {
      const { dataOffset, dataSize } = await readV2Header(ctx)
      const skipped = await reader.skip(dataOffset - reader.pos)
      if (reader.pos !== dataOffset) {
        throw new InvalidCarError(`${ctx.label}: truncated at offset ${reader.pos} while seeking to CARv2 data offset ${dataOffset} (skipped ${skipped})`, reader.pos)
      }
      limit = dataOffset + dataSize
      header = await readHeader(ctx, limit)
      if (header.version !== 1) {
        throw new InvalidCarError(`${ctx.label}: CARv2 data payload at offset ${dataOffset} must be a CARv1, found version ${header.version}`, dataOffset)
      }
    }
    const roots = header.roots
    options.onProgress?.(new CustomProgressEvent('tensorswap:car:import:header', { version: header.version, roots }))
    let blocks = 0
    let bytes = 0
    while (true) {
      signal?.throwIfAborted()
      if (reader.pos === limit) break
      const offset = reader.pos
      const section = await readSection(ctx, limit)
      if (section == null) break
      const { cid, block } = section
      try {
        verifyBlock(cid, block)
      } catch (err: any) {
        if (err.name === BlockHashMismatchError.name) {
          throw new BlockHashMismatchError(`${ctx.label}: block at offset ${offset} does not hash to its CID ${cid}`, cid, offset)
        }
        if (err.name === UnsupportedHashError.name) {
          throw new UnsupportedHashError(`${ctx.label}: block at offset ${offset}: ${err.message}`, err.hashCode)
        }
        throw err
      }
      await blockstore.put(cid, block, { signal })
      blocks++
      bytes += block.byteLength
      options.onProgress?.(new CustomProgressEvent<BlockProgressDetail & { offset: number }>('tensorswap:car:import:block', { cid, bytes: block.byteLength, from: 'car', offset }))
      log.trace('imported %c (%d bytes) from offset %d', cid, block.byteLength, offset)
    }
    log('imported %d blocks, %d bytes from %s', blocks, bytes, ctx.label)
    return { roots, blocks, bytes }
  } finally {
    await reader.close()
  }
}

/**
 * {@link importCar} from a file; errors name the file.
 *
 * @param blockstore - destination
 * @param path - CAR file path
 * @param options - as {@link importCar} (`name` defaults to `path`)
 * @throws InvalidCarError, BlockHashMismatchError, UnsupportedHashError, AbortError - as {@link importCar}
 * @throws Error - the system error (`code` ENOENT, EACCES...) when the file cannot be read
 */
export async function importCarFile (blockstore: Pick<Blockstore, 'put'>, path: string, options: ImportCarOptions = {}): Promise<ImportCarResult> {
  options.signal?.throwIfAborted()
  const stream = createReadStream(path, { signal: options.signal })
  try {
    return await importCar(blockstore, stream, { ...options, name: options.name ?? path })
  } finally {
    stream.destroy()
  }
}

interface Ctx {
  reader: StreamReader
  label: string
  maxSectionSize: number
  maxHeaderSize: number
}

interface Header {
  version: 1 | 2
  roots: CID[]
}

/** Read `varint(len) || len bytes` framing, enforcing `max` and `limit`; returns undefined at a clean end of stream. */
async function readFrame (ctx: Ctx, what: string, max: number, limit: number, allowEof: boolean): Promise<Uint8Array | undefined> {
  const { reader, label } = ctx
  const offset = reader.pos
  const v = await reader.readVarint()
  switch (v.kind) {
    case 'eof':
      if (allowEof && limit === Infinity) return undefined
      throw new InvalidCarError(`${label}: truncated at offset ${offset}: expected ${what}${limit !== Infinity ? ` (CARv2 data payload ends at ${limit})` : ''}`, offset)
    case 'truncated':
      throw new InvalidCarError(`${label}: truncated varint at offset ${offset} (${what} length)`, offset)
    case 'too-long':
      throw new InvalidCarError(`${label}: bad varint at offset ${offset} (${what} length): over-long or non-minimal encoding`, offset)
    case 'too-large':
      throw new InvalidCarError(`${label}: bad varint at offset ${offset} (${what} length): value exceeds 2^53`, offset)
  }
  const length = v.value
  if (length === 0) {
    throw new InvalidCarError(`${label}: zero-length ${what} at offset ${offset}`, offset)
  }
  if (length > max) {
    throw new InvalidCarError(`${label}: ${what} at offset ${offset} declares ${length} bytes, over the limit of ${max} bytes`, offset)
  }
  if (offset + v.length + length > limit) {
    throw new InvalidCarError(`${label}: ${what} at offset ${offset} (${length} bytes) runs past the end of the CARv2 data payload at ${limit}`, offset)
  }
  reader.seek(v.length)
  const bytes = await reader.exactly(length)
  if (bytes == null) {
    throw new InvalidCarError(`${label}: truncated ${what} at offset ${offset}: declares ${length} bytes, only ${reader.available} available`, offset)
  }
  reader.seek(length)
  return bytes
}

async function readHeader (ctx: Ctx, limit: number): Promise<Header> {
  const offset = ctx.reader.pos
  const bytes = await readFrame(ctx, 'header', ctx.maxHeaderSize, limit, false) as Uint8Array
  let decoded: any
  try {
    decoded = dagCbor.decode(bytes)
  } catch (err) {
    throw new InvalidCarError(`${ctx.label}: header at offset ${offset} is not valid dag-cbor`, offset, { cause: err })
  }
  if (decoded == null || typeof decoded !== 'object' || Array.isArray(decoded)) {
    throw new InvalidCarError(`${ctx.label}: header at offset ${offset} is not a map`, offset)
  }
  if (decoded.version === 2) {
    if (offset !== 0 || !equals(CARV2_PRAGMA.subarray(1), bytes)) {
      throw new InvalidCarError(`${ctx.label}: malformed CARv2 pragma at offset ${offset}`, offset)
    }
    return { version: 2, roots: [] }
  }
  if (decoded.version !== 1) {
    throw new InvalidCarError(`${ctx.label}: unsupported CAR version ${String(decoded.version)} at offset ${offset} (expected 1 or 2)`, offset)
  }
  if (!Array.isArray(decoded.roots) || decoded.roots.length === 0) {
    throw new InvalidCarError(`${ctx.label}: header at offset ${offset} has no roots (CARv1 spec requires one or more)`, offset)
  }
  const roots: CID[] = []
  for (const r of decoded.roots) {
    const cid = CID.asCID(r)
    if (cid == null) throw new InvalidCarError(`${ctx.label}: header at offset ${offset} has a root that is not a CID`, offset)
    roots.push(cid)
  }
  return { version: 1, roots }
}

async function readV2Header (ctx: Ctx): Promise<{ dataOffset: number, dataSize: number }> {
  const { reader, label } = ctx
  const offset = reader.pos
  const bytes = await reader.exactly(CARV2_HEADER_SIZE)
  if (bytes == null) {
    throw new InvalidCarError(`${label}: truncated CARv2 header at offset ${offset}: need ${CARV2_HEADER_SIZE} bytes, only ${reader.available} available`, offset)
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  // bytes 0..15: characteristics bitfield (only "fully indexed" is defined); not needed to read data
  const dataOffset = view.getBigUint64(16, true)
  const dataSize = view.getBigUint64(24, true)
  reader.seek(CARV2_HEADER_SIZE)
  const minOffset = BigInt(CARV2_PRAGMA.byteLength + CARV2_HEADER_SIZE)
  if (dataOffset < minOffset || dataOffset + dataSize > BigInt(Number.MAX_SAFE_INTEGER) || dataSize === 0n) {
    throw new InvalidCarError(`${label}: CARv2 header at offset ${offset} has invalid data offset ${dataOffset} / size ${dataSize}`, offset)
  }
  return { dataOffset: Number(dataOffset), dataSize: Number(dataSize) }
}

async function readSection (ctx: Ctx, limit: number): Promise<{ cid: CID, block: Uint8Array } | undefined> {
  const offset = ctx.reader.pos
  const bytes = await readFrame(ctx, 'section', ctx.maxSectionSize, limit, true)
  if (bytes == null) return undefined
  let cid: CID
  let block: Uint8Array
  try {
    [cid, block] = CID.decodeFirst(bytes)
  } catch (err) {
    throw new InvalidCarError(`${ctx.label}: cannot parse the CID of the section at offset ${offset}`, offset, { cause: err })
  }
  return { cid, block }
}

function equals (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Validated decoding, protocol-aware encoding and size-bounded splitting of Bitswap
 * 1.0.0/1.1.0/1.2.0 messages (specs.ipfs.tech/bitswap-protocol), which `/tensorswap/1.0.0`
 * carries unchanged. The protobuf itself is `bitswap.proto` (generated `bitswap.ts`).
 *
 * Decoding never trusts the remote: CIDs are parsed and size-capped, enum values outside
 * the spec are rejected, list lengths are capped, and every block's CID is rebuilt by
 * hashing its data, so a {@link Block} is verified by construction.
 *
 * @module
 */

import { canVerify, cidOf, HASH_IDENTITY, HASH_SHA2_256, MAX_CID_BYTES } from '@tensorswap/blockstore'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import { concat } from 'uint8arrays/concat'
import { Uint8ArrayList } from 'uint8arraylist'
import { BITSWAP_100, BITSWAP_110, DEFAULT_MAX_BLOCK_BYTES, DEFAULT_MAX_INFLATED_MESSAGE_BYTES, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_PRESENCES, DEFAULT_MAX_WANTLIST_SIZE, TENSORSWAP_100 } from '../constants.js'
import { InvalidMessageError, MessageTooLargeError } from '../errors.js'
import { Message } from './bitswap.js'
import { PLANE_STORED, PLANE_ZSTD } from './compression.js'
import { PLANE_WIDTHS, planeLength } from './planes.js'
import type { CompressedBlockIn } from './compression.js'
import type { PlaneWidth } from './planes.js'

/** What a want-list entry asks for: the block itself, or whether the peer has it. */
export type WantType = 'block' | 'have'

/** One want-list entry (Bitswap 1.2.0 `Wantlist.Entry`). */
export interface WantEntry {
  /** The wanted block. */
  cid: CID
  /** Higher is served first (int32; senders default to 1). */
  priority: number
  /** Revokes an earlier entry for `cid`. */
  cancel: boolean
  /** Want the block, or only HAVE/DONT_HAVE. Always `'block'` on Bitswap 1.1.0. */
  wantType: WantType
  /** Ask for an explicit DONT_HAVE when the peer lacks the block (1.2.0). */
  sendDontHave: boolean
}

/** A want-list update or full want-list. */
export interface Wantlist {
  entries: WantEntry[]
  /** When true, `entries` replaces the receiver's copy of the sender's want-list. */
  full: boolean
}

/** A block and its CID. On decode the CID was computed from `bytes`. */
export interface Block {
  cid: CID
  bytes: Uint8Array
}

/** HAVE or DONT_HAVE (Bitswap 1.2.0 `BlockPresenceType`). */
export type PresenceType = 'have' | 'dont-have'

/** A HAVE/DONT_HAVE answer for one CID. */
export interface BlockPresence {
  cid: CID
  type: PresenceType
}

/** A Bitswap message in validated, typed form. */
export interface BitswapMessage {
  wantlist?: Wantlist
  blocks: Block[]
  presences: BlockPresence[]
  /** Bytes the sender still has queued for the receiver (1.2.0; 0 when unknown). */
  pendingBytes: number
  /**
   * `/tensorswap/1.0.0` only (spec/tensorswap.md §12): blocks in compressed wire form
   * (`compression.ts` makes them). Encoding them for another protocol throws.
   */
  compressed?: Message.CompressedBlock[]
  /**
   * `/tensorswap/1.0.0` only: bitmask of plane codecs the sender decodes (bit k = codec k),
   * sent with want-lists; dropped when encoding for Bitswap. 0 or absent: none.
   */
  acceptCodecs?: number
}

/** A decoded message plus what had to be left out. */
export interface DecodedMessage extends Omit<BitswapMessage, 'compressed' | 'acceptCodecs'> {
  /**
   * Compressed blocks, checked for shape (prefix, length, width, planes) but not inflated:
   * the network inflates them (`inflateBlocks`) and adds them to `blocks`.
   */
  compressed: CompressedBlockIn[]
  /** The sender's `acceptCodecs` (0 when absent). */
  acceptCodecs: number
  /** Blocks dropped because their hash function cannot be verified here (never requested by us). */
  unverifiableBlocks: number
  /**
   * Want-list entries (not cancels) left out because the message had more than
   * `maxWantlistSize`: the highest-priority ones are kept (boxo truncates the same way).
   */
  truncatedWants: number
}

/** Limits applied by {@link decodeMessage}. */
export interface DecodeLimits {
  /** @default {@link DEFAULT_MAX_MESSAGE_BYTES} */
  maxMessageBytes?: number
  /**
   * Most want-list entries (not counting cancels) kept from one message; more are truncated,
   * not rejected (see {@link DecodedMessage.truncatedWants}). @default {@link DEFAULT_MAX_WANTLIST_SIZE}
   */
  maxWantlistSize?: number
  /** Most block presences in one message. @default {@link DEFAULT_MAX_PRESENCES} */
  maxPresences?: number
  /** Largest block. @default {@link DEFAULT_MAX_BLOCK_BYTES} */
  maxBlockBytes?: number
  /** Most bytes the compressed blocks of one message may inflate to. @default {@link DEFAULT_MAX_INFLATED_MESSAGE_BYTES} */
  maxInflatedBytes?: number
}

const MAX_PREFIX_BYTES = 4 * 10

/**
 * Parse a CID sent as bytes.
 *
 * @throws `InvalidMessageError` when it does not parse or exceeds {@link MAX_CID_BYTES}
 */
function parseCid (bytes: Uint8Array, where: string): CID {
  if (bytes.byteLength > MAX_CID_BYTES) {
    throw new InvalidMessageError(`${where}: CID of ${bytes.byteLength} bytes exceeds ${MAX_CID_BYTES}`)
  }
  try {
    return CID.decode(bytes)
  } catch (err: any) {
    throw new InvalidMessageError(`${where}: CID does not parse (${err?.message})`)
  }
}

/** The parts of a Bitswap 1.1.0 CID prefix. */
export interface CidPrefix {
  version: 0 | 1
  codec: number
  hashCode: number
  hashLength: number
}

/**
 * Decode a CID prefix: four unsigned varints, CID version, codec, multihash code, digest length.
 *
 * @throws `InvalidMessageError` on truncation, trailing bytes, a version other than 0/1, or a
 *   CIDv0 prefix that is not dag-pb/sha2-256/32
 */
export function decodePrefix (prefix: Uint8Array, where = 'prefix'): CidPrefix {
  if (prefix.byteLength > MAX_PREFIX_BYTES) {
    throw new InvalidMessageError(`${where}: ${prefix.byteLength} bytes is too long for a CID prefix`)
  }
  const parts: number[] = []
  let offset = 0
  try {
    for (let i = 0; i < 4; i++) {
      if (offset >= prefix.byteLength) throw new Error(`truncated at byte offset ${offset}`)
      const [value, length] = varint.decode(prefix, offset)
      parts.push(value)
      offset += length
    }
  } catch (err: any) {
    throw new InvalidMessageError(`${where}: CID prefix does not parse (${err?.message})`)
  }
  if (offset !== prefix.byteLength) {
    throw new InvalidMessageError(`${where}: ${prefix.byteLength - offset} trailing bytes after CID prefix at byte offset ${offset}`)
  }
  const [version, codec, hashCode, hashLength] = parts as [number, number, number, number]
  if (version !== 0 && version !== 1) {
    throw new InvalidMessageError(`${where}: CID version ${version} is not 0 or 1`)
  }
  if (version === 0 && (codec !== 0x70 || hashCode !== HASH_SHA2_256 || hashLength !== 32)) {
    throw new InvalidMessageError(`${where}: CIDv0 prefix must be dag-pb, sha2-256, 32 bytes`)
  }
  return { version, codec, hashCode, hashLength }
}

/**
 * Encode the CID prefix of `cid` (version, codec, multihash code, digest length).
 *
 * @param cid - any CID
 * @returns 4..40 bytes
 */
export function encodePrefix (cid: CID): Uint8Array {
  const parts = [cid.version, cid.code, cid.multihash.code, cid.multihash.digest.byteLength]
  const out = new Uint8Array(parts.reduce((n, p) => n + varint.encodingLength(p), 0))
  let offset = 0
  for (const p of parts) {
    varint.encodeTo(p, out, offset)
    offset += varint.encodingLength(p)
  }
  return out
}

/**
 * Decode and validate one message (one frame body).
 *
 * @param bytes - the encoded protobuf
 * @param limits - see {@link DecodeLimits}
 * @returns the message; blocks carry CIDs computed from their bytes; a want-list over
 *   `maxWantlistSize` truncated to its highest-priority entries (plus every cancel)
 * @throws `MessageTooLargeError` when the message, a block or the presences exceed `limits`;
 *   `InvalidMessageError` for malformed protobuf, unknown enum values, bad CIDs or prefixes
 */
export function decodeMessage (bytes: Uint8Array | Uint8ArrayList, limits: DecodeLimits = {}): DecodedMessage {
  const maxMessageBytes = limits.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  const maxWantlistSize = limits.maxWantlistSize ?? DEFAULT_MAX_WANTLIST_SIZE
  const maxPresences = limits.maxPresences ?? DEFAULT_MAX_PRESENCES
  const maxBlockBytes = limits.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES
  const maxInflatedBytes = limits.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_MESSAGE_BYTES
  if (bytes.byteLength > maxMessageBytes) {
    throw new MessageTooLargeError(`message of ${bytes.byteLength} bytes exceeds maxMessageBytes ${maxMessageBytes}`)
  }
  let pb: Message
  // a frame read from a socket is a list of chunks: its blocks are taken from the chunks as they
  // are (a copy only for a block that spans two), not from one new buffer of the whole frame
  const split = bytes instanceof Uint8ArrayList ? splitPayload(bytes) : undefined
  try {
    pb = Message.decode(split?.rest ?? bytes, {
      limits: {
        // one over the cap so that "too many" is told apart from "malformed" below
        blocks: maxMessageBytes,
        payload: maxMessageBytes,
        blockPresences: maxPresences + 1,
        compressed: maxMessageBytes,
        // one over the widest element, so too many planes is told apart below
        compressed$: { planes: 5 },
        // a long want-list is truncated below, not rejected; the message size bounds it
        wantlist: { entries: maxMessageBytes }
      }
    })
  } catch (err: any) {
    if (err?.name === 'MaxLengthError') {
      throw new MessageTooLargeError(`message list exceeds its limit (${err.message})`)
    }
    throw new InvalidMessageError(`message does not decode as a Bitswap protobuf (${err?.message})`)
  }
  if (split != null) pb.payload = split.payload

  const message: DecodedMessage = { blocks: [], presences: [], pendingBytes: pb.pendingBytes, compressed: [], acceptCodecs: pb.acceptCodecs, unverifiableBlocks: 0, truncatedWants: 0 }

  if (pb.wantlist != null) {
    let entries = pb.wantlist.entries
    const wants = entries.filter(e => !e.cancel)
    if (wants.length > maxWantlistSize) {
      // keep every cancel and the highest-priority wants, in message order (as boxo's engine)
      const kept = new Set([...wants].sort((a, b) => b.priority - a.priority).slice(0, maxWantlistSize))
      message.truncatedWants = wants.length - maxWantlistSize
      entries = entries.filter(e => e.cancel || kept.has(e))
    }
    message.wantlist = {
      full: pb.wantlist.full,
      entries: entries.map((e, i) => ({
        cid: parseCid(e.block, `wantlist.entries[${i}].block`),
        priority: e.priority,
        cancel: e.cancel,
        wantType: e.wantType === Message.Wantlist.WantType.Have ? 'have' : 'block',
        sendDontHave: e.sendDontHave
      }))
    }
  }

  if (pb.blockPresences.length > maxPresences) {
    throw new MessageTooLargeError(`${pb.blockPresences.length} block presences exceed maxPresences ${maxPresences}`)
  }
  message.presences = pb.blockPresences.map((p, i) => ({
    cid: parseCid(p.cid, `blockPresences[${i}].cid`),
    type: p.type === Message.BlockPresenceType.DontHave ? 'dont-have' : 'have'
  }))

  // Bitswap 1.0.0 blocks: CIDv0 (dag-pb, sha2-256)
  pb.blocks.forEach((data, i) => {
    if (data.byteLength > maxBlockBytes) {
      throw new MessageTooLargeError(`blocks[${i}] of ${data.byteLength} bytes exceeds maxBlockBytes ${maxBlockBytes}`)
    }
    message.blocks.push({ cid: cidOf(0, 0x70, HASH_SHA2_256, data) as CID, bytes: data })
  })

  pb.payload.forEach((block, i) => {
    if (block.data.byteLength > maxBlockBytes) {
      throw new MessageTooLargeError(`payload[${i}] of ${block.data.byteLength} bytes exceeds maxBlockBytes ${maxBlockBytes}`)
    }
    const prefix = decodePrefix(block.prefix, `payload[${i}].prefix`)
    // identity blocks are never sent (the CID carries the block), so one on the wire is as unverifiable as an unknown hash
    if (prefix.hashCode === HASH_IDENTITY || !canVerify(prefix.hashCode, prefix.hashLength)) {
      message.unverifiableBlocks++
      return
    }
    const cid = cidOf(prefix.version, prefix.codec, prefix.hashCode, block.data)
    if (cid == null) {
      message.unverifiableBlocks++
      return
    }
    message.blocks.push({ cid, bytes: block.data })
  })

  let inflated = 0
  pb.compressed.forEach((block, i) => {
    const where = `compressed[${i}]`
    if (block.length > maxBlockBytes) {
      throw new MessageTooLargeError(`${where} of ${block.length} bytes decompressed exceeds maxBlockBytes ${maxBlockBytes}`)
    }
    inflated += block.length
    if (inflated > maxInflatedBytes) {
      throw new MessageTooLargeError(`compressed blocks inflating to over ${maxInflatedBytes} bytes in one message`)
    }
    const prefix = decodePrefix(block.prefix, `${where}.prefix`)
    if (!PLANE_WIDTHS.includes(block.width as PlaneWidth)) throw new InvalidMessageError(`${where}: width ${block.width} is not 1, 2 or 4`)
    if (block.planes.length !== block.width) throw new InvalidMessageError(`${where}: ${block.planes.length} planes for width ${block.width}`)
    block.planes.forEach((plane, k) => {
      const expected = planeLength(block.length, block.width, k)
      if (plane.codec === PLANE_STORED) {
        if (plane.data.byteLength !== expected) throw new InvalidMessageError(`${where}.planes[${k}]: stored plane of ${plane.data.byteLength} bytes, not ${expected}`)
      } else if (plane.codec === PLANE_ZSTD) {
        // a sender stores a plane zstd does not shrink, so a longer zstd plane is never honest
        if (expected === 0 || plane.data.byteLength === 0 || plane.data.byteLength >= expected) {
          throw new InvalidMessageError(`${where}.planes[${k}]: zstd plane of ${plane.data.byteLength} bytes for ${expected} bytes`)
        }
      } else {
        throw new InvalidMessageError(`${where}.planes[${k}]: unknown plane codec ${plane.codec}`)
      }
    })
    if (prefix.hashCode === HASH_IDENTITY || !canVerify(prefix.hashCode, prefix.hashLength)) {
      message.unverifiableBlocks++
      return
    }
    message.compressed.push({ prefix, length: block.length, width: block.width as PlaneWidth, planes: block.planes })
  })

  return message
}

/** Whether a protocol id carries Bitswap 1.2.0 semantics (want-have, presences). */
export function supportsHave (protocol: string): boolean {
  return protocol !== BITSWAP_110 && protocol !== BITSWAP_100
}

/** Field 3 of `Message` (`payload`, Bitswap 1.1.0+ blocks). */
const PAYLOAD_FIELD = 3
/** Wire type of each field `Message` declares (2: length-delimited, 0: varint); any other field is unknown. */
const MESSAGE_WIRE_TYPES = new Map([[1, 2], [2, 2], [3, 2], [4, 2], [5, 0], [100, 2], [101, 0]])

/** A message split by {@link splitPayload} is left to protons whole: this input is not plainly well formed. */
const NOT_PLAIN = Symbol('not plain')

/**
 * Field-by-field reading of a list of chunks without joining them. Single bytes are found by a
 * binary search over the chunks (`Uint8ArrayList.get` walks them from the first, for every
 * byte of every varint); ranges come from `Uint8ArrayList.subarray` (a view of one chunk, a
 * copy only when the range spans chunks).
 */
class Chunks {
  readonly #list: Uint8ArrayList
  readonly #bufs: Uint8Array[]
  /** Start offset of each chunk. */
  readonly #starts: number[] = []
  readonly length: number

  constructor (list: Uint8ArrayList) {
    this.#list = list
    this.#bufs = [...list]
    let o = 0
    for (const b of this.#bufs) {
      this.#starts.push(o)
      o += b.byteLength
    }
    this.length = o
  }

  /** How many chunks the list holds. */
  get chunks (): number {
    return this.#bufs.length
  }

  /** Index of the chunk holding byte `pos` (0 <= pos < length). */
  #chunk (pos: number): number {
    let lo = 0
    let hi = this.#bufs.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((this.#starts[mid] as number) <= pos) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  byte (pos: number): number {
    const c = this.#chunk(pos)
    return (this.#bufs[c] as Uint8Array)[pos - (this.#starts[c] as number)] as number
  }

  /** Bytes `start .. end` (end exclusive, within bounds). */
  slice (start: number, end: number): Uint8Array<ArrayBuffer> {
    return this.#list.subarray(start, end) as Uint8Array<ArrayBuffer>
  }

  /** The unsigned varint at `pos` before `end`, of at most 4 bytes (< 2^28): `[value, bytes]`; anything else is {@link NOT_PLAIN}. */
  varint (pos: number, end: number): [number, number] {
    let value = 0
    for (let i = 0; i < 4; i++) {
      if (pos + i >= end) throw NOT_PLAIN
      const b = this.byte(pos + i)
      value += (b & 0x7f) * 2 ** (7 * i)
      if (b < 0x80) return [value, i + 1]
    }
    throw NOT_PLAIN
  }

  /**
   * The field at `pos` (before `end`): its number, wire type, where its value starts and where
   * the field ends. A wire type other than 0, 1, 2 or 5, a field that runs past `end`, or a
   * declared field of `types` with another wire type is {@link NOT_PLAIN}.
   */
  field (pos: number, end: number, types: ReadonlyMap<number, number>): { field: number, wire: number, valueStart: number, fieldEnd: number } {
    const [tag, tagBytes] = this.varint(pos, end)
    const field = Math.floor(tag / 8)
    const wire = tag % 8
    const declared = types.get(field)
    if (field === 0 || (declared != null && declared !== wire)) throw NOT_PLAIN
    let valueStart = pos + tagBytes
    let fieldEnd: number
    if (wire === 0) fieldEnd = valueStart + this.varint(valueStart, end)[1]
    else if (wire === 1) fieldEnd = valueStart + 8
    else if (wire === 5) fieldEnd = valueStart + 4
    else if (wire === 2) {
      const [length, lengthBytes] = this.varint(valueStart, end)
      valueStart += lengthBytes
      fieldEnd = valueStart + length
    } else throw NOT_PLAIN
    if (fieldEnd > end) throw NOT_PLAIN
    return { field, wire, valueStart, fieldEnd }
  }
}

/** Wire types of `Message.Block`'s fields. */
const BLOCK_WIRE_TYPES = new Map([[1, 2], [2, 2]])

/**
 * Take the `payload` entries (field 3) out of a message held as a list of chunks: each block's
 * `prefix` and `data` as views of the chunks (copied only when they span two), and the other
 * fields' bytes joined in their order (`rest`, small: want-lists and presences) for protons.
 * Only for a plainly well-formed top level (every field within bounds, declared fields with
 * their own wire type, no group, varints of at most 4 bytes): there protons reads the same
 * fields the same way. Anything else returns `undefined`, and protons decodes the joined bytes
 * as before. One difference remains on malformed input: protons reads a malformed sub-message
 * (a want-list entry, say) past its declared end into the fields after it, while here each
 * top-level field ends where it says; either way the result is a typed error or a message whose
 * blocks are verified against their CIDs.
 *
 * Why: decoding the list as one buffer joined every frame of up to 4 MiB into a new one; on this
 * machine a fresh buffer costs more than the copy (its pages are faulted in): 9 % of a
 * small-block fetch's busy time (bench/README.md "Stop 34").
 */
function splitPayload (list: Uint8ArrayList): { rest: Uint8Array, payload: Message.Block[] } | undefined {
  const chunks = new Chunks(list)
  // one chunk: protons reads it in place, nothing to join
  if (chunks.chunks < 2) return undefined
  const end = chunks.length
  const payload: Message.Block[] = []
  const rest: Uint8Array[] = []
  let restBytes = 0
  try {
    for (let pos = 0; pos < end;) {
      const f = chunks.field(pos, end, MESSAGE_WIRE_TYPES)
      if (f.field === PAYLOAD_FIELD) {
        let prefix: Uint8Array<ArrayBuffer> = new Uint8Array(0)
        let data: Uint8Array<ArrayBuffer> = new Uint8Array(0)
        for (let p = f.valueStart; p < f.fieldEnd;) {
          const g = chunks.field(p, f.fieldEnd, BLOCK_WIRE_TYPES)
          // the last occurrence wins, as protons reads it; unknown fields are skipped
          if (g.field === 1) prefix = chunks.slice(g.valueStart, g.fieldEnd)
          else if (g.field === 2) data = chunks.slice(g.valueStart, g.fieldEnd)
          p = g.fieldEnd
        }
        payload.push({ prefix, data })
      } else {
        const bytes = chunks.slice(pos, f.fieldEnd)
        rest.push(bytes)
        restBytes += bytes.byteLength
      }
      pos = f.fieldEnd
    }
  } catch (err) {
    if (err === NOT_PLAIN) return undefined
    throw err
  }
  return { rest: concat(rest, restBytes), payload }
}

/**
 * Rewrite a message for what `protocol` can carry. On 1.1.0 (and 1.0.0): presences and
 * pendingBytes are dropped, want-have entries that are not cancels are dropped, and
 * `sendDontHave` is cleared. 1.2.0 and `/tensorswap/1.0.0` keep everything.
 *
 * @param message - the message to send
 * @param protocol - the negotiated protocol id
 */
export function downgradeMessage (message: BitswapMessage, protocol: string): BitswapMessage {
  if (protocol !== TENSORSWAP_100) {
    // Bitswap peers see plain blocks only, and no TensorSwap field (spec/tensorswap.md §12)
    if ((message.compressed?.length ?? 0) > 0) throw new Error(`compressed blocks cannot be sent on ${protocol}`)
    if (message.acceptCodecs != null) message = { ...message, acceptCodecs: undefined }
  }
  if (supportsHave(protocol)) return message
  const out: BitswapMessage = { blocks: message.blocks, presences: [], pendingBytes: 0 }
  if (message.wantlist != null) {
    out.wantlist = {
      full: message.wantlist.full,
      entries: message.wantlist.entries
        .filter(e => e.cancel || e.wantType === 'block')
        .map(e => ({ ...e, wantType: 'block', sendDontHave: false }))
    }
  }
  return out
}

function toPbEntry (e: WantEntry): Message.Wantlist.Entry {
  return {
    block: e.cid.bytes as Uint8Array<ArrayBuffer>,
    priority: e.priority | 0,
    cancel: e.cancel,
    wantType: e.wantType === 'have' ? Message.Wantlist.WantType.Have : Message.Wantlist.WantType.Block,
    sendDontHave: e.sendDontHave
  }
}

function toPbPresence (p: BlockPresence): Message.BlockPresence {
  return {
    cid: p.cid.bytes as Uint8Array<ArrayBuffer>,
    type: p.type === 'dont-have' ? Message.BlockPresenceType.DontHave : Message.BlockPresenceType.Have
  }
}

function toPbBlock (b: Block): Message.Block {
  return { prefix: encodePrefix(b.cid) as Uint8Array<ArrayBuffer>, data: b.bytes as Uint8Array<ArrayBuffer> }
}

/**
 * Encode one message as `protocol` carries it (see {@link downgradeMessage}). Does not split:
 * use {@link splitMessage} for anything that may exceed the message cap.
 *
 * @param message - the message
 * @param protocol - the negotiated protocol id
 * @returns the protobuf bytes (without length prefix)
 */
export function encodeMessage (message: BitswapMessage, protocol: string): Uint8Array {
  const m = downgradeMessage(message, protocol)
  return encodeParts(
    m.wantlist == null ? undefined : { full: m.wantlist.full, entries: m.wantlist.entries.map(toPbEntry) },
    m.blocks.map(toPbBlock),
    m.presences.map(toPbPresence),
    clampInt32(m.pendingBytes),
    m.compressed ?? [],
    m.acceptCodecs ?? 0
  ).subarray()
}

/** Tag byte of `Message.payload` (field 3, length-delimited). */
const PAYLOAD_TAG = (3 << 3) | 2
/** Tag byte of `Message.Block.prefix` (field 1, length-delimited). */
const BLOCK_PREFIX_TAG = (1 << 3) | 2
/** Tag byte of `Message.Block.data` (field 2, length-delimited). */
const BLOCK_DATA_TAG = (2 << 3) | 2

/**
 * Encode a message with the block data referenced, not copied: the fields in field-number
 * order (wantlist, payload, blockPresences, pendingBytes), each `payload` entry written by
 * hand as `tag, length, prefix field, data tag, data length` followed by the block's own
 * bytes. Byte-identical to protons' encoding of the same message (tested), without the copy
 * of every block into one new buffer.
 */
function encodeParts (wantlist: Message.Wantlist | undefined, payload: Message.Block[], presences: Message.BlockPresence[], pendingBytes: number, compressed: Message.CompressedBlock[] = [], acceptCodecs = 0): Uint8ArrayList {
  const out = new Uint8ArrayList()
  if (wantlist != null) out.append(Message.encode({ wantlist, blocks: [], payload: [], blockPresences: [], pendingBytes: 0, compressed: [], acceptCodecs: 0 }))
  for (const b of payload) {
    // proto3: an empty `data` is not written (as protons does)
    const hasData = b.data.byteLength > 0
    const inner = fieldBytes(b.prefix.byteLength) + (hasData ? 1 + varint.encodingLength(b.data.byteLength) : 0)
    const innerLength = inner + b.data.byteLength
    const head = new Uint8Array(1 + varint.encodingLength(innerLength) + inner)
    let o = 0
    head[o++] = PAYLOAD_TAG
    varint.encodeTo(innerLength, head, o)
    o += varint.encodingLength(innerLength)
    head[o++] = BLOCK_PREFIX_TAG
    varint.encodeTo(b.prefix.byteLength, head, o)
    o += varint.encodingLength(b.prefix.byteLength)
    head.set(b.prefix, o)
    o += b.prefix.byteLength
    if (!hasData) {
      out.append(head)
      continue
    }
    head[o++] = BLOCK_DATA_TAG
    varint.encodeTo(b.data.byteLength, head, o)
    out.append(head, b.data)
  }
  if (presences.length > 0 || pendingBytes !== 0) {
    out.append(Message.encode({ blocks: [], payload: [], blockPresences: presences, pendingBytes, compressed: [], acceptCodecs: 0 }))
  }
  // fields 100 and 101 (TensorSwap): field order is free in protobuf; these come last
  if (compressed.length > 0 || acceptCodecs !== 0) {
    out.append(Message.encode({ blocks: [], payload: [], blockPresences: [], pendingBytes: 0, compressed, acceptCodecs }))
  }
  return out
}

/** `value` as a non-negative int32 (pendingBytes is an int32 on the wire). */
function clampInt32 (value: number): number {
  return Math.max(0, Math.min(2 ** 31 - 1, Math.floor(value)))
}

/** Bytes a length-delimited field of `length` bytes takes inside its parent (tag + length + body). */
function fieldBytes (length: number): number {
  return 1 + varint.encodingLength(length) + length
}

/** Encoded size of an int32 varint field (negative values take 10 bytes). */
function int32FieldBytes (value: number): number {
  if (value === 0) return 0
  return 1 + (value < 0 ? 10 : varint.encodingLength(value))
}

/** Options of {@link splitMessage}. */
export interface SplitOptions {
  /** Largest encoded message, bytes. @default {@link DEFAULT_MAX_MESSAGE_BYTES} */
  maxMessageBytes?: number
  /** Most decompressed bytes of the compressed blocks of one part. @default {@link DEFAULT_MAX_INFLATED_MESSAGE_BYTES} */
  maxInflatedBytes?: number
}

/** Bytes a field numbered 16..2047 (two-byte tag) of `length` bytes takes: the TensorSwap fields. */
function wideFieldBytes (length: number): number {
  return 2 + varint.encodingLength(length) + length
}

/**
 * Split a message into encoded messages each at most `maxMessageBytes` long. Want-list
 * entries go first, then presences, then blocks (control information is never queued
 * behind data). When a full want-list is split, only the first part says `full`, so the
 * receiver replaces its copy once and adds the rest. `pendingBytes` rides on the last part.
 *
 * @param message - the message to send
 * @param protocol - the negotiated protocol id (1.1.0 downgrade applies)
 * @param options - see {@link SplitOptions}
 * @returns encoded parts, each a list of chunks that reference the blocks' bytes (no copy;
 *   `.subarray()` gives one contiguous buffer); none when the message is empty
 * @throws `MessageTooLargeError` when one block or entry cannot fit in an empty message
 */
export function splitMessage (message: BitswapMessage, protocol: string, options: SplitOptions = {}): Uint8ArrayList[] {
  const max = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  const maxInflated = options.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_MESSAGE_BYTES
  const m = downgradeMessage(message, protocol)
  const compressed = m.compressed ?? []
  const acceptCodecs = m.acceptCodecs ?? 0
  const entries = (m.wantlist?.entries ?? []).map(toPbEntry)
  const presences = m.presences.map(toPbPresence)
  const blocks = m.blocks.map(toPbBlock)
  const full = m.wantlist?.full ?? false

  const entrySize = (e: Message.Wantlist.Entry): number => fieldBytes(Message.Wantlist.Entry.encode(e).byteLength)
  const presenceSize = (p: Message.BlockPresence): number => fieldBytes(Message.BlockPresence.encode(p).byteLength)
  const blockSize = (b: Message.Block): number => fieldBytes(fieldBytes(b.prefix.byteLength) + fieldBytes(b.data.byteLength))

  interface Part { entries: Message.Wantlist.Entry[], entriesBytes: number, presences: Message.BlockPresence[], blocks: Message.Block[], compressed: Message.CompressedBlock[], inflated: number, bytes: number, full: boolean }
  const parts: Part[] = []
  // acceptCodecs rides on every part (a few bytes); pendingBytes on the last, counted on all
  const pendingBytesSize = int32FieldBytes(clampInt32(m.pendingBytes)) + (acceptCodecs !== 0 ? 2 + varint.encodingLength(acceptCodecs) : 0)
  /** Size of a part with `entriesBytes` of entries: wrapper + full flag + pendingBytes. */
  const overhead = (entriesBytes: number, hasWantlist: boolean, isFull: boolean): number =>
    (hasWantlist ? fieldBytes(entriesBytes + (isFull ? 2 : 0)) - entriesBytes : 0) + pendingBytesSize
  const newPart = (): Part => ({ entries: [], entriesBytes: 0, presences: [], blocks: [], compressed: [], inflated: 0, bytes: 0, full: parts.length === 0 && full })
  let part = newPart()
  const hasWantlist = m.wantlist != null
  const sizeOf = (p: Part): number => p.bytes + p.entriesBytes + overhead(p.entriesBytes, hasWantlist, p.full)
  const isEmpty = (p: Part): boolean => p.entries.length + p.presences.length + p.blocks.length + p.compressed.length === 0

  const add = (size: number, push: (p: Part) => void, isEntry: boolean, what: string, inflated = 0): void => {
    const fits = (p: Part): boolean => isEntry
      ? p.bytes + p.entriesBytes + size + overhead(p.entriesBytes + size, hasWantlist, p.full) <= max
      : sizeOf(p) + size <= max && p.inflated + inflated <= maxInflated
    if (!fits(part)) {
      if (isEmpty(part)) throw new MessageTooLargeError(`${what} of ${size} encoded bytes cannot fit in a message of ${max} bytes`)
      parts.push(part)
      part = newPart()
      if (!fits(part)) throw new MessageTooLargeError(`${what} of ${size} encoded bytes cannot fit in a message of ${max} bytes`)
    }
    if (isEntry) part.entriesBytes += size
    else part.bytes += size
    push(part)
  }

  entries.forEach((e, i) => { add(entrySize(e), p => p.entries.push(e), true, `wantlist entry ${i}`) })
  presences.forEach((pr, i) => { add(presenceSize(pr), p => p.presences.push(pr), false, `presence ${i}`) })
  blocks.forEach((b, i) => { add(blockSize(b), p => p.blocks.push(b), false, `block ${i}`) })
  compressed.forEach((c, i) => {
    add(wideFieldBytes(Message.CompressedBlock.encode(c).byteLength), p => { p.compressed.push(c); p.inflated += c.length }, false, `compressed block ${i}`, c.length)
  })
  if (!isEmpty(part) || (parts.length === 0 && (hasWantlist || m.pendingBytes !== 0))) parts.push(part)

  return parts.map((p, i) => encodeParts(
    hasWantlist ? { full: p.full, entries: p.entries } : undefined,
    p.blocks,
    p.presences,
    i === parts.length - 1 ? clampInt32(m.pendingBytes) : 0,
    p.compressed,
    acceptCodecs
  ))
}

/**
 * Whether a message carries nothing (no entries, blocks or presences).
 *
 * @param message - any message
 */
export function isEmptyMessage (message: BitswapMessage): boolean {
  return (message.wantlist?.entries.length ?? 0) === 0 && message.blocks.length === 0 && (message.compressed?.length ?? 0) === 0 && message.presences.length === 0 && message.wantlist?.full !== true
}

/**
 * Total payload bytes of the blocks in a message.
 *
 * @param message - any message
 */
export function blockBytes (message: BitswapMessage): number {
  return message.blocks.reduce((n, b) => n + b.bytes.byteLength, 0)
}

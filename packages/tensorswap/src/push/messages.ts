/**
 * Push request and response: DAG-CBOR maps, one per varint-length-prefixed frame
 * (spec/tensorswap.md §8 "Push"). Pure: encode and validated decode.
 *
 * @module
 */
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { InvalidPushMessageError } from './errors.js'

/** `{ root, bytes, blocks }`: fetch the DAG under `root`; `bytes` (sum of block lengths) and `blocks` as the pusher counted them. */
export interface PushRequest {
  root: CID
  /** The DAG's size as announced: sum of its block lengths, bytes. */
  bytes: number
  /** The DAG's block count as announced. */
  blocks: number
}

/** The receiver's answer once it holds the whole DAG. */
export interface PushAccepted {
  ok: true
  /** Blocks fetched from the network for this push. */
  blocks: number
  /** Block bytes fetched from the network (what moved), bytes. */
  bytes: number
  /** Blocks of the DAG the receiver had already. */
  blocksAlreadyThere: number
  /** Receiver's wall time from request to holding the DAG, seconds. */
  seconds: number
}

/** The receiver's refusal (policy, limit, bad request, failed fetch). */
export interface PushRefused {
  ok: false
  /** Human-readable reason, at most {@link MAX_REASON_CHARS} characters. */
  reason: string
}

/** A push response. */
export type PushResponse = PushAccepted | PushRefused

/** Longest reason a response carries, characters (longer ones are cut). */
export const MAX_REASON_CHARS = 512

function isCount (n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
}

function decodeMap (bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err: any) {
    throw new InvalidPushMessageError(`${what} is not DAG-CBOR: ${String(err.message)}`)
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array || CID.asCID(value) != null) {
    throw new InvalidPushMessageError(`${what} is not a map`)
  }
  return value as Record<string, unknown>
}

/** Encode a request as DAG-CBOR. */
export function encodePushRequest (req: PushRequest): Uint8Array {
  return dagCbor.encode({ root: req.root, bytes: req.bytes, blocks: req.blocks })
}

/**
 * Decode and check a request: `root` a CID, `bytes` and `blocks` non-negative safe integers.
 *
 * @throws InvalidPushMessageError - not DAG-CBOR, not a map, or a field missing or of the wrong type
 */
export function decodePushRequest (bytes: Uint8Array): PushRequest {
  const m = decodeMap(bytes, 'push request')
  const root = CID.asCID(m.root)
  if (root == null) throw new InvalidPushMessageError('push request: root is not a CID')
  if (!isCount(m.bytes)) throw new InvalidPushMessageError(`push request: bytes ${String(m.bytes)} is not a non-negative safe integer`)
  if (!isCount(m.blocks)) throw new InvalidPushMessageError(`push request: blocks ${String(m.blocks)} is not a non-negative safe integer`)
  return { root, bytes: m.bytes, blocks: m.blocks }
}

/** Encode a response as DAG-CBOR (seconds as a float, reason cut to {@link MAX_REASON_CHARS}). */
export function encodePushResponse (res: PushResponse): Uint8Array {
  if (res.ok) return dagCbor.encode({ ok: true, blocks: res.blocks, bytes: res.bytes, blocksAlreadyThere: res.blocksAlreadyThere, seconds: res.seconds })
  return dagCbor.encode({ ok: false, reason: res.reason.slice(0, MAX_REASON_CHARS) })
}

/**
 * Decode and check a response.
 *
 * @throws InvalidPushMessageError - not DAG-CBOR, or not one of the two shapes
 */
export function decodePushResponse (bytes: Uint8Array): PushResponse {
  const m = decodeMap(bytes, 'push response')
  if (m.ok === false) {
    if (typeof m.reason !== 'string') throw new InvalidPushMessageError('push response: reason is not a string')
    return { ok: false, reason: m.reason }
  }
  if (m.ok !== true) throw new InvalidPushMessageError('push response: ok is not a boolean')
  if (!isCount(m.blocks) || !isCount(m.bytes) || !isCount(m.blocksAlreadyThere) || typeof m.seconds !== 'number' || !(m.seconds >= 0)) {
    throw new InvalidPushMessageError('push response: blocks, bytes, blocksAlreadyThere, seconds missing or of the wrong type')
  }
  return { ok: true, blocks: m.blocks, bytes: m.bytes, blocksAlreadyThere: m.blocksAlreadyThere, seconds: m.seconds }
}

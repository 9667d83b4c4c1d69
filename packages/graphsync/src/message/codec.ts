/**
 * GraphSync 2.0.0 message codec: DAG-CBOR, strictly validated against the schema in
 * `./types.ts`. Parsing owns no I/O: it takes one message's bytes (the length-prefix
 * framing belongs to the network layer).
 */
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { varint } from 'multiformats'
import { cidOf } from '@tensorswap/blockstore'
import { logger } from '@libp2p/logger'
import { InvalidMessageError, InvalidSelectorError, SelectorLimitError, UnsupportedHashError } from '../errors.js'
import { MAX_DO_NOT_SEND_CIDS, MAX_MESSAGE_SIZE, REQUEST_ID_LENGTH } from '../constants.js'
import { decodeOrderedDagCbor, encodeSelector, parseSelector } from '../selector/parse.js'
import { LinkAction, RequestType, ResponseStatusCode } from './types.js'
import type { Extensions, GraphSyncBlock, GraphSyncMessage, GraphSyncMetadatum, GraphSyncRequest, GraphSyncResponse } from './types.js'

const log = logger('tensorswap:graphsync:message')

const REQUEST_TYPES = new Set<string>(Object.values(RequestType))
const STATUS_CODES = new Set<number>(Object.values(ResponseStatusCode))
const LINK_ACTIONS = new Set<string>(Object.values(LinkAction))
/** Nesting bound for extension values we convert (the message size bounds the rest). */
const MAX_EXTENSION_NESTING = 64

function fail (where: string, what: string): never {
  throw new InvalidMessageError(`graphsync message ${where}: ${what}`)
}

function asMap (v: unknown, where: string): Map<string, unknown> {
  if (!(v instanceof Map)) fail(where, 'must be a map')
  return v as Map<string, unknown>
}

function checkKeys (m: Map<string, unknown>, allowed: string[], required: string[], where: string): void {
  for (const k of m.keys()) if (!allowed.includes(k)) fail(where, `unknown key "${k}"`)
  for (const k of required) if (!m.has(k)) fail(where, `missing key "${k}"`)
}

function asList (v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) fail(where, 'must be a list')
  return v
}

function asBytes (v: unknown, where: string): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(where, 'must be bytes')
  return v
}

function asCid (v: unknown, where: string): CID {
  const c = CID.asCID(v)
  if (c == null) fail(where, 'must be a link')
  return c
}

function asInt32 (v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) fail(where, 'must be an int32')
  return v
}

function requestId (v: unknown, where: string): Uint8Array {
  const id = asBytes(v, where)
  if (id.byteLength !== REQUEST_ID_LENGTH) fail(where, `must be ${REQUEST_ID_LENGTH} bytes (a UUID), got ${id.byteLength}`)
  return id
}

/** Convert decoded `Map`s to plain objects (the form @ipld/dag-cbor users expect). */
function toPlain (v: unknown, where: string, depth: number): unknown {
  if (depth > MAX_EXTENSION_NESTING) fail(where, `nested deeper than ${MAX_EXTENSION_NESTING}`)
  if (v instanceof Map) {
    const out: Record<string, unknown> = {}
    for (const [k, x] of v) {
      if (typeof k !== 'string') fail(where, 'map keys must be strings')
      Object.defineProperty(out, k, { value: toPlain(x, `${where}/${k}`, depth + 1), enumerable: true, writable: true, configurable: true })
    }
    return out
  }
  if (Array.isArray(v)) return v.map((x, i) => toPlain(x, `${where}/${i}`, depth + 1))
  return v
}

function extensions (v: unknown, where: string): Extensions {
  const m = asMap(v, where)
  const out: Extensions = {}
  for (const [k, x] of m) {
    if (typeof k !== 'string') fail(where, 'extension names must be strings')
    Object.defineProperty(out, k, { value: toPlain(x, `${where}/${k}`, 0), enumerable: true, writable: true, configurable: true })
  }
  return out
}

function parseRequest (v: unknown, where: string): GraphSyncRequest {
  const m = asMap(v, where)
  checkKeys(m, ['id', 'type', 'pri', 'root', 'sel', 'ext'], ['id', 'type'], where)
  const type = m.get('type')
  if (typeof type !== 'string' || !REQUEST_TYPES.has(type)) fail(`${where}/type`, 'must be "n", "c" or "u"')
  const out: GraphSyncRequest = { id: requestId(m.get('id'), `${where}/id`), type: type as RequestType }
  if (m.has('pri')) out.priority = asInt32(m.get('pri'), `${where}/pri`)
  if (m.has('root')) out.root = asCid(m.get('root'), `${where}/root`)
  if (m.has('sel')) {
    try {
      out.selector = parseSelector(m.get('sel'))
    } catch (err: any) {
      if (err instanceof InvalidSelectorError || err instanceof SelectorLimitError) {
        throw new InvalidMessageError(`graphsync message ${where}/sel: ${err.name}: ${err.message}`, { cause: err })
      }
      throw err
    }
  }
  if (m.has('ext')) out.extensions = extensions(m.get('ext'), `${where}/ext`)
  if (out.type === RequestType.New) {
    if (out.root === undefined) fail(where, 'a new request ("n") needs "root"')
    if (out.selector === undefined) fail(where, 'a new request ("n") needs "sel"')
  }
  return out
}

function parseMetadatum (v: unknown, where: string): GraphSyncMetadatum {
  const t = asList(v, where)
  if (t.length !== 2) fail(where, 'metadatum must be a [link, action] tuple')
  const action = t[1]
  if (typeof action !== 'string' || !LINK_ACTIONS.has(action)) fail(`${where}/1`, 'action must be "p", "d", "m" or "s"')
  return { link: asCid(t[0], `${where}/0`), action: action as LinkAction }
}

function parseResponse (v: unknown, where: string): GraphSyncResponse {
  const m = asMap(v, where)
  checkKeys(m, ['reqid', 'stat', 'meta', 'ext'], ['reqid', 'stat'], where)
  const stat = m.get('stat')
  if (typeof stat !== 'number' || !STATUS_CODES.has(stat)) fail(`${where}/stat`, `unknown status code ${String(stat)}`)
  const out: GraphSyncResponse = { requestId: requestId(m.get('reqid'), `${where}/reqid`), status: stat as ResponseStatusCode }
  if (m.has('meta')) out.metadata = asList(m.get('meta'), `${where}/meta`).map((x, i) => parseMetadatum(x, `${where}/meta/${i}`))
  if (m.has('ext')) out.extensions = extensions(m.get('ext'), `${where}/ext`)
  return out
}

function parseBlock (v: unknown, where: string): GraphSyncBlock {
  const t = asList(v, where)
  if (t.length !== 2) fail(where, 'block must be a [prefix, data] tuple')
  const block = { prefix: asBytes(t[0], `${where}/0`), data: asBytes(t[1], `${where}/1`) }
  parsePrefix(block.prefix, `${where}/0`)
  return block
}

/**
 * Decode one GraphSync 2.0.0 message (DAG-CBOR bytes, without the length prefix).
 * Selectors are parsed (ExploreFields in encoded key order); extension values are
 * returned as plain IPLD data (objects, lists, CIDs, bytes...).
 *
 * @throws InvalidMessageError when the bytes exceed `maxSize`, are not strict DAG-CBOR,
 *   or do not follow the 2.0.0 schema (the message names the field path)
 */
export function decodeMessage (bytes: Uint8Array, options: { maxSize?: number } = {}): GraphSyncMessage {
  const maxSize = options.maxSize ?? MAX_MESSAGE_SIZE
  if (bytes.byteLength > maxSize) fail('', `${bytes.byteLength} bytes, more than ${maxSize}`)
  const root = asMap(decodeOrderedDagCbor(bytes, 'graphsync message', InvalidMessageError), 'root')
  checkKeys(root, ['gs2'], ['gs2'], 'root')
  const gs2 = asMap(root.get('gs2'), 'gs2')
  checkKeys(gs2, ['req', 'rsp', 'blk'], [], 'gs2')
  const msg: GraphSyncMessage = {
    requests: gs2.has('req') ? asList(gs2.get('req'), 'gs2/req').map((r, i) => parseRequest(r, `gs2/req/${i}`)) : [],
    responses: gs2.has('rsp') ? asList(gs2.get('rsp'), 'gs2/rsp').map((r, i) => parseResponse(r, `gs2/rsp/${i}`)) : [],
    blocks: gs2.has('blk') ? asList(gs2.get('blk'), 'gs2/blk').map((b, i) => parseBlock(b, `gs2/blk/${i}`)) : []
  }
  log.trace('decoded message: %d requests, %d responses, %d blocks', msg.requests.length, msg.responses.length, msg.blocks.length)
  return msg
}

/**
 * Encode one GraphSync 2.0.0 message to DAG-CBOR (without the length prefix). The
 * message is validated with the same rules as {@link decodeMessage}.
 *
 * @throws InvalidMessageError when a field is invalid or the encoding exceeds `maxSize`
 */
export function encodeMessage (msg: GraphSyncMessage, options: { maxSize?: number } = {}): Uint8Array {
  const gs2: Record<string, unknown> = {}
  if (msg.requests.length > 0) {
    gs2.req = msg.requests.map((r, i) => {
      const where = `gs2/req/${i}`
      const out: Record<string, unknown> = { id: requestId(r.id, `${where}/id`), type: r.type }
      if (!REQUEST_TYPES.has(r.type)) fail(`${where}/type`, 'must be "n", "c" or "u"')
      if (r.priority !== undefined) out.pri = asInt32(r.priority, `${where}/pri`)
      if (r.root !== undefined) out.root = asCid(r.root, `${where}/root`)
      if (r.selector !== undefined) out.sel = encodeSelector(r.selector)
      if (r.extensions !== undefined) out.ext = r.extensions
      if (r.type === RequestType.New && (r.root === undefined || r.selector === undefined)) fail(where, 'a new request ("n") needs root and selector')
      return out
    })
  }
  if (msg.responses.length > 0) {
    gs2.rsp = msg.responses.map((r, i) => {
      const where = `gs2/rsp/${i}`
      if (!STATUS_CODES.has(r.status)) fail(`${where}/stat`, `unknown status code ${String(r.status)}`)
      const out: Record<string, unknown> = { reqid: requestId(r.requestId, `${where}/reqid`), stat: r.status }
      if (r.metadata !== undefined) {
        out.meta = r.metadata.map((m, j) => {
          if (!LINK_ACTIONS.has(m.action)) fail(`${where}/meta/${j}/1`, 'action must be "p", "d", "m" or "s"')
          return [asCid(m.link, `${where}/meta/${j}/0`), m.action]
        })
      }
      if (r.extensions !== undefined) out.ext = r.extensions
      return out
    })
  }
  if (msg.blocks.length > 0) {
    gs2.blk = msg.blocks.map((b, i) => {
      parsePrefix(asBytes(b.prefix, `gs2/blk/${i}/0`), `gs2/blk/${i}/0`)
      return [b.prefix, asBytes(b.data, `gs2/blk/${i}/1`)]
    })
  }
  let bytes: Uint8Array
  try {
    bytes = dagCbor.encode({ gs2 })
  } catch (err: any) {
    throw new InvalidMessageError(`graphsync message: cannot encode as DAG-CBOR: ${String(err?.message ?? err)}`, { cause: err })
  }
  const maxSize = options.maxSize ?? MAX_MESSAGE_SIZE
  if (bytes.byteLength > maxSize) fail('', `encodes to ${bytes.byteLength} bytes, more than ${maxSize}`)
  return bytes
}

/** A parsed CID prefix. */
export interface CidPrefix {
  version: 0 | 1
  codec: number
  multihashCode: number
  digestLength: number
}

/**
 * Parse a block prefix: varints of CID version, codec, multihash code, digest length.
 *
 * @throws InvalidMessageError when malformed (truncated varints, trailing bytes, bad version, v0 not dag-pb/sha2-256)
 */
export function parsePrefix (prefix: Uint8Array, where = 'prefix'): CidPrefix {
  const values: number[] = []
  let offset = 0
  try {
    for (let i = 0; i < 4; i++) {
      const [value, length] = varint.decode(prefix, offset)
      values.push(value)
      offset += length
    }
  } catch (err: any) {
    fail(where, `malformed CID prefix: ${String(err?.message ?? err)}`)
  }
  if (offset !== prefix.byteLength || values.some(v => !Number.isSafeInteger(v))) fail(where, 'malformed CID prefix')
  const [version, codec, multihashCode, digestLength] = values
  if (version !== 0 && version !== 1) fail(where, `CID version ${version} unsupported`)
  if (version === 0 && (codec !== 0x70 || multihashCode !== 0x12 || digestLength !== 32)) fail(where, 'CIDv0 prefix must be dag-pb sha2-256 32')
  return { version, codec, multihashCode, digestLength }
}

/** The wire form of a block: its CID prefix and bytes. */
export function blockToWire (cid: CID, bytes: Uint8Array): GraphSyncBlock {
  const parts = [cid.version, cid.code, cid.multihash.code, cid.multihash.size]
  const prefix = new Uint8Array(parts.reduce((n, p) => n + varint.encodingLength(p), 0))
  let offset = 0
  for (const p of parts) {
    varint.encodeTo(p, prefix, offset)
    offset += varint.encodingLength(p)
  }
  return { prefix, data: bytes }
}

/**
 * The CID of a wire block, computed by hashing its data with the blockstore's `cidOf` (the one
 * hasher table: identity, sha2-256, sha2-512), so the result is verified by construction.
 *
 * @throws InvalidMessageError for a malformed prefix or a digest length the hash function does not produce
 * @throws UnsupportedHashError when the multihash code is not in the blockstore's `HASHERS`
 */
export async function blockFromWire (block: GraphSyncBlock): Promise<{ cid: CID, bytes: Uint8Array }> {
  const p = parsePrefix(block.prefix)
  const cid = cidOf(p.version, p.codec, p.multihashCode, block.data)
  if (cid === undefined) throw new UnsupportedHashError(`block prefix: no hasher for multihash code 0x${p.multihashCode.toString(16)}`, p.multihashCode)
  if (cid.multihash.digest.byteLength !== p.digestLength) fail('block prefix', `digest length ${p.digestLength} differs from the hasher's ${cid.multihash.digest.byteLength}`)
  return { cid, bytes: block.data }
}

/** Value of the `graphsync/do-not-send-cids` extension: a list of links. */
export function encodeDoNotSendCids (cids: CID[]): unknown {
  return [...cids]
}

/**
 * Parse a `graphsync/do-not-send-cids` extension value.
 *
 * @throws InvalidMessageError when it is not a list of links or has more than MAX_DO_NOT_SEND_CIDS
 */
export function decodeDoNotSendCids (value: unknown): CID[] {
  const list = asList(value, 'ext/graphsync/do-not-send-cids')
  if (list.length > MAX_DO_NOT_SEND_CIDS) fail('ext/graphsync/do-not-send-cids', `more than ${MAX_DO_NOT_SEND_CIDS} CIDs`)
  return list.map((c, i) => asCid(c, `ext/graphsync/do-not-send-cids/${i}`))
}

/** Value of the `graphsync/do-not-send-first-blocks` extension: how many blocks to skip. */
export function encodeDoNotSendFirstBlocks (count: number): unknown {
  if (!Number.isSafeInteger(count) || count < 0) fail('ext/graphsync/do-not-send-first-blocks', 'must be a non-negative integer')
  return count
}

/**
 * Parse a `graphsync/do-not-send-first-blocks` extension value.
 *
 * @throws InvalidMessageError when it is not a non-negative safe integer
 */
export function decodeDoNotSendFirstBlocks (value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail('ext/graphsync/do-not-send-first-blocks', 'must be a non-negative integer')
  return value
}

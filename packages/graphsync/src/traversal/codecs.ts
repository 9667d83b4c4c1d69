/**
 * Block decoding and the data-model view the traversal walks. Verification is the blockstore's
 * `verifyBlock` (one hasher table for the whole project).
 *
 * Supported codecs: dag-cbor (0x71), dag-json (0x0129), dag-pb (0x70, data model
 * `{Links: [{Hash, Name?, Tsize?}], Data?}` per the dag-pb spec) and raw (0x55, bytes).
 */
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import * as cborg from 'cborg'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { BlockDecodeError, UnsupportedCodecError } from '../errors.js'
import { compareDagCborKeys } from '../selector/parse.js'

/** IPLD data model kinds, named as in the selector fixtures (go-ipld-prime `Kind.String()`). */
export type Kind = 'null' | 'bool' | 'int' | 'float' | 'string' | 'bytes' | 'link' | 'map' | 'list'

/** Multicodec codes the traversal decodes. */
export const CODEC_DAG_CBOR = dagCbor.code
export const CODEC_DAG_JSON = dagJson.code
export const CODEC_DAG_PB = dagPb.code
export const CODEC_RAW = raw.code

/**
 * The kind of a decoded data-model value. Note: JavaScript numbers cannot tell `1.0`
 * from `1`, so an integral float decodes as `int` (a limit of the JS codecs).
 */
export function kindOf (v: unknown): Kind {
  if (v === null || v === undefined) return 'null'
  switch (typeof v) {
    case 'boolean': return 'bool'
    case 'bigint': return 'int'
    case 'number': return Number.isInteger(v) ? 'int' : 'float'
    case 'string': return 'string'
  }
  if (v instanceof Uint8Array) return 'bytes'
  if (Array.isArray(v)) return 'list'
  if (CID.asCID(v) != null) return 'link'
  return 'map'
}

const utf8 = new TextEncoder()

function compareBytewise (a: string, b: string): number {
  const ea = utf8.encode(a)
  const eb = utf8.encode(b)
  const n = Math.min(ea.length, eb.length)
  for (let i = 0; i < n; i++) {
    if (ea[i] !== eb[i]) return ea[i] - eb[i]
  }
  return ea.length - eb.length
}

const DAG_PB_ORDER = ['Links', 'Data', 'Hash', 'Name', 'Tsize']

/**
 * Encoded key order of decoded dag-cbor maps whose `Object.keys` order is not it: JavaScript
 * lists integer-like keys (`"1"`, `"10"`) first, in numeric order, whatever the encoding says.
 */
const encodedKeyOrder = new WeakMap<object, string[]>()

/** An array-index-like key, which `Object.keys` moves to the front. */
function isIndexKey (k: string): boolean {
  return /^(0|[1-9][0-9]{0,9})$/.test(k) && Number(k) < 2 ** 32 - 1
}

/** Whether a decoded dag-cbor value holds a map with an index-like key (then its key order needs recording). */
function hasIndexKeys (v: unknown): boolean {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array || CID.asCID(v) != null) return false
  if (Array.isArray(v)) return v.some(hasIndexKeys)
  for (const [k, child] of Object.entries(v)) {
    if (isIndexKey(k) || hasIndexKeys(child)) return true
  }
  return false
}

/** Record the encoded key order of every map of `plain` from the same block decoded into `Map`s. */
function recordKeyOrder (plain: unknown, mapped: unknown): void {
  if (mapped instanceof Map) {
    encodedKeyOrder.set(plain as object, [...mapped.keys()] as string[])
    for (const [k, v] of mapped) recordKeyOrder((plain as Record<string, unknown>)[k as string], v)
  } else if (Array.isArray(mapped)) {
    mapped.forEach((v, i) => { recordKeyOrder((plain as unknown[])[i], v) })
  }
}

/** dag-cbor decode; maps keep their encoded key order for {@link mapKeys}. */
function decodeDagCbor (bytes: Uint8Array): unknown {
  const value = dagCbor.decode(bytes)
  // only blocks with index-like keys pay for a second decode (into Maps, which keep order)
  if (hasIndexKeys(value)) recordKeyOrder(value, cborg.decode(bytes, { ...dagCbor.decodeOptions, useMaps: true }))
  return value
}

/**
 * Keys of a map-kind node in the order the codec defines:
 * - dag-cbor: the order the block encodes them, as go-ipld-prime walks (for a block that
 *   follows the DAG-CBOR spec that is canonical order: shorter UTF-8 first, then bytewise);
 * - dag-json: bytewise UTF-8 order (DAG-JSON canonical form);
 * - dag-pb: schema order (`Links`, `Data`; `Hash`, `Name`, `Tsize`), as go-codec-dagpb;
 * - a `Map` (ADL views): its insertion order.
 */
export function mapKeys (node: unknown, codec: number): string[] {
  if (node instanceof Map) return [...node.keys()] as string[]
  const keys = Object.keys(node as object)
  if (codec === CODEC_DAG_PB) {
    return keys.filter(k => (node as any)[k] !== undefined).sort((a, b) => DAG_PB_ORDER.indexOf(a) - DAG_PB_ORDER.indexOf(b))
  }
  if (codec === CODEC_DAG_JSON) return keys.sort(compareBytewise)
  if (codec === CODEC_DAG_CBOR) return encodedKeyOrder.get(node as object) ?? keys
  return keys.sort(compareDagCborKeys)
}

/** Look up a child of a map or list node; `undefined` when absent. */
export function lookup (node: unknown, seg: string | number): unknown {
  if (Array.isArray(node)) return typeof seg === 'number' && seg < node.length ? node[seg] : undefined
  if (node instanceof Map) return typeof seg === 'string' ? node.get(seg) : undefined
  if (typeof seg !== 'string' || !Object.hasOwn(node as object, seg)) return undefined
  return (node as Record<string, unknown>)[seg]
}

/**
 * Decode a verified block to its data-model value.
 *
 * @throws UnsupportedCodecError for codecs other than dag-cbor, dag-json, dag-pb, raw
 * @throws BlockDecodeError when the bytes are invalid for the codec
 */
export function decodeBlock (cid: CID, bytes: Uint8Array): unknown {
  const decode = cid.code === CODEC_DAG_CBOR
    ? decodeDagCbor
    : cid.code === CODEC_DAG_JSON
      ? dagJson.decode
      : cid.code === CODEC_DAG_PB
        ? dagPb.decode
        : cid.code === CODEC_RAW ? raw.decode : undefined
  if (decode === undefined) throw new UnsupportedCodecError(`block ${cid}: unsupported codec 0x${cid.code.toString(16)}`)
  try {
    return decode(bytes)
  } catch (err: any) {
    throw new BlockDecodeError(`block ${cid}: invalid ${cid.code === CODEC_RAW ? 'raw' : 'block'} data: ${String(err?.message ?? err)}`)
  }
}

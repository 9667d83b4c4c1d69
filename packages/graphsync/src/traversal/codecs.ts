/**
 * Block decoding, verification and the data-model view the traversal walks.
 *
 * Supported codecs: dag-cbor (0x71), dag-json (0x0129), dag-pb (0x70, data model
 * `{Links: [{Hash, Name?, Tsize?}], Data?}` per the dag-pb spec) and raw (0x55, bytes).
 */
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { equals } from 'multiformats/bytes'
import { BlockDecodeError, BlockHashMismatchError, UnsupportedCodecError, UnsupportedHashError } from '../errors.js'
import { compareDagCborKeys } from '../selector/parse.js'
import type { MultihashHasher } from 'multiformats/hashes/interface'

/** IPLD data model kinds, named as in the selector fixtures (go-ipld-prime `Kind.String()`). */
export type Kind = 'null' | 'bool' | 'int' | 'float' | 'string' | 'bytes' | 'link' | 'map' | 'list'

/** Multicodec codes the traversal decodes. */
export const CODEC_DAG_CBOR = dagCbor.code
export const CODEC_DAG_JSON = dagJson.code
export const CODEC_DAG_PB = dagPb.code
export const CODEC_RAW = raw.code

/** Default hashers by multihash code: sha2-256, sha2-512. Identity CIDs are read from the CID itself. */
export const DEFAULT_HASHERS: Record<number, MultihashHasher> = {
  [sha256.code]: sha256,
  [sha512.code]: sha512
}

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
 * Keys of a map-kind node in the order the codec defines:
 * - dag-cbor: canonical order (shorter UTF-8 first, then bytewise), which is the
 *   encoded order of every block that follows the DAG-CBOR spec;
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
 * Verify `bytes` against `cid` (re-hash and compare).
 *
 * @throws UnsupportedHashError when no hasher is known for the CID's multihash
 * @throws BlockHashMismatchError when the digest differs
 */
export async function verifyBlock (cid: CID, bytes: Uint8Array, hashers: Record<number, MultihashHasher>): Promise<void> {
  const code = cid.multihash.code
  if (code === identity.code) {
    if (!equals(cid.multihash.digest, bytes)) throw new BlockHashMismatchError(`block ${cid}: bytes differ from identity digest`)
    return
  }
  const hasher = hashers[code]
  if (hasher === undefined) throw new UnsupportedHashError(`block ${cid}: no hasher for multihash code 0x${code.toString(16)}`)
  const digest = await hasher.digest(bytes)
  if (!equals(digest.bytes, cid.multihash.bytes)) {
    throw new BlockHashMismatchError(`block ${cid}: bytes hash to ${digest.digest.length}-byte digest that differs from the CID`)
  }
}

/**
 * Decode a verified block to its data-model value.
 *
 * @throws UnsupportedCodecError for codecs other than dag-cbor, dag-json, dag-pb, raw
 * @throws BlockDecodeError when the bytes are invalid for the codec
 */
export function decodeBlock (cid: CID, bytes: Uint8Array): unknown {
  const decode = cid.code === CODEC_DAG_CBOR
    ? dagCbor.decode
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

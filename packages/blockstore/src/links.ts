/**
 * Link extraction: the CIDs a block points to, in a deterministic order.
 */

import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import { CODEC_DAG_CBOR, CODEC_DAG_JSON, CODEC_DAG_PB, CODEC_RAW } from './constants.js'
import { UnsupportedCodecError } from './errors.js'

/**
 * The links of a block, in order. This order defines our DFS traversal (CAR export, the
 * trustless gateway's `order=dfs`).
 *
 * - `raw` (0x55): no links.
 * - `dag-pb` (0x70): `PBNode.Links[i].Hash`, in the order of the Links list (dag-pb spec).
 * - `dag-cbor` (0x71) and `dag-json` (0x0129): every CID in the decoded data model, found by a
 *   pre-order walk in which list items are visited by index and map entries in the codec's
 *   canonical key order: dag-cbor sorts keys by UTF-8 length then bytewise (dag-cbor spec,
 *   "Strictness", RFC 7049 canonical order); dag-json sorts keys bytewise by UTF-8 (dag-json spec).
 *   The walk is iterative, so deep nesting cannot overflow the JS stack.
 *
 * @param cid - the block's CID; only its codec is used (the bytes are not verified here, see `verifyBlock`)
 * @param bytes - the block bytes
 * @returns the linked CIDs, duplicates kept, in traversal order
 * @throws UnsupportedCodecError - the codec is none of raw, dag-pb, dag-cbor, dag-json
 * @throws Error - the codec's own decode error when `bytes` is not valid for the codec
 */
export function links (cid: CID, bytes: Uint8Array): CID[] {
  switch (cid.code) {
    case CODEC_RAW:
      return []
    case CODEC_DAG_PB:
      return dagPb.decode(bytes).Links.map(link => link.Hash)
    case CODEC_DAG_CBOR:
      return walk(dagCbor.decode(bytes), compareCborKeys)
    case CODEC_DAG_JSON:
      return walk(dagJson.decode(bytes), compareJsonKeys)
    default:
      throw new UnsupportedCodecError(`cannot read links of CID ${cid}: codec 0x${cid.code.toString(16)} is not one of raw, dag-pb, dag-cbor, dag-json`)
  }
}

const encoder = new TextEncoder()

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.byteLength, b.byteLength)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i]
  }
  return a.byteLength - b.byteLength
}

/** dag-cbor canonical map key order: shorter UTF-8 encoding first, then bytewise. */
function compareCborKeys (a: Uint8Array, b: Uint8Array): number {
  return a.byteLength !== b.byteLength ? a.byteLength - b.byteLength : compareBytes(a, b)
}

/** dag-json canonical map key order: bytewise over the UTF-8 encoding. */
function compareJsonKeys (a: Uint8Array, b: Uint8Array): number {
  return compareBytes(a, b)
}

function walk (root: unknown, compareKeys: (a: Uint8Array, b: Uint8Array) => number): CID[] {
  const out: CID[] = []
  // stack of values still to visit; children are pushed in reverse so they pop in order
  const stack: unknown[] = [root]
  while (stack.length > 0) {
    const value = stack.pop()
    if (value == null || typeof value !== 'object') continue
    const asCid = CID.asCID(value)
    if (asCid != null) {
      out.push(asCid)
      continue
    }
    if (value instanceof Uint8Array) continue
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push(value[i])
      continue
    }
    const entries = Object.keys(value).map(key => ({ key, bytes: encoder.encode(key) }))
    entries.sort((x, y) => compareKeys(x.bytes, y.bytes))
    for (let i = entries.length - 1; i >= 0; i--) {
      stack.push((value as Record<string, unknown>)[entries[i].key])
    }
  }
  return out
}

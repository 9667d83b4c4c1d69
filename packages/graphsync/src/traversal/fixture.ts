/**
 * The visit-event form of the IPLD selector fixtures (ipld/ipld
 * `specs/selectors/fixtures/selector-fixtures-1.md`, "expect-visit" hunks):
 * `{"path": "a/0", "node": {"<kind>": <value>}, "matched": true}` where map and list
 * values are `null`.
 */
import { base64 } from 'multiformats/bases/base64'
import type { VisitEvent } from './traverse.js'

/** JSON form of one visit event, as in the fixtures. */
export interface FixtureVisit {
  path: string
  node: Record<string, unknown>
  matched: boolean
}

/**
 * Convert a visit event to the fixtures' form. Kinds the fixtures never show use the
 * DAG-JSON forms: a link is `{"/": "<cid>"}`, bytes `{"/": {"bytes": "<base64>"}}`;
 * an int beyond 2^53 is its decimal string.
 */
export function visitToFixtureJson (evt: VisitEvent): FixtureVisit {
  let value: unknown
  switch (evt.kind) {
    case 'map': case 'list': value = null; break
    case 'link': value = { '/': String(evt.node) }; break
    case 'bytes': value = { '/': { bytes: base64.baseEncode(evt.node as Uint8Array) } }; break
    case 'int': value = typeof evt.node === 'bigint' ? evt.node.toString() : evt.node; break
    default: value = evt.node ?? null
  }
  return { path: evt.path, node: { [evt.kind]: value }, matched: evt.matched }
}

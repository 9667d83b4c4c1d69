/**
 * Selector parsing and encoding between the IPLD data model and our AST.
 *
 * Implements the keyed-union representation of the IPLD selector schema
 * (ipld/ipld `specs/selectors/index.md`, "Schema"). Parsing is strict: unknown keys,
 * wrong kinds, an ExploreRecursiveEdge outside ExploreRecursive, an ExploreRecursive
 * without an edge and ExploreRange with `end <= start` are rejected (the last three as
 * in go-ipld-prime `traversal/selector`).
 */
import * as cborg from 'cborg'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import { CID } from 'multiformats/cid'
import { InvalidSelectorError, SelectorLimitError } from '../errors.js'
import {
  MAX_EXPLORE_FIELDS, MAX_MESSAGE_SIZE, MAX_SELECTOR_DEPTH, MAX_SELECTOR_NODES, MAX_UNION_MEMBERS
} from '../constants.js'
import type { Condition, RecursionLimit, Selector, Slice } from './types.js'

/** Options of {@link parseSelector}. */
export interface ParseSelectorOptions {
  /** Maximum nesting depth. @default MAX_SELECTOR_DEPTH */
  maxDepth?: number
  /** Maximum members of one union. @default MAX_UNION_MEMBERS */
  maxUnionMembers?: number
  /** Maximum fields of one ExploreFields. @default MAX_EXPLORE_FIELDS */
  maxFields?: number
  /** Maximum clauses overall. @default MAX_SELECTOR_NODES */
  maxNodes?: number
}

interface ParseContext {
  maxDepth: number
  maxUnionMembers: number
  maxFields: number
  maxNodes: number
  nodes: number
  /** Edge counters of the enclosing ExploreRecursive clauses, innermost last. */
  recursions: number[]
}

/**
 * Map-like entries of a data model node: a `Map` with string keys (kept in insertion
 * order, as decoded) or a plain object. Anything else is not a map.
 */
function mapEntries (node: unknown): Array<[string, unknown]> | undefined {
  if (node instanceof Map) {
    const out: Array<[string, unknown]> = []
    for (const [k, v] of node) {
      if (typeof k !== 'string') return undefined
      out.push([k, v])
    }
    return out
  }
  if (node === null || typeof node !== 'object' || Array.isArray(node) || node instanceof Uint8Array || CID.asCID(node) != null) {
    return undefined
  }
  return Object.entries(node)
}

function where (path: string[]): string {
  return path.length === 0 ? 'selector root' : `selector at "${path.join('/')}"`
}

function fail (path: string[], what: string): never {
  throw new InvalidSelectorError(`${where(path)}: ${what}`)
}

function asMap (node: unknown, path: string[], what: string): Map<string, unknown> {
  const entries = mapEntries(node)
  if (entries === undefined) fail(path, `${what} must be a map`)
  return new Map(entries)
}

function checkKeys (m: Map<string, unknown>, allowed: string[], required: string[], path: string[], what: string): void {
  for (const k of m.keys()) {
    if (!allowed.includes(k)) fail(path, `unknown key "${k}" in ${what} (allowed: ${allowed.map(a => `"${a}"`).join(', ')})`)
  }
  for (const k of required) {
    if (!m.has(k)) fail(path, `${what} is missing required key "${k}"`)
  }
}

function asInt (v: unknown, path: string[], what: string, allowBig: boolean): number | bigint {
  if (typeof v === 'number' && Number.isInteger(v)) return v
  if (typeof v === 'bigint') {
    if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v)
    if (!allowBig) fail(path, `${what} must be a safe integer (|n| <= 2^53-1)`)
    if (v > 0x7fffffffffffffffn || v < -0x8000000000000000n) fail(path, `${what} does not fit in a 64-bit signed integer`)
    return v
  }
  fail(path, `${what} must be an integer`)
}

function asSafeInt (v: unknown, path: string[], what: string): number {
  return asInt(v, path, what, false) as number
}

function parseCondition (node: unknown, path: string[]): Condition {
  const m = asMap(node, path, 'Condition (a keyed union)')
  if (m.size !== 1) fail(path, 'Condition is a keyed union and must have exactly one key')
  const [key, body] = [...m][0]
  if (key === '/') {
    const link = CID.asCID(body)
    if (link == null) fail([...path, '/'], 'Condition_IsLink body must be a link')
    return { kind: 'isLink', link }
  }
  if (['hasField', '=', '%', 'greaterThan', 'lessThan', 'and', 'or'].includes(key)) {
    fail([...path, key], `condition "${key}" has no defined semantics in the selector spec (draft); only "/" (IsLink) is implemented`)
  }
  fail(path, `unknown Condition member "${key}"`)
}

function parseSlice (node: unknown, path: string[]): Slice {
  const m = asMap(node, path, 'Slice')
  checkKeys(m, ['[', ']'], ['[', ']'], path, 'Slice')
  return {
    from: asInt(m.get('['), [...path, '['], 'Slice "from" ([)', true),
    to: asInt(m.get(']'), [...path, ']'], 'Slice "to" (])', true)
  }
}

function parseLimit (node: unknown, path: string[]): RecursionLimit {
  const m = asMap(node, path, 'RecursionLimit (a keyed union)')
  if (m.size !== 1) fail(path, 'RecursionLimit is a keyed union and must have exactly one key')
  const [key, body] = [...m][0]
  if (key === 'none') {
    const b = asMap(body, [...path, 'none'], 'RecursionLimit_None')
    if (b.size !== 0) fail([...path, 'none'], 'RecursionLimit_None must be an empty map')
    return { none: true }
  }
  if (key === 'depth') {
    const depth = asSafeInt(body, [...path, 'depth'], 'RecursionLimit_Depth')
    if (depth < 0) fail([...path, 'depth'], 'RecursionLimit_Depth must be >= 0')
    return { depth }
  }
  fail(path, `unknown RecursionLimit member "${key}" (expected "none" or "depth")`)
}

function parseInner (node: unknown, path: string[], depth: number, ctx: ParseContext): Selector {
  if (depth > ctx.maxDepth) {
    throw new SelectorLimitError(`${where(path)}: selector nesting deeper than ${ctx.maxDepth}`)
  }
  ctx.nodes++
  if (ctx.nodes > ctx.maxNodes) {
    throw new SelectorLimitError(`${where(path)}: selector has more than ${ctx.maxNodes} clauses`)
  }
  const m = asMap(node, path, 'Selector (a keyed union)')
  if (m.size !== 1) fail(path, `Selector is a keyed union and must have exactly one key, found ${m.size}`)
  const [key, body] = [...m][0]
  const p = [...path, key]
  const next = (b: Map<string, unknown>): Selector => parseInner(b.get('>'), [...p, '>'], depth + 1, ctx)

  switch (key) {
    case '.': {
      const b = asMap(body, p, 'Matcher')
      checkKeys(b, ['onlyIf', 'label', 'subset'], [], p, 'Matcher')
      const out: Selector = { kind: 'matcher' }
      if (b.has('onlyIf')) out.onlyIf = parseCondition(b.get('onlyIf'), [...p, 'onlyIf'])
      if (b.has('label')) {
        const label = b.get('label')
        if (typeof label !== 'string') fail([...p, 'label'], 'Matcher label must be a string')
        out.label = label
      }
      if (b.has('subset')) out.subset = parseSlice(b.get('subset'), [...p, 'subset'])
      return out
    }
    case 'a': {
      const b = asMap(body, p, 'ExploreAll')
      checkKeys(b, ['>'], ['>'], p, 'ExploreAll')
      return { kind: 'exploreAll', next: next(b) }
    }
    case 'f': {
      const b = asMap(body, p, 'ExploreFields')
      checkKeys(b, ['f>'], ['f>'], p, 'ExploreFields')
      const fp = [...p, 'f>']
      const entries = mapEntries(b.get('f>'))
      if (entries === undefined) fail(fp, 'ExploreFields fields must be a map of field name to selector')
      if (entries.length > ctx.maxFields) {
        throw new SelectorLimitError(`${where(fp)}: ExploreFields has ${entries.length} fields, more than ${ctx.maxFields}`)
      }
      return {
        kind: 'exploreFields',
        fields: entries.map(([name, sel]) => [name, parseInner(sel, [...fp, name], depth + 1, ctx)])
      }
    }
    case 'i': {
      const b = asMap(body, p, 'ExploreIndex')
      checkKeys(b, ['i', '>'], ['i', '>'], p, 'ExploreIndex')
      const index = asSafeInt(b.get('i'), [...p, 'i'], 'ExploreIndex index')
      if (index < 0) fail([...p, 'i'], 'ExploreIndex index must be >= 0')
      return { kind: 'exploreIndex', index, next: next(b) }
    }
    case 'r': {
      const b = asMap(body, p, 'ExploreRange')
      checkKeys(b, ['^', '$', '>'], ['^', '$', '>'], p, 'ExploreRange')
      const start = asSafeInt(b.get('^'), [...p, '^'], 'ExploreRange start')
      const end = asInt(b.get('$'), [...p, '$'], 'ExploreRange end', true)
      if (start < 0) fail([...p, '^'], 'ExploreRange start must be >= 0')
      if (BigInt(end) <= BigInt(start)) fail([...p, '$'], 'ExploreRange end must be greater than start')
      return { kind: 'exploreRange', start, end, next: next(b) }
    }
    case 'R': {
      const b = asMap(body, p, 'ExploreRecursive')
      checkKeys(b, [':>', 'l', '!'], [':>', 'l'], p, 'ExploreRecursive')
      const limit = parseLimit(b.get('l'), [...p, 'l'])
      ctx.recursions.push(0)
      const sequence = parseInner(b.get(':>'), [...p, ':>'], depth + 1, ctx)
      const edges = ctx.recursions.pop() ?? 0
      if (edges === 0) fail([...p, ':>'], 'ExploreRecursive sequence must contain at least one ExploreRecursiveEdge ("@")')
      const out: Selector = { kind: 'exploreRecursive', sequence, limit }
      if (b.has('!')) out.stopAt = parseCondition(b.get('!'), [...p, '!'])
      return out
    }
    case '@': {
      const b = asMap(body, p, 'ExploreRecursiveEdge')
      if (b.size !== 0) fail(p, 'ExploreRecursiveEdge must be an empty map')
      if (ctx.recursions.length === 0) fail(p, 'ExploreRecursiveEdge outside of an ExploreRecursive sequence')
      ctx.recursions[ctx.recursions.length - 1]++
      return { kind: 'exploreRecursiveEdge' }
    }
    case '|': {
      if (!Array.isArray(body)) fail(p, 'ExploreUnion must be a list of selectors')
      if (body.length > ctx.maxUnionMembers) {
        throw new SelectorLimitError(`${where(p)}: ExploreUnion has ${body.length} members, more than ${ctx.maxUnionMembers}`)
      }
      return { kind: 'exploreUnion', members: body.map((m, i) => parseInner(m, [...p, String(i)], depth + 1, ctx)) }
    }
    case '&': {
      const b = asMap(body, p, 'ExploreConditional')
      checkKeys(b, ['&', '>'], ['&', '>'], p, 'ExploreConditional')
      return { kind: 'exploreConditional', condition: parseCondition(b.get('&'), [...p, '&']), next: next(b) }
    }
    case '~': {
      const b = asMap(body, p, 'InterpretAs')
      checkKeys(b, ['as', '>'], ['as', '>'], p, 'InterpretAs')
      const as = b.get('as')
      if (typeof as !== 'string' || as.length === 0) fail([...p, 'as'], 'InterpretAs "as" must be a non-empty string')
      return { kind: 'exploreInterpretAs', as, next: next(b) }
    }
    default:
      fail(path, `unknown selector kind "${key}"`)
  }
}

/**
 * Parse a selector from its IPLD data model form (maps as plain objects or `Map`s,
 * as decoded by `@ipld/dag-cbor` / `@ipld/dag-json`). ExploreFields keeps the map's
 * iteration order.
 *
 * @throws InvalidSelectorError when the document does not follow the schema (message names the path)
 * @throws SelectorLimitError when it exceeds a `MAX_*` selector limit
 */
export function parseSelector (node: unknown, options: ParseSelectorOptions = {}): Selector {
  const ctx: ParseContext = {
    maxDepth: options.maxDepth ?? MAX_SELECTOR_DEPTH,
    maxUnionMembers: options.maxUnionMembers ?? MAX_UNION_MEMBERS,
    maxFields: options.maxFields ?? MAX_EXPLORE_FIELDS,
    maxNodes: options.maxNodes ?? MAX_SELECTOR_NODES,
    nodes: 0,
    recursions: []
  }
  return parseInner(node, [], 0, ctx)
}

function encodeCondition (c: Condition): unknown {
  return { '/': c.link }
}

/**
 * Encode a selector to its IPLD data model form (plain objects, the spec's short keys),
 * ready for `@ipld/dag-cbor` or `@ipld/dag-json` `encode`.
 */
export function encodeSelector (sel: Selector): unknown {
  switch (sel.kind) {
    case 'matcher': {
      const body: Record<string, unknown> = {}
      if (sel.onlyIf !== undefined) body.onlyIf = encodeCondition(sel.onlyIf)
      if (sel.label !== undefined) body.label = sel.label
      if (sel.subset !== undefined) body.subset = { '[': sel.subset.from, ']': sel.subset.to }
      return { '.': body }
    }
    case 'exploreAll': return { a: { '>': encodeSelector(sel.next) } }
    case 'exploreFields': {
      const fields: Record<string, unknown> = {}
      for (const [name, s] of sel.fields) {
        Object.defineProperty(fields, name, { value: encodeSelector(s), enumerable: true, writable: true, configurable: true })
      }
      return { f: { 'f>': fields } }
    }
    case 'exploreIndex': return { i: { i: sel.index, '>': encodeSelector(sel.next) } }
    case 'exploreRange': return { r: { '^': sel.start, $: sel.end, '>': encodeSelector(sel.next) } }
    case 'exploreRecursive': {
      const body: Record<string, unknown> = {
        l: 'none' in sel.limit ? { none: {} } : { depth: sel.limit.depth },
        ':>': encodeSelector(sel.sequence)
      }
      if (sel.stopAt !== undefined) body['!'] = encodeCondition(sel.stopAt)
      return { R: body }
    }
    case 'exploreRecursiveEdge': return { '@': {} }
    case 'exploreUnion': return { '|': sel.members.map(encodeSelector) }
    case 'exploreConditional': return { '&': { '&': encodeCondition(sel.condition), '>': encodeSelector(sel.next) } }
    case 'exploreInterpretAs': return { '~': { as: sel.as, '>': encodeSelector(sel.next) } }
  }
}

/** DAG-CBOR decode options that keep maps as `Map` (so field order is the encoded order). */
const orderedCborOptions = { ...dagCbor.decodeOptions, useMaps: true }

/**
 * Decode DAG-CBOR bytes strictly, keeping every map as a `Map` in encoded key order.
 * Codec errors are rethrown as `errorClass` naming `what`.
 */
export function decodeOrderedDagCbor (bytes: Uint8Array, what: string, errorClass: new (msg: string) => Error): unknown {
  try {
    return cborg.decode(bytes, orderedCborOptions)
  } catch (err: any) {
    throw new errorClass(`${what}: invalid DAG-CBOR: ${String(err?.message ?? err)}`)
  }
}

/**
 * Decode a selector from DAG-CBOR bytes (as carried in a GraphSync request's `sel`).
 * ExploreFields keeps the encoded key order, which for canonical DAG-CBOR is
 * length-first then bytewise.
 *
 * @throws InvalidSelectorError on invalid DAG-CBOR or schema violations
 * @throws SelectorLimitError when a limit is exceeded (also when `bytes` exceeds MAX_MESSAGE_SIZE)
 */
export function selectorFromDagCbor (bytes: Uint8Array, options?: ParseSelectorOptions): Selector {
  if (bytes.byteLength > MAX_MESSAGE_SIZE) {
    throw new SelectorLimitError(`selector bytes: ${bytes.byteLength} bytes, more than ${MAX_MESSAGE_SIZE}`)
  }
  return parseSelector(decodeOrderedDagCbor(bytes, 'selector bytes', InvalidSelectorError), options)
}

/** Encode a selector as DAG-CBOR bytes (map keys in canonical DAG-CBOR order). */
export function selectorToDagCbor (sel: Selector): Uint8Array {
  return dagCbor.encode(encodeSelector(sel))
}

/**
 * Decode a selector from DAG-JSON (bytes or a string). Field order follows the JSON
 * document, except that integer-like field names come first (JavaScript object order).
 *
 * @throws InvalidSelectorError on invalid DAG-JSON or schema violations
 * @throws SelectorLimitError when a limit is exceeded
 */
export function selectorFromDagJson (input: Uint8Array | string, options?: ParseSelectorOptions): Selector {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input
  if (bytes.byteLength > MAX_MESSAGE_SIZE) {
    throw new SelectorLimitError(`selector JSON: ${bytes.byteLength} bytes, more than ${MAX_MESSAGE_SIZE}`)
  }
  let node: unknown
  try {
    node = dagJson.decode(bytes)
  } catch (err: any) {
    throw new InvalidSelectorError(`selector JSON: invalid DAG-JSON: ${String(err?.message ?? err)}`)
  }
  return parseSelector(node, options)
}

/** Encode a selector as DAG-JSON bytes. */
export function selectorToDagJson (sel: Selector): Uint8Array {
  return dagJson.encode(encodeSelector(sel))
}

/** Byte order of DAG-CBOR map keys: shorter UTF-8 first, then bytewise (RFC 7049 canonical). */
export function compareDagCborKeys (a: string, b: string): number {
  const ea = utf8.encode(a)
  const eb = utf8.encode(b)
  if (ea.length !== eb.length) return ea.length - eb.length
  for (let i = 0; i < ea.length; i++) {
    if (ea[i] !== eb[i]) return ea[i] - eb[i]
  }
  return 0
}

const utf8 = new TextEncoder()

/**
 * The selector as a peer decoding its DAG-CBOR form sees it: every ExploreFields in
 * canonical DAG-CBOR key order. A requestor verifying a remote traversal should
 * traverse this form, since that is the visit order a responder uses.
 */
export function canonicalizeSelector (sel: Selector): Selector {
  switch (sel.kind) {
    case 'exploreFields':
      return {
        kind: 'exploreFields',
        fields: [...sel.fields].sort((a, b) => compareDagCborKeys(a[0], b[0])).map(([n, s]) => [n, canonicalizeSelector(s)])
      }
    case 'exploreAll': case 'exploreIndex': case 'exploreRange': case 'exploreConditional': case 'exploreInterpretAs':
      return { ...sel, next: canonicalizeSelector(sel.next) }
    case 'exploreRecursive':
      return { ...sel, sequence: canonicalizeSelector(sel.sequence) }
    case 'exploreUnion':
      return { kind: 'exploreUnion', members: sel.members.map(canonicalizeSelector) }
    default:
      return sel
  }
}

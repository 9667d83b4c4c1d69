/**
 * Selector evaluation: the runtime form of a selector at one position of a walk, and
 * the three operations the spec's evaluation needs (go-ipld-prime `Selector` interface:
 * Interests, Explore, Match), plus the ExploreRecursive edge rewriting the spec
 * describes ("logically produces another new Selector which is a copy of the original
 * ExploreRecursive selector, but with a decremented depth").
 *
 * Pure: no I/O. The walker in `traverse.ts` drives it.
 */
import { CID } from 'multiformats/cid'
import { SelectorLimitError, UnsupportedSelectorError } from '../errors.js'
import { MAX_RUNTIME_SELECTOR_NODES } from '../constants.js'
import type { Condition, Selector } from '../selector/types.js'

/** An ExploreRecursive being evaluated: `current` is where we are in `sequence`; `limit` the remaining depth (null: none). */
export interface RecursionState {
  kind: '$recursion'
  sequence: Selector
  current: RuntimeSelector
  limit: number | null
  stopAt?: Condition
}

/** A union produced during evaluation (members may be recursion states). */
export interface RuntimeUnion {
  kind: '$union'
  members: RuntimeSelector[]
}

/** Selects nothing (a failed ExploreConditional). */
export interface Nothing { kind: '$nothing' }

/** A selector as evaluated at one position. */
export type RuntimeSelector = Selector | RecursionState | RuntimeUnion | Nothing

const NOTHING: Nothing = { kind: '$nothing' }

/** Does `cond` hold for `node`? Only IsLink is defined (go-ipld-prime `Condition.Match`). */
export function conditionHolds (cond: Condition, node: unknown): boolean {
  const link = CID.asCID(node)
  return link != null && link.equals(cond.link)
}

/** A reifier: turns the node at `path` into the ADL view named `as`. */
export type Reifier = (as: string, node: unknown, path: string) => unknown

function makeUnion (members: RuntimeSelector[]): RuntimeSelector | null {
  const flat: RuntimeSelector[] = []
  const push = (m: RuntimeSelector): void => {
    if (m.kind === '$nothing') return
    if (m.kind === '$union' || m.kind === 'exploreUnion') {
      for (const x of m.members) push(x)
      return
    }
    if (!flat.includes(m)) flat.push(m) // dedupe by identity: edges rewritten to the same sequence
  }
  for (const m of members) push(m)
  if (flat.length === 0) return null
  if (flat.length === 1) return flat[0]
  return { kind: '$union', members: flat }
}

/**
 * Resolve the clauses that act on the node itself before it is visited:
 * ExploreRecursive starts (its `current` is its sequence), InterpretAs reifies the node
 * and continues with `next` at the same position (go-ipld-prime `walkAdv`),
 * ExploreConditional continues with `next` if its condition holds for the node, else
 * selects nothing. Conditions see the node as it appears in its parent (`asInParent`:
 * the link, for the root of a loaded block), as ExploreRecursive's stopAt does.
 *
 * @throws UnsupportedSelectorError for InterpretAs inside a union (one position cannot hold two views)
 */
export function resolve (sel: RuntimeSelector, node: unknown, path: string, reify: Reifier, inUnion = false, asInParent: unknown = node): { sel: RuntimeSelector, node: unknown } {
  switch (sel.kind) {
    case 'exploreRecursive': {
      const state: RecursionState = {
        kind: '$recursion',
        sequence: sel.sequence,
        current: sel.sequence,
        limit: 'depth' in sel.limit ? sel.limit.depth : null
      }
      if (sel.stopAt !== undefined) state.stopAt = sel.stopAt
      return resolve(state, node, path, reify, inUnion, asInParent)
    }
    case '$recursion': {
      const r = resolve(sel.current, node, path, reify, inUnion, asInParent)
      return { sel: { ...sel, current: r.sel }, node: r.node }
    }
    case 'exploreInterpretAs': {
      if (inUnion) throw new UnsupportedSelectorError(`at "${path}": InterpretAs inside ExploreUnion is not supported`)
      const view = reify(sel.as, node, path)
      return resolve(sel.next, view, path, reify, inUnion, view)
    }
    case 'exploreConditional':
      return conditionHolds(sel.condition, asInParent) ? resolve(sel.next, node, path, reify, inUnion, asInParent) : { sel: NOTHING, node }
    case 'exploreUnion':
    case '$union': {
      const members = sel.members.map(m => resolve(m, node, path, reify, true, asInParent).sel)
      return { sel: makeUnion(members) ?? NOTHING, node }
    }
    default:
      return { sel, node }
  }
}

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

function clampInt (v: number | bigint): number {
  if (typeof v === 'number') return v
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : v < BigInt(Number.MIN_SAFE_INTEGER) ? Number.MIN_SAFE_INTEGER : Number(v)
}

/**
 * Resolve a Slice `[from, to)` against a length, per the spec's Slice rules: negative
 * values count from the end (a negative `from` underflowing is 0), `to` past the end is
 * the end; `from` beyond the end or `from > to` fails to match; `from == to` matches empty.
 */
export function sliceBounds (from: number | bigint, to: number | bigint, length: number): [number, number] | undefined {
  let f = clampInt(from)
  let t = clampInt(to)
  if (f < 0) f = Math.max(0, length + f)
  if (t < 0) t = length + t
  if (t < 0) return undefined
  if (t > length) t = length
  if (f > length || f > t) return undefined
  return [f, t]
}

/** Result of {@link match}. */
export interface MatchResult {
  matched: boolean
  /** The node reported: the slice for a Matcher with `subset`, else the node. */
  node: unknown
  label?: string
}

/** Is the (resolved) node matched, and as what (go-ipld-prime `Selector.Match`)? */
export function match (sel: RuntimeSelector, node: unknown): MatchResult {
  switch (sel.kind) {
    case 'matcher': {
      if (sel.onlyIf !== undefined && !conditionHolds(sel.onlyIf, node)) return { matched: false, node }
      let out = node
      if (sel.subset !== undefined) {
        const bytes = typeof node === 'string' ? utf8.encode(node) : node instanceof Uint8Array ? node : undefined
        if (bytes === undefined) return { matched: false, node }
        const b = sliceBounds(sel.subset.from, sel.subset.to, bytes.length)
        if (b === undefined) return { matched: false, node }
        const part = bytes.subarray(b[0], b[1])
        out = typeof node === 'string' ? utf8Decoder.decode(part) : part
      }
      return sel.label !== undefined ? { matched: true, node: out, label: sel.label } : { matched: true, node: out }
    }
    case 'exploreUnion':
    case '$union':
      for (const m of sel.members) {
        const r = match(m, node)
        if (r.matched) return r
      }
      return { matched: false, node }
    case '$recursion':
      return match(sel.current, node)
    default:
      return { matched: false, node }
  }
}

/**
 * Which children to visit, in order: `null` for all (map keys in codec order, list
 * indexes ascending), else the segments the selector names (ExploreFields in selector
 * order; a union concatenates its members' interests, first occurrence wins).
 */
export function interests (sel: RuntimeSelector, isList: boolean, length: number): Array<string | number> | null {
  switch (sel.kind) {
    case 'exploreAll': return null
    case 'exploreFields': return isList ? [] : sel.fields.map(f => f[0])
    case 'exploreIndex': return isList && sel.index < length ? [sel.index] : []
    case 'exploreRange': {
      if (!isList) return []
      const end = Math.min(length, clampInt(sel.end))
      const out: number[] = []
      for (let i = sel.start; i < end; i++) out.push(i)
      return out
    }
    case '$recursion': return interests(sel.current, isList, length)
    case 'exploreUnion':
    case '$union': {
      const out: Array<string | number> = []
      const seen = new Set<string | number>()
      for (const m of sel.members) {
        const i = interests(m, isList, length)
        if (i === null) return null
        for (const seg of i) {
          if (!seen.has(seg)) { seen.add(seg); out.push(seg) }
        }
      }
      return out
    }
    default: return []
  }
}

function hasEdge (sel: RuntimeSelector): boolean {
  switch (sel.kind) {
    case 'exploreRecursiveEdge': return true
    case 'exploreUnion': case '$union': return sel.members.some(hasEdge)
    case 'exploreConditional': case 'exploreInterpretAs': return hasEdge(sel.next)
    default: return false
  }
}

function replaceEdge (sel: RuntimeSelector, repl: Selector | null): RuntimeSelector | null {
  switch (sel.kind) {
    case 'exploreRecursiveEdge': return repl
    case 'exploreUnion': case '$union': {
      const members: RuntimeSelector[] = []
      for (const m of sel.members) {
        const r = replaceEdge(m, repl)
        if (r !== null) members.push(r)
      }
      return makeUnion(members)
    }
    case 'exploreConditional': case 'exploreInterpretAs': {
      const next = replaceEdge(sel.next, repl)
      return next === null ? null : { ...sel, next } as RuntimeSelector
    }
    default: return sel
  }
}

/**
 * The selector for child `seg` of a map/list node, or null when the child is not visited
 * (go-ipld-prime `Selector.Explore`). `child` is the raw child value (a CID for a link,
 * before loading), which ExploreRecursive's stopAt is tested on.
 *
 * @throws SelectorLimitError when the runtime selector grows past MAX_RUNTIME_SELECTOR_NODES
 */
export function explore (sel: RuntimeSelector, isList: boolean, seg: string | number, child: unknown): RuntimeSelector | null {
  const out = exploreInner(sel, isList, seg, child)
  if (out !== null && out !== sel && countNodes(out) > MAX_RUNTIME_SELECTOR_NODES) {
    throw new SelectorLimitError(`runtime selector at segment "${seg}" grew past ${MAX_RUNTIME_SELECTOR_NODES} clauses`)
  }
  return out
}

function exploreInner (sel: RuntimeSelector, isList: boolean, seg: string | number, child: unknown): RuntimeSelector | null {
  switch (sel.kind) {
    case 'exploreAll': return sel.next
    case 'exploreFields': {
      if (isList || typeof seg !== 'string') return null
      for (const [name, s] of sel.fields) if (name === seg) return s
      return null
    }
    case 'exploreIndex': return isList && seg === sel.index ? sel.next : null
    case 'exploreRange':
      return isList && typeof seg === 'number' && seg >= sel.start && BigInt(seg) < BigInt(sel.end) ? sel.next : null
    case 'exploreUnion':
    case '$union': {
      const out: RuntimeSelector[] = []
      for (const m of sel.members) {
        const r = exploreInner(m, isList, seg, child)
        if (r !== null) out.push(r)
      }
      return makeUnion(out)
    }
    case '$recursion': {
      if (sel.stopAt !== undefined && conditionHolds(sel.stopAt, child)) return null
      const next = exploreInner(sel.current, isList, seg, child)
      if (next === null) return null
      if (!hasEdge(next)) return { ...sel, current: next }
      if (sel.limit !== null && sel.limit < 2) {
        // limit reached: edges end the walk here (go-ipld-prime replaces them with nil)
        const cut = replaceEdge(next, null)
        return cut === null ? null : { ...sel, current: cut }
      }
      const current = replaceEdge(next, sel.sequence)
      if (current === null) return null
      return { ...sel, current, limit: sel.limit === null ? null : sel.limit - 1 }
    }
    default:
      // matcher, edge (end of a sequence), nothing; conditional/interpretAs/recursive are resolved on arrival
      return null
  }
}

function countNodes (sel: RuntimeSelector): number {
  const seen = new Set<object>()
  const stack: RuntimeSelector[] = [sel]
  while (stack.length > 0) {
    const s = stack.pop() as RuntimeSelector
    if (seen.has(s)) continue
    seen.add(s)
    if (seen.size > MAX_RUNTIME_SELECTOR_NODES) break
    switch (s.kind) {
      case 'exploreAll': case 'exploreIndex': case 'exploreRange': case 'exploreConditional': case 'exploreInterpretAs':
        stack.push(s.next); break
      case 'exploreFields': for (const f of s.fields) stack.push(f[1]); break
      case 'exploreRecursive': stack.push(s.sequence); break
      case '$recursion': stack.push(s.current); break
      case 'exploreUnion': case '$union': stack.push(...s.members); break
    }
  }
  return seen.size
}

/**
 * The IPLD selector AST (the spec calls it the DMT, "Data Model Tree").
 *
 * Implements the schema in the IPLD selector spec (ipld/ipld `specs/selectors/index.md`,
 * section "Schema"). Each interface names the keyed-union key and the field keys it is
 * serialized with.
 */
import type { CID } from 'multiformats/cid'

/**
 * A predicate. The spec marks Condition as an unfinished draft; only `Condition_IsLink`
 * (`{"/": <link>}`) has defined semantics (as in go-ipld-prime): true when the node is
 * a link equal to `link`.
 */
export interface ConditionIsLink {
  kind: 'isLink'
  /** The link the node must equal. */
  link: CID
}

/** Every condition we implement. */
export type Condition = ConditionIsLink

/**
 * `Slice`: the `[from, to)` byte range a Matcher selects of a string or bytes node.
 * Serialized `{"[": from, "]": to}`. Negative values count from the end; `to` past the
 * end means "to the end". Large values (beyond 2^53) stay `bigint` so they round-trip.
 */
export interface Slice {
  from: number | bigint
  to: number | bigint
}

/** `Matcher` (key `.`): marks the node as matched. Fields `onlyIf`, `label`, `subset`. */
export interface Matcher {
  kind: 'matcher'
  onlyIf?: Condition
  label?: string
  subset?: Slice
}

/** `ExploreAll` (key `a`, field `>`): apply `next` to every map entry / list element. */
export interface ExploreAll {
  kind: 'exploreAll'
  next: Selector
}

/**
 * `ExploreFields` (key `f`, field `f>`): apply a selector to named map entries.
 * `fields` keeps the document order: it is the visit order (selector-fixtures-1,
 * "exploring fields": "the order of fields in the ExploreFields clause determined the
 * order of the results").
 */
export interface ExploreFields {
  kind: 'exploreFields'
  fields: Array<[name: string, selector: Selector]>
}

/** `ExploreIndex` (key `i`, fields `i`, `>`): apply `next` to one list element. */
export interface ExploreIndex {
  kind: 'exploreIndex'
  index: number
  next: Selector
}

/** `ExploreRange` (key `r`, fields `^`, `$`, `>`): apply `next` to list elements `[start, end)`. */
export interface ExploreRange {
  kind: 'exploreRange'
  start: number
  end: number | bigint
  next: Selector
}

/** `RecursionLimit`: `{none: {}}` or `{depth: n}`. */
export type RecursionLimit = { none: true } | { depth: number }

/**
 * `ExploreRecursive` (key `R`, fields `:>` sequence, `l` limit, `!` stopAt): repeat
 * `sequence`, restarting it at every ExploreRecursiveEdge, up to `limit` levels.
 */
export interface ExploreRecursive {
  kind: 'exploreRecursive'
  sequence: Selector
  limit: RecursionLimit
  stopAt?: Condition
}

/** `ExploreRecursiveEdge` (key `@`): the point where the enclosing ExploreRecursive restarts. */
export interface ExploreRecursiveEdge {
  kind: 'exploreRecursiveEdge'
}

/** `ExploreUnion` (key `|`, a list): apply every member selector to the same node. */
export interface ExploreUnion {
  kind: 'exploreUnion'
  members: Selector[]
}

/**
 * `ExploreConditional` (key `&`, fields `&` condition, `>`): continue with `next` at
 * this node only if `condition` holds for it.
 */
export interface ExploreConditional {
  kind: 'exploreConditional'
  condition: Condition
  next: Selector
}

/**
 * `InterpretAs` (key `~`, fields `as`, `>`): reify this node through the named ADL and
 * continue with `next` on the reified view (same position, as go-ipld-prime does).
 */
export interface ExploreInterpretAs {
  kind: 'exploreInterpretAs'
  as: string
  next: Selector
}

/** Any selector clause. */
export type Selector =
  | Matcher
  | ExploreAll
  | ExploreFields
  | ExploreIndex
  | ExploreRange
  | ExploreRecursive
  | ExploreRecursiveEdge
  | ExploreUnion
  | ExploreConditional
  | ExploreInterpretAs

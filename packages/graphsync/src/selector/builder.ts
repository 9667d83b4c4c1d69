/**
 * A typed builder for selectors, plus the common selectors.
 *
 * Builds the AST of `./types.ts`; the result still goes through the same limits when
 * parsed from the wire, and {@link validateSelector} checks a built one.
 */
import { encodeSelector, parseSelector } from './parse.js'
import type { CID } from 'multiformats/cid'
import type {
  Condition, ExploreAll, ExploreConditional, ExploreFields, ExploreIndex, ExploreInterpretAs, ExploreRange,
  ExploreRecursive, ExploreRecursiveEdge, ExploreUnion, Matcher, Selector, Slice
} from './types.js'

/** Options of {@link s.matcher}. */
export interface MatcherOptions {
  label?: string
  onlyIf?: Condition
  /** `[from, to)` of a string/bytes node; negative counts from the end. */
  subset?: Slice | [from: number | bigint, to: number | bigint]
}

/** Options of {@link s.exploreRecursive}: `depth` absent means `{none}` (no limit). */
export interface ExploreRecursiveOptions {
  depth?: number
  stopAt?: Condition
}

/** Selector builder functions. Each returns an AST node; nothing is validated until {@link validateSelector}. */
export const s = {
  /** `Matcher` (`.`). */
  matcher (options: MatcherOptions = {}): Matcher {
    const out: Matcher = { kind: 'matcher' }
    if (options.onlyIf !== undefined) out.onlyIf = options.onlyIf
    if (options.label !== undefined) out.label = options.label
    if (options.subset !== undefined) {
      out.subset = Array.isArray(options.subset) ? { from: options.subset[0], to: options.subset[1] } : options.subset
    }
    return out
  },
  /** `ExploreAll` (`a`). */
  exploreAll (next: Selector): ExploreAll {
    return { kind: 'exploreAll', next }
  },
  /** `ExploreFields` (`f`): fields in the object's (or entries') order. */
  exploreFields (fields: Record<string, Selector> | Array<[string, Selector]>): ExploreFields {
    return { kind: 'exploreFields', fields: Array.isArray(fields) ? [...fields] : Object.entries(fields) }
  },
  /** `ExploreIndex` (`i`). */
  exploreIndex (index: number, next: Selector): ExploreIndex {
    return { kind: 'exploreIndex', index, next }
  },
  /** `ExploreRange` (`r`): elements `[start, end)`. */
  exploreRange (start: number, end: number | bigint, next: Selector): ExploreRange {
    return { kind: 'exploreRange', start, end, next }
  },
  /** `ExploreRecursive` (`R`). `depth` absent means limit `{none}`. */
  exploreRecursive (sequence: Selector, options: ExploreRecursiveOptions = {}): ExploreRecursive {
    const out: ExploreRecursive = {
      kind: 'exploreRecursive',
      sequence,
      limit: options.depth === undefined ? { none: true } : { depth: options.depth }
    }
    if (options.stopAt !== undefined) out.stopAt = options.stopAt
    return out
  },
  /** `ExploreRecursiveEdge` (`@`). */
  recursiveEdge (): ExploreRecursiveEdge {
    return { kind: 'exploreRecursiveEdge' }
  },
  /** `ExploreUnion` (`|`). */
  union (...members: Selector[]): ExploreUnion {
    return { kind: 'exploreUnion', members }
  },
  /** `ExploreConditional` (`&`). */
  conditional (condition: Condition, next: Selector): ExploreConditional {
    return { kind: 'exploreConditional', condition, next }
  },
  /** `InterpretAs` (`~`), e.g. `s.interpretAs('unixfs', next)`. */
  interpretAs (as: string, next: Selector): ExploreInterpretAs {
    return { kind: 'exploreInterpretAs', as, next }
  },
  /** Condition `{"/": link}`: the node is a link equal to `link`. */
  isLink (link: CID): Condition {
    return { kind: 'isLink', link }
  },
  /** ExploreFields along a path of field names, ending in `leaf` (e.g. `s.path(['a','b'], s.matcher())`). */
  path (segments: string[], leaf: Selector): Selector {
    let out = leaf
    for (let i = segments.length - 1; i >= 0; i--) out = { kind: 'exploreFields', fields: [[segments[i], out]] }
    return out
  }
}

/** `{".": {}}`: match the root node only. */
export const matchRoot: Selector = s.matcher()

/**
 * Explore everything recursively with no limit and match every node:
 * `{"R": {"l": {"none": {}}, ":>": {"|": [{".": {}}, {"a": {">": {"@": {}}}}]}}}`
 * (go-ipld-prime `selectorparse.CommonSelector_MatchAllRecursively`).
 */
export const allSelector: Selector = s.exploreRecursive(s.union(s.matcher(), s.exploreAll(s.recursiveEdge())))

/**
 * Explore everything recursively with no limit, matching nothing (the "covered set"
 * only): go-ipld-prime `CommonSelector_ExploreAllRecursively`.
 */
export const exploreAllRecursively: Selector = s.exploreRecursive(s.exploreAll(s.recursiveEdge()))

/**
 * Check a built selector against the schema and limits (by encoding and re-parsing it).
 *
 * @throws InvalidSelectorError / SelectorLimitError as {@link parseSelector}
 */
export function validateSelector (sel: Selector): Selector {
  return parseSelector(encodeSelector(sel))
}

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as dagCbor from '@ipld/dag-cbor'
import {
  parseSelector, encodeSelector, selectorFromDagCbor, selectorToDagCbor, selectorFromDagJson, selectorToDagJson,
  canonicalizeSelector, validateSelector, s, allSelector, matchRoot,
  MAX_SELECTOR_DEPTH, MAX_UNION_MEMBERS, MAX_EXPLORE_FIELDS
} from '../src/index.js'
import type { Selector } from '../src/index.js'

const CID_A = CID.parse('bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')

/** One selector of every kind. */
const everyKind: Record<string, Selector> = {
  matcher: s.matcher(),
  matcherFull: s.matcher({ label: 'x', onlyIf: s.isLink(CID_A), subset: [-3, 2n ** 62n] }),
  exploreAll: s.exploreAll(s.matcher()),
  exploreFields: s.exploreFields({ zeta: s.matcher(), a: s.exploreAll(s.matcher()) }),
  exploreIndex: s.exploreIndex(3, s.matcher()),
  exploreRange: s.exploreRange(1, 5, s.matcher()),
  exploreRecursiveNone: allSelector,
  exploreRecursiveDepth: s.exploreRecursive(s.exploreAll(s.recursiveEdge()), { depth: 7, stopAt: s.isLink(CID_A) }),
  exploreRecursiveNested: s.exploreRecursive(s.exploreFields({ a: s.exploreRecursive(s.exploreAll(s.recursiveEdge()), { depth: 2 }), b: s.recursiveEdge() }), { depth: 3 }),
  exploreUnion: s.union(s.matcher(), s.exploreIndex(0, s.matcher())),
  exploreConditional: s.conditional(s.isLink(CID_A), s.matcher()),
  exploreInterpretAs: s.interpretAs('unixfs', s.exploreFields({ 'b.bin': s.matcher() }))
}

describe('selector parse/encode', () => {
  for (const [name, sel] of Object.entries(everyKind)) {
    it(`round-trips ${name} through the data model, DAG-CBOR and DAG-JSON`, () => {
      assert.deepEqual(parseSelector(encodeSelector(sel)), sel)
      assert.deepEqual(selectorFromDagCbor(selectorToDagCbor(sel)), canonicalizeSelector(sel))
      assert.deepEqual(encodeSelector(selectorFromDagJson(selectorToDagJson(sel))), encodeSelector(sel))
      assert.deepEqual(validateSelector(sel), sel)
    })
  }

  it('uses the spec short keys', () => {
    assert.deepEqual(encodeSelector(allSelector), { R: { l: { none: {} }, ':>': { '|': [{ '.': {} }, { a: { '>': { '@': {} } } }] } } })
    assert.deepEqual(encodeSelector(everyKind.exploreRange), { r: { '^': 1, $: 5, '>': { '.': {} } } })
    assert.deepEqual(encodeSelector(everyKind.exploreInterpretAs), { '~': { as: 'unixfs', '>': { f: { 'f>': { 'b.bin': { '.': {} } } } } } })
    assert.deepEqual(encodeSelector(matchRoot), { '.': {} })
  })

  it('keeps ExploreFields in encoded order when decoding DAG-CBOR (canonical: shorter key first)', () => {
    const sel = selectorFromDagCbor(selectorToDagCbor(s.exploreFields({ zeta: s.matcher(), a: s.matcher(), '10': s.matcher(), '9': s.matcher() })))
    assert.equal(sel.kind, 'exploreFields')
    assert.deepEqual(sel.kind === 'exploreFields' && sel.fields.map(f => f[0]), ['9', 'a', '10', 'zeta'])
  })

  it('accepts Maps and keeps their order', () => {
    const sel = parseSelector(new Map([['f', new Map([['f>', new Map([['b', { '.': {} }], ['a', { '.': {} }]])]])]]))
    assert.deepEqual(sel.kind === 'exploreFields' && sel.fields.map(f => f[0]), ['b', 'a'])
  })

  const edge = fc.constant<Selector>(s.recursiveEdge())
  const cond = fc.constant(s.isLink(CID_A))
  const bigInt64 = fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.bigInt({ min: 2n ** 53n, max: 2n ** 63n - 1n }))
  const arbSelector = fc.letrec<{ plain: Selector, inRec: Selector }>(tie => {
    const make = (inner: fc.Arbitrary<Selector>, rec: boolean): fc.Arbitrary<Selector> => fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.record({ label: fc.option(fc.string(), { nil: undefined }), subset: fc.option(fc.tuple(bigInt64, bigInt64), { nil: undefined }), onlyIf: fc.option(cond, { nil: undefined }) })
        .map(o => s.matcher(Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)))),
      ...(rec ? [edge] : []),
      inner.map(n => s.exploreAll(n)),
      fc.uniqueArray(fc.tuple(fc.string({ minLength: 0, maxLength: 6 }), inner), { minLength: 1, maxLength: 4, selector: t => t[0] })
        .map(f => s.exploreFields(f)),
      fc.tuple(fc.nat(1000), inner).map(([i, n]) => s.exploreIndex(i, n)),
      fc.tuple(fc.nat(100), fc.integer({ min: 1, max: 100 }), inner).map(([a, b, n]) => s.exploreRange(a, a + b, n)),
      fc.tuple(tie('inRec'), fc.option(fc.nat(10), { nil: undefined }), fc.option(cond, { nil: undefined }))
        .map(([seq, depth, stopAt]) => s.exploreRecursive(s.union(seq, s.exploreAll(s.recursiveEdge())), {
          ...(depth === undefined ? {} : { depth }), ...(stopAt === undefined ? {} : { stopAt })
        })),
      fc.array(inner, { minLength: 0, maxLength: 3 }).map(m => s.union(...m)),
      fc.tuple(cond, inner).map(([c, n]) => s.conditional(c, n)),
      inner.map(n => s.interpretAs('unixfs', n))
    )
    return { plain: make(tie('plain'), false), inRec: make(tie('inRec'), true) }
  })

  it('property: parse(encode(x)) === x and the DAG-CBOR form round-trips', () => {
    fc.assert(fc.property(arbSelector.plain, sel => {
      // a JS object cannot keep integer-like keys in insertion order, so compare those up to field order
      if (hasIntegerLikeField(sel)) assert.deepEqual(canonicalizeSelector(parseSelector(encodeSelector(sel))), canonicalizeSelector(sel))
      else assert.deepEqual(parseSelector(encodeSelector(sel)), sel)
      const bytes = selectorToDagCbor(sel)
      assert.deepEqual(selectorFromDagCbor(bytes), canonicalizeSelector(sel))
      assert.deepEqual(selectorToDagCbor(selectorFromDagCbor(bytes)), bytes)
    }), { numRuns: 300 })
  })
})

function hasIntegerLikeField (sel: Selector): boolean {
  return JSON.stringify(encodeSelector(sel), (_k, v) => typeof v === 'bigint' ? v.toString() : v).match(/"\d+":/) !== null
}

describe('invalid selectors', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['not a map', 5, /selector root/],
    ['two keys', { '.': {}, a: {} }, /exactly one key/],
    ['unknown kind', { x: {} }, /unknown selector kind "x"/],
    ['unknown key in Matcher', { '.': { foo: 1 } }, /"\."/],
    ['edge outside recursion', { a: { '>': { '@': {} } } }, /selector at "a\/>\/@"/],
    ['recursion without edge', { R: { l: { none: {} }, ':>': { '.': {} } } }, /"R\/:>"/],
    ['range end <= start', { r: { '^': 3, $: 3, '>': { '.': {} } } }, /"r\/\$"/],
    ['negative index', { i: { i: -1, '>': { '.': {} } } }, /"i\/i"/],
    ['bad limit', { R: { l: { forever: {} }, ':>': { '@': {} } } }, /"R\/l"/],
    ['negative depth', { R: { l: { depth: -1 }, ':>': { '@': {} } } }, /"R\/l\/depth"/],
    ['missing next', { a: {} }, /missing required key ">"/],
    ['union not a list', { '|': {} }, /"\|"/],
    ['nested error path', { f: { 'f>': { x: { f: { 'f>': { y: { i: { i: 'no', '>': { '.': {} } } } } } } } } }, /"f\/f>\/x\/f\/f>\/y\/i\/i"/],
    ['draft condition', { '&': { '&': { hasField: 'a' }, '>': { '.': {} } } }, /"&\/&\/hasField"/],
    ['isLink not a link', { '&': { '&': { '/': 'bafy' }, '>': { '.': {} } } }, /"&\/&\/\/"/],
    ['interpretAs without as', { '~': { '>': { '.': {} } } }, /"as"/],
    ['subset not int', { '.': { subset: { '[': 1.5, ']': 2 } } }, /"\.\/subset\/\["/]
  ]
  for (const [name, node, where] of cases) {
    it(`rejects ${name} with InvalidSelectorError naming the place`, () => {
      assert.throws(() => parseSelector(node), (err: Error) => {
        assert.equal(err.name, 'InvalidSelectorError')
        assert.match(err.message, where)
        return true
      })
    })
  }

  it('rejects invalid DAG-CBOR and DAG-JSON bytes', () => {
    assert.throws(() => selectorFromDagCbor(Uint8Array.of(0xff, 0x00)), { name: 'InvalidSelectorError' })
    assert.throws(() => selectorFromDagJson('{"a":'), { name: 'InvalidSelectorError' })
    // indefinite-length map: not DAG-CBOR
    assert.throws(() => selectorFromDagCbor(Uint8Array.of(0xbf, 0x61, 0x2e, 0xa0, 0xff)), { name: 'InvalidSelectorError' })
  })
})

describe('selector limits', () => {
  function nested (depth: number): unknown {
    let node: unknown = { '.': {} }
    for (let i = 0; i < depth; i++) node = { a: { '>': node } }
    return node
  }

  it('accepts nesting up to MAX_SELECTOR_DEPTH and rejects deeper ones', () => {
    parseSelector(nested(MAX_SELECTOR_DEPTH))
    assert.throws(() => parseSelector(nested(MAX_SELECTOR_DEPTH + 1)), { name: 'SelectorLimitError' })
  })

  it('rejects a very deeply nested selector (stack bomb) from DAG-CBOR without crashing', () => {
    // built by hand: cborg's own encoder overflows the stack at this depth
    const level = [0xa1, 0x61, 0x61, 0xa1, 0x61, 0x3e] // {"a": {">": ...
    const depth = 50_000
    const bytes = new Uint8Array(depth * level.length + 2)
    for (let i = 0; i < depth; i++) bytes.set(level, i * level.length)
    bytes.set([0x61, 0x2e], depth * level.length) // ..."." (invalid, never reached)
    assert.throws(() => selectorFromDagCbor(bytes), (err: Error) => ['SelectorLimitError', 'InvalidSelectorError'].includes(err.name))
  })

  it('rejects huge unions', () => {
    const ok = { '|': Array.from({ length: MAX_UNION_MEMBERS }, () => ({ '.': {} })) }
    parseSelector(ok)
    assert.throws(() => parseSelector({ '|': Array.from({ length: MAX_UNION_MEMBERS + 1 }, () => ({ '.': {} })) }), { name: 'SelectorLimitError' })
  })

  it('rejects too many fields', () => {
    const fields = Object.fromEntries(Array.from({ length: MAX_EXPLORE_FIELDS + 1 }, (_, i) => [`k${i}`, { '.': {} }]))
    assert.throws(() => parseSelector({ f: { 'f>': fields } }), { name: 'SelectorLimitError' })
  })

  it('rejects too many clauses overall', () => {
    const wide = { '|': Array.from({ length: 64 }, () => ({ '|': Array.from({ length: 64 }, () => ({ '|': Array.from({ length: 8 }, () => ({ '.': {} })) })) })) }
    assert.throws(() => parseSelector(wide), { name: 'SelectorLimitError' })
  })

  it('options can tighten the limits', () => {
    assert.throws(() => parseSelector(nested(5), { maxDepth: 4 }), { name: 'SelectorLimitError' })
  })
})

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import * as cborg from 'cborg'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { traverse, Traversal, s, allSelector, exploreAllRecursively, matchRoot, selectorFromDagJson, visitToFixtureJson, sliceBounds } from '../src/index.js'
import type { VisitEvent } from '../src/index.js'
import { MemoryStore, collect } from './helpers.js'

/** A two-level dag-cbor DAG: root -> {layers: [link(l0), link(l1)], name} */
async function smallDag (store: MemoryStore): Promise<{ root: CID, l0: CID, l1: CID, leaf: CID }> {
  const leaf = await store.putRaw(Uint8Array.of(1, 2, 3))
  const l0 = await store.putCbor({ w: leaf, b: 0 })
  const l1 = await store.putCbor({ w: leaf, b: 1 })
  const root = await store.putCbor({ name: 'm', layers: [l0, l1] })
  return { root, l0, l1, leaf }
}

const brief = (e: VisitEvent): string => `${e.path}|${e.kind}|${e.matched ? 'M' : '-'}${e.block !== undefined ? '|B' : ''}`

describe('traverse', () => {
  it('walks every block in data order with allSelector, following links', async () => {
    const store = new MemoryStore()
    const { root, l0, l1, leaf } = await smallDag(store)
    const events = await collect(traverse(root, allSelector, store.loader))
    // dag-cbor maps in canonical key order: "name" (4) before "layers" (6); "b" before "w"
    assert.deepEqual(events.map(brief), [
      '|map|M|B', 'name|string|M', 'layers|list|M',
      'layers/0|map|M|B', 'layers/0/b|int|M', 'layers/0/w|bytes|M|B',
      'layers/1|map|M|B', 'layers/1/b|int|M', 'layers/1/w|bytes|M|B'
    ])
    assert.deepEqual(events.filter(e => e.block !== undefined).map(e => e.block?.cid.toString()),
      [root, l0, leaf, l1, leaf].map(String))
    assert.ok(events[3].link?.equals(l0))
    assert.equal(store.loads, 5)
  })

  it('walks dag-cbor maps in the order the block encodes them (go-ipld-prime), integer-like keys included', async () => {
    const store = new MemoryStore()
    // canonical: "a" (1 byte) before "10" (2 bytes); JavaScript's Object.keys would say "10" first
    const canonical = await store.putCbor({ 10: 'ten', a: 'a', 2: 'two' })
    assert.deepEqual((await collect(traverse(canonical, allSelector, store.loader))).map(e => e.path), ['', '2', 'a', '10'])
    // a block that is not canonical (keys "b", "a", "10", "1" in that order): walked as encoded
    const bytes = cborg.encode(new Map<string, unknown>([['b', 1], ['a', 2], ['10', 3], ['1', new Map([['z', 0], ['y', 1]])]]), { mapSorter: () => 0 })
    const odd = await store.put(bytes, 0x71)
    assert.deepEqual((await collect(traverse(odd, allSelector, store.loader))).map(e => e.path), ['', 'b', 'a', '10', '1', '1/z', '1/y'])
  })

  it('ExploreFields visits in selector order and skips absent fields', async () => {
    const store = new MemoryStore()
    const root = await store.putCbor({ a: 1, b: 2, c: 3 })
    const sel = s.exploreFields({ c: s.matcher(), missing: s.matcher(), a: s.matcher() })
    assert.deepEqual((await collect(traverse(root, sel, store.loader))).map(e => e.path), ['', 'c', 'a'])
  })

  it('a union visits shared interests once, in member order, and matches with the first matching member label', async () => {
    const store = new MemoryStore()
    const root = await store.putCbor(['x', 'y', 'z'])
    const sel = s.union(s.exploreIndex(2, s.matcher({ label: 'two' })), s.exploreRange(0, 3, s.matcher({ label: 'range' })))
    const events = await collect(traverse(root, sel, store.loader))
    assert.deepEqual(events.map(e => `${e.path}:${e.label ?? ''}`), [':', '2:two', '0:range', '1:range'])
  })

  it('depth-limited recursion over linked blocks stops at the limit', async () => {
    const store = new MemoryStore()
    let cid = await store.putCbor({ end: true })
    for (let i = 0; i < 10; i++) cid = await store.putCbor({ next: cid })
    const sel = s.exploreRecursive(s.union(s.matcher(), s.exploreFields({ next: s.recursiveEdge() })), { depth: 3 })
    const events = await collect(traverse(cid, sel, store.loader))
    assert.deepEqual(events.map(e => e.path), ['', 'next', 'next/next'])
  })

  it('stopAt does not visit (nor load) the matching link', async () => {
    const store = new MemoryStore()
    const { root, l1 } = await smallDag(store)
    const sel = s.exploreRecursive(s.union(s.matcher(), s.exploreAll(s.recursiveEdge())), { stopAt: s.isLink(l1) })
    const events = await collect(traverse(root, sel, store.loader))
    assert.ok(!events.some(e => e.path.startsWith('layers/1')))
    assert.ok(events.some(e => e.path === 'layers/0/w'))
  })

  it('ExploreConditional continues only where its condition holds', async () => {
    const store = new MemoryStore()
    const { root, l0 } = await smallDag(store)
    const sel = s.exploreFields({ layers: s.exploreAll(s.conditional(s.isLink(l0), s.matcher())) })
    const events = await collect(traverse(root, sel, store.loader))
    assert.deepEqual(events.map(brief), ['|map|-|B', 'layers|list|-', 'layers/0|map|M|B', 'layers/1|map|-|B'])
  })

  it('traverses dag-pb in schema order (Links before Data)', async () => {
    const store = new MemoryStore()
    const leaf = await store.putRaw(Uint8Array.of(9))
    const root = await store.putPb({ Data: Uint8Array.of(8), Links: [{ Hash: leaf, Name: 'x', Tsize: 1 }] })
    const events = await collect(traverse(root, exploreAllRecursively, store.loader))
    assert.deepEqual(events.map(e => e.path), ['', 'Links', 'Links/0', 'Links/0/Hash', 'Links/0/Name', 'Links/0/Tsize', 'Data'])
    assert.equal(events[3].kind, 'bytes')
    assert.ok(events[3].link?.equals(leaf))
  })

  it('InterpretAs unixfs reifies a directory as a map of names to links', async () => {
    const store = new MemoryStore()
    const a = await store.putRaw(new TextEncoder().encode('aaa'))
    const b = await store.putRaw(new TextEncoder().encode('bbb'))
    const dir = await store.putPb({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: [{ Hash: a, Name: 'a.txt', Tsize: 3 }, { Hash: b, Name: 'b.bin', Tsize: 3 }] })
    const one = await collect(traverse(dir, s.interpretAs('unixfs', s.exploreFields({ 'b.bin': s.matcher() })), store.loader))
    assert.deepEqual(one.map(brief), ['|map|-|B', 'b.bin|bytes|M|B'])
    assert.ok(one[0].node instanceof Map)
    const all = await collect(traverse(dir, s.interpretAs('unixfs', s.exploreAll(s.matcher({ subset: [1, 2] }))), store.loader))
    assert.deepEqual(all.map(e => visitToFixtureJson(e)), [
      { path: '', node: { map: null }, matched: false },
      { path: 'a.txt', node: { bytes: { '/': { bytes: 'YQ' } } }, matched: true },
      { path: 'b.bin', node: { bytes: { '/': { bytes: 'Yg' } } }, matched: true }
    ])
  })

  it('InterpretAs unixfs reads a multi-level UnixFS file as one bytes node, its blocks loaded in order', async () => {
    const store = new MemoryStore()
    const a = await store.putRaw(new TextEncoder().encode('aa'))
    const b = await store.putRaw(new TextEncoder().encode('bbb'))
    const inner = await store.putPb({ Data: new UnixFS({ type: 'file', data: new TextEncoder().encode('<'), blockSizes: [2n, 3n] }).marshal(), Links: [{ Hash: a, Tsize: 2 }, { Hash: b, Tsize: 3 }] })
    const file = await store.putPb({ Data: new UnixFS({ type: 'file', blockSizes: [6n, 2n] }).marshal(), Links: [{ Hash: inner, Tsize: 80 }, { Hash: a, Tsize: 2 }] })
    const loaded: string[] = []
    const loader = async (cid: CID): Promise<Uint8Array> => { loaded.push(cid.toString()); return await store.loader(cid) }
    const whole = await collect(traverse(file, s.interpretAs('unixfs', matchRoot), loader))
    assert.equal(whole.length, 1)
    assert.equal(new TextDecoder().decode(whole[0].node as Uint8Array), '<aabbbaa')
    assert.deepEqual(whole[0].adlBlocks?.map(b => b.cid.toString()), [inner, a, b, a].map(String))
    assert.deepEqual(loaded, [file, inner, a, b, a].map(String))
    const slice = await collect(traverse(file, s.interpretAs('unixfs', s.matcher({ subset: [1, -2] })), store.loader))
    assert.equal(new TextDecoder().decode(slice[0].node as Uint8Array), 'aabbb')
    // a child that is not a file node
    const dir = await store.putPb({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: [] })
    const bad = await store.putPb({ Data: new UnixFS({ type: 'file', blockSizes: [0n] }).marshal(), Links: [{ Hash: dir, Tsize: 1 }] })
    await assert.rejects(collect(traverse(bad, s.interpretAs('unixfs', matchRoot), store.loader)), { name: 'InvalidAdlDataError' })
  })

  it('InterpretAs unixfs rejects a symlink (not supported) and an unknown ADL', async () => {
    const store = new MemoryStore()
    const leaf = await store.putRaw(Uint8Array.of(1))
    const file = await store.putPb({ Data: new UnixFS({ type: 'file', blockSizes: [1n] }).marshal(), Links: [{ Hash: leaf, Tsize: 1 }] })
    const symlink = await store.putPb({ Data: new UnixFS({ type: 'symlink', data: new TextEncoder().encode('x') }).marshal(), Links: [] })
    await assert.rejects(collect(traverse(symlink, s.interpretAs('unixfs', matchRoot), store.loader)), { name: 'UnsupportedSelectorError' })
    await assert.rejects(collect(traverse(file, s.interpretAs('hamt', matchRoot), store.loader)), { name: 'UnsupportedSelectorError' })
    const notUnixfs = await store.putPb({ Data: Uint8Array.of(0xff, 0xff), Links: [] })
    await assert.rejects(collect(traverse(notUnixfs, s.interpretAs('unixfs', matchRoot), store.loader)), { name: 'InvalidAdlDataError' })
  })

  it('rejects a block whose bytes do not match its CID', async () => {
    const store = new MemoryStore()
    const { root, l0 } = await smallDag(store)
    store.blocks.set(l0.toString(), store.blocks.get(root.toString()) as Uint8Array)
    await assert.rejects(collect(traverse(root, allSelector, store.loader)), { name: 'BlockHashMismatchError' })
  })

  it('rejects blocks of unknown codecs and undecodable blocks', async () => {
    const store = new MemoryStore()
    const odd = await store.put(Uint8Array.of(1), 0x0300)
    await assert.rejects(collect(traverse(odd, matchRoot, store.loader)), { name: 'UnsupportedCodecError' })
    const bad = await store.put(Uint8Array.of(0xff), 0x71)
    await assert.rejects(collect(traverse(bad, matchRoot, store.loader)), { name: 'BlockDecodeError' })
  })

  it('slice bounds follow the spec', () => {
    assert.deepEqual(sliceBounds(30, 44, 48), [30, 44])
    assert.deepEqual(sliceBounds(-9, 2n ** 63n - 1n, 48), [39, 48])
    assert.deepEqual(sliceBounds(-100, 5, 48), [0, 5])
    assert.deepEqual(sliceBounds(5, 5, 48), [5, 5])
    assert.equal(sliceBounds(6, 5, 48), undefined)
    assert.equal(sliceBounds(49, 60, 48), undefined)
    assert.equal(sliceBounds(0, -100, 48), undefined)
  })
})

describe('traverse budgets and limits', () => {
  async function chain (store: MemoryStore, length: number): Promise<CID> {
    let cid = await store.putCbor({ end: true })
    for (let i = 0; i < length; i++) cid = await store.putCbor({ n: cid })
    return cid
  }

  it('recursion without limit over a deep chain stops at the depth budget', async () => {
    const store = new MemoryStore()
    const root = await chain(store, 200)
    await assert.rejects(collect(traverse(root, allSelector, store.loader, { budget: { depth: 50 } })), (err: any) => {
      assert.equal(err.name, 'TraversalBudgetError')
      assert.equal(err.budget, 'depth')
      return true
    })
  })

  it('the default depth budget bounds a hostile chain', async () => {
    const store = new MemoryStore()
    const root = await chain(store, 1100)
    await assert.rejects(collect(traverse(root, exploreAllRecursively, store.loader)), { name: 'TraversalBudgetError' })
  })

  it('a depth bomb (huge depth limit, wide fan-out) stops at the blocks budget', async () => {
    const store = new MemoryStore()
    let level = [await store.putCbor({ leaf: 1 })]
    for (let d = 0; d < 6; d++) level = [await store.putCbor(Array.from({ length: 8 }, (_, i) => level[i % level.length]))]
    const sel = selectorFromDagJson('{"R":{"l":{"depth":1000000},":>":{"a":{">":{"@":{}}}}}}')
    await assert.rejects(collect(traverse(level[0], sel, store.loader, { budget: { blocks: 100 } })), (err: any) => {
      assert.equal(err.budget, 'blocks')
      return true
    })
    assert.equal(store.loads, 100)
  })

  it('stops at the bytes budget', async () => {
    const store = new MemoryStore()
    const big = await store.putRaw(new Uint8Array(1000))
    const root = await store.putCbor([big, big, big])
    await assert.rejects(collect(traverse(root, allSelector, store.loader, { budget: { bytes: 2500 } })), (err: any) => {
      assert.equal(err.budget, 'bytes')
      return true
    })
  })

  it('an exponential recursion selector is held in check (deduplicated edges)', async () => {
    const store = new MemoryStore()
    const root = await chain(store, 40)
    // each step doubles the naive runtime selector; dedup keeps it constant
    const sel = s.exploreRecursive(s.union(s.exploreAll(s.recursiveEdge()), s.exploreAll(s.recursiveEdge()), s.matcher()))
    const events = await collect(traverse(root, sel, store.loader))
    assert.equal(events.length, 42) // 41 block roots + the final {end: true} field
    assert.ok(events.every(e => e.matched))
  })

  it('keeps only the current path on its stack', async () => {
    const store = new MemoryStore()
    const root = await chain(store, 30)
    const t = new Traversal(root, allSelector, store.loader)
    let maxFrames = 0
    for (let e = await t.step(); e !== undefined; e = await t.step()) maxFrames = Math.max(maxFrames, t.depth)
    assert.ok(maxFrames <= 31 * 1 + 1, `frames ${maxFrames}`)
    // a wide flat DAG needs a constant stack
    const wide = await store.putCbor(Array.from({ length: 500 }, (_, i) => ({ i })))
    const w = new Traversal(wide, allSelector, store.loader)
    let wideMax = 0
    for (let e = await w.step(); e !== undefined; e = await w.step()) wideMax = Math.max(wideMax, w.depth)
    assert.equal(wideMax, 2)
  })

  it('aborts through its signal, and passes the signal to the loader', async () => {
    const store = new MemoryStore()
    const root = await chain(store, 20)
    const controller = new AbortController()
    const seen: Array<AbortSignal | undefined> = []
    const loader = async (cid: CID, opts: { signal?: AbortSignal, path: string }): Promise<Uint8Array> => {
      seen.push(opts.signal)
      if (seen.length === 5) controller.abort()
      return store.loader(cid, opts)
    }
    let count = 0
    await assert.rejects((async () => {
      for await (const _ of traverse(root, allSelector, loader, { signal: controller.signal })) count++
    })(), { name: 'AbortError' })
    assert.ok(count < 20)
    assert.equal(seen[0], controller.signal)
  })

  it('reports loaded blocks through onProgress', async () => {
    const store = new MemoryStore()
    const { root } = await smallDag(store)
    const types: string[] = []
    await collect(traverse(root, allSelector, store.loader, { onProgress: e => types.push(`${e.type}:${e.detail.path}`) }))
    assert.deepEqual(types, ['tensorswap:graphsync:traverse:block:', 'tensorswap:graphsync:traverse:block:layers/0',
      'tensorswap:graphsync:traverse:block:layers/0/w', 'tensorswap:graphsync:traverse:block:layers/1', 'tensorswap:graphsync:traverse:block:layers/1/w'])
  })
})

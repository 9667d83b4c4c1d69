import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as dagJson from '@ipld/dag-json'
import * as dagCbor from '@ipld/dag-cbor'
import { selectorFromDagJson, selectorFromDagCbor, traverse, visitToFixtureJson, encodeSelector } from '../src/index.js'
import { MemoryStore, collect } from './helpers.js'

interface Fixture { name: string, source: string, data: string, selector: string, expectVisit: string[] }

// dist/test/fixtures.test.js -> ../../test/fixtures (the JSON is data, not compiled)
const fixtures: Fixture[] = JSON.parse(readFileSync(fileURLToPath(new URL('../../test/fixtures/selector-fixtures.json', import.meta.url)), 'utf8'))

/** selector-fixtures-adl: a dag-pb UnixFS file (the `root` hunk, its dag-pb data model in DAG-JSON) over dag-json leaves. */
interface AdlFixture { name: string, source: string, root: string, blocks: Record<string, string>, selector: string, expectVisit: string[] }
const adl: AdlFixture = JSON.parse(readFileSync(fileURLToPath(new URL('../../test/fixtures/selector-fixtures-adl.json', import.meta.url)), 'utf8'))

describe('IPLD selector spec fixtures (ADL)', () => {
  it(`${adl.name}: InterpretAs unixfs reads a file as one bytes node, Matcher subset slices it`, async () => {
    const store = new MemoryStore()
    for (const [name, text] of Object.entries(adl.blocks)) {
      // each leaf hunk is named by its CID: the block is the hunk's canonical dag-json
      assert.equal((await store.putJson(dagJson.parse(text))).toString(), name)
    }
    const root = await store.putPb(dagJson.parse(adl.root))
    const visits = (await collect(traverse(root, selectorFromDagJson(adl.selector), store.loader))).map(visitToFixtureJson)
    assert.deepEqual(visits, adl.expectVisit.map(l => JSON.parse(l)))
    assert.equal(store.loads, 5, 'the root and its four chunks')
  })
})

describe('IPLD selector spec fixtures', () => {
  it('has the fixtures of selector-fixtures-1 and -recursion', () => {
    assert.equal(fixtures.length, 10)
  })

  for (const fx of fixtures) {
    for (const codec of ['dag-json', 'dag-cbor'] as const) {
      it(`${fx.name} (${codec} block)`, async () => {
        const store = new MemoryStore()
        const value = dagJson.parse(fx.data)
        const root = codec === 'dag-json' ? await store.putJson(value) : await store.putCbor(value)
        const sel = selectorFromDagJson(fx.selector)
        const visits = (await collect(traverse(root, sel, store.loader))).map(visitToFixtureJson)
        assert.deepEqual(visits, fx.expectVisit.map(l => JSON.parse(l)))
      })
    }
    it(`${fx.name}: selector survives DAG-CBOR`, () => {
      const sel = selectorFromDagJson(fx.selector)
      assert.deepEqual(encodeSelector(selectorFromDagCbor(dagCbor.encode(encodeSelector(sel)))), encodeSelector(sel))
    })
  }
})

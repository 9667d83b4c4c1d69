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

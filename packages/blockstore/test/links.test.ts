import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import { hashBlock, links } from '../src/index.js'

const enc = new TextEncoder()
const a = hashBlock(enc.encode('a'))
const b = hashBlock(enc.encode('b'))
const c = hashBlock(enc.encode('c'))
const d = hashBlock(enc.encode('d'))

function strs (cids: CID[]): string[] { return cids.map(x => x.toString()) }

describe('links', () => {
  it('raw has no links', () => {
    assert.deepEqual(links(a, enc.encode('a')), [])
  })

  it('dag-pb: Links in list order', () => {
    const node = dagPb.prepare({ Links: [{ Hash: c, Name: 'z' }, { Hash: a, Name: 'y' }, { Hash: b, Name: 'x' }] })
    // dag-pb sorts links by name when encoding: x(b), y(a), z(c)
    const bytes = dagPb.encode(node)
    const cid = hashBlock(bytes, dagPb.code)
    assert.deepEqual(strs(links(cid, bytes)), strs(dagPb.decode(bytes).Links.map(l => l.Hash)))
    assert.deepEqual(strs(links(cid, bytes)), strs([b, a, c]))
  })

  it('dag-cbor: canonical key order (length first), lists by index, nested, duplicates kept', () => {
    const value = { bb: [c, { z: d }], a: a, c: { x: b }, big: new Uint8Array(3), n: 1, s: 'str', nil: null, again: a }
    const bytes = dagCbor.encode(value)
    const cid = hashBlock(bytes, dagCbor.code)
    // length-first key order: a, c, n, s, bb, big, nil, again
    assert.deepEqual(strs(links(cid, bytes)), strs([a, b, c, d, a]))
  })

  it('dag-json: canonical key order (bytewise)', () => {
    const value = { bb: c, a: [a, b], c: d }
    const bytes = dagJson.encode(value)
    const cid = hashBlock(bytes, dagJson.code)
    // bytewise: a, bb, c  (dag-cbor would give a, c, bb)
    assert.deepEqual(strs(links(cid, bytes)), strs([a, b, c, d]))
    const cborBytes = dagCbor.encode(value)
    assert.deepEqual(strs(links(hashBlock(cborBytes, dagCbor.code), cborBytes)), strs([a, b, d, c]))
  })

  it('unknown codec -> UnsupportedCodecError', () => {
    const cid = CID.createV1(0x0200, a.multihash) // json
    assert.throws(() => links(cid, enc.encode('{}')), { name: 'UnsupportedCodecError' })
  })
})

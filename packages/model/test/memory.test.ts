import assert from 'node:assert/strict'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, before, after } from 'node:test'
import { importModel } from '../src/index.js'
import { tempDir } from './fixtures.js'
import type { CID } from 'multiformats/cid'

describe('constant memory', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  before(async () => { tmp = await tempDir('tensorswap-mem-', true) })
  after(async () => { await tmp.cleanup() })

  it('imports a 1 GiB file without holding it (a store that keeps nothing)', async () => {
    const path = join(tmp.dir, 'one-gib.bin')
    const fh = await open(path, 'w')
    await fh.write(Buffer.from('not all zeros'), 0, 13, 700_000_000)
    await fh.truncate(2 ** 30)
    await fh.close()
    let puts = 0
    let putBytes = 0
    const sink = {
      put: async (cid: CID, bytes: any) => { puts++; putBytes += bytes.byteLength; return cid }
    }
    const start = process.memoryUsage().arrayBuffers
    let peak = 0
    const result = await importModel(sink, path, {
      onProgress: (evt) => {
        if (evt.type === 'tensorswap:import:bytes') peak = Math.max(peak, process.memoryUsage().arrayBuffers - start)
      }
    })
    assert.equal(result.bytes, 2 ** 30)
    // 1024 leaves + 1 root node + the manifest
    assert.equal(puts, 1026)
    assert.ok(putBytes > 2 ** 30)
    // bounded by a few read buffers, far below the file size (a leaked buffer per read would be ~1 GiB)
    assert.ok(peak < 256 * 1_048_576, `array buffers grew by ${peak} bytes`)
  })
})

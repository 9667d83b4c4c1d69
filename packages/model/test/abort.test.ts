import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { truncateSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, before, after } from 'node:test'
import { MemoryBlockstore } from 'blockstore-core'
import { importModel, exportModel, listModel, readManifest } from '../src/index.js'
import { tempDir } from './fixtures.js'
import { countBlocks } from './helpers.js'
import type { CID } from 'multiformats/cid'

describe('abort', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let path: string
  let root: CID
  const store = new MemoryBlockstore()
  before(async () => {
    tmp = await tempDir()
    path = join(tmp.dir, 'big.bin')
    await writeFile(path, randomBytes(12 * 1_048_576))
    root = (await importModel(store, path)).root
  })
  after(async () => { await tmp.cleanup() })

  it('importModel with an aborted signal stores nothing', async () => {
    const s = new MemoryBlockstore()
    await assert.rejects(importModel(s, path, { signal: AbortSignal.abort() }), { name: 'AbortError' })
    assert.equal(await countBlocks(s), 0)
  })

  it('importModel aborted mid-file stops there', async () => {
    const s = new MemoryBlockstore()
    const controller = new AbortController()
    let events = 0
    await assert.rejects(importModel(s, path, {
      signal: controller.signal,
      onProgress: (evt) => {
        if (evt.type === 'tensorswap:import:bytes' && ++events === 1) controller.abort()
      }
    }), { name: 'AbortError' })
    assert.equal(events, 1)
    const stored = await countBlocks(s)
    assert.ok(stored < 12, `stored ${stored} leaves of 12`)
  })

  it('exportModel, listModel and readManifest take a signal', async () => {
    const signal = AbortSignal.abort()
    await assert.rejects(exportModel(store, root, join(tmp.dir, 'out'), { signal }), { name: 'AbortError' })
    await assert.rejects(listModel(store, root, { signal }), { name: 'AbortError' })
    await assert.rejects(readManifest(store, root, { signal }), { name: 'AbortError' })
  })

  it('a file that changes between the layout and the write pass -> FileChangedError', async () => {
    const p = join(tmp.dir, 'changing.bin')
    await writeFile(p, randomBytes(3 * 1_048_576))
    await assert.rejects(importModel(new MemoryBlockstore(), p, {
      onProgress: (evt) => { if (evt.type === 'tensorswap:import:file') truncateSync(p, 1_048_576) }
    }), { name: 'FileChangedError' })
  })

  it('progress events report bytes', async () => {
    const seen: Array<{ type: string, detail: any }> = []
    await importModel(new MemoryBlockstore(), path, { onProgress: (evt) => seen.push({ type: evt.type, detail: evt.detail }) })
    const bytes = seen.filter(e => e.type === 'tensorswap:import:bytes')
    assert.equal(bytes[bytes.length - 1].detail.totalBytes, 12 * 1_048_576)
    assert.equal(seen[0].type, 'tensorswap:import:file')
    assert.equal(seen[seen.length - 1].type, 'tensorswap:import:manifest')
  })
})

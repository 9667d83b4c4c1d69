/**
 * The pusher's count of its DAG (`countDag`, spec/tensorswap.md §8 "Push"), on a repo that
 * `tensorswap add` filled with a real model (human-models `emotion`, TF.js shards): it agrees
 * with the verified walk (`dagBlocks`) on blocks and bytes, reads no raw leaf from a store that
 * knows sizes (a store whose leaf reads fail still counts), reads and verifies every block of a
 * store without sizes, and a leaf missing from the store is a `BlockNotFoundError` naming it.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { dagBlocks, getBlockUnverified, openRepo, type Repo } from '@tensorswap/blockstore'
import { CID } from 'multiformats/cid'
import { countDag } from 'tensorswap'
import { runCliJson } from '../helpers/cli.js'
import { copyHumanModel } from '../helpers/model.js'

const RAW = 0x55

describe('countDag (what a push announces)', () => {
  let work: string
  let repo: Repo
  let root: CID
  let walked: { blocks: number, bytes: number, leaves: CID[] }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-push-count-'))
    const model = await copyHumanModel('emotion', join(work, 'model'))
    const added = await runCliJson<{ root: string }>(['--repo', join(work, 'repo'), 'add', model, '--json'])
    root = CID.parse(added.root)
    repo = await openRepo(join(work, 'repo'), { create: false })
    walked = { blocks: 0, bytes: 0, leaves: [] }
    for await (const b of dagBlocks(repo.blockstore, root)) {
      walked.blocks++
      walked.bytes += b.bytes.byteLength
      if (b.cid.code === RAW) walked.leaves.push(b.cid)
    }
    assert.ok(walked.leaves.length > 1, 'the model has several raw leaves')
  })
  after(async () => {
    await repo?.close()
    await rm(work, { recursive: true, force: true })
  })

  it('agrees with the verified walk on blocks and bytes', async () => {
    assert.deepEqual(await countDag(repo.blockstore, root), { blocks: walked.blocks, bytes: walked.bytes })
  })

  it('reads no raw leaf when the store knows sizes', async () => {
    const store = repo.blockstore
    const noLeafReads = {
      get: (cid: CID, o?: { signal?: AbortSignal }) => {
        if (cid.code === RAW) throw new Error(`leaf ${cid} read`)
        return store.get(cid, o)
      },
      size: async (cid: CID, o?: { signal?: AbortSignal }) => await store.size(cid, o)
    }
    assert.deepEqual(await countDag(noLeafReads as any, root), { blocks: walked.blocks, bytes: walked.bytes })
    await assert.rejects(async () => { for await (const _ of dagBlocks(noLeafReads as any, root)) {} }, /read/)
  })

  it('reads and verifies every block of a store without sizes', async () => {
    const store = repo.blockstore
    const leaf = walked.leaves[0]
    const flipped = {
      get: async function * (cid: CID, o?: { signal?: AbortSignal }) {
        const bytes = new Uint8Array(await getBlockUnverified(store, cid, o))
        if (cid.equals(leaf)) bytes[0] ^= 1
        yield bytes
      }
    }
    await assert.rejects(countDag(flipped as any, root), { name: 'BlockHashMismatchError' })
    const plain = { get: (cid: CID, o?: { signal?: AbortSignal }) => store.get(cid, o) }
    assert.deepEqual(await countDag(plain as any, root), { blocks: walked.blocks, bytes: walked.bytes })
  })

  it('a leaf missing from the store: BlockNotFoundError naming it', async () => {
    const leaf = walked.leaves[walked.leaves.length - 1]
    await repo.blockstore.delete(leaf)
    await assert.rejects(countDag(repo.blockstore, root), (err: any) => err.name === 'BlockNotFoundError' && err.cid.equals(leaf))
  })
})

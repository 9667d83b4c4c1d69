/**
 * `tensorswap pin add|rm|ls` and `tensorswap gc` (issue 12): added roots are pinned; gc frees
 * exactly what no pin reaches, says how many bytes, gives the disk space back, and the pinned
 * models still verify complete.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, runCliJson } from '../helpers/cli.js'
import { copyHumanModel, writeRealWeightsFile } from '../helpers/model.js'
import { storeBytes } from '../helpers/store.js'

describe('pin and gc', () => {
  let work: string
  before(async () => { work = await mkdtemp(join(tmpdir(), 'ts-store-gc-')) })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('frees what no pin reaches, reports the bytes, keeps the pinned DAGs whole', async () => {
    const repo = join(work, 'repo')
    const a = await copyHumanModel('emotion', join(work, 'a'))
    const b = join(work, 'b')
    await mkdir(b)
    await writeRealWeightsFile(join(b, 'weights.bin'), 6 * 1024 * 1024)
    await copyHumanModel('iris', join(b, 'iris'))
    const addedA = await runCliJson(['--repo', repo, 'add', a])
    const addedB = await runCliJson(['--repo', repo, 'add', b])
    const pins = (await runCliJson(['--repo', repo, 'pin', 'ls'])).pins.map((p: { cid: string }) => p.cid).sort()
    assert.deepEqual(pins, [addedA.root, addedB.root].sort(), 'add pins its root')

    const none = await runCliJson(['--repo', repo, 'gc'])
    assert.equal(none.blocks, 0, 'everything is pinned')

    const unpinned = await runCliJson(['--repo', repo, 'pin', 'rm', addedB.root])
    assert.deepEqual(unpinned.removed, [addedB.root])
    assert.equal((await runCli(['--repo', repo, 'pin', 'rm', addedB.root])).code, 1, 'not pinned any more')
    const before = await storeBytes(repo)
    const freed = await runCliJson(['--repo', repo, 'gc'])
    assert.equal(freed.blocks, addedB.blocksStored, 'every block only B had')
    assert.ok(freed.bytes >= addedB.bytes, `${freed.bytes} bytes freed for a ${addedB.bytes}-byte model`)
    const after = await storeBytes(repo)
    assert.ok(before - after >= addedB.bytes, `disk given back: ${before} -> ${after}`)
    assert.equal(freed.diskBytes, before - after)

    const okA = await runCliJson(['--repo', repo, 'verify', addedA.root])
    assert.equal(okA.corrupt + okA.missing, 0)
    const goneB = await runCli(['--repo', repo, 'verify', addedB.root, '--json'])
    assert.equal(goneB.code, 1)
    assert.ok(JSON.parse(goneB.stdout).missing > 0)
    // gc again: nothing more; a re-add stores B again
    assert.equal((await runCliJson(['--repo', repo, 'gc'])).blocks, 0)
    const again = await runCliJson(['--repo', repo, 'add', b])
    assert.equal(again.root, addedB.root)
    assert.equal((await runCliJson(['--repo', repo, 'verify', addedB.root])).missing, 0)
  })
})

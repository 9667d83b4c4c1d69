import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { Key } from 'interface-datastore'
import { getBlock, hashBlock, openRepo, resolveRepoPath } from '../src/index.js'
import { rmDir, tmpDir } from './helpers.js'

describe('resolveRepoPath', () => {
  it('flag > $TENSORSWAP_PATH > ~/.tensorswap', () => {
    const saved = process.env.TENSORSWAP_PATH
    try {
      delete process.env.TENSORSWAP_PATH
      assert.equal(resolveRepoPath(), path.join(os.homedir(), '.tensorswap'))
      process.env.TENSORSWAP_PATH = '/srv/ts-env'
      assert.equal(resolveRepoPath(), '/srv/ts-env')
      assert.equal(resolveRepoPath('/data/flag'), '/data/flag')
      assert.equal(resolveRepoPath('~/x'), path.join(os.homedir(), 'x'))
      assert.equal(resolveRepoPath('rel'), path.resolve('rel'))
    } finally {
      if (saved === undefined) delete process.env.TENSORSWAP_PATH
      else process.env.TENSORSWAP_PATH = saved
    }
  })
})

describe('openRepo', () => {
  it('creates config, a 0600 identity key, blockstore and datastore; reopen reloads them', async () => {
    const dir = await tmpDir()
    const repoPath = path.join(dir, 'repo')
    const repo = await openRepo(repoPath)
    assert.deepEqual(repo.config, { version: 1, listen: ['/ip4/0.0.0.0/udp/0/quic-v1', '/ip4/0.0.0.0/tcp/0'] })
    assert.equal(repo.privateKey.type, 'Ed25519')
    const st = await fs.stat(path.join(repoPath, 'identity.key'))
    assert.equal(st.mode & 0o777, 0o600)
    const bytes = new Uint8Array([1, 2, 3])
    const cid = hashBlock(bytes)
    await repo.blockstore.put(cid, bytes)
    await repo.datastore.put(new Key('/ledger/x'), new Uint8Array([42]))
    await repo.saveConfig({ version: 1, listen: ['/ip4/127.0.0.1/tcp/4001'], gateway: '/ip4/127.0.0.1/tcp/8080' })
    const pub = repo.privateKey.publicKey.toString()
    await repo.close()
    await repo.close() // idempotent

    const again = await openRepo(repoPath)
    assert.equal(again.privateKey.publicKey.toString(), pub)
    assert.deepEqual(again.config, { version: 1, listen: ['/ip4/127.0.0.1/tcp/4001'], gateway: '/ip4/127.0.0.1/tcp/8080' })
    assert.deepEqual(await getBlock(again.blockstore, cid), bytes)
    assert.deepEqual([...await again.datastore.get(new Key('/ledger/x'))], [42])
    await again.close()
    await rmDir(dir)
  })

  it('a second open of the same repo -> RepoLockedError; works again after close', async () => {
    const dir = await tmpDir()
    const repo = await openRepo(dir)
    await assert.rejects(openRepo(dir), { name: 'RepoLockedError' })
    await repo.close()
    const again = await openRepo(dir)
    await again.close()
    await rmDir(dir)
  })

  it('corrupt or invalid config.json -> InvalidRepoConfigError naming the file', async () => {
    const dir = await tmpDir()
    const file = path.join(dir, 'config.json')
    for (const text of ['{ not json', '[]', '{"version":2,"listen":[]}', '{"version":1,"listen":"x"}', '{"version":1,"listen":[],"lisen":[]}', '{"version":1,"listen":[],"gateway":5}']) {
      await fs.writeFile(file, text)
      await assert.rejects(openRepo(dir), (err: any) => err.name === 'InvalidRepoConfigError' && err.message.includes(file) && err.file === file, text)
    }
    // the failed opens released the lock
    await fs.rm(file)
    const repo = await openRepo(dir)
    await assert.rejects(repo.saveConfig({ version: 1, listen: [42] } as any), { name: 'InvalidRepoConfigError' })
    await repo.close()
    await rmDir(dir)
  })

  it('corrupt identity.key -> InvalidRepoConfigError naming the file', async () => {
    const dir = await tmpDir()
    await fs.writeFile(path.join(dir, 'identity.key'), 'garbage')
    await assert.rejects(openRepo(dir), (err: any) => err.name === 'InvalidRepoConfigError' && err.message.includes('identity.key'))
    await rmDir(dir)
  })

  it('honours an aborted signal', async () => {
    const dir = await tmpDir()
    await assert.rejects(openRepo(dir, { signal: AbortSignal.abort() }), { name: 'AbortError' })
    await rmDir(dir)
  })
})

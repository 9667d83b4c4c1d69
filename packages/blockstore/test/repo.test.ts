import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { Key } from 'interface-datastore'
import { getBlockUnverified, getVerifiedBlock, hashBlock, openRepo, resolveRepoPath } from '../src/index.js'
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
    assert.deepEqual(await getBlockUnverified(again.blockstore, cid), bytes)
    assert.deepEqual([...await again.datastore.get(new Key('/ledger/x'))], [42])
    await again.close()
    await rmDir(dir)
  })

  it('identity CIDs are never stored: has/get answer from the digest, put writes nothing to disk', async () => {
    const dir = await tmpDir()
    const repo = await openRepo(dir)
    try {
      const bytes = new TextEncoder().encode('{"inline":true}')
      const cid = hashBlock(bytes, 0x0129, 0x00) // dag-json, identity multihash
      // the store's files with their sizes
      const listFiles = async (): Promise<string[]> => await Promise.all((await fs.readdir(path.join(dir, 'store'), { recursive: true, withFileTypes: true }))
        .filter(e => e.isFile()).map(async e => `${path.join(e.parentPath, e.name)} ${(await fs.stat(path.join(e.parentPath, e.name))).size}`))
      const before = await listFiles()
      assert.equal(await repo.blockstore.has(cid), true)
      assert.deepEqual(await getBlockUnverified(repo.blockstore, cid), bytes)
      assert.deepEqual(await getVerifiedBlock(repo.blockstore, cid), bytes)
      await repo.blockstore.put(cid, bytes)
      assert.deepEqual(await listFiles(), before)
      const stored: string[] = []
      for await (const { cid: c } of repo.blockstore.getAll()) stored.push(c.toString())
      assert.deepEqual(stored, [])
      // a sha2-256 block still goes to disk (the small-block log)
      const real = hashBlock(bytes)
      await repo.blockstore.put(real, bytes)
      assert.equal((await fs.stat(path.join(dir, 'store', 'small.log'))).size, bytes.byteLength)
      // and the repo's blockstore tells sizes without reading (identity: the digest)
      assert.equal(await repo.blockstore.size(real), bytes.byteLength)
      assert.equal(await repo.blockstore.size(cid), bytes.byteLength)
      assert.equal(await repo.blockstore.size(hashBlock(Uint8Array.of(9))), undefined)
    } finally {
      await repo.close()
      await rmDir(dir)
    }
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

describe('openRepo: create and mistyped paths', () => {
  it('create: false on a path with no repo throws RepoNotFoundError naming it and creates nothing', async () => {
    const dir = await tmpDir()
    try {
      const missing = path.join(dir, 'typo')
      await assert.rejects(openRepo(missing, { create: false }), (err: any) => err.name === 'RepoNotFoundError' && err.path === missing && err.message.includes(missing))
      await assert.rejects(fs.stat(missing), { code: 'ENOENT' })
      const repo = await openRepo(missing)
      await repo.close()
      const again = await openRepo(missing, { create: false })
      await again.close()
    } finally {
      await rmDir(dir)
    }
  })

  it('a path that is a regular file throws RepoNotFoundError naming it', async () => {
    const dir = await tmpDir()
    try {
      const file = path.join(dir, 'file')
      await fs.writeFile(file, 'x')
      await assert.rejects(openRepo(file), (err: any) => err.name === 'RepoNotFoundError' && err.message === `${file} is not a directory, so it cannot be a repo`)
    } finally {
      await rmDir(dir)
    }
  })
})

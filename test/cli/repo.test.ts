/**
 * Repo and argument mistakes a new user makes, on the built binary: a mistyped `--repo`, a
 * `--repo` at a file, a busy listen port, a bad `--peer`.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, runCliJson } from '../helpers/cli.js'

const CID = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const PEER = '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf'

describe('repo and argument mistakes', () => {
  let work: string
  before(async () => { work = await mkdtemp(join(tmpdir(), 'ts-repo-')) })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('a mistyped --repo is RepoNotFoundError naming the path for commands that read, and no repo is created', async () => {
    const typo = join(work, 'typo')
    for (const args of [['ls', CID], ['export', CID, '-o', join(work, 'o')], ['car', 'export', CID, '-o', join(work, 'c.car')], ['dag', 'get', CID]]) {
      const r = await runCli(['--repo', typo, ...args])
      assert.equal(r.code, 1, args.join(' '))
      assert.equal(r.stderr, `tensorswap: RepoNotFoundError: no repo at ${typo} (no config.json)\n`)
      await assert.rejects(stat(typo), { code: 'ENOENT' }, `${args.join(' ')} created nothing`)
    }
  })

  it('init creates a repo (with its listen addresses in config.json); then ls finds it', async () => {
    const repo = join(work, 'made')
    const made = await runCliJson(['--repo', repo, 'init'])
    assert.equal(made.repo, repo)
    assert.equal(made.created, true)
    assert.equal((await runCliJson(['--repo', repo, 'init'])).created, false)
    const r = await runCli(['--repo', repo, 'ls', CID])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^tensorswap: BlockNotFoundError: /)
  })

  it('--repo at a regular file is one line naming the path', async () => {
    const file = join(work, 'a-file')
    await writeFile(file, 'x')
    for (const args of [['ls', CID], ['add', file]]) {
      const r = await runCli(['--repo', file, ...args])
      assert.equal(r.code, 1)
      assert.equal(r.stderr, `tensorswap: RepoNotFoundError: ${file} is not a directory, so it cannot be a repo\n`)
    }
  })

  it('a busy listen port is "address already in use: <multiaddr>"', async () => {
    const server = createServer()
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    try {
      const r = await runCli(['--repo', join(work, 'busy'), 'serve', '--listen', `/ip4/127.0.0.1/tcp/${port}`])
      assert.equal(r.code, 1)
      assert.equal(r.stderr, `tensorswap: AddressInUseError: address already in use: /ip4/127.0.0.1/tcp/${port}\n`)
    } finally {
      server.close()
    }
  })

  it('a bad --peer is a usage error naming it, before any network or repo work', async () => {
    const repo = join(work, 'peer')
    const cases: Array<[string, string]> = [
      ['garbage', 'not a multiaddr'],
      ['/ip4/999.1.1.1/tcp/1/p2p/' + PEER, 'not a multiaddr'],
      ['/ip4/127.0.0.1/tcp/1', 'the multiaddr must end in /p2p/<peer id>'],
      ['/ip4/127.0.0.1/tcp/1/p2p/notapeer', '"notapeer" is not a peer id']
    ]
    for (const [peer, why] of cases) {
      const r = await runCli(['--repo', repo, 'get', CID, '-o', join(work, 'o'), '--peer', peer])
      assert.equal(r.code, 2, peer)
      assert.ok(r.stderr.startsWith(`tensorswap: UsageError: --peer ${JSON.stringify(peer)}: ${why}`), r.stderr)
      assert.equal(r.stderr.trim().split('\n').length, 1)
    }
    await assert.rejects(stat(repo), { code: 'ENOENT' })
  })
})

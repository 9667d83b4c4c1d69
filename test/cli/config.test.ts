/**
 * `tensorswap config show|get|set|unset` on the repo's config.json (issue 13 item 3): values
 * round-trip, unknown keys and bad values are usage errors naming them and leave the file as it
 * was; a missing repo is RepoNotFoundError.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, runCliJson } from '../helpers/cli.js'

const PEER = '12D3KooWAbEqTbhgiP3bv8dGPXQ5zXAHHr9rNrsrBhP1Y3pmN4LP'

describe('tensorswap config', () => {
  let work: string
  let repo: string
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-config-'))
    repo = join(work, 'r')
    await runCliJson(['--repo', repo, 'init'])
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('set, get, show and unset round-trip through config.json', async () => {
    assert.deepEqual(await runCliJson(['--repo', repo, 'config', 'set', 'max-upload-rate', '2.5M']), { key: 'maxUploadRate', value: 2_500_000 })
    await runCliJson(['--repo', repo, 'config', 'set', 'maxDownloadRatePerPeer', '10MiB/s'])
    await runCliJson(['--repo', repo, 'config', 'set', 'bootstrap', `["amino","/ip4/127.0.0.1/tcp/4001/p2p/${PEER}"]`])
    await runCliJson(['--repo', repo, 'config', 'set', 'accept-push', `${PEER},any`])
    await runCliJson(['--repo', repo, 'config', 'set', 'listen', '/ip4/127.0.0.1/tcp/0'])
    const file = JSON.parse(await readFile(join(repo, 'config.json'), 'utf8'))
    assert.deepEqual(file, {
      version: 1,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: ['amino', `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`],
      maxUploadRate: 2_500_000,
      maxDownloadRatePerPeer: 10 * 1024 * 1024,
      acceptPush: [PEER, 'any']
    })
    assert.deepEqual(await runCliJson(['--repo', repo, 'config', 'show']), file)
    const get = await runCli(['--repo', repo, 'config', 'get', 'bootstrap'])
    assert.equal(get.code, 0)
    assert.equal(get.stdout, `amino\n/ip4/127.0.0.1/tcp/4001/p2p/${PEER}\n`)
    await runCliJson(['--repo', repo, 'config', 'unset', 'max-download-rate-per-peer'])
    const unset = await runCli(['--repo', repo, 'config', 'get', 'maxDownloadRatePerPeer', '--json'])
    assert.equal(unset.code, 1, 'a key that is not set: exit 1')
    assert.deepEqual(JSON.parse(unset.stdout), { key: 'maxDownloadRatePerPeer', value: null })
  })

  it('unknown keys and bad values are usage errors naming them; the file is unchanged', async () => {
    const before = await readFile(join(repo, 'config.json'), 'utf8')
    const cases: Array<[string[], RegExp]> = [
      [['set', 'maxUplodRate', '5'], /unknown key "maxUplodRate"/],
      [['get', 'nope'], /unknown key "nope"/],
      [['set', 'version', '2'], /unknown key "version"/],
      [['set', 'max-upload-rate', '0'], /maxUploadRate "0": expected a rate/],
      [['set', 'max-download-rate', '-1'], /maxDownloadRate "-1"/],
      [['set', 'max-download-rate', 'lots'], /maxDownloadRate "lots"/],
      [['set', 'listen', 'localhost:4001'], /listen: "localhost:4001" is not a multiaddr/],
      [['set', 'bootstrap', '[1,2]'], /bootstrap: expected an array of strings/],
      [['set', 'accept-push', 'somebody'], /acceptPush: "somebody" is not a peer id/],
      [['unset', 'listen'], /"listen" cannot be unset/]
    ]
    for (const [args, message] of cases) {
      const r = await runCli(['--repo', repo, 'config', ...args, '--json'])
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      const err = JSON.parse(r.stderr).error
      assert.equal(err.name, 'UsageError')
      assert.match(err.message, message)
    }
    assert.equal(await readFile(join(repo, 'config.json'), 'utf8'), before)
    const none = await runCli(['--repo', join(work, 'missing'), 'config', 'show'])
    assert.equal(none.code, 1)
    assert.match(none.stderr, /RepoNotFoundError: no repo at .*missing/)
  })
})

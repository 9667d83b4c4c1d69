/**
 * The daemon's API under bad input and a hard life (issue 13 "Tests", "Bad input"), real
 * processes:
 *
 * - malformed, oversized, unknown-command, unknown-option, path-traversal and non-HTTP
 *   requests get a clear error and the daemon keeps serving;
 * - a socket open to others (mode 0666) or owned by another user is refused by the client, and
 *   `serve` refuses another user's socket file;
 * - a second `serve` names the first one's pid and address;
 * - a client that goes away (Ctrl-C) aborts its command in the daemon, which keeps serving;
 * - the daemon killed -9 mid-get: the client exits 1 with one line, the stale `api` file is
 *   removed by the next command, no stored block is corrupt, and the next get completes.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmod, chown, mkdtemp, readFile, rm, stat, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import { BIN, runCli, runCliJson } from '../helpers/cli.js'
import { killAll, startHostile, verifiedBlockKeys } from '../helpers/hostile.js'
import { copyHumanModel, digestTree } from '../helpers/model.js'
import { rawApi, rawSocket } from '../helpers/daemon.js'
import { copyBlocks } from '../helpers/store.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'

const LISTEN = ['/ip4/127.0.0.1/tcp/0']
/** A uid that is not ours (nobody). */
const OTHER_UID = 65534

describe('the daemon under bad input, kill -9 and impatient clients', () => {
  let work: string
  let root: string
  let seeder: Running<ServeReady>
  let seedBlocks: string
  const repo = (): string => join(work, 'repo')
  const sock = (): string => join(repo(), 'api.sock')

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-daemon-life-'))
    root = (await runCliJson(['--repo', join(work, 'seed'), 'add', await copyHumanModel('emotion', join(work, 'model'))])).root
    // the hostile holder serves these (read while the seed repo is served and locked)
    seedBlocks = await copyBlocks(join(work, 'seed'), join(work, 'seed-blocks'))
    seeder = await startServe(join(work, 'seed'), LISTEN)
    await runCliJson(['--repo', repo(), 'init'])
  })
  afterEach(async () => { await killAll() })
  after(async () => {
    await seeder?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('bad requests: a clear error each, and the daemon keeps serving', async () => {
    const d = await startServe(repo(), LISTEN)
    try {
      const api = JSON.parse(await readFile(join(repo(), 'api'), 'utf8'))
      assert.equal(api.address, sock())
      assert.equal(api.pid, d.child.pid)
      assert.equal((await stat(sock())).mode & 0o777, 0o600)
      assert.equal((await stat(join(repo(), 'api'))).mode & 0o777, 0o600)
      const error = (a: { status: number, events: any[] }, status: number, name: string, pattern: RegExp): void => {
        assert.equal(a.status, status, JSON.stringify(a))
        assert.equal(a.events.length, 1, JSON.stringify(a.events))
        assert.equal(a.events[0].type, 'error')
        assert.equal(a.events[0].error.name, name)
        assert.match(a.events[0].error.message, pattern)
      }
      error(await rawApi(sock(), '/api/v1/ls', '{"cid": '), 400, 'ApiRequestError', /not JSON/)
      error(await rawApi(sock(), '/api/v1/ls', '[1,2]'), 400, 'ApiRequestError', /JSON object/)
      error(await rawApi(sock(), '/api/v1/ls', 'x'.repeat(2 * 1024 * 1024)), 413, 'ApiRequestError', /larger than 1048576 bytes/)
      error(await rawApi(sock(), '/api/v1/rm-rf', '{}'), 404, 'ApiRequestError', /unknown command/)
      error(await rawApi(sock(), '/api/v1/../../config.json', '{}'), 404, 'ApiRequestError', /unknown command/)
      error(await rawApi(sock(), '/api/v1/%2e%2e%2fconfig.json', '{}'), 404, 'ApiRequestError', /unknown command/)
      error(await rawApi(sock(), '/api/v1/ls', JSON.stringify({ cid: root, delete: true })), 400, 'ApiRequestError', /unknown option "delete"/)
      error(await rawApi(sock(), '/api/v1/ls', JSON.stringify({ cid: 42 })), 400, 'ApiRequestError', /"cid" must be a string/)
      error(await rawApi(sock(), '/api/v1/ls', JSON.stringify({ cid: 'nope' })), 400, 'UsageError', /not a valid CID/)
      error(await rawApi(sock(), '/api/v1/ls', JSON.stringify({ cid: root }) + '\ntrailing bytes'), 400, 'ApiRequestError', /unexpected bytes/)
      error(await rawApi(sock(), '/api/v1/ls', '', 'GET'), 405, 'ApiRequestError', /only POST/)
      assert.match(await rawSocket(sock(), 'NOT HTTP AT ALL\r\n\r\n'), /^HTTP\/1\.1 400/)

      // a good request streams progress events, then the result
      const ok = await rawApi(sock(), '/api/v1/verify', '{}')
      assert.equal(ok.status, 200)
      assert.equal(ok.events.at(-1).type, 'result')
      assert.ok(ok.events.some(e => e.type === 'progress' && e.label === 'verify' && e.done === true), ok.text)

      // still serving, the same process
      const ls = await runCli(['--repo', repo(), 'stat', '--json'])
      assert.equal(ls.code, 0, ls.stderr)
      assert.equal(JSON.parse(ls.stdout).online, true)
      assert.equal(d.child.exitCode, null)

      // a second serve: names the first one's pid and address, one line, exit 1
      const second = await runCli(['--repo', repo(), 'serve', '--listen', LISTEN[0]])
      assert.equal(second.code, 1)
      assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr)
      assert.match(second.stderr, new RegExp(`DaemonRunningError: .*pid ${String(d.child.pid)}, api ${sock().replace(/[.]/g, '\\.')}`))

      // a socket others may use, or another user's: the client refuses, one line, exit 1
      await chmod(sock(), 0o666)
      const open = await runCli(['--repo', repo(), 'stat'])
      assert.equal(open.code, 1)
      assert.match(open.stderr, /^tensorswap: ApiSocketRefusedError: .*mode 0666.*\n$/)
      await chmod(sock(), 0o600)
      await chown(sock(), OTHER_UID, OTHER_UID)
      const theirs = await runCli(['--repo', repo(), 'stat'])
      assert.equal(theirs.code, 1)
      assert.match(theirs.stderr, /^tensorswap: ApiSocketRefusedError: .*owned by uid 65534.*\n$/)
      await chown(sock(), process.getuid?.() ?? 0, process.getgid?.() ?? 0)
      assert.equal((await runCli(['--repo', repo(), 'stat'])).code, 0)
    } finally {
      assert.equal(await d.stop(), 0)
    }
    // a clean stop removes both
    await assert.rejects(stat(join(repo(), 'api')), { code: 'ENOENT' })
    await assert.rejects(stat(sock()), { code: 'ENOENT' })
  })

  it('a client that goes away (Ctrl-C) aborts its get in the daemon, which keeps serving', async () => {
    const staller = await startHostile(['--mode', 'stall', '--transport', 'tcp'])
    const d = await startServe(repo(), LISTEN)
    let daemonErr = ''
    d.child.stderr?.on('data', (b: Buffer) => { daemonErr += b.toString() })
    try {
      const client = spawn(process.execPath, [BIN, '--repo', repo(), 'get', root, '--peer', staller.addrs[0]], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stderr = ''
      client.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
      await staller.waitFor(e => e.event === 'wants', 20_000)
      client.kill('SIGINT')
      const code = await new Promise<number | null>(resolve => client.once('exit', resolve))
      assert.equal(code, 130)
      assert.match(stderr, /interrupted, run again to resume/)
      const deadline = Date.now() + 10_000
      while (!/api get aborted/.test(daemonErr) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
      assert.match(daemonErr, /api get aborted \(client went away\)/)
      const after = await runCli(['--repo', repo(), 'verify', '--json'])
      assert.equal(after.code, 0, after.stderr)
      assert.equal(d.child.exitCode, null)
    } finally {
      await d.stop()
      await staller.stop()
    }
  })

  it('the daemon killed -9 mid-get: one-line error, stale api file removed, nothing corrupt, the next get completes', async () => {
    const holder = await startHostile(['--mode', 'serve', '--blocks', seedBlocks, '--hold-after', '3', '--transport', 'tcp'])
    const d = await startServe(repo(), LISTEN)
    const out = join(work, 'out')
    const client = spawn(process.execPath, [BIN, '--repo', repo(), 'get', root, '--peer', holder.addrs[0], '-o', out], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    client.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    await holder.waitFor(e => e.event === 'held', 30_000)
    // the blocks sent before the hold are stored (asked through the daemon itself)
    const deadline = Date.now() + 10_000
    while ((await runCliJson(['--repo', repo(), 'stat'])).blocks === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 200))
    d.child.kill('SIGKILL')
    const code = await new Promise<number | null>(resolve => client.once('exit', resolve))
    await holder.stop()
    assert.equal(code, 1)
    assert.equal(stderr.trim().split('\n').length, 1, stderr)
    assert.match(stderr, /^tensorswap: DaemonConnectionError: lost the daemon \(pid \d+, .*api\.sock\) before get finished/)
    // the api file is still there (kill -9); the next command finds it stale and removes it
    assert.ok((await stat(join(repo(), 'api'))).isFile())
    d.child.kill('SIGKILL') // (already dead: waits for the exit to be reaped below)
    await new Promise(resolve => { if (d.child.exitCode != null || d.child.signalCode != null) resolve(null); else d.child.once('exit', resolve) })
    const first = await runCli(['--repo', repo(), 'stat'])
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stderr, /removed the stale .*api: daemon pid \d+ is gone/)
    assert.match(first.stdout, /no daemon/)
    await assert.rejects(stat(join(repo(), 'api')), { code: 'ENOENT' })
    const check = await runCli(['--repo', repo(), 'verify', root, '--json'])
    const report = JSON.parse(check.stdout)
    assert.equal(report.corrupt, 0)
    assert.ok(report.missing > 0, 'the get did not finish')
    assert.ok(report.blocks >= 1, 'blocks stored before the kill are there, whole')
    assert.equal(check.code, 1)
    await verifiedBlockKeys(repo()) // every stored block verifies
    // nothing under a final name: the files are written only after the whole DAG is here
    await assert.rejects(stat(join(out, 'emotion.json')), { code: 'ENOENT' })
    await runCliJson(['--repo', repo(), 'get', root, '--peer', addrOf(seeder.ready, 'tcp'), '-o', out])
    assert.deepEqual(await digestTree(out), await digestTree(join(work, 'model')))
  })

  it('serve refuses an api.sock owned by another user', async () => {
    const d = await startServe(repo(), LISTEN)
    d.child.kill('SIGKILL')
    await new Promise(resolve => d.child.once('exit', resolve))
    await unlink(join(repo(), 'api'))
    await chown(sock(), OTHER_UID, OTHER_UID)
    const r = await runCli(['--repo', repo(), 'serve', '--listen', LISTEN[0]])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^tensorswap: ApiSocketRefusedError: .*api\.sock is owned by uid 65534/)
    // the stale socket is left alone by a client too (it is not ours), which then works locally
    const ls = await runCli(['--repo', repo(), 'stat', '--json'])
    assert.equal(ls.code, 0, ls.stderr)
    assert.equal(JSON.parse(ls.stdout).online, false)
    assert.ok((await stat(sock())).isSocket())
  })
})

/**
 * Defects found trying the CLI as a new user (issue 13, item 5), each in the built binary:
 * `ls | head -1` and `dag walk | head -1` end quietly with exit 0 (EPIPE is the reader having
 * what it wanted, not a crash), and `get --peer` at a QUIC address nobody answers ends with one
 * line naming the peer (`PeerDialError`), exit 1, no stack trace; `get` given two peers, one of
 * them unreachable, fetches from the other and says which one it could not reach (it used to fail
 * on the first dead one, and dialled the given peers one after another).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BIN, runCli, runCliJson, type CliResult } from '../helpers/cli.js'
import { copyHumanModel, digestTree } from '../helpers/model.js'
import { addrOf, startServe } from '../helpers/processes.js'

/** The explore-all selector (every node, every link). */
const ALL = '{"R":{"l":{"none":{}},":>":{"a":{">":{"@":{}}}}}}'

/** Run `tensorswap args | head -1` in bash with pipefail: the pipeline's status is the CLI's. */
async function pipedToHead (args: string[]): Promise<CliResult> {
  const quoted = [process.execPath, BIN, ...args].map(a => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
  const child = spawn('bash', ['-c', `set -o pipefail; ${quoted} | head -1`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  return { code, stdout, stderr }
}

describe('defects a new user met', () => {
  let work: string
  let repo: string
  let root: string
  let quicRun: Promise<CliResult>
  let deadQuic: string

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-defects-'))
    repo = join(work, 'repo')
    // a UDP port nobody listens on (bound, then released): QUIC's handshake there times out
    const sock = createSocket('udp4')
    const port = await new Promise<number>(resolve => sock.bind(0, '127.0.0.1', () => { resolve(sock.address().port) }))
    await new Promise<void>(resolve => sock.close(() => { resolve() }))
    deadQuic = `/ip4/127.0.0.1/udp/${port}/quic-v1/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq`
    // the slow one (the dial helper's 3 attempts of 8 s) runs while the others do
    quicRun = runCli(['--repo', join(work, 'leech'), 'get', 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku', '--peer', deadQuic])
    // a model whose `ls` is > 64 KiB (the pipe's buffer), so `head` exits before ls is done
    root = (await runCliJson(['--repo', repo, 'add', await copyHumanModel('facemesh-attention', join(work, 'model'))])).root
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('ls | head -1 and dag walk | head -1: the first line, exit 0, nothing on stderr', async () => {
    const whole = await runCli(['--repo', repo, 'ls', root])
    assert.ok(whole.stdout.length > 64 * 1024, `ls prints ${whole.stdout.length} bytes, more than a pipe holds`)
    const ls = await pipedToHead(['--repo', repo, 'ls', root])
    assert.deepEqual([ls.code, ls.stderr], [0, ''])
    assert.equal(ls.stdout, whole.stdout.split('\n')[0] + '\n')
    const walk = await pipedToHead(['--repo', repo, 'dag', 'walk', root, '--selector', ALL])
    assert.deepEqual([walk.code, walk.stderr], [0, ''])
    assert.deepEqual(Object.keys(JSON.parse(walk.stdout)).sort(), ['matched', 'node', 'path'])
  })

  it('get --peer at a QUIC address nobody answers: one line naming the peer, exit 1, no stack trace', async () => {
    const r = await quicRun
    assert.equal(r.code, 1, r.stderr)
    assert.equal(r.stderr.split('\n').length, 2, r.stderr)
    assert.ok(r.stderr.startsWith(`tensorswap: PeerDialError: cannot reach peer ${deadQuic}: `), r.stderr)
    assert.doesNotMatch(r.stderr, /\bat .*\.js:\d+/)
  })

  it('get with two --peer, one unreachable: fetches from the other, one line names the unreachable one', async () => {
    // TCP ports nobody listens on (bound, then released): the dials are refused
    const freePorts = async (n: number): Promise<number[]> => {
      const servers = Array.from({ length: n }, () => createServer())
      const ports = await Promise.all(servers.map(async srv => await new Promise<number>(resolve => srv.listen(0, '127.0.0.1', () => { resolve((srv.address() as { port: number }).port) }))))
      await Promise.all(servers.map(async srv => { await new Promise<void>(resolve => srv.close(() => { resolve() })) }))
      return ports
    }
    const [port, port2] = await freePorts(2) as [number, number]
    const deadTcp = `/ip4/127.0.0.1/tcp/${port}/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq`
    const seeder = await startServe(repo)
    try {
      const out = join(work, 'out-two-peers')
      const r = await runCli(['--repo', join(work, 'leech-two'), 'get', root, '--peer', deadTcp, '--peer', addrOf(seeder.ready, 'tcp'), '-o', out])
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(await digestTree(out), await digestTree(join(work, 'model')))
      const lines = r.stderr.split('\n').filter(l => l.includes(deadTcp))
      assert.equal(lines.length, 1, r.stderr)
      assert.match(lines[0] as string, /cannot reach peer .*; fetching from the other peers$/)
      // the same with --json: stdout's peers are the one reached
      const j = await runCliJson(['--repo', join(work, 'leech-two-json'), 'get', root, '--peer', deadTcp, '--peer', addrOf(seeder.ready, 'tcp'), '--json'])
      assert.deepEqual(Object.keys(j.peers), [seeder.ready.peerId])
      // every given peer unreachable: the first one's PeerDialError, as with one
      const none = await runCli(['--repo', join(work, 'leech-none'), 'get', root, '--peer', deadTcp, '--peer', `/ip4/127.0.0.1/tcp/${port2}/p2p/12D3KooWFJ73NLwmKUFFF6unh4zDkHQ4RJuTapSG9tna1kCmyaKk`])
      assert.equal(none.code, 1, none.stderr)
      assert.ok(none.stderr.startsWith(`tensorswap: PeerDialError: cannot reach peer ${deadTcp}: `), none.stderr)
    } finally {
      await seeder.stop()
    }
  })
})

/**
 * Peer health across processes (issue 11 item 6): a `tensorswap serve` peer is pinged by an
 * observer node in another process; once the serving process is stopped with SIGSTOP (its
 * kernel still holds the TCP connection open, so nothing but the pings can tell), the observer
 * counts failed pings and disconnects it after N in a row.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, it } from 'node:test'
import { startServe } from '../helpers/processes.js'

const OBSERVER = new URL('./fixtures/health-observer.js', import.meta.url).pathname

describe('peer health in separate processes', () => {
  it('a SIGSTOPped peer is scored down and disconnected after 3 failed pings; peers() shows it', async () => {
    const work = await mkdtemp(join(tmpdir(), 'ts-health-'))
    const seeder = await startServe(join(work, 'seed'), ['/ip4/127.0.0.1/tcp/0'], ['--no-bulk-lane'])
    const observer = spawn(process.execPath, [OBSERVER, '--repo', join(work, 'obs'), '--peer', seeder.ready.addrs[0], '--interval', '400', '--timeout', '400', '--failures', '3'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    observer.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const events: any[] = []
    let wake: (() => void) | undefined
    createInterface({ input: observer.stdout }).on('line', (line) => { events.push(JSON.parse(line)); wake?.() })
    const waitFor = async (pred: (e: any) => boolean, what: string, ms: number): Promise<any> => {
      const deadline = Date.now() + ms
      for (;;) {
        const hit = events.find(pred)
        if (hit != null) return hit
        if (Date.now() > deadline || observer.exitCode != null) throw new Error(`no ${what} within ${ms} ms; events ${JSON.stringify(events.map(e => e.event))}; stderr ${stderr}`)
        await new Promise<void>(resolve => { wake = resolve; setTimeout(resolve, 100) })
      }
    }
    const seedId = seeder.ready.peerId
    try {
      await waitFor(e => e.event === 'ready', 'ready', 20_000)
      const ok = await waitFor(e => e.event === 'tensorswap:health:ping' && e.detail.ok === true && e.detail.health.successes >= 2, 'two answered pings', 10_000)
      const seen = ok.peers.find((p: any) => p.peerId === seedId)
      assert.ok(seen != null, 'peers() lists the seeder')
      assert.equal(seen.source, 'outbound')
      assert.ok(seen.addrs[0].startsWith('/ip4/127.0.0.1/tcp/'), seen.addrs[0])
      assert.ok(seen.health.rttMs >= 0 && seen.health.rttMs < 400, `rtt ${seen.health.rttMs}`)
      assert.equal(seen.health.successRate, 1)
      assert.ok(seen.health.score > 0.5, `score ${seen.health.score}`)
      assert.equal(typeof seen.bytesSent, 'number')
      assert.equal(typeof seen.throughput.receivedBytesPerSecond, 'number')

      const stoppedAt = Date.now()
      seeder.child.kill('SIGSTOP')
      const dropped = await waitFor(e => e.event === 'tensorswap:health:disconnect', 'health disconnect', 15_000)
      const tookMs = Date.now() - stoppedAt
      assert.equal(dropped.detail.peer, seedId)
      assert.equal(dropped.detail.health.consecutiveFailures, 3)
      const failures = events.filter(e => e.event === 'tensorswap:health:ping' && e.detail.ok === false)
      assert.equal(failures.length, 3, 'exactly 3 failed pings before the disconnect')
      const scores = failures.map(e => e.detail.health.score)
      assert.ok(scores[0] < 1 && scores[1] < scores[0] && scores[2] < scores[1], `score falls with each failure: ${scores.join(', ')}`)
      // 3 pings at 400 ms intervals, each given up after 400 ms: ~2.4 s, well under TCP's own timeouts
      assert.ok(tookMs < 10_000, `disconnected after ${tookMs} ms`)
      const gone = await waitFor(e => e.event === 'peer:disconnect' && e.peer === seedId, 'libp2p peer:disconnect', 10_000)
      assert.equal(gone.peers.find((p: any) => p.peerId === seedId), undefined, 'peers() no longer lists it')
    } finally {
      seeder.child.kill('SIGCONT')
      observer.kill('SIGTERM')
      await new Promise(resolve => { if (observer.exitCode != null) resolve(null); else observer.once('exit', resolve) })
      await seeder.stop()
      await rm(work, { recursive: true, force: true })
    }
  })
})

/**
 * 200 slow gateway readers (1 KiB/s each, test/helpers/hostile-peer.ts `slow-gateway`, in their
 * own process, from another loopback host) against a real `tensorswap serve --gateway` (its own
 * process): the gateway serves that host `DEFAULT_MAX_RESPONSES_PER_CLIENT` responses at once
 * and answers the others 503 once they waited `DEFAULT_CLIENT_QUEUE_WAIT_MS` for a slot, having
 * written nothing for them; while the served ones are attached an honest client (another host)
 * gets the whole CAR byte-exact at full speed, and a client reading at 2x the floor for 1.5x
 * the grace (the gateway waiting on it for longer than the grace in all) is not cut either; the
 * gateway cuts every served slow reader off (`tensorswap_gateway_slow_clients_total`, a
 * `tensorswap:gateway` log line each, a reset the attacker's kernel sees), well before the
 * grace could have been granted per block, gives their response slots back, and its RSS
 * stays within a bound per reader. The figures (cut-off times, RSS) are printed as
 * diagnostics; bench/cases/hostile.ts measures them at 256 MiB.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { get as httpGet } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DEFAULT_CLIENT_QUEUE_WAIT_MS, DEFAULT_MAX_RESPONSES_PER_CLIENT, DEFAULT_MIN_CLIENT_BYTES_PER_SECOND, DEFAULT_SEND_GRACE_MS } from '@tensorswap/gateway'
import { killAll, startHostile } from '../helpers/hostile.js'
import { metricSum, parseMetrics, prepareSeed, rssOf, type Seed } from '../helpers/hostile-swarm.js'
import { startServe, type Running, type ServeReady } from '../helpers/processes.js'

const MiB = 1024 * 1024
const READERS = 200
/** The readers the gateway serves at once from their one host; the others are answered 503. */
const SERVED = DEFAULT_MAX_RESPONSES_PER_CLIENT
/** Larger than what the kernel's socket buffers absorb for a reader that barely reads (tcp_wmem max 4 MiB + the receiver's window). */
const PAYLOAD = 16 * MiB
/**
 * What each slow reader may cost the seeder while it is attached: its response holds at most
 * the block being written (1 MiB chunks, shared by the readers through the gateway's
 * verified-block cache) and the response's buffer; measured ~0.4 MiB a reader (1.7 MiB before
 * the cache, with the garbage of the fill), 3 MiB leaves room for GC timing. A gateway that read ahead or
 * buffered a reader's CAR (16 MiB) would be far over it.
 */
const RSS_PER_READER = 3 * MiB
/** What the honest and paced clients' responses, the verified-block cache, the waiting requests and GC timing add on top (measured +104 MiB in all with 16 readers served). */
const RSS_SLACK = 128 * MiB
/** The above-floor client: its rate, and how long it keeps to it before reading at full speed. */
const PACED_RATE = 2 * DEFAULT_MIN_CLIENT_BYTES_PER_SECOND
const PACED_MS = 1.5 * DEFAULT_SEND_GRACE_MS
/** A reader's rate. */
const SLOW_RATE = 1024

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/**
 * GET `url`, taking `rate` bytes/s (ten reads a second) for `ms`, then as fast as possible.
 *
 * @returns the status, the body's sha256 and length
 * @throws Error - the connection ended before the body did (the gateway cut it)
 */
async function pacedGet (url: string, rate: number, ms: number): Promise<{ status: number, digest: string, bytes: number }> {
  return await new Promise((resolve, reject) => {
    httpGet(url, { agent: false }, (res) => {
      const hash = createHash('sha256')
      let bytes = 0
      let ended = false
      const take = (chunk: Buffer): void => {
        hash.update(chunk)
        bytes += chunk.byteLength
      }
      res.pause()
      const started = Date.now()
      const tick = setInterval(() => {
        if (Date.now() - started >= ms) {
          clearInterval(tick)
          res.on('data', take)
          res.resume()
          return
        }
        const chunk = res.read(Math.min(Math.ceil(rate / 10), res.readableLength)) as Buffer | null
        if (chunk != null) take(chunk)
        else res.read(0)
      }, 100)
      res.on('end', () => {
        ended = true
        clearInterval(tick)
        resolve({ status: res.statusCode ?? 0, digest: hash.digest('hex'), bytes })
      })
      res.on('error', () => {})
      res.socket.on('close', () => {
        clearInterval(tick)
        if (!ended) reject(new Error(`the connection closed after ${bytes} bytes, ${Date.now() - started} ms`))
      })
    }).on('error', reject)
  })
}

describe('gateway: 200 slow readers at 1 KiB/s (separate processes)', () => {
  let work: string
  let seed: Seed
  let seeder: Running<ServeReady>
  let seederLog = ''
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-gw-slow-'))
    seed = await prepareSeed(work, PAYLOAD)
    seeder = await startServe(seed.seedRepo, undefined, ['--gateway', '127.0.0.1:0'], { DEBUG: 'tensorswap:gateway*' })
    seeder.child.stderr?.on('data', (d: string | Buffer) => { seederLog += d.toString() })
  })
  after(async () => {
    await killAll()
    await seeder?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it(`their host gets ${DEFAULT_MAX_RESPONSES_PER_CLIENT} responses, the rest 503; an honest client gets the whole CAR while they are attached; every served one is cut off within the floor, slots freed, RSS bounded`, async () => {
    const gateway = seeder.ready.gateway as string
    const url = `${gateway}/ipfs/${seed.root}?format=car`
    const metrics = async (): Promise<Record<string, number>> => parseMetrics(await (await fetch(`${gateway}/metrics`)).text())
    const sha = async (): Promise<{ status: number, digest: string, bytes: number }> => {
      const res = await fetch(url, { signal: AbortSignal.timeout(120_000) })
      const body = new Uint8Array(await res.arrayBuffer())
      return { status: res.status, digest: createHash('sha256').update(body).digest('hex'), bytes: body.byteLength }
    }
    const reference = await sha()
    assert.equal(reference.status, 200)
    assert.ok(reference.bytes > PAYLOAD, `the CAR holds the payload: ${reference.bytes} bytes`)

    const pid = seeder.child.pid as number
    const rssBefore = (await rssOf(pid)).rss
    let peakRss = rssBefore
    const sampler = setInterval(() => { void rssOf(pid).then(r => { peakRss = Math.max(peakRss, r.rss) }, () => {}) }, 100)
    try {
      const attacker = await startHostile(['--mode', 'slow-gateway', '--count', String(READERS), '--rate', String(SLOW_RATE), '--from', '127.0.0.3', '--dial', url])
      const startedAt = Date.now()
      // a client above the floor, reading beside them: a URL of its own, to find its log line
      const paced = pacedGet(`${url}&dag-scope=all`, PACED_RATE, PACED_MS)
      paced.catch(() => {})
      const done = await attacker.waitFor(e => e.event === 'attack-done', 60_000)
      assert.equal(done.statuses['200'], SERVED, `${SERVED} slow readers got their response started: ${JSON.stringify(done)}`)
      assert.equal(done.statuses['503'], READERS - SERVED, `the others were answered 503: ${JSON.stringify(done)}`)
      assert.ok(Date.now() - startedAt >= DEFAULT_CLIENT_QUEUE_WAIT_MS - 1_000, `after waiting for a slot (${Date.now() - startedAt} ms)`)

      // the readers hold their responses now; an honest client is served beside them, byte-exact
      const honest = await sha()
      assert.equal(honest.status, 200)
      assert.equal(honest.digest, reference.digest, 'the honest client got the same CAR as before the attack')

      // every reader is cut off by the floor: after ~grace / (1 - 1 KiB/s / 64 KiB/s) of waiting
      // each (~46 s with the 45 s grace), plus the time the kernel's buffers took to fill and the accounting ticks
      const predictedMs = DEFAULT_SEND_GRACE_MS / (1 - SLOW_RATE / DEFAULT_MIN_CLIENT_BYTES_PER_SECOND)
      const bound = predictedMs + 30_000
      let slow = 0
      while (Date.now() - startedAt < bound) {
        slow = metricSum(await metrics(), 'tensorswap_gateway_slow_clients_total')
        if (slow >= SERVED) break
        await sleep(250)
      }
      assert.equal(slow, SERVED, `the gateway cut off ${slow} of ${SERVED} served slow readers within ${bound} ms`)
      // a reset, not a FIN behind megabytes of unread data: the attacker's kernel drops each connection
      await attacker.waitFor(e => e.event === 'cut-off' && e.total === SERVED, 10_000)
      const summary = await attacker.stop()
      assert.equal(summary.cut.cutOff, SERVED, `the attacker saw every served reader cut: ${JSON.stringify(summary.cut)}`)
      assert.equal(summary.cut.completed, 0, 'no slow reader got its whole response')
      process.stderr.write(`# slow readers cut after ${summary.cut.firstCutMs}..${summary.cut.lastCutMs} ms (median ${summary.cut.medianCutMs}); ` +
        `seeder RSS ${(rssBefore / MiB).toFixed(0)} MiB before, peak ${(peakRss / MiB).toFixed(0)} MiB\n`)
      // no reader was cut before it had fallen the whole grace behind, none long after
      assert.ok(summary.cut.firstCutMs >= DEFAULT_SEND_GRACE_MS, `first cut-off ${summary.cut.firstCutMs} ms, not before the grace (${DEFAULT_SEND_GRACE_MS} ms)`)
      assert.ok(summary.cut.lastCutMs < bound, `last cut-off ${summary.cut.lastCutMs} ms, under ${bound} ms`)

      // the client above the floor was never cut, though the gateway waited on it for longer than the grace
      const pacedResult = await paced
      assert.equal(pacedResult.status, 200)
      assert.equal(pacedResult.digest, reference.digest, 'the client reading at 2x the floor got the whole CAR')
      // the seeder logs the response when its socket closes, a moment after the client saw the end
      const findPaced = (): string | undefined => seederLog.split('\n').find(l => l.includes('dag-scope=all') && l.includes(' bytes, waited '))
      for (let i = 0; i < 40 && findPaced() == null; i++) await sleep(250)
      const pacedLine = findPaced() ?? ''
      const pacedWaited = Number(/waited (\d+) ms on the client/.exec(pacedLine)?.[1] ?? NaN)
      process.stderr.write(`# client at ${PACED_RATE} bytes/s: the gateway waited ${pacedWaited} ms on it\n`)
      assert.ok(pacedWaited > DEFAULT_SEND_GRACE_MS, `the floor was at work on the paced client (waited ${pacedWaited} ms; log: ${pacedLine})`)
      assert.equal(metricSum(await metrics(), 'tensorswap_gateway_slow_clients_total'), SERVED, 'nobody but the slow readers was cut')

      // their slots are free: only our own /metrics request is in flight
      const m = await metrics()
      assert.equal(metricSum(m, 'tensorswap_gateway_requests_in_flight'), 1, 'no response is left in progress')
      const rssBound = rssBefore + SERVED * RSS_PER_READER + RSS_SLACK
      assert.ok(peakRss < rssBound, `seeder peak RSS ${(peakRss / MiB).toFixed(0)} MiB, bound ${(rssBound / MiB).toFixed(0)} MiB (${(rssBefore / MiB).toFixed(0)} before + ${SERVED} x ${RSS_PER_READER / MiB} MiB + ${RSS_SLACK / MiB} MiB)`)
      // each cut-off is logged under tensorswap:gateway
      const logged = seederLog.split('\n').filter(l => l.includes('tensorswap:gateway') && l.includes('cut off a slow client')).length
      assert.equal(logged, SERVED, `cut-off log lines: ${logged}`)
    } finally {
      clearInterval(sampler)
    }
  })
})

/**
 * The status page in a real headless Chromium (issue 13 item 4): Debian's `chromium`
 * (/usr/bin/chromium, installed by scripts/ensure-chromium.mjs in `pretest`) driven by
 * playwright-core. A `tensorswap serve --gateway` seeder of a real model, its upload capped
 * with `--max-upload-rate` so a fetch lasts seconds; a fetching node in another process with the
 * status page too. The seeder's page lists the model's tensors (name, dtype, shape); the
 * fetcher's page shows its `get` in progress, its fetched bytes advancing from one poll to the
 * next. The status endpoint refuses nothing it should serve and changes nothing: a POST is 405.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, it } from 'node:test'
import { chromium } from 'playwright-core'
import { HUMAN_MODELS, runCliJson } from '../helpers/cli.js'
import { copyHumanModel } from '../helpers/model.js'
import { addrOf, startServe } from '../helpers/processes.js'

const CHROMIUM = '/usr/bin/chromium'
const GETTER = new URL('./fixtures/status-getter.js', import.meta.url).pathname
const MODEL = 'movenet-thunder' // 12.5 MB: ~6 s at the 2 MB/s cap
const RATE = 2_000_000

describe('status page in headless Chromium', () => {
  it('lists a served model\'s tensors and shows a get in progress advancing', async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run \`node scripts/ensure-chromium.mjs\` as root (apt-get install -y chromium)`)
    const work = await mkdtemp(join(tmpdir(), 'ts-status-page-'))
    const model = await copyHumanModel(MODEL, join(work, 'model'))
    const root = (await runCliJson(['--repo', join(work, 'seed'), 'add', model])).root
    const seeder = await startServe(join(work, 'seed'), undefined, ['--gateway', '127.0.0.1:0', '--max-upload-rate', String(RATE)])
    const getter = spawn(process.execPath, [GETTER, '--repo', join(work, 'leech'), '--root', root, '--peer', addrOf(seeder.ready, 'tcp')], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    getter.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const events: any[] = []
    createInterface({ input: getter.stdout }).on('line', (l) => { events.push(JSON.parse(l)) })
    const event = async (name: string, ms: number): Promise<any> => {
      const deadline = Date.now() + ms
      while (Date.now() < deadline) {
        const e = events.find(x => x.event === name || x.event === 'error')
        if (e != null) return e
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      throw new Error(`getter: no ${name} in ${ms} ms: ${stderr}`)
    }
    const profile = await mkdtemp(join(tmpdir(), 'ts-chromium-'))
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
    })
    try {
      const ready = await event('ready', 30_000)
      assert.equal(ready.event, 'ready', JSON.stringify(ready))

      // the seeder's page: its peer id and the model's tensors as model.json declares them
      const seedPage = await browser.newPage()
      await seedPage.goto(seeder.ready.gateway as string)
      await seedPage.waitForSelector(`details[data-root="${root}"]`, { state: 'attached', timeout: 15_000 })
      assert.equal(await seedPage.textContent('#peer-id'), seeder.ready.peerId)
      const declared = JSON.parse(await readFile(join(HUMAN_MODELS, `${MODEL}.json`), 'utf8')).weightsManifest.flatMap((g: any) => g.weights)
      const sample = declared.find((w: any) => w.shape.length >= 2)
      const row = seedPage.locator(`tr[data-tensor="${sample.name}"] td`)
      assert.deepEqual((await row.allTextContents()).slice(0, 3), [sample.name, sample.dtype, `[${sample.shape.join(', ')}]`])
      assert.equal(await seedPage.locator(`details[data-root="${root}"] tr[data-tensor]`).count(), declared.length)

      // the fetcher's page: start the get, watch its row advance between polls
      const page = await browser.newPage()
      await page.goto(ready.gateway)
      await page.waitForSelector('body[data-updated]', { timeout: 15_000 })
      getter.stdin.write('go\n')
      const transfer = page.locator(`#transfers tr[data-root="${root}"]`)
      await transfer.waitFor({ timeout: 15_000 })
      const samples: number[] = []
      for (let i = 0; i < 3 && await transfer.count() > 0; i++) {
        samples.push(Number(await transfer.getAttribute('data-bytes', { timeout: 2000 }).catch(() => 'NaN')))
        await page.waitForTimeout(1200)
      }
      const seen = samples.filter(n => Number.isFinite(n))
      assert.ok(seen.length >= 2, `the get was on the page for fewer than two polls: ${samples.join(', ')}`)
      assert.ok(seen[seen.length - 1] > seen[0], `fetched bytes advance on the page: ${seen.join(' -> ')}`)
      assert.match(await transfer.locator('td.fetched').textContent() ?? '', /B/)
      const done = await event('done', 60_000)
      assert.equal(done.event, 'done', JSON.stringify(done))
      // finished: the row leaves, and the root (recorded by the completed get) is listed with its tensors
      await page.waitForSelector(`#transfers tr[data-root="${root}"]`, { state: 'detached', timeout: 10_000 })
      await page.waitForSelector(`details[data-root="${root}"] tr[data-tensor="${sample.name}"]`, { state: 'attached', timeout: 10_000 })
      assert.ok(Number(await page.locator('#plot').getAttribute('data-points')) >= 2, 'the throughput plot has points')

      // read-only: no method but GET/HEAD
      const post = await fetch(`${ready.gateway}/api/v0/status`, { method: 'POST' })
      assert.equal(post.status, 405)
      const status = await (await fetch(`${seeder.ready.gateway as string}/api/v0/status`)).json()
      assert.equal(status.limits.maxUploadRate, RATE)
      assert.ok(status.peers.some((p: any) => p.bytesSent > 12_000_000), 'the seeder\'s peers list the bytes it sent')
    } finally {
      await browser.close()
      getter.kill('SIGTERM')
      await new Promise(resolve => { if (getter.exitCode != null) resolve(null); else getter.once('exit', resolve) })
      await seeder.stop()
      await rm(work, { recursive: true, force: true })
      await rm(profile, { recursive: true, force: true })
    }
  })
})

/**
 * Reproviding, between processes on loopback: a seeder (`serve --reprovide-interval 1500
 * --dht-mode client`, so no query reaches it and only stored records can name it)
 * announces its roots to a bootstrap node; the bootstrap node is replaced by one with the same
 * identity and port but an empty datastore (no provider records), and the seeder's next
 * reprovide makes the root findable again. Nothing dials outside this machine.
 */
import assert from 'node:assert/strict'
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, runCliJson } from '../helpers/cli.js'
import { copyHumanModel } from '../helpers/model.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'

const REPROVIDE_MS = 1500

/** `providers <cid> --json` until `peerId` is listed, at most `ms`; resolves with the tries it took. */
async function findableWithin (repo: string, cid: string, bootstrap: string, peerId: string, ms: number): Promise<number> {
  const deadline = Date.now() + ms
  for (let tries = 1; Date.now() < deadline; tries++) {
    const r = await runCli(['--repo', repo, 'providers', cid, '--bootstrap', bootstrap, '--find-timeout', '3000', '--json'])
    if (r.code === 0 && (JSON.parse(r.stdout).providers as Array<{ peerId: string }>).some(p => p.peerId === peerId)) return tries
    await new Promise(resolve => setTimeout(resolve, 300))
  }
  assert.fail(`${peerId} never became findable`)
}

describe('reprovide interval (processes, loopback)', () => {
  let work: string
  let boot: Running<ServeReady> | undefined
  let seeder: Running<ServeReady> | undefined
  let seederLog = ''

  before(async () => { work = await mkdtemp(join(tmpdir(), 'ts-reprovide-')) })
  after(async () => {
    await seeder?.stop()
    await boot?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('a bootstrap node that lost its records learns the root again at the next reprovide', async () => {
    const bootRepo = join(work, 'boot')
    boot = await startServe(bootRepo, ['/ip4/127.0.0.1/tcp/0'])
    const bootAddr = addrOf(boot.ready, 'tcp')
    const model = await copyHumanModel('emotion', join(work, 'model'))
    const seedRepo = join(work, 'seed')
    const root: string = (await runCliJson(['--repo', seedRepo, 'add', model])).root

    const debug = process.env.DEBUG
    process.env.DEBUG = 'tensorswap:routing:router' // the seeder's routing log, to see its reprovides
    try {
      // a DHT client: it answers no query, so the bootstrap node's record is the only way to find it
      seeder = await startServe(seedRepo, undefined, ['--bootstrap', bootAddr, '--reprovide-interval', String(REPROVIDE_MS), '--dht-mode', 'client'])
    } finally {
      if (debug == null) delete process.env.DEBUG
      else process.env.DEBUG = debug
    }
    seeder.child.stderr?.on('data', (d: Buffer | string) => { seederLog += d.toString() })
    await findableWithin(join(work, 'ask'), root, bootAddr, seeder.ready.peerId, 30_000)

    // from here on (a reprovide tick that fires while the bootstrap node restarts and whose
    // provide completes once it is back is the next reprovide too)
    const logBefore = seederLog.length
    // the same bootstrap identity and address, an empty datastore
    await boot.stop()
    const freshRepo = join(work, 'boot-fresh')
    await mkdir(freshRepo)
    await copyFile(join(bootRepo, 'identity.key'), join(freshRepo, 'identity.key'))
    const port = /\/tcp\/(\d+)\//.exec(bootAddr)?.[1]
    boot = await startServe(freshRepo, [`/ip4/127.0.0.1/tcp/${port}`])
    assert.equal(addrOf(boot.ready, 'tcp'), bootAddr)

    await findableWithin(join(work, 'ask2'), root, bootAddr, seeder.ready.peerId, 30_000)
    const later = seederLog.slice(logBefore)
    assert.match(later, new RegExp(`reprovide interval \\(${REPROVIDE_MS} ms\\) elapsed`))
    assert.match(later, new RegExp(`provided ${root} to 1 peers`))
  })
})

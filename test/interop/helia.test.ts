/**
 * Interop with a real Helia 7 node (helia + @helia/bitswap + @helia/unixfs, each side in its
 * own process), over QUIC and TCP, both directions: Helia reads a model TensorSwap imported and
 * serves; `tensorswap get` fetches a file Helia added.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { HUMAN_MODELS, runCliJson } from '../helpers/cli.js'
import { copyHumanModel, digestTree } from '../helpers/model.js'
import { addrOf, heliaFetch, startHeliaSeeder, startServe, type Running, type ServeReady } from '../helpers/processes.js'

describe('Helia 7 interop (separate processes)', () => {
  let work: string
  let model: string
  let files: string
  let seeder: Running<ServeReady>

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-helia-'))
    model = await copyHumanModel('faceres', join(work, 'model'))
    const seedRepo = join(work, 'seed')
    files = (await runCliJson(['--repo', seedRepo, 'add', model])).filesRoot
    seeder = await startServe(seedRepo)
  })
  after(async () => {
    await seeder?.stop()
    await rm(work, { recursive: true, force: true })
  })

  for (const transport of ['quic', 'tcp'] as const) {
    it(`Helia fetches a TensorSwap model byte-exact through @helia/unixfs over ${transport}`, async () => {
      const want = await digestTree(model)
      const paths = [...want.keys()]
      const got = await heliaFetch(files, addrOf(seeder.ready, transport), transport, paths)
      for (const f of got.files) assert.equal(f.sha256, want.get(f.path), f.path)
      assert.equal(got.files.length, paths.length)
    })

    it(`tensorswap get fetches a file Helia added over ${transport}`, async () => {
      const source = join(HUMAN_MODELS, 'faceres-deep.bin') // 14 MB, a multi-block UnixFS file
      const helia = await startHeliaSeeder(source, transport)
      try {
        const out = join(work, `from-helia-${transport}`)
        const summary = await runCliJson(['--repo', join(work, `leech-${transport}`), 'get', helia.ready.cid, '-o', out, '--peer', addrOf(helia.ready, transport)])
        assert.ok(summary.blocks > 1)
        const [name] = await readdir(out)
        const digest = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
        assert.equal(digest(await readFile(join(out, name))), digest(await readFile(source)))
      } finally {
        await helia.stop()
      }
    })
  }
})

/**
 * `tensorswap serve --gateway` and `tensorswap get --gateway-source` in separate processes:
 * a fetch through the trustless gateway alone, gateways behind a peer that has nothing, and
 * the exchange's counters on `/metrics`.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, runCliJson } from '../helpers/cli.js'
import { copyHumanModel, digestTree } from '../helpers/model.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'

describe('serve --gateway, get --gateway-source (separate processes, real model)', () => {
  let work: string
  let model: string
  let root: string
  let seeder: Running<ServeReady>
  let empty: Running<ServeReady>

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-gw-'))
    model = await copyHumanModel('emotion', join(work, 'model'))
    root = (await runCliJson(['--repo', join(work, 'seed'), 'add', model])).root
    seeder = await startServe(join(work, 'seed'), undefined, ['--gateway', '127.0.0.1:0'])
    empty = await startServe(join(work, 'empty'))
  })
  after(async () => {
    await seeder?.stop()
    await empty?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('fetches a model through the trustless gateway alone, byte-exact', async () => {
    const out = join(work, 'out-gw')
    const summary = await runCliJson(['--repo', join(work, 'leech-gw'), 'get', root, '-o', out, '--gateway-source', seeder.ready.gateway as string])
    assert.ok(summary.blocks > 1)
    assert.deepEqual(await digestTree(out), await digestTree(model))
  })

  it('falls back to the gateway for blocks the peer does not have', async () => {
    const out = join(work, 'out-mixed')
    const summary = await runCliJson(['--repo', join(work, 'leech-mixed'), 'get', root, '-o', out,
      '--peer', addrOf(empty.ready, 'tcp'), '--gateway-source', seeder.ready.gateway as string])
    assert.ok(summary.blocks > 1)
    assert.deepEqual(await digestTree(out), await digestTree(model))
  })

  it('/metrics reports the exchange bytes a p2p fetch moved', async () => {
    await runCliJson(['--repo', join(work, 'leech-p2p'), 'get', root, '-o', join(work, 'out-p2p'), '--peer', addrOf(seeder.ready, 'quic')])
    let sent = 0
    for (let i = 0; i < 50 && sent === 0; i++) {
      const text = await (await fetch(`${seeder.ready.gateway as string}/metrics`)).text()
      for (const line of text.split('\n')) {
        if (line.startsWith('tensorswap_exchange_bytes_sent_total{')) sent += Number(line.split(' ').at(-1))
      }
      if (sent === 0) await new Promise(resolve => setTimeout(resolve, 100))
    }
    assert.ok(sent > 0, 'exchange bytes sent are counted')
  })

  it('a bad --gateway value is a usage error', async () => {
    const r = await runCli(['--repo', join(work, 'bad'), 'serve', '--gateway', 'nonsense'])
    assert.equal(r.code, 2)
  })
})

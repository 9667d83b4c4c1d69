import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { DebtLedger, paperServeProbability } from '../src/ledger.js'

describe('DebtLedger', () => {
  it('computes the debt ratio and the Bitswap paper probability', () => {
    const ledger = new DebtLedger()
    ledger.recordSent('p', 300, 3, 1)
    ledger.recordReceived('p', 99, 1, 2)
    assert.equal(ledger.debtRatio('p'), 3)
    assert.ok(Math.abs(paperServeProbability(2) - 0.5) < 1e-12)
    assert.ok(paperServeProbability(0) > 0.99)
    assert.ok(paperServeProbability(5) < 0.001)
    assert.equal(ledger.shouldServe('p'), true) // generous
    ledger.assertInvariants()
  })

  it('bitswap-paper serves by the sigmoid; tit-for-tat after a grace allowance', () => {
    const paper = new DebtLedger({ strategy: 'bitswap-paper', random: () => 0.4 })
    paper.recordSent('p', 2, 1, 0) // r = 2: probability 0.5
    assert.equal(paper.shouldServe('p'), true)
    const paper2 = new DebtLedger({ strategy: 'bitswap-paper', random: () => 0.6 })
    paper2.recordSent('p', 2, 1, 0)
    assert.equal(paper2.shouldServe('p'), false)
    const tft = new DebtLedger({ strategy: 'tit-for-tat' })
    tft.recordSent('p', 1024, 1, 0)
    assert.equal(tft.shouldServe('p'), true)
    tft.recordSent('p', 128 * 1024 * 1024, 1, 0)
    assert.equal(tft.shouldServe('p'), false)
    tft.recordReceived('p', 128 * 1024 * 1024, 1, 0)
    assert.equal(tft.shouldServe('p'), true)
  })

  it('persists to and loads from a datastore, skipping corrupt records', async () => {
    const ds = new MemoryDatastore()
    const a = new DebtLedger()
    a.recordSent('peerA', 10, 1, 5)
    a.recordReceived('peerB', 20, 2, 6)
    await a.flush(ds)
    assert.equal(a.dirtyCount, 0)
    await ds.put(new Key('/tensorswap/ledger/broken'), new TextEncoder().encode('{"bytesSent":-1}'))
    await ds.put(new Key('/tensorswap/ledger/garbage'), Uint8Array.of(0xff))
    const b = new DebtLedger()
    assert.equal(await b.load(ds), 2)
    assert.deepEqual(b.get('peerA'), { bytesSent: 10, bytesReceived: 0, blocksSent: 1, blocksReceived: 0, lastExchangeMs: 5 })
    assert.deepEqual(b.get('peerB'), { bytesSent: 0, bytesReceived: 20, blocksSent: 0, blocksReceived: 2, lastExchangeMs: 6 })
    assert.equal(b.peers().includes('broken'), false)
    b.assertInvariants()
  })
})

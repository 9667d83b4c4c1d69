/**
 * Content routing configuration, no network: the bootstrap list, LAN detection and the
 * defaults it drives, jittered back-off, the errors.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { AMINO_BOOTSTRAP, DEFAULT_FIND_PROVIDERS_TIMEOUT_MS, DEFAULT_PROVIDER_DIAL_BACKOFF_MS, DEFAULT_REPROVIDE_INTERVAL_MS } from '../../src/constants.js'
import { isLanOnly, parseBootstrapList, resolveRouting } from '../../src/routing/config.js'
import { InvalidBootstrapAddressError, NoProvidersError } from '../../src/routing/errors.js'
import { backoffWithJitter } from '../../src/routing/router.js'

const PEER = '12D3KooWDB5gTQqvMFauXZxBWphf26VD96gu5td2SrT4bZoep2gn'
const defaults = { reprovideIntervalMs: DEFAULT_REPROVIDE_INTERVAL_MS, findProvidersTimeoutMs: DEFAULT_FIND_PROVIDERS_TIMEOUT_MS }

describe('parseBootstrapList', () => {
  it('expands amino, keeps order, drops duplicates', () => {
    const list = parseBootstrapList([`/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`, 'amino', `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`])
    assert.deepEqual(list.map(String), [`/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`, ...AMINO_BOOTSTRAP])
  })
  it('rejects what is not a multiaddr, or has no /p2p/ peer id, by name', () => {
    for (const bad of ['nope', '/ip4/127.0.0.1/tcp/4001', '/ip4/1.2.3/tcp/1/p2p/' + PEER, '']) {
      assert.throws(() => parseBootstrapList([bad]), (err: any) => err.name === InvalidBootstrapAddressError.name && err.entry === bad, bad)
    }
  })
})

describe('LAN detection and routing defaults', () => {
  const loop = multiaddr(`/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`)
  const pub = multiaddr(`/ip4/104.131.131.82/tcp/4001/p2p/${PEER}`)
  it('a node that only meets loopback/private addresses is LAN-only', () => {
    assert.equal(isLanOnly(['/ip4/127.0.0.1/tcp/0'], []), true)
    assert.equal(isLanOnly(['/ip4/192.168.1.4/udp/0/quic-v1', '/ip6/::1/tcp/0'], [loop]), true)
    assert.equal(isLanOnly([], [loop]), true)
    assert.equal(isLanOnly([], []), false)
    assert.equal(isLanOnly(['/ip4/0.0.0.0/tcp/0'], []), false, 'all interfaces may be public')
    assert.equal(isLanOnly(['/ip4/127.0.0.1/tcp/0'], [pub]), false)
  })
  it('LAN: server mode when listening, client when not; public: auto, private addresses stripped', () => {
    assert.deepEqual(pick(resolveRouting({}, ['/ip4/127.0.0.1/tcp/0'], defaults)), { dhtMode: 'server', lan: true, dht: true, mdns: false })
    assert.deepEqual(pick(resolveRouting({ bootstrap: [loop.toString()] }, [], defaults)), { dhtMode: 'client', lan: true, dht: true, mdns: false })
    assert.deepEqual(pick(resolveRouting({ bootstrap: ['amino'] }, ['/ip4/0.0.0.0/tcp/4001'], defaults)), { dhtMode: 'auto', lan: false, dht: true, mdns: false })
    assert.deepEqual(pick(resolveRouting({ dhtMode: 'client', lan: false, mdns: true }, ['/ip4/127.0.0.1/tcp/0'], defaults)), { dhtMode: 'client', lan: false, dht: true, mdns: true })
    const r = resolveRouting({}, [], defaults)
    assert.deepEqual(r.bootstrap, [], 'the default bootstrap list is empty')
    assert.equal(r.reprovideIntervalMs, 22 * 3600_000)
  })
})

function pick (r: ReturnType<typeof resolveRouting>): object {
  return { dhtMode: r.dhtMode, lan: r.lan, dht: r.dht, mdns: r.mdns }
}

describe('backoffWithJitter', () => {
  it('doubles per attempt within ±50 %', () => {
    assert.equal(backoffWithJitter(2, 100, () => 0), 50)
    assert.equal(backoffWithJitter(2, 100, () => 0.999), 150)
    assert.equal(backoffWithJitter(3, 100, () => 0.5), 200)
    for (let i = 0; i < 100; i++) {
      const ms = backoffWithJitter(2)
      assert.ok(ms >= DEFAULT_PROVIDER_DIAL_BACKOFF_MS / 2 && ms <= DEFAULT_PROVIDER_DIAL_BACKOFF_MS * 1.5, String(ms))
    }
  })
})

describe('NoProvidersError', () => {
  it('names the CID and the time searched, in one line', () => {
    const err = new NoProvidersError('bafyx', 2345, '1 bootstrap peers')
    assert.equal(err.name, 'NoProvidersError')
    assert.equal(err.message, 'no provider of bafyx found in 2.3 s (1 bootstrap peers)')
    assert.equal(err.searchedMs, 2345)
  })
})

/**
 * The dial filter (src/transport/dial-filter.ts): no dial to our own addresses, nor to a stale
 * record's address where a connected peer listens; and isPeerMismatch on the errors a real
 * stale record gives. Real libp2p nodes on loopback for the second part.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { DialAddressFilter } from '../../src/transport/dial-filter.js'
import { createLibp2pNode, dialPreferred, isPeerMismatch } from '../../src/transport/node.js'
import type { TransportServices } from '../../src/transport/node.js'
import type { Libp2p } from '@libp2p/interface'

const P1 = '12D3KooWQiihfMG9BzkjibyG8FAmVFwYnxNEA8isWYAh7ykDpBTw'
const P2 = '12D3KooWLzNJecNKLDUzKSq8rzDNgPLrgBdZENeuozZQ4sNECVnf'

describe('DialAddressFilter', () => {
  it('denies our own addresses: the same endpoint, or loopback/unspecified with our transport and port', () => {
    const f = new DialAddressFilter()
    assert.equal(f.denies(multiaddr('/ip4/127.0.0.1/tcp/4001')), false, 'unbound: nothing is ours')
    f.bind(() => [multiaddr(`/ip4/198.18.0.2/tcp/4001/p2p/${P1}`), multiaddr(`/ip4/198.18.0.2/udp/4001/quic-v1/p2p/${P1}`)])
    assert.equal(f.denies(multiaddr(`/ip4/198.18.0.2/tcp/4001/p2p/${P2}`)), true)
    assert.equal(f.denies(multiaddr(`/ip4/127.0.0.1/tcp/4001/p2p/${P2}`)), true, 'another host\'s loopback address on our port reaches us')
    assert.equal(f.denies(multiaddr('/ip4/127.0.0.1/udp/4001/quic-v1')), true)
    assert.equal(f.denies(multiaddr('/ip4/0.0.0.0/tcp/4001')), true)
    assert.equal(f.denies(multiaddr('/ip4/127.0.0.1/tcp/4002')), false, 'another port')
    assert.equal(f.denies(multiaddr('/ip4/198.18.0.3/tcp/4001')), false, 'another host')
    assert.equal(f.denies(multiaddr('/ip4/127.0.0.1/udp/4001/webrtc-direct')), false, 'not TCP or QUIC')
    assert.equal(f.denies(multiaddr(`/ip4/198.18.0.2/tcp/4001/p2p/${P2}/p2p-circuit/p2p/${P1}`)), false, 'relayed: the relay\'s endpoint')
  })

  it('reads our own addresses once per TTL, again when told they changed, and never caches none', () => {
    let now = 0
    let reads = 0
    let own: string[] = []
    const f = new DialAddressFilter({ ownAddressesTtlMs: 1000, now: () => now })
    f.bind(() => { reads++; return own.map(a => multiaddr(a)) })
    assert.equal(f.denies(multiaddr('/ip4/127.0.0.1/tcp/4001')), false, 'not listening yet')
    own = ['/ip4/198.18.0.2/tcp/4001']
    assert.equal(f.denies(multiaddr('/ip4/127.0.0.1/tcp/4001')), true, 'no addresses were not remembered: read again')
    assert.equal(reads, 2)
    for (let i = 0; i < 100; i++) assert.equal(f.denies(multiaddr(`/ip4/198.18.0.${3 + (i % 50)}/tcp/4001`)), false)
    assert.equal(f.denies(multiaddr('/ip4/198.18.0.2/tcp/4001')), true)
    assert.equal(reads, 2, 'within the TTL: the addresses read before')
    own = ['/ip4/198.18.0.2/tcp/4002']
    now = 999
    assert.equal(f.denies(multiaddr('/ip4/198.18.0.2/tcp/4002')), false, 'a new port is seen only after the TTL...')
    now = 1000
    assert.equal(f.denies(multiaddr('/ip4/198.18.0.2/tcp/4002')), true, '...once it has passed')
    assert.equal(f.denies(multiaddr('/ip4/198.18.0.2/tcp/4001')), false, 'the old port is no longer ours')
    assert.equal(reads, 3)
    own = ['/ip4/198.18.0.2/tcp/4003']
    f.ownChanged()
    assert.equal(f.denies(multiaddr('/ip4/127.0.0.1/tcp/4003')), true, 'told of a change: read at once')
    assert.equal(reads, 4)
  })

  it('denies a connected peer\'s endpoint on its own host to every other peer id, until it disconnects', () => {
    const f = new DialAddressFilter()
    f.identified(P1, [multiaddr('/ip4/198.18.0.2/tcp/4001'), multiaddr('/ip4/198.18.0.2/udp/4001/quic-v1'), multiaddr('/ip4/127.0.0.1/tcp/4001'), multiaddr('/ip4/198.18.0.9/tcp/4001')], '198.18.0.2')
    assert.equal(f.heldCount, 2, 'only the endpoints on the host its connection comes from')
    assert.equal(f.denies(multiaddr(`/ip4/198.18.0.2/tcp/4001/p2p/${P2}`)), true, 'a stale record of P2 at P1\'s address')
    assert.equal(f.denies(multiaddr(`/ip4/198.18.0.2/udp/4001/quic-v1/p2p/${P2}`)), true)
    assert.equal(f.denies(multiaddr(`/ip4/198.18.0.2/tcp/4001/p2p/${P1}`)), false, 'the peer itself')
    assert.equal(f.denies(multiaddr('/ip4/198.18.0.2/tcp/4001')), false, 'no peer id: nothing to compare')
    assert.equal(f.denies(multiaddr(`/ip4/198.18.0.9/tcp/4001/p2p/${P2}`)), false, 'a claim about another host is ignored')
    assert.equal(f.denies(multiaddr(`/ip4/127.0.0.1/tcp/4001/p2p/${P2}`)), false, 'nor its loopback, reached from elsewhere')
    f.forget(P1)
    assert.equal(f.heldCount, 0)
    assert.equal(f.denies(multiaddr(`/ip4/198.18.0.2/tcp/4001/p2p/${P2}`)), false)
  })

  it('a later identify replaces what the peer said before', () => {
    const f = new DialAddressFilter()
    f.identified(P1, [multiaddr('/ip4/10.0.0.5/tcp/4001')], '10.0.0.5')
    f.identified(P1, [multiaddr('/ip4/10.0.0.5/tcp/4002')], '10.0.0.5')
    assert.equal(f.denies(multiaddr(`/ip4/10.0.0.5/tcp/4001/p2p/${P2}`)), false)
    assert.equal(f.denies(multiaddr(`/ip4/10.0.0.5/tcp/4002/p2p/${P2}`)), true)
  })
})

describe('isPeerMismatch', () => {
  it('recognises the upgrader\'s and QUIC\'s errors, through .errors and .cause', () => {
    const tls = Object.assign(new Error('Unexpected Peer'), { name: 'EncryptionFailedError' })
    const quic = new Error(`Dialed peer ${P1} but connected to ${P2}`)
    assert.equal(isPeerMismatch(tls), true)
    assert.equal(isPeerMismatch(quic), true)
    assert.equal(isPeerMismatch(new AggregateError([new Error('connect ECONNREFUSED'), quic], 'All multiaddr dials failed')), true)
    assert.equal(isPeerMismatch(new Error('wrapped', { cause: tls })), true)
    assert.equal(isPeerMismatch(new AggregateError([new Error('connect ECONNREFUSED')], 'All multiaddr dials failed')), false)
    assert.equal(isPeerMismatch(undefined), false)
  })
})

describe('stale records on real nodes', () => {
  let a: Libp2p<TransportServices>
  let c: Libp2p<TransportServices>
  let port: string
  let staleId: string
  before(async () => {
    // B listens, leaves; C (another key) takes its port: B's record is stale
    const b = await createLibp2pNode({ transports: ['tcp'], listen: ['/ip4/127.0.0.1/tcp/0'] })
    port = b.getMultiaddrs()[0].getComponents()[1].value as string
    staleId = b.peerId.toString()
    await b.stop()
    c = await createLibp2pNode({ transports: ['tcp'], listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    a = await createLibp2pNode({ transports: ['tcp'], listen: ['/ip4/127.0.0.1/tcp/0'] })
  })
  after(async () => {
    await a?.stop()
    await c?.stop()
  })

  it('a stale record: the handshake reaches another peer (isPeerMismatch), and dialPreferred stops there', async () => {
    const stale = multiaddr(`/ip4/127.0.0.1/tcp/${port}/p2p/${staleId}`)
    await assert.rejects(a.dial(stale), (err: any) => {
      assert.equal(isPeerMismatch(err), true, `${err.name}: ${err.message}`)
      return true
    })
    // the second address would be tried (and would fail the same way) without the stop
    await assert.rejects(dialPreferred(a, [stale, multiaddr(`/ip4/127.0.0.2/tcp/${port}/p2p/${staleId}`)]), (err: any) => {
      assert.equal(err.name, 'NoDialableAddressError')
      assert.equal(err.errors.length, 1, err.errors.map(String).join('; '))
      return true
    })
  })

  it('once the peer at that address is connected and identified, the stale record is not dialled (no handshake)', async () => {
    const identified = new Promise<void>(resolve => {
      a.addEventListener('peer:identify', (evt) => { if (evt.detail.peerId.equals(c.peerId)) resolve() })
    })
    await a.dial(c.getMultiaddrs()[0])
    await identified
    await assert.rejects(a.dial(multiaddr(`/ip4/127.0.0.1/tcp/${port}/p2p/${staleId}`)), (err: any) => {
      assert.equal(err.name, 'DialDeniedError', `${err.name}: ${err.message}`)
      return true
    })
  })

  it('never dials its own address (a record naming it under another peer id)', async () => {
    const own = a.getMultiaddrs()[0].decapsulateCode(421)
    await assert.rejects(a.dial(own.encapsulate(`/p2p/${staleId}`)), (err: any) => {
      assert.equal(err.name, 'DialDeniedError', `${err.name}: ${err.message}`)
      return true
    })
  })
})

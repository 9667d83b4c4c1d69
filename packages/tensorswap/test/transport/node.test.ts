import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_TRANSPORT_PREFERENCE } from '../../src/transport/constants.js'
import { createLibp2pNode, dialPreferred, NOISE_PROTOCOL, sortByPreference, transportOf } from '../../src/transport/node.js'
import type { TransportServices } from '../../src/transport/node.js'
import type { Libp2p } from '@libp2p/interface'

describe('transportOf / sortByPreference', () => {
  it('classifies and orders addresses by preference, stable otherwise', () => {
    const tcp1 = multiaddr('/ip4/10.0.0.1/tcp/4001')
    const quic = multiaddr('/ip4/10.0.0.1/udp/4001/quic-v1')
    const ws = multiaddr('/ip4/10.0.0.1/tcp/4002/ws')
    const tcp2 = multiaddr('/ip6/2001:db8::1/tcp/4001')
    assert.equal(transportOf(tcp1), 'tcp')
    assert.equal(transportOf(quic), 'quic')
    assert.equal(transportOf(ws), undefined)
    assert.deepEqual(sortByPreference([ws, tcp1, quic, tcp2], ['quic', 'tcp']).map(String), [quic, tcp1, tcp2, ws].map(String))
    assert.deepEqual(sortByPreference([quic, tcp1], ['tcp', 'quic']).map(String), [tcp1, quic].map(String))
    assert.deepEqual(DEFAULT_TRANSPORT_PREFERENCE, ['quic', 'tcp'])
  })

  it('dials loopback addresses last: from another host they reach our own listener', () => {
    const loQuic = multiaddr('/ip4/127.0.0.1/udp/4001/quic-v1')
    const loTcp = multiaddr('/ip4/127.0.0.1/tcp/4001')
    const lanQuic = multiaddr('/ip4/198.18.0.3/udp/4001/quic-v1')
    const lanTcp = multiaddr('/ip4/198.18.0.3/tcp/4001')
    assert.deepEqual(sortByPreference([loQuic, loTcp, lanQuic, lanTcp], ['quic', 'tcp']).map(String), [lanQuic, lanTcp, loQuic, loTcp].map(String))
    // only loopback (a swarm on one host): by transport, as before
    assert.deepEqual(sortByPreference([loTcp, loQuic], ['quic', 'tcp']).map(String), [loQuic, loTcp].map(String))
  })
})

describe('createLibp2pNode + dialPreferred', () => {
  let server: Libp2p<TransportServices>
  let client: Libp2p<TransportServices>
  before(async () => {
    server = await createLibp2pNode()
    client = await createLibp2pNode({ listen: [] })
  })
  after(async () => { await client.stop(); await server.stop() })

  it('listens on QUIC and TCP on loopback by default, with identify and ping', async () => {
    const kinds = server.getMultiaddrs().map(transportOf).sort()
    assert.deepEqual(kinds, ['quic', 'tcp'])
    assert.ok(server.getProtocols().includes('/ipfs/id/1.0.0'))
    assert.ok(server.getProtocols().includes('/ipfs/ping/1.0.0'))
  })

  it('dials the preferred transport first', async () => {
    const addrs = server.getMultiaddrs()
    const conn = await dialPreferred(client, [...addrs].reverse(), { preference: ['quic', 'tcp'] })
    assert.equal(transportOf(conn.remoteAddr), 'quic')
    assert.ok(await client.services.ping.ping(server.peerId) >= 0)
    await conn.close()
  })

  it('a ping while another is open on the same connection succeeds (libp2p\'s connection monitor and the health monitor both ping)', async () => {
    const conn = await dialPreferred(client, server.getMultiaddrs(), { preference: ['quic', 'tcp'] })
    // libp2p's connection monitor aborts the connection when its ping fails: with @libp2p/ping's
    // default of one outbound stream, the second of two overlapping pings failed to open
    const open = await conn.newStream('/ipfs/ping/1.0.0')
    const rtts = await Promise.all([client.services.ping.ping(server.peerId), client.services.ping.ping(server.peerId)])
    for (const rtt of rtts) assert.ok(rtt >= 0)
    assert.equal(conn.status, 'open')
    await open.close()
    await conn.close()
  })

  it('falls back when the preferred address fails', async () => {
    const tcpAddr = server.getMultiaddrs().find(ma => transportOf(ma) === 'tcp')!
    // a QUIC address on a port nobody listens on, for the same peer
    const dead = multiaddr(`/ip4/127.0.0.1/udp/9/quic-v1/p2p/${server.peerId.toString()}`)
    const conn = await dialPreferred(client, [tcpAddr, dead], { preference: ['quic', 'tcp'], perAddressTimeoutMs: 2_000 })
    assert.equal(transportOf(conn.remoteAddr), 'tcp')
    await conn.close()
  })

  it('throws NoDialableAddressError listing every failure', async () => {
    const dead1 = multiaddr(`/ip4/127.0.0.1/udp/9/quic-v1/p2p/${server.peerId.toString()}`)
    const dead2 = multiaddr(`/ip4/127.0.0.1/tcp/9/p2p/${server.peerId.toString()}`)
    await assert.rejects(dialPreferred(client, [dead1, dead2], { perAddressTimeoutMs: 2_000 }), (err: any) => {
      assert.equal(err.name, 'NoDialableAddressError')
      assert.equal(err.errors.length, 2)
      return true
    })
  })

  it('stops at once when the signal aborts', async () => {
    await assert.rejects(dialPreferred(client, server.getMultiaddrs(), { signal: AbortSignal.abort(new DOMException('stop', 'AbortError')) }), { name: 'AbortError' })
  })
})

describe('noise, loaded on its first handshake', () => {
  it('secures TCP connections both ways with noise-only peers', async () => {
    const noiseA = await createLibp2pNode({ transports: ['tcp'], encrypters: ['noise'], listen: ['/ip4/127.0.0.1/tcp/0'] })
    const noiseB = await createLibp2pNode({ transports: ['tcp'], encrypters: ['noise'], listen: ['/ip4/127.0.0.1/tcp/0'] })
    const both = await createLibp2pNode({ transports: ['tcp'], listen: ['/ip4/127.0.0.1/tcp/0'] })
    try {
      // outbound from the default node (TLS offered first, noise taken) ...
      const out = await both.dial(noiseA.getMultiaddrs()[0])
      assert.equal(out.encryption, NOISE_PROTOCOL)
      assert.equal(out.remotePeer.toString(), noiseA.peerId.toString())
      // ... and inbound to it
      const inbound = await noiseB.dial(both.getMultiaddrs()[0])
      assert.equal(inbound.encryption, NOISE_PROTOCOL)
      assert.equal(inbound.remotePeer.toString(), both.peerId.toString())
      const stream = await noiseB.dialProtocol(both.peerId, '/ipfs/ping/1.0.0')
      assert.equal(stream.protocol, '/ipfs/ping/1.0.0')
      await stream.close()
    } finally {
      await Promise.all([both.stop(), noiseA.stop(), noiseB.stop()])
    }
  })
})

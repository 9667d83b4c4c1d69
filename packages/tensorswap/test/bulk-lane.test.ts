/**
 * Bulk lanes (src/bulk-lane.ts, spec/tensorswap.md section 7) between real libp2p nodes on
 * loopback: discovery, mutual authentication with libp2p TLS certificates, framing over the
 * lane, and refusal of every client or server that cannot prove the right peer id.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { connect as tcpConnect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { BulkLanes, tcpHostPort } from '../src/bulk-lane.js'
import { BULK_LANE_ALPN, BULK_LANE_PROTOCOL } from '../src/constants.js'
import { FrameWriter, readFrames } from '@tensorswap/transport'
import { createLibp2pNode } from '../src/transport/node.js'
import { createTensorSwap } from '../src/tensorswap.js'
import { encodeVarint } from '@tensorswap/transport'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SocketStream } from '../src/transport/socket-stream.js'
import type { Libp2p, PeerId } from '@libp2p/interface'

interface LaneNode {
  libp2p: Libp2p
  lanes: BulkLanes
  accepted: Array<{ peer: PeerId, lane: SocketStream }>
}

async function laneNode (listen: string[], banned: Set<string> = new Set()): Promise<LaneNode> {
  const privateKey = await generateKeyPair('Ed25519')
  const libp2p = await createLibp2pNode({ privateKey, transports: ['tcp'], encrypters: ['tls'], listen: ['/ip4/127.0.0.1/tcp/0'] })
  const accepted: LaneNode['accepted'] = []
  const lanes = new BulkLanes(libp2p, privateKey, {
    onLane: (peer, lane, direction) => { if (direction === 'inbound') accepted.push({ peer, lane }) },
    isBanned: (peer) => banned.has(peer.toString())
  }, { listen, handshakeTimeoutMs: 2000 })
  await lanes.start()
  return { libp2p, lanes, accepted }
}

/** Wait until `predicate` holds (polling every 10 ms, at most `ms`). */
async function until (predicate: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not reached')
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

describe('bulk lanes between real nodes', () => {
  let server: LaneNode
  let client: LaneNode
  let other: LaneNode
  const banned = new Set<string>()

  before(async () => {
    server = await laneNode(['/ip4/0.0.0.0/tcp/0'], banned)
    client = await laneNode([])
    other = await laneNode(['/ip4/127.0.0.1/tcp/0'])
    await client.libp2p.dial(server.libp2p.getMultiaddrs()[0])
  })
  after(async () => {
    for (const n of [server, client, other]) {
      await n?.lanes.stop()
      await n?.libp2p.stop()
    }
  })

  it('opens an authenticated lane: each end learns the other peer id, frames flow both ways', async () => {
    assert.equal(client.lanes.addresses().length, 0, 'a node without lane listen addresses only dials')
    // the server offers 0.0.0.0: the client dials the host it is connected to the server on
    assert.equal(tcpHostPort(server.lanes.addresses()[0])?.host, '0.0.0.0')
    const lane = await client.lanes.open(server.libp2p.peerId)
    await until(() => server.accepted.length === 1)
    const inbound = server.accepted[0]
    assert.ok(inbound.peer.equals(client.libp2p.peerId))
    const frames = [randomBytes(10), randomBytes(1 << 20), randomBytes(3)]
    const reading = (async () => {
      const got: Buffer[] = []
      for await (const f of readFrames(inbound.lane.asFramedStream())) {
        got.push(Buffer.from(f.subarray()))
        if (got.length === frames.length) break
      }
      return got
    })()
    await new FrameWriter(lane.asFramedStream()).write(frames)
    assert.deepEqual(await reading, frames)
    await lane.close()
  })

  it('refuses a lane whose certificate proves another peer than the one asked', async () => {
    // a node that answers discovery with someone else's lane address
    const liar = await laneNode([])
    try {
      await liar.libp2p.handle(BULK_LANE_PROTOCOL, async (stream) => {
        await new FrameWriter(stream).write([other.lanes.addresses()[0].bytes])
        await stream.close()
      })
      await client.libp2p.dial(liar.libp2p.getMultiaddrs()[0])
      await assert.rejects(client.lanes.open(liar.libp2p.peerId), (err: Error) => /peer/i.test(err.message) || err.name === 'UnexpectedPeerError')
      assert.equal(other.accepted.length === 0 || other.accepted.every(a => a.peer.equals(client.libp2p.peerId)), true)
    } finally {
      await liar.lanes.stop()
      await liar.libp2p.stop()
    }
  })

  it('refuses a peer without the protocol or without usable addresses with a clear error', async () => {
    const mute = await laneNode([])
    try {
      await mute.libp2p.handle(BULK_LANE_PROTOCOL, async (stream) => {
        await new FrameWriter(stream).write([multiaddr('/dns4/example.com/tcp/1').bytes, multiaddr('/ip4/127.0.0.1/udp/5/quic-v1').bytes])
        await stream.close()
      })
      await client.libp2p.dial(mute.libp2p.getMultiaddrs()[0])
      await assert.rejects(client.lanes.open(mute.libp2p.peerId), { name: 'BulkLaneError', message: /no usable lane address/ })
      await mute.libp2p.unhandle(BULK_LANE_PROTOCOL)
      await assert.rejects(client.lanes.open(mute.libp2p.peerId))
    } finally {
      await mute.lanes.stop()
      await mute.libp2p.stop()
    }
  })

  it('closes lane sockets that send garbage or an oversize record, never handshake, use another ALPN, or present no certificate', async () => {
    const { port } = tcpHostPort(server.lanes.addresses()[0]) as { port: number }
    const before = server.accepted.length
    const closed = async (socket: import('node:net').Socket): Promise<void> => {
      socket.on('error', () => {})
      socket.resume() // read, so the server's FIN is seen
      await new Promise<void>(resolve => socket.once('close', () => { resolve() }))
    }
    // plain TCP garbage, and a TLS record header declaring an oversize record: the handshake fails
    const garbage = tcpConnect(port, '127.0.0.1', () => { garbage.write(randomBytes(4096)) })
    const oversize = tcpConnect(port, '127.0.0.1', () => { oversize.write(Buffer.concat([Buffer.from([0x16, 3, 1, 0xff, 0xff]), randomBytes(4000)])) })
    // a client that never completes its handshake: closed at the handshake timeout (2 s here)
    const silent = tcpConnect(port, '127.0.0.1')
    // TLS without a client certificate
    const noCert = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: [BULK_LANE_ALPN], minVersion: 'TLSv1.3' })
    // TLS with another ALPN
    const otherAlpn = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' })
    await Promise.all([closed(garbage), closed(oversize), closed(silent), closed(noCert), closed(otherAlpn)])
    assert.equal(server.accepted.length, before, 'no lane was handed to the exchange')
  })

  it('refuses lanes from banned peers', async () => {
    banned.add(client.libp2p.peerId.toString())
    try {
      const before = server.accepted.length
      const lane = await client.lanes.open(server.libp2p.peerId)
      await new Promise<void>(resolve => {
        if (lane.status === 'closed') resolve()
        else lane.socket.once('close', () => { resolve() })
      })
      assert.equal(server.accepted.length, before)
    } finally {
      banned.clear()
    }
  })
})

describe('a hostile peer on a bulk lane to a TensorSwap node', () => {
  it('an oversize frame on the lane: the lane is closed, the peer penalised and banned, its next lane refused', { timeout: 30_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ts-lane-hostile-'))
    const victim = await createTensorSwap({ repo: join(dir, 'repo'), listen: ['/ip4/127.0.0.1/tcp/0'], transports: ['tcp'], graphsync: false })
    await victim.start()
    const attacker = await laneNode([])
    try {
      assert.equal(victim.exchange.network.laneAddresses().length, 1, 'the node accepts lanes by default')
      await attacker.libp2p.dial(victim.getMultiaddrs()[0])
      const lane = await attacker.lanes.open(victim.peerId)
      const closed = new Promise<void>(resolve => { lane.socket.once('close', () => { resolve() }) })
      // a frame declaring 5 MiB, over the 4 MiB message cap (+ slack)
      lane.send(encodeVarint(5 * 1024 * 1024))
      await closed
      const key = attacker.libp2p.peerId.toString()
      await until(() => victim.exchange.stats().penalties[key] != null)
      assert.ok(victim.exchange.penalties.isBanned(key, Date.now()), JSON.stringify(victim.exchange.stats().penalties))
      // a banned peer's next lane is accepted at the TLS level, then closed unread
      await attacker.libp2p.dial(victim.getMultiaddrs()[0]).catch(() => {})
      const again = await attacker.lanes.open(victim.peerId).catch(() => undefined)
      if (again != null) {
        const refused = await Promise.race([
          new Promise<boolean>(resolve => { if (again.status === 'closed') resolve(true); else again.socket.once('close', () => { resolve(true) }) }),
          new Promise<boolean>(resolve => setTimeout(() => { resolve(false) }, 5000))
        ])
        assert.ok(refused, 'the banned peer\'s new lane was closed')
      }
    } finally {
      await attacker.lanes.stop()
      await attacker.libp2p.stop()
      await victim.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

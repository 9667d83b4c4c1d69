import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { DEFAULT_INBOUND_CONNECTION_THRESHOLD, DEFAULT_MAX_INCOMING_PENDING_PER_HOST } from '../../src/transport/constants.js'
import { InboundSocketFilter, PendingPerHost, hostOf, pendingPerHostGater } from '../../src/transport/inbound-gate.js'
import { createLibp2pNode, libp2pNodeOptions } from '../../src/transport/node.js'
import type { MultiaddrConnection, PeerId } from '@libp2p/interface'

/** A raw inbound connection as the gater sees it: its remote address and a `close` event. */
function rawConnection (addr: string): MultiaddrConnection & { close: () => void } {
  const target = new EventTarget()
  return Object.assign(target, {
    remoteAddr: multiaddr(addr),
    close: () => { target.dispatchEvent(new Event('close')) }
  }) as any
}

describe('per-host pending-upgrade gate (transport/inbound-gate.ts)', () => {
  it('PendingPerHost: at most max per host, hosts apart, released slots reusable, no host kept at zero', () => {
    const p = new PendingPerHost(2)
    assert.equal(p.acquire('a'), true)
    assert.equal(p.acquire('a'), true)
    assert.equal(p.acquire('a'), false)
    assert.equal(p.acquire('b'), true)
    assert.equal(p.count('a'), 2)
    p.release('a')
    assert.equal(p.acquire('a'), true)
    p.release('a'); p.release('a'); p.release('a'); p.release('b')
    assert.equal(p.hosts, 0)
    assert.throws(() => new PendingPerHost(0), RangeError)
    assert.equal(new PendingPerHost().max, DEFAULT_MAX_INCOMING_PENDING_PER_HOST)
  })

  it('hostOf: the IP of ip4/ip6 addresses, none for others', () => {
    assert.equal(hostOf(multiaddr('/ip4/127.0.0.2/tcp/4001')), '127.0.0.2')
    assert.equal(hostOf(multiaddr('/ip6/::1/tcp/4001')), '::1')
    assert.equal(hostOf(multiaddr('/dns4/example.com/tcp/4001')), undefined)
  })

  it(`refuses the ${DEFAULT_MAX_INCOMING_PENDING_PER_HOST + 1}th connection of a host still upgrading, not another host's; an upgrade done or a close frees a slot once`, async () => {
    const gater = pendingPerHostGater()
    const deny = async (c: MultiaddrConnection): Promise<boolean> => await gater.denyInboundConnection?.(c) as boolean
    const idle = Array.from({ length: DEFAULT_MAX_INCOMING_PENDING_PER_HOST }, (_, i) => rawConnection(`/ip4/127.0.0.2/tcp/${5000 + i}`))
    for (const c of idle) assert.equal(await deny(c), false)
    assert.equal(await deny(rawConnection('/ip4/127.0.0.2/tcp/6000')), true, 'the host holds every slot')
    assert.equal(await deny(rawConnection('/ip4/127.0.0.1/tcp/6001')), false, 'another host is not refused')
    // one upgrade completes: its slot is free, and its later close does not free a second
    await gater.denyInboundUpgradedConnection?.({} as PeerId, idle[0])
    idle[0].close()
    assert.equal(gater.pending.count('127.0.0.2'), DEFAULT_MAX_INCOMING_PENDING_PER_HOST - 1)
    assert.equal(await deny(rawConnection('/ip4/127.0.0.2/tcp/6002')), false)
    // one upgrade fails (the socket closes): its slot is free
    idle[1].close()
    idle[1].close()
    assert.equal(gater.pending.count('127.0.0.2'), DEFAULT_MAX_INCOMING_PENDING_PER_HOST - 1)
    // relayed or DNS addresses are not limited
    for (let i = 0; i < 10; i++) assert.equal(await deny(rawConnection(`/dns4/x.example/tcp/${i}`)), false)
  })

  it('InboundSocketFilter: refuses a host holding every pending slot or over its sockets per second, not another host', () => {
    const pending = new PendingPerHost(2)
    const filter = new InboundSocketFilter(pending, 3)
    for (let i = 0; i < 3; i++) assert.equal(filter.check('10.0.0.1', 'ipv4'), false, `socket ${i} of the second`)
    assert.equal(filter.check('10.0.0.1', 'ipv4'), true, 'the 4th socket in one second')
    assert.equal(filter.check('10.0.0.2', 'ipv4'), false, 'another host')
    pending.acquire('10.0.0.3')
    pending.acquire('10.0.0.3')
    assert.equal(filter.check('10.0.0.3', 'ipv4'), true, 'every pending slot of the host taken')
    pending.release('10.0.0.3')
    assert.equal(filter.check('10.0.0.3', 'ipv4'), false, 'a slot free again')
    assert.equal(filter.refused, 2)
    assert.throws(() => new InboundSocketFilter(pending, 0), RangeError)
  })

  it('a real TCP listener refuses a flooding host\'s sockets in Node\'s server (before libp2p), and another host still connects', async () => {
    const options = libp2pNodeOptions({ transports: ['tcp'], listen: ['/ip4/127.0.0.1/tcp/0'] })
    const { socketFilter } = options.connectionGater as ReturnType<typeof pendingPerHostGater>
    const victim = await createLibp2p(options)
    await victim.start()
    const sockets: Socket[] = []
    try {
      const addr = victim.getMultiaddrs()[0]
      const port = Number(addr.getComponents().find(c => c.name === 'tcp')?.value)
      const FLOOD = 60
      let closed = 0
      for (let i = 0; i < FLOOD; i++) {
        const s = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' })
        s.on('error', () => {})
        s.on('close', () => { closed++ })
        sockets.push(s)
      }
      const deadline = Date.now() + 5_000
      while (closed < FLOOD - DEFAULT_MAX_INCOMING_PENDING_PER_HOST - DEFAULT_INBOUND_CONNECTION_THRESHOLD && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
      // the passthrough of listenOpts to net.createServer and Node's call of BlockList#check
      // are what this counts: without them libp2p refuses the same sockets, later
      assert.ok(socketFilter.refused >= FLOOD - DEFAULT_MAX_INCOMING_PENDING_PER_HOST - DEFAULT_INBOUND_CONNECTION_THRESHOLD, `refused in the server: ${socketFilter.refused} of ${FLOOD} (closed: ${closed})`)
      const honest = await createLibp2pNode({ transports: ['tcp'], listen: [] })
      try {
        const conn = await honest.dial(addr, { signal: AbortSignal.timeout(5_000) })
        assert.equal(conn.remotePeer.equals(victim.peerId), true)
      } finally {
        await honest.stop()
      }
    } finally {
      for (const s of sockets) s.destroy()
      await victim.stop()
    }
  })
})

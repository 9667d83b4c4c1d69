import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_MAX_INCOMING_PENDING_PER_HOST } from '../../src/transport/constants.js'
import { PendingPerHost, hostOf, pendingPerHostGater } from '../../src/transport/inbound-gate.js'
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
})

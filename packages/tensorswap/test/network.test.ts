import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { BITSWAP_120, TENSORSWAP_100 } from '../src/constants.js'
import { Network } from '../src/network.js'
import { FrameWriter } from '@tensorswap/transport'
import { createLibp2pNode } from '../src/transport/node.js'
import type { NetworkHandlers } from '../src/network.js'
import type { DecodedMessage } from '../src/wire/codec.js'
import type { PeerId } from '@libp2p/interface'

const TCP = { transports: ['tcp' as const], listen: ['/ip4/127.0.0.1/tcp/0'] }

function cidOf (i: number): CID {
  return CID.createV1(0x55, Digest.create(0x12, createHash('sha256').update(`block ${i}`).digest()))
}

/** Handlers that record what the network reports. */
function recorder (): NetworkHandlers & { connected: Array<[string, string]>, disconnected: string[], messages: DecodedMessage[], bad: string[], waitFor: (pred: () => boolean) => Promise<void> } {
  const r = {
    connected: [] as Array<[string, string]>,
    disconnected: [] as string[],
    messages: [] as DecodedMessage[],
    bad: [] as string[],
    onMessage (_peer: PeerId, _protocol: string, message: DecodedMessage) { r.messages.push(message) },
    onPeerConnected (peer: PeerId, protocol: string) { r.connected.push([peer.toString(), protocol]) },
    onPeerDisconnected (peer: PeerId) { r.disconnected.push(peer.toString()) },
    onBadInput (_peer: PeerId, err: Error) { r.bad.push(err.name) },
    isBanned: () => false,
    async waitFor (pred: () => boolean) {
      const deadline = Date.now() + 10_000
      while (!pred()) {
        if (Date.now() > deadline) throw new Error('timed out waiting')
        await new Promise(resolve => setTimeout(resolve, 10))
      }
    }
  }
  return r
}

describe('Network', () => {
  it('negotiates the best protocol, owns the connected peers, delivers messages and reports the disconnect', async () => {
    const a = await createLibp2pNode(TCP)
    const b = await createLibp2pNode(TCP)
    const ha = recorder()
    const hb = recorder()
    // b speaks only Bitswap 1.2.0: a negotiates down to it
    const na = new Network(a, ha)
    const nb = new Network(b, hb, { protocols: [BITSWAP_120] })
    try {
      await na.start()
      await nb.start()
      await a.dial(b.getMultiaddrs()[0])
      assert.equal(await na.connect(b.peerId), BITSWAP_120)
      assert.equal(na.protocolOf(b.peerId), BITSWAP_120)
      assert.ok(na.peerId(b.peerId.toString())?.equals(b.peerId))
      assert.deepEqual(na.peers().map(String), [b.peerId.toString()])
      assert.deepEqual(ha.connected, [[b.peerId.toString(), BITSWAP_120]])
      const entries = [{ cid: cidOf(1), priority: 5, cancel: false, wantType: 'block' as const, sendDontHave: true }]
      const bytes = await na.send(b.peerId, { wantlist: { full: false, entries }, blocks: [], presences: [], pendingBytes: 0 }, 'control')
      assert.ok(bytes > 0)
      await hb.waitFor(() => hb.messages.length === 1)
      assert.ok(hb.messages[0]?.wantlist?.entries[0]?.cid.equals(cidOf(1)))
      // b learnt a from the inbound stream
      assert.equal(nb.protocolOf(a.peerId), BITSWAP_120)
      assert.equal(na.stats().get(b.peerId.toString())?.get(BITSWAP_120)?.messagesSent, 1)
      await a.hangUp(b.peerId)
      await ha.waitFor(() => ha.disconnected.length === 1)
      assert.equal(na.peerId(b.peerId.toString()), undefined, 'a disconnected peer is gone from the network')
      assert.deepEqual(na.peers(), [])
    } finally {
      await na.stop()
      await nb.stop()
      await a.stop()
      await b.stop()
    }
  })

  it('reports a message that does not decode as bad input, and keeps running', async () => {
    const a = await createLibp2pNode(TCP)
    const b = await createLibp2pNode(TCP)
    const hb = recorder()
    const nb = new Network(b, hb)
    try {
      await nb.start()
      const stream = await a.dialProtocol(b.getMultiaddrs()[0], TENSORSWAP_100)
      await new FrameWriter(stream).write(Uint8Array.of(0xff, 0xff, 0xff))
      await hb.waitFor(() => hb.bad.length === 1)
      assert.deepEqual(hb.bad, ['InvalidMessageError'])
      assert.equal(hb.messages.length, 0)
      assert.equal(nb.running, true)
    } finally {
      await nb.stop()
      await a.stop()
      await b.stop()
    }
  })
})

/**
 * Raw libp2p stream push: one stream on one connection between two TensorSwap libp2p
 * nodes (packages/tensorswap/src/transport/node.ts), no framing. The leecher sends an
 * 8-byte byte count; the seeder `send()`s that many real-shaped bytes, waiting for the
 * stream's `drain` event when `send()` returns false, then closes. This is the ceiling
 * any protocol on that transport can reach.
 *
 * @module
 */

import { markTransferStart, runRoles } from '../lib/child.js'
import { realShapedData } from '../lib/data.js'
import type { BenchCase } from '../lib/types.js'

const PROTOCOL = '/tensorswap-bench/push/1.0.0'

export const cases: BenchCase[] = [
  { id: 'libp2p-raw/quic', label: 'libp2p stream, QUIC', family: 'libp2p-raw', params: { transport: 'quic' } },
  { id: 'libp2p-raw/tcp-tls', label: 'libp2p stream, TCP+TLS+yamux', family: 'libp2p-raw', params: { transport: 'tcp', encrypter: 'tls' } },
  { id: 'libp2p-raw/tcp-noise', label: 'libp2p stream, TCP+noise+yamux', family: 'libp2p-raw', params: { transport: 'tcp', encrypter: 'noise' } }
]

/** Node options for a case: one transport, one encrypter, optional tuning overrides. */
export function nodeInit (params: Record<string, any>): any {
  const listen = params.transport === 'quic' ? ['/ip4/127.0.0.1/udp/0/quic-v1'] : ['/ip4/127.0.0.1/tcp/0']
  return {
    listen,
    transports: [params.transport],
    encrypters: [params.encrypter ?? 'tls'],
    ...(params.quic != null ? { quic: params.quic } : {}),
    ...(params.yamux != null ? { yamux: params.yamux } : {})
  }
}

runRoles(import.meta.url, {
  async seeder (params) {
    const { createLibp2pNode, waitForDrain } = await import('tensorswap/transport')
    const node = await createLibp2pNode(nodeInit(params))
    const chunkBytes = Number(params.writeBytes ?? 1 << 20)
    await node.handle(PROTOCOL, async (stream) => {
      let req: Uint8Array | undefined
      for await (const chunk of stream) { req = chunk.subarray(); break }
      if (req == null) return
      const size = Number(new DataView(req.buffer, req.byteOffset, 8).getBigUint64(0))
      for await (const chunk of realShapedData(size, chunkBytes)) {
        if (!stream.send(chunk)) await waitForDrain(stream)
      }
      await stream.close()
    })
    return {
      ready: { addrs: node.getMultiaddrs().map(ma => ma.toString()) },
      stop: async () => { await node.stop() }
    }
  },
  async leecher (params, ready) {
    const { createLibp2pNode } = await import('tensorswap/transport')
    const { multiaddr } = await import('@multiformats/multiaddr')
    const node = await createLibp2pNode({ ...nodeInit(params), listen: [] })
    const c0 = performance.now()
    const conn = await node.dial(multiaddr(ready.addrs[0]))
    const stream = await conn.newStream(PROTOCOL)
    markTransferStart()
    const t0 = performance.now()
    const req = new Uint8Array(8)
    new DataView(req.buffer).setBigUint64(0, BigInt(params.sizeBytes))
    stream.send(req)
    let bytes = 0
    let ttfb = -1
    await new Promise<void>((resolve, reject) => {
      stream.addEventListener('message', (evt) => {
        if (ttfb < 0) ttfb = performance.now() - t0
        bytes += evt.data.byteLength
      })
      stream.addEventListener('end', () => resolve())
      stream.addEventListener('close', (evt) => { if (evt.error != null) reject(evt.error); else resolve() })
    })
    const elapsedMs = performance.now() - t0
    await stream.close().catch(() => {})
    await node.stop()
    return { bytes, elapsedMs, ttfbMs: ttfb, connectMs: t0 - c0, transport: conn.remoteAddr.toString().includes('quic') ? 'quic' : 'tcp', encryption: conn.encryption ?? 'quic' }
  }
})

/**
 * Helia 7 Bitswap between two processes, on the same libp2p stacks as our own nodes
 * (`libp2pNodeOptions` from packages/tensorswap/src/transport/node.ts: @chainsafe yamux,
 * TLS/noise, QUIC with our patch), so differences against `libp2p-raw/*` are Bitswap's
 * and Helia's, not the transport's.
 *
 * Seeder: imports the real-shaped payload with `@helia/unixfs` `addByteStream` (Helia's
 * defaults: CIDv1, raw leaves, 1 MiB fixed chunks, balanced DAG) into an in-memory
 * blockstore, prints the root CID. Leecher: dials the seeder, `cat`s the root, counting
 * bytes (blocks land in its in-memory blockstore, which shows in its peak RSS).
 * Import time is excluded; the clock starts when `cat` is called on a connected node.
 *
 * @module
 */

import { markTransferStart, runRoles } from '../lib/child.js'
import { realShapedData } from '../lib/data.js'
import type { BenchCase } from '../lib/types.js'
import type { Libp2pNodeInit } from 'tensorswap/transport'

export const cases: BenchCase[] = [
  { id: 'helia-bitswap/quic', label: 'Helia 7 Bitswap, QUIC', family: 'helia', params: { transport: 'quic' } },
  { id: 'helia-bitswap/tcp-tls', label: 'Helia 7 Bitswap, TCP+TLS+yamux', family: 'helia', params: { transport: 'tcp', encrypter: 'tls' } },
  { id: 'helia-bitswap/tcp-noise', label: 'Helia 7 Bitswap, TCP+noise+yamux', family: 'helia', params: { transport: 'tcp', encrypter: 'noise' } }
]

function nodeInit (params: Record<string, any>, listen: boolean): Libp2pNodeInit {
  return {
    listen: !listen ? [] : params.transport === 'quic' ? ['/ip4/127.0.0.1/udp/0/quic-v1'] : ['/ip4/127.0.0.1/tcp/0'],
    transports: [params.transport],
    encrypters: [params.encrypter ?? 'tls']
  }
}

async function createNode (params: Record<string, any>, listen: boolean): Promise<any> {
  const { createHeliaLight } = await import('helia')
  // @helia/libp2p comes with helia 7.1.15; its light variant takes our libp2p options as is
  const { withLibp2pLight } = await import('@helia/libp2p')
  const { withBitswap } = await import('@helia/bitswap')
  const { libp2pNodeOptions } = await import('tensorswap/transport')
  const helia = withBitswap(withLibp2pLight(createHeliaLight({}), libp2pNodeOptions(nodeInit(params, listen))))
  await helia.start()
  return helia
}

runRoles(import.meta.url, {
  async seeder (params) {
    const { unixfs } = await import('@helia/unixfs')
    const helia = await createNode(params, true)
    const fs = unixfs(helia)
    const cid = await fs.addByteStream(realShapedData(params.sizeBytes))
    return {
      ready: { addrs: helia.libp2p.getMultiaddrs().map((ma: any) => ma.toString()), cid: cid.toString() },
      stop: async () => { await helia.stop() }
    }
  },
  async leecher (params, ready) {
    const { unixfs } = await import('@helia/unixfs')
    const { multiaddr } = await import('@multiformats/multiaddr')
    const { CID } = await import('multiformats/cid')
    const helia = await createNode(params, false)
    const fs = unixfs(helia)
    const c0 = performance.now()
    await helia.libp2p.dial(multiaddr(ready.addrs[0]))
    markTransferStart()
    const t0 = performance.now()
    let bytes = 0
    let ttfb = -1
    for await (const chunk of fs.cat(CID.parse(String(ready.cid)))) {
      if (ttfb < 0) ttfb = performance.now() - t0
      bytes += chunk.byteLength
    }
    const elapsedMs = performance.now() - t0
    await helia.stop()
    return { bytes, elapsedMs, ttfbMs: ttfb, connectMs: t0 - c0, cid: ready.cid }
  }
})

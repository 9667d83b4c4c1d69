/**
 * Baseline: a plain Node `net` TCP socket, no encryption, no muxer. The leecher sends an
 * 8-byte big-endian byte count; the seeder writes that many real-shaped bytes honouring
 * `write()`/'drain' back-pressure and ends the socket.
 *
 * @module
 */

import { createConnection, createServer } from 'node:net'
import { markTransferStart, runRoles } from '../lib/child.js'
import { realShapedData } from '../lib/data.js'
import type { BenchCase } from '../lib/types.js'

export const cases: BenchCase[] = [
  { id: 'raw/node-tcp', label: 'raw Node TCP (no crypto)', family: 'raw', params: {} }
]

runRoles(import.meta.url, {
  async seeder () {
    const server = createServer(socket => {
      socket.once('data', async (req: Buffer) => {
        const size = Number(req.readBigUInt64BE(0))
        for await (const chunk of realShapedData(size)) {
          if (!socket.write(chunk)) await new Promise(resolve => socket.once('drain', resolve))
        }
        socket.end()
      })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const addr = server.address()
    if (addr == null || typeof addr === 'string') throw new Error('no address')
    return {
      ready: { addrs: [`127.0.0.1:${addr.port}`] },
      stop: async () => { await new Promise(resolve => server.close(resolve)) }
    }
  },
  async leecher (params, ready) {
    const [host, port] = ready.addrs[0].split(':')
    const c0 = performance.now()
    const socket = createConnection({ host, port: Number(port) })
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    markTransferStart()
    const t0 = performance.now()
    const req = Buffer.alloc(8)
    req.writeBigUInt64BE(BigInt(params.sizeBytes))
    socket.write(req)
    let bytes = 0
    let ttfb = -1
    for await (const chunk of socket) {
      if (ttfb < 0) ttfb = performance.now() - t0
      bytes += (chunk as Buffer).byteLength
    }
    return { bytes, elapsedMs: performance.now() - t0, ttfbMs: ttfb, connectMs: t0 - c0 }
  }
})

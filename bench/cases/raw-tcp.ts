/**
 * Baselines: a plain Node `net` TCP socket, no encryption, no muxer (`raw/node-tcp`), and the
 * same with Node's TLS 1.3 and libp2p TLS certificates, as the bulk lane uses it
 * (`raw/node-tls`: the lane's own ceiling). The leecher sends an 8-byte big-endian byte count;
 * the seeder writes that many real-shaped bytes honouring `write()`/'drain' back-pressure and
 * ends the socket (read from disk as it goes; with param `preload`, read into memory first).
 *
 * @module
 */

import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls'
import { markTransferStart, runRoles } from '../lib/child.js'
import { realShapedData } from '../lib/data.js'
import type { BenchCase } from '../lib/types.js'

export const cases: BenchCase[] = [
  { id: 'raw/node-tcp', label: 'raw Node TCP (no crypto)', family: 'raw', params: {} },
  { id: 'raw/node-tls', label: 'raw Node TLS 1.3 socket, libp2p certificates (bulk-lane ceiling)', family: 'raw', params: { tls: true } }
]

/** A libp2p TLS certificate (self-signed, libp2p key extension) for a fresh Ed25519 identity. */
async function libp2pCertificate (): Promise<{ cert: string, key: string }> {
  const { generateKeyPair } = await import('@libp2p/crypto/keys')
  const { generateCertificate } = await import('@libp2p/tls/utils')
  return await generateCertificate(await generateKeyPair('Ed25519'))
}

const TLS13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', rejectUnauthorized: false } as const

runRoles(import.meta.url, {
  async seeder (params) {
    // `preload` (bench/push.ts): the bytes are read into memory before `ready`, so the timed
    // transfer is the socket's alone (a pusher's blocks are in the page cache, as these are)
    const preloaded: Uint8Array[] = []
    if (params.preload === true) for await (const chunk of realShapedData(params.sizeBytes)) preloaded.push(chunk)
    const onSocket = (socket: Socket): void => {
      socket.once('data', async (req: Buffer) => {
        const size = Number(req.readBigUInt64BE(0))
        for await (const chunk of preloaded.length > 0 ? preloaded : realShapedData(size)) {
          if (!socket.write(chunk)) await new Promise(resolve => socket.once('drain', resolve))
        }
        socket.end()
      })
    }
    const server: Server = params.tls === true
      ? createTlsServer({ ...await libp2pCertificate(), ...TLS13, requestCert: true }, onSocket)
      : createServer(onSocket)
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
    // the identity and its certificate exist before the connection (as a node's do): not timed
    const cert = params.tls === true ? await libp2pCertificate() : undefined
    const c0 = performance.now()
    const socket = cert != null
      ? tlsConnect({ host, port: Number(port), ...cert, ...TLS13 })
      : createConnection({ host, port: Number(port) })
    await new Promise((resolve, reject) => { socket.once(params.tls === true ? 'secureConnect' : 'connect', resolve); socket.once('error', reject) })
    markTransferStart()
    const t0 = performance.now()
    const req = Buffer.alloc(8)
    req.writeBigUInt64BE(BigInt(params.sizeBytes))
    socket.write(req)
    let bytes = 0
    let ttfb = -1
    // 'data' events, not `for await`: the async iterator's promise per chunk cost this
    // reader ~1/3 of its rate on loopback (bench/README.md "Push"), and a baseline is the ceiling
    await new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        if (ttfb < 0) ttfb = performance.now() - t0
        bytes += chunk.byteLength
      })
      socket.once('end', resolve)
      socket.once('error', reject)
    })
    return { bytes, elapsedMs: performance.now() - t0, ttfbMs: ttfb, connectMs: t0 - c0 }
  }
})

/**
 * `SocketStream.writeBufferLength` over a real TLS 1.3 connection: it must shrink while a slow
 * peer reads a large write, so the send stall limit (`waitForDrain`'s `stallTimeoutMs`) can tell
 * a slow reader from a stalled one. It reads Node's TCP write queue behind the TLS handle; if a
 * Node upgrade hides that, this test fails (the value would stay flat until the whole write is
 * done, and a slow reader would look stalled).
 */
import assert from 'node:assert/strict'
import { createServer, connect, type TLSSocket } from 'node:tls'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { generateCertificate } from '@libp2p/tls/utils'
import { SocketStream } from '../../src/transport/socket-stream.js'

const MiB = 1024 * 1024

describe('SocketStream.writeBufferLength', () => {
  for (const side of ['client', 'server'] as const) {
    it(`shrinks while a slow peer reads (${side} side writes)`, async () => {
      const creds = await generateCertificate(await generateKeyPair('Ed25519'))
      let serverSocket: TLSSocket | undefined
      const accepted = new Promise<TLSSocket>(resolve => {
        const server = createServer({ ...creds, minVersion: 'TLSv1.3' }, s => { serverSocket = s; resolve(s); server.close() })
        server.listen(0, '127.0.0.1', () => {
          const port = (server.address() as { port: number }).port
          const c = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: 'TLSv1.3' })
          c.on('error', () => {})
          clientSocket = c
        })
      })
      let clientSocket: TLSSocket | undefined
      await accepted
      await new Promise(resolve => setTimeout(resolve, 50))
      const writer = side === 'client' ? clientSocket! : serverSocket!
      const reader = side === 'client' ? serverSocket! : clientSocket!
      reader.pause()
      const stream = new SocketStream(writer)
      for (let i = 0; i < 32; i++) stream.send(new Uint8Array(MiB))
      const samples: number[] = []
      // paced by bytes, not by time (a loaded machine must not change the outcome): the reader
      // takes 3 MiB, the writer's buffer settles, one sample; 10 steps take 30 of the 32 MiB
      const consume = async (bytes: number): Promise<void> => {
        await new Promise<void>(resolve => {
          let got = 0
          const onData = (chunk: Buffer): void => {
            got += chunk.length
            if (got < bytes) return
            reader.off('data', onData)
            reader.pause()
            resolve()
          }
          reader.on('data', onData)
          reader.resume()
        })
      }
      const settled = async (): Promise<number> => {
        let last = stream.writeBufferLength
        for (let i = 0; i < 50; i++) {
          await new Promise(resolve => setTimeout(resolve, 10))
          const now = stream.writeBufferLength
          if (now === last) return now
          last = now
        }
        return last
      }
      samples.push(await settled())
      for (let i = 0; i < 10; i++) {
        await consume(3 * MiB)
        samples.push(await settled())
      }
      writer.destroy()
      reader.destroy()
      // it may rise once (the TLS handle takes the batch and its encrypted bytes wait in the TCP
      // queue while the socket still counts the plaintext), then it must keep shrinking
      let shrinks = 0
      for (let i = 1; i < samples.length; i++) if (samples[i] < samples[i - 1]) shrinks++
      assert.ok(shrinks >= 8, `writeBufferLength shrinks while the peer reads: ${samples.join(', ')}`)
    })
  }
})

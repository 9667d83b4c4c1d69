/**
 * Test helpers: pairs of real libp2p nodes on loopback, and a minimal in-memory
 * {@link FramedStream} for exact chunk-boundary tests of the frame parser.
 */

import { multiaddr } from '@multiformats/multiaddr'
import { Uint8ArrayList } from 'uint8arraylist'
import { createLibp2pNode } from '../../src/transport/node.js'
import type { Libp2pNodeInit, TransportServices } from '../../src/transport/node.js'
import type { FramedStream } from '../../src/transport/framing.js'
import type { Libp2p, Stream } from '@libp2p/interface'

/** A transport configuration under test. */
export interface TransportCase {
  name: string
  init: Libp2pNodeInit
}

/** The three stacks we ship: QUIC, TCP+TLS+yamux, TCP+noise+yamux. */
export const TRANSPORTS: TransportCase[] = [
  { name: 'QUIC', init: { transports: ['quic'], listen: ['/ip4/127.0.0.1/udp/0/quic-v1'] } },
  { name: 'TCP+TLS+yamux', init: { transports: ['tcp'], encrypters: ['tls'], listen: ['/ip4/127.0.0.1/tcp/0'] } },
  { name: 'TCP+noise+yamux', init: { transports: ['tcp'], encrypters: ['noise'], listen: ['/ip4/127.0.0.1/tcp/0'] } }
]

/** Two started nodes; `open(protocol)` opens a stream from `a` to `b` and returns both ends. */
export interface NodePair {
  a: Libp2p<TransportServices>
  b: Libp2p<TransportServices>
  open: (protocol: string) => Promise<{ outbound: Stream, inbound: Stream }>
  stop: () => Promise<void>
}

/** Start two nodes with `init` and connect a to b. */
export async function nodePair (init: Libp2pNodeInit): Promise<NodePair> {
  const a = await createLibp2pNode({ ...init, listen: [] })
  const b = await createLibp2pNode(init)
  const conn = await a.dial(multiaddr(b.getMultiaddrs()[0].toString()))
  const waiting = new Map<string, (s: Stream) => void>()
  return {
    a,
    b,
    async open (protocol) {
      const inboundP = new Promise<Stream>(resolve => { waiting.set(protocol, resolve) })
      await b.handle(protocol, (stream) => { waiting.get(protocol)?.(stream) }, { force: true })
      const outbound = await conn.newStream(protocol)
      return { outbound, inbound: await inboundP }
    },
    async stop () { await a.stop(); await b.stop() }
  }
}

/** An in-memory {@link FramedStream}: `feed(bytes)` delivers a chunk to the reader. */
export class FakeStream extends EventTarget {
  writableNeedsDrain = false
  writeStatus: FramedStream['writeStatus'] = 'writable'
  readStatus: FramedStream['readStatus'] = 'readable'
  status: FramedStream['status'] = 'open'
  readableEnded = false
  readBufferLength = 0
  sent = new Uint8ArrayList()
  aborted: Error | undefined
  pauses = 0
  /** When set, `send` returns false and needs a `drain()` after this many sends. */
  fullAfter = Infinity

  send (data: Uint8Array | Uint8ArrayList): boolean {
    this.sent.append(data)
    if (--this.fullAfter <= 0) { this.writableNeedsDrain = true; return false }
    return true
  }

  drain (): void { this.writableNeedsDrain = false; this.dispatchEvent(new Event('drain')) }
  feed (bytes: Uint8Array): void {
    const evt = new Event('message') as Event & { data: Uint8Array }
    evt.data = bytes
    this.dispatchEvent(evt)
  }

  end (): void { this.readableEnded = true; this.dispatchEvent(new Event('end')) }
  pause (): void { this.readStatus = 'paused'; this.pauses++ }
  resume (): void { this.readStatus = 'readable' }
  abort (err: Error): void {
    this.aborted = err
    this.status = 'aborted'
    this.writeStatus = 'closed'
    const evt = new Event('close') as Event & { error?: Error }
    evt.error = err
    this.dispatchEvent(evt)
  }
}

/**
 * Test helpers: pairs of real libp2p nodes on loopback over the three stacks TensorSwap ships,
 * and a minimal in-memory {@link FramedStream} for exact chunk-boundary tests of the frame
 * parser.
 *
 * The nodes are assembled here, not with `createLibp2pNode` (that is the `tensorswap`
 * package's, above this one). They mirror its defaults where the framing can tell: QUIC
 * (patched `@chainsafe/libp2p-quic`) with the library's windows, TCP with TLS or noise and
 * yamux with the library's windows, and a yamux read buffer of at least one full window (16
 * MiB) so a paused reader is throttled, not reset.
 */

import { noise } from '@chainsafe/libp2p-noise'
import { quic } from '@chainsafe/libp2p-quic'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { tls } from '@libp2p/tls'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { Uint8ArrayList } from 'uint8arraylist'
import type { FramedStream } from '../src/framing.js'
import type { Libp2p, Stream } from '@libp2p/interface'

/** yamux's default (and largest) stream window, bytes (`@chainsafe/libp2p-yamux` 8). */
const YAMUX_MAX_STREAM_WINDOW = 16 * 1024 * 1024

/** How a test node is assembled. */
export interface TestNodeInit {
  transports: Array<'quic' | 'tcp'>
  encrypters?: Array<'tls' | 'noise'>
  listen: string[]
}

/** A started libp2p node on the stack `init` names. */
export async function createTestNode (init: TestNodeInit): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: init.listen },
    transports: init.transports.map(t => t === 'quic' ? quic() : tcp()),
    connectionEncrypters: (init.encrypters ?? ['tls', 'noise']).map(e => e === 'tls' ? tls() : noise()),
    streamMuxers: [yamux({ streamOptions: { maxReadBufferLength: YAMUX_MAX_STREAM_WINDOW } })]
  })
}

/** A transport configuration under test. */
export interface TransportCase {
  name: string
  init: TestNodeInit
}

/** The three stacks we ship: QUIC, TCP+TLS+yamux, TCP+noise+yamux. */
export const TRANSPORTS: TransportCase[] = [
  { name: 'QUIC', init: { transports: ['quic'], listen: ['/ip4/127.0.0.1/udp/0/quic-v1'] } },
  { name: 'TCP+TLS+yamux', init: { transports: ['tcp'], encrypters: ['tls'], listen: ['/ip4/127.0.0.1/tcp/0'] } },
  { name: 'TCP+noise+yamux', init: { transports: ['tcp'], encrypters: ['noise'], listen: ['/ip4/127.0.0.1/tcp/0'] } }
]

/** Two started nodes; `open(protocol)` opens a stream from `a` to `b` and returns both ends. */
export interface NodePair {
  a: Libp2p
  b: Libp2p
  open: (protocol: string) => Promise<{ outbound: Stream, inbound: Stream }>
  stop: () => Promise<void>
}

/** Start two nodes with `init` and connect a to b. */
export async function nodePair (init: TestNodeInit): Promise<NodePair> {
  const a = await createTestNode({ ...init, listen: [] })
  const b = await createTestNode(init)
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

/**
 * A real Helia 7 node (helia + @helia/bitswap + @helia/unixfs) in its own process, driven by the
 * interop tests. It prints one JSON line per event on stdout.
 *
 *   node helia-peer.js seed <file> --transport quic|tcp [--encrypter tls|noise]
 *     -> {"event":"ready","peerId","addrs":[...],"cid"}   then serves until SIGTERM
 *   node helia-peer.js fetch <cid> --peer <multiaddr> [--path p]... --transport quic|tcp
 *     -> {"event":"fetched","files":[{"path","sha256","bytes"}],"seconds"}   then exits
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { quic } from '@chainsafe/libp2p-quic'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { unixfs } from '@helia/unixfs'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { tls } from '@libp2p/tls'
import { multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    transport: { type: 'string', default: 'tcp' },
    encrypter: { type: 'string', default: 'tls' },
    peer: { type: 'string' },
    path: { type: 'string', multiple: true }
  }
})
const [mode, arg] = positionals

const libp2pInit: any = values.transport === 'quic'
  ? { addresses: { listen: ['/ip4/127.0.0.1/udp/0/quic-v1'] }, transports: [quic()] }
  : {
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: values.encrypter === 'noise' ? [noise()] : [tls()],
      streamMuxers: [yamux()]
    }
libp2pInit.services = { identify: identify() }

const helia: any = withBitswap(withLibp2pLight(createHeliaLight({}), libp2pInit) as any)
await helia.start()
const fs = unixfs(helia)

function emit (obj: unknown): void { process.stdout.write(JSON.stringify(obj) + '\n') }

if (mode === 'seed') {
  const cid = await fs.addByteStream(createReadStream(arg), { rawLeaves: true, cidVersion: 1 } as any)
  emit({ event: 'ready', peerId: helia.libp2p.peerId.toString(), addrs: helia.libp2p.getMultiaddrs().map((a: any) => a.toString()), cid: cid.toString() })
  const stop = (): void => { void helia.stop().then(() => process.exit(0)) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
} else if (mode === 'fetch') {
  const cid = CID.parse(arg)
  const started = performance.now()
  await helia.libp2p.dial(multiaddr(values.peer as string))
  const files = []
  for (const path of values.path ?? ['']) {
    const hash = createHash('sha256')
    let bytes = 0
    for await (const chunk of fs.cat(cid, path === '' ? {} : { path })) { hash.update(chunk); bytes += chunk.byteLength }
    files.push({ path, sha256: hash.digest('hex'), bytes })
  }
  emit({ event: 'fetched', files, seconds: (performance.now() - started) / 1000 })
  await helia.stop()
  process.exit(0)
} else {
  process.stderr.write('usage: helia-peer seed <file> | fetch <cid> --peer <multiaddr>\n')
  process.exit(2)
}

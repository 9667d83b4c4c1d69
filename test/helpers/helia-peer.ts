/**
 * A real Helia 7 node (helia + @helia/bitswap + @helia/unixfs) in its own process, driven by the
 * interop tests. It prints one JSON line per event on stdout.
 *
 *   node helia-peer.js seed <file> --transport quic|tcp [--encrypter tls|noise]
 *     -> {"event":"ready","peerId","addrs":[...],"cid"}   then serves until SIGTERM
 *   node helia-peer.js fetch <cid> --peer <multiaddr> [--path p]... --transport quic|tcp
 *     -> {"event":"fetched","files":[{"path","sha256","bytes"}],"seconds","fromPeers"}   then exits
 *
 * For swarms on namespaced hosts (bench/cases/swarm.ts):
 *
 *   node helia-peer.js seed-blocks <dir> --listen /ip4/<ip>/tcp/0
 *     serves the blocks of a flat FsBlockstore directory (test/helpers/store.ts `copyBlocks`,
 *     the very DAG a TensorSwap repo holds) as its blockstore
 *     -> {"event":"ready","peerId","addrs":[...]}   then serves until SIGTERM
 *   node helia-peer.js fetch <cid> --go --listen /ip4/<ip>/tcp/0 [--path p]...
 *     a leecher that serves what it has over Bitswap while it fetches (Helia's blockstore
 *     answers wants, and wants it could not answer are answered when the block arrives):
 *     -> {"event":"ready","peerId","addrs"}, then reads one stdin line {"peers":[multiaddr...]},
 *     dials them all (some may fail, not all), `cat`s, and prints "fetched" as above
 *
 * `fromPeers`: per sender peer id, the bytes of the blocks Bitswap took from it (its
 * `bitswap:block` progress events; a duplicate that lost the race is not seen there).
 * `--listen` (repeatable) replaces the loopback listen address; `--bitswap '<json>'` passes
 * options to @helia/bitswap (`withBitswap`; its defaults otherwise); `--libp2p '<json>'` merges
 * top-level libp2p options in.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
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
import { FsBlockstore } from '@tensorswap/blockstore'
import { multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    transport: { type: 'string', default: 'tcp' },
    encrypter: { type: 'string', default: 'tls' },
    peer: { type: 'string', multiple: true },
    path: { type: 'string', multiple: true },
    listen: { type: 'string', multiple: true },
    go: { type: 'boolean', default: false },
    bitswap: { type: 'string' },
    libp2p: { type: 'string' }
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
if (values.listen != null) libp2pInit.addresses = { listen: values.listen }
// --libp2p '<json>': top-level libp2p options merged in (e.g. {"connectionMonitor":{"abortConnectionOnPingFailure":false}})
if (values.libp2p != null) Object.assign(libp2pInit, JSON.parse(values.libp2p))

// seed-blocks: our own FsBlockstore (interface-blockstore 7) is Helia's blockstore
const blockstore = mode === 'seed-blocks' ? new FsBlockstore(arg, { fsync: false }) : undefined
if (blockstore != null) await blockstore.open()
// --bitswap '<json>': @helia/bitswap options (e.g. messageSendTimeout), its defaults otherwise
const bitswapInit = values.bitswap != null ? JSON.parse(values.bitswap) : {}
const helia: any = withBitswap(withLibp2pLight(createHeliaLight(blockstore != null ? { blockstore } as any : {}), libp2pInit) as any, bitswapInit)
await helia.start()
const fs = unixfs(helia)

function emit (obj: unknown): void { process.stdout.write(JSON.stringify(obj) + '\n') }

if (mode === 'seed') {
  const cid = await fs.addByteStream(createReadStream(arg), { rawLeaves: true, cidVersion: 1 } as any)
  emit({ event: 'ready', peerId: helia.libp2p.peerId.toString(), addrs: helia.libp2p.getMultiaddrs().map((a: any) => a.toString()), cid: cid.toString() })
  const stop = (): void => { void helia.stop().then(() => process.exit(0)) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
} else if (mode === 'seed-blocks') {
  emit({ event: 'ready', peerId: helia.libp2p.peerId.toString(), addrs: helia.libp2p.getMultiaddrs().map((a: any) => a.toString()) })
  const stop = (): void => { void helia.stop().then(async () => { await blockstore?.close(); process.exit(0) }) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
} else if (mode === 'fetch') {
  const cid = CID.parse(arg)
  let peers = values.peer ?? []
  if (values.go) {
    emit({ event: 'ready', peerId: helia.libp2p.peerId.toString(), addrs: helia.libp2p.getMultiaddrs().map((a: any) => a.toString()) })
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: process.stdin })
      rl.once('line', (l) => { resolve(l); rl.close() })
      rl.once('close', () => { reject(new Error('stdin closed before the peer list')) })
    })
    peers = [...peers, ...(JSON.parse(line) as { peers: string[] }).peers]
  }
  const started = performance.now()
  const dialled = await Promise.allSettled(peers.map(async p => await helia.libp2p.dial(multiaddr(p))))
  const failed = dialled.flatMap((d, i) => d.status === 'rejected' ? [`${peers[i]}: ${(d.reason as Error).message}`] : [])
  if (failed.length > 0) process.stderr.write(`helia-peer: dials failed: ${failed.join('; ')}\n`)
  if (peers.length > 0 && failed.length === peers.length) throw new Error(`no peer could be dialled: ${failed.join('; ')}`)
  // which peer each block came from (Bitswap's progress events); sizes read back afterwards
  const senders = new Map<string, string>()
  const onProgress = (evt: any): void => {
    if (evt.type === 'bitswap:block') senders.set(evt.detail.cid.toString(), evt.detail.sender.toString())
  }
  const files = []
  // every 5 s on stderr: bytes read so far and blocks received (where a stalled fetch stopped)
  let catBytes = 0
  const progress = setInterval(() => { process.stderr.write(`helia-peer: ${Math.round(performance.now() - started)} ms: ${catBytes} bytes read, ${senders.size} blocks received, ${helia.libp2p.getConnections().length} connections\n`) }, 5000)
  progress.unref()
  for (const path of values.path ?? ['']) {
    const hash = createHash('sha256')
    let bytes = 0
    for await (const chunk of fs.cat(cid, path === '' ? { onProgress } : { path, onProgress })) { hash.update(chunk); bytes += chunk.byteLength; catBytes += chunk.byteLength }
    files.push({ path, sha256: hash.digest('hex'), bytes })
  }
  clearInterval(progress)
  const seconds = (performance.now() - started) / 1000
  const fromPeers: Record<string, number> = {}
  for (const [c, sender] of senders) {
    let n = 0
    for await (const chunk of helia.blockstore.get(CID.parse(c), { offline: true })) n += chunk.byteLength
    fromPeers[sender] = (fromPeers[sender] ?? 0) + n
  }
  emit({ event: 'fetched', files, seconds, fromPeers })
  await helia.stop()
  process.exit(0)
} else {
  process.stderr.write('usage: helia-peer seed <file> | seed-blocks <dir> | fetch <cid> (--peer <multiaddr> | --go)\n')
  process.exit(2)
}

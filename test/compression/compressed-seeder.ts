/**
 * A seeder that answers want-blocks with compressed blocks (spec/tensorswap.md §12), honest or
 * hostile, in its own process: a plain libp2p node speaking only `/tensorswap/1.0.0`, blocks
 * from a FsBlockstore directory. The victim dials it (`fetch-peer.js --peer`).
 *
 *   node compressed-seeder.js --blocks DIR --mode MODE
 *
 * Modes (each want-block of a block we hold is answered so):
 *   honest       compressed when the victim's want-list offered `acceptCodecs` and the block
 *                compresses (`compressBlock`), else plain
 *   bomb         one zstd plane that inflates to 8 MiB more than the block's length (a zip bomb)
 *   wrong-bytes  the block with one byte flipped, compressed: inflates fine, hashes to another CID
 *   truncated    one zstd plane of the whole block, cut to half its frame
 *   too-long     declares a decompressed length over the 2 MiB block limit
 * Hostile modes send compressed blocks whether or not the victim offered to decode them.
 *
 * Events (JSON lines): `ready {peerId, addrs}`, `wants {acceptCodecs, blocks}`,
 * `sent {compressed, plain, badCids}`, and on SIGTERM `summary {compressed, plain, badCids,
 * acceptCodecs}` (`badCids`: CIDs of the wrong bytes sent in `wrong-bytes`).
 */
import { createHash } from 'node:crypto'
import { parseArgs } from 'node:util'
import { zstdCompressSync } from 'node:zlib'
import { FsBlockstore, getBlockUnverified } from '@tensorswap/blockstore'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { PLANE_STORED, PLANE_ZSTD, TENSORSWAP_100, compressBlock, decodeMessage, encodeMessage, encodePrefix } from 'tensorswap'
import { createLibp2pNode, encodeVarint, readFrames } from 'tensorswap/transport'
import type { BitswapMessage, Block, WantEntry } from 'tensorswap'
import type { Connection, PeerId, Stream } from '@libp2p/interface'

const { values } = parseArgs({ options: { blocks: { type: 'string' }, mode: { type: 'string', default: 'honest' } } })
const mode = values.mode as 'honest' | 'bomb' | 'wrong-bytes' | 'truncated' | 'too-long'
const MiB = 1024 * 1024
const store = new FsBlockstore(values.blocks as string)
type Compressed = NonNullable<BitswapMessage['compressed']>[number]
const zstd = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(zstdCompressSync(bytes))
/** 10 MiB of zeros in ~330 bytes: inflates past any block (at most 2 MiB). */
const BOMB = zstd(new Uint8Array(10 * MiB))

function emit (obj: Record<string, unknown>): void { process.stdout.write(JSON.stringify(obj) + '\n') }

const stats = { compressed: 0, plain: 0, badCids: [] as string[], acceptCodecs: [] as number[] }

const libp2p = await createLibp2pNode({ listen: ['/ip4/127.0.0.1/tcp/0'], transports: ['tcp'] })
const outbound = new Map<string, Promise<Stream>>()

async function replyStream (peer: PeerId): Promise<Stream> {
  const s = outbound.get(peer.toString())
  if (s != null) {
    const stream = await s
    if (stream.status === 'open' && stream.writeStatus === 'writable') return stream
  }
  const opening = libp2p.dialProtocol(peer, TENSORSWAP_100).then(stream => {
    stream.closeRead().catch(() => {})
    return stream
  })
  outbound.set(peer.toString(), opening)
  return await opening
}

async function reply (peer: PeerId, message: BitswapMessage): Promise<void> {
  const stream = await replyStream(peer)
  const body = encodeMessage(message, TENSORSWAP_100)
  stream.send(encodeVarint(body.byteLength))
  if (!stream.send(body)) await new Promise(resolve => { stream.addEventListener('drain', resolve, { once: true }); stream.addEventListener('close', resolve, { once: true }) })
}

/** The hostile wire form of `block` for this mode. */
function hostile (block: Block): Compressed {
  const prefix = encodePrefix(block.cid) as Uint8Array<ArrayBuffer>
  const length = block.bytes.byteLength
  if (mode === 'bomb') return { prefix, length, width: 1, planes: [{ codec: PLANE_ZSTD, data: BOMB }] }
  if (mode === 'too-long') return { prefix, length: 64 * MiB, width: 1, planes: [{ codec: PLANE_ZSTD, data: BOMB }] }
  if (mode === 'truncated') {
    const frame = zstd(block.bytes)
    return { prefix, length, width: 1, planes: [{ codec: PLANE_ZSTD, data: frame.subarray(0, Math.min(frame.byteLength >> 1, length - 1)) }] }
  }
  // wrong-bytes: inflates to the block with one byte flipped
  const bytes = new Uint8Array(block.bytes)
  bytes[bytes.byteLength >> 1] ^= 0xff
  stats.badCids.push(CID.createV1(block.cid.code, Digest.create(0x12, createHash('sha256').update(bytes).digest())).toString())
  const z = zstd(bytes)
  return { prefix, length, width: 1, planes: [z.byteLength < length ? { codec: PLANE_ZSTD, data: z } : { codec: PLANE_STORED, data: bytes }] }
}

async function onWants (peer: PeerId, entries: WantEntry[], acceptCodecs: number): Promise<void> {
  const plain: Block[] = []
  const compressed: Compressed[] = []
  const presences: BitswapMessage['presences'] = []
  for (const e of entries) {
    if (e.cancel) continue
    if (!await store.has(e.cid)) {
      if (e.sendDontHave) presences.push({ cid: e.cid, type: 'dont-have' })
      continue
    }
    if (e.wantType === 'have') {
      presences.push({ cid: e.cid, type: 'have' })
      continue
    }
    const block = { cid: e.cid, bytes: await getBlockUnverified(store, e.cid) }
    if (mode === 'honest') {
      const c = acceptCodecs !== 0 ? await compressBlock(block, encodePrefix(block.cid)) : undefined
      if (c != null) compressed.push(c)
      else plain.push(block)
    } else if (block.bytes.byteLength >= 1024) {
      compressed.push(hostile(block))
    }
  }
  stats.compressed += compressed.length
  stats.plain += plain.length
  // one block per message: a bad one aborts only its own message
  for (const p of presences) await reply(peer, { blocks: [], presences: [p], pendingBytes: 0 })
  for (const b of plain) await reply(peer, { blocks: [b], presences: [], pendingBytes: 0 })
  for (const c of compressed) await reply(peer, { blocks: [], presences: [], pendingBytes: 0, compressed: [c] })
  if (compressed.length + plain.length > 0) emit({ event: 'sent', compressed: compressed.length, plain: plain.length, badCids: stats.badCids.length })
}

let queue = Promise.resolve()
await libp2p.handle(TENSORSWAP_100, (stream: Stream, connection: Connection) => {
  const peer = connection.remotePeer
  void (async () => {
    try {
      await stream.close()
      for await (const f of readFrames(stream, { maxFrameBytes: 8 * MiB })) {
        const message = decodeMessage(f, { maxMessageBytes: 8 * MiB, maxWantlistSize: 1 << 20 })
        const entries = message.wantlist?.entries ?? []
        if (message.wantlist == null) continue
        stats.acceptCodecs.push(message.acceptCodecs)
        emit({ event: 'wants', acceptCodecs: message.acceptCodecs, blocks: entries.filter(e => !e.cancel && e.wantType === 'block').length })
        queue = queue.then(async () => { await onWants(peer, entries, message.acceptCodecs) }).catch((err: any) => { emit({ event: 'reply-failed', name: err?.name, message: err?.message }) })
      }
    } catch (err: any) {
      emit({ event: 'inbound-ended', name: err?.name })
    }
  })()
})

emit({ event: 'ready', peerId: libp2p.peerId.toString(), addrs: libp2p.getMultiaddrs().map(a => a.toString()) })
process.on('SIGTERM', () => {
  emit({ event: 'summary', ...stats, acceptCodecs: [...new Set(stats.acceptCodecs)] })
  void Promise.resolve(libp2p.stop()).finally(() => process.exit(0))
})

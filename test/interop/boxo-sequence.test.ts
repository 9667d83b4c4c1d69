/**
 * The exact message pattern a boxo (Kubo) Bitswap client sends, driven at a `tensorswap serve`
 * process over `/ipfs/bitswap/1.2.0` by a plain libp2p node (boxo's session: want-have with
 * send-dont-have to learn who has a block, then want-block with send-dont-have on the same
 * block, often before the HAVE has come back; a cancel once the block arrived elsewhere).
 * The server must answer HAVE then the block (the upgraded want is never lost), DONT_HAVE for
 * what it lacks, and a cancelled want-block is not sent after the cancel was read.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { decodeMessage, encodeMessage } from 'tensorswap'
import { createLibp2pNode, FrameWriter, readFrames } from 'tensorswap/transport'
import { runCliJson } from '../helpers/cli.js'
import { writeRealWeightsFile } from '../helpers/model.js'
import { addrOf, startServe, type Running, type ServeReady } from '../helpers/processes.js'
import type { BitswapMessage, DecodedMessage, WantEntry } from 'tensorswap'
import type { Stream } from '@libp2p/interface'

const BITSWAP = '/ipfs/bitswap/1.2.0'
const MiB = 1024 * 1024

/** The CID of one 1 MiB raw leaf of a plain file (Helia/ipfs-car chunking: fixed 1 MiB). */
function leafCid (bytes: Uint8Array): CID {
  return CID.createV1(raw.code, Digest.create(0x12, createHash('sha256').update(bytes).digest()))
}

const want = (cid: CID, wantType: 'have' | 'block', cancel = false): WantEntry => ({ cid, priority: 10, cancel, wantType, sendDontHave: true })

describe('a boxo client\'s message sequence against serve', () => {
  let work: string
  let seeder: Running<ServeReady>
  let leaves: CID[]

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-boxo-'))
    await mkdir(join(work, 'model'))
    const file = await writeRealWeightsFile(join(work, 'model', 'w.bin'), 4 * MiB)
    const bytes = await readFile(file)
    leaves = [0, 1, 2, 3].map(i => leafCid(bytes.subarray(i * MiB, (i + 1) * MiB)))
    await runCliJson(['--repo', join(work, 'seed'), 'add', join(work, 'model')])
    seeder = await startServe(join(work, 'seed'))
  })
  after(async () => {
    await seeder?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('HAVE then the block for an upgraded want, DONT_HAVE for a missing block, no block after cancel', async () => {
    const node = await createLibp2pNode({ transports: ['tcp'], listen: ['/ip4/127.0.0.1/tcp/0'] })
    const received: DecodedMessage[] = []
    let notify = (): void => {}
    await node.handle(BITSWAP, (stream: Stream) => {
      void (async () => {
        for await (const f of readFrames(stream, { maxFrameBytes: 8 * MiB })) {
          received.push(decodeMessage(f, { maxMessageBytes: 8 * MiB }))
          notify()
        }
      })().catch(() => {})
    })
    const until = async (what: string, ok: () => boolean, ms = 15_000): Promise<void> => {
      const deadline = Date.now() + ms
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(received.map(summary))}`)
        await new Promise<void>(resolve => { notify = resolve; setTimeout(resolve, 100) })
      }
    }
    const summary = (m: DecodedMessage): unknown => ({ blocks: m.blocks.map(b => b.cid.toString()), presences: m.presences.map(p => `${p.type}:${p.cid}`) })
    const has = (type: 'have' | 'dont-have', cid: CID): boolean => received.some(m => m.presences.some(p => p.type === type && p.cid.multihash.bytes.toString() === cid.multihash.bytes.toString()))
    const gotBlock = (cid: CID): boolean => received.some(m => m.blocks.some(b => b.cid.multihash.bytes.toString() === cid.multihash.bytes.toString()))
    try {
      const stream = await node.dialProtocol(multiaddr(addrOf(seeder.ready, 'tcp')), BITSWAP)
      const writer = new FrameWriter(stream)
      const send = async (m: Partial<BitswapMessage>): Promise<void> => {
        await writer.write(encodeMessage({ blocks: [], presences: [], pendingBytes: 0, ...m }, BITSWAP))
      }
      const [x, y] = leaves
      const missing = leafCid(new TextEncoder().encode('nobody has this block'))
      // boxo: want-have X (who has it?), then at once want-block X on the same peer
      await send({ wantlist: { full: false, entries: [want(x, 'have'), want(missing, 'have')] } })
      await send({ wantlist: { full: false, entries: [want(x, 'block')] } })
      await until('HAVE or the block for X, DONT_HAVE for the missing block', () => (has('have', x) || gotBlock(x)) && has('dont-have', missing))
      await until('the block for the upgraded want of X', () => gotBlock(x))

      // want-block Y then cancel Y in the next message: after the cancel was read, Y is not queued
      await send({ wantlist: { full: false, entries: [want(y, 'block'), want(leaves[2], 'block')] } })
      await send({ wantlist: { full: false, entries: [want(y, 'block', true)] } })
      await until('the block that was not cancelled', () => gotBlock(leaves[2]))
      const yCount = received.filter(m => m.blocks.some(b => b.cid.multihash.bytes.toString() === y.multihash.bytes.toString())).length
      assert.ok(yCount <= 1, 'a cancelled want is sent at most once (only if it was already in flight)')
      await stream.close()
    } finally {
      await node.stop()
    }
  })
})

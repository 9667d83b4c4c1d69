import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import type { Libp2p } from '@libp2p/interface'

/** An in-memory block store for tests; counts loads. */
export class MemoryStore {
  readonly blocks = new Map<string, Uint8Array>()
  loads = 0

  async put (bytes: Uint8Array, code: number): Promise<CID> {
    const cid = CID.createV1(code, await sha256.digest(bytes))
    this.blocks.set(cid.toString(), bytes)
    return cid
  }

  async putCbor (value: unknown): Promise<CID> { return this.put(dagCbor.encode(value), dagCbor.code) }
  async putJson (value: unknown): Promise<CID> { return this.put(dagJson.encode(value), dagJson.code) }
  async putRaw (bytes: Uint8Array): Promise<CID> { return this.put(bytes, raw.code) }
  async putPb (node: dagPb.PBNode): Promise<CID> { return this.put(dagPb.encode(dagPb.prepare(node)), dagPb.code) }

  loader = async (cid: CID, _options?: unknown): Promise<Uint8Array> => {
    this.loads++
    const b = this.blocks.get(cid.toString())
    if (b === undefined) throw new Error(`test store: missing ${cid}`)
    return b
  }
}

export async function collect<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

// --- the libp2p driver (network.test.ts): a plain libp2p node (TCP + noise + yamux on
// loopback; the TensorSwap node assembly is in the `tensorswap` package, above this one) and
// the deterministic file the responder fixture serves

/** A started libp2p node listening on a free loopback TCP port. */
export async function createTestNode (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}

/** 2 MiB of deterministic bytes (byte i = i * 31 mod 251). */
export function fileBytes (): Uint8Array {
  const out = new Uint8Array(2 * 1024 * 1024)
  for (let i = 0; i < out.length; i++) out[i] = (i * 31) % 251
  return out
}

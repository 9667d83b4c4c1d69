import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'

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

/**
 * Fuzz targets: every decoder that takes bytes (or decoded values) from a peer, a file or a
 * user, each with seeds of valid input from the real encoders. A case is random bytes, or a
 * seed with random bytes overwritten, inserted or cut off (most bugs hide one byte away from a
 * valid input). A decoder passes when every case returns or throws a *typed* error: an `Error`
 * whose `.name` is one of the decoder's documented errors, never a `TypeError`/`RangeError`
 * from deep inside a library, never a hang.
 */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { Uint8ArrayList } from 'uint8arraylist'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { decodeMessage as decodeBitswap, encodeMessage as encodeBitswap, decodePushRequest, decodePushResponse, encodePushRequest, encodePushResponse } from 'tensorswap'
import { parseGatewayRequest, parseRange } from '@tensorswap/gateway'
import { checkOptions, parseApiFile } from '@tensorswap/cli/dist/src/api/protocol.js'
import * as dagPb from '@ipld/dag-pb'
import { decodeMessage as decodeGraphSync, encodeMessage as encodeGraphSync, selectorFromDagCbor, selectorToDagCbor, allSelector, s, RequestType, ResponseStatusCode } from '@tensorswap/graphsync'
import { exportCar, hashBlock, importCar } from '@tensorswap/blockstore'
import { bufferReader, decodeManifest, decodeUnixfs, verifiedSource, walkFileRange, encodeManifest, parseGguf, parseSafetensors, parseTfjsModelJson, validateManifest, MANIFEST_FORMAT, MANIFEST_VERSION } from '@tensorswap/model'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { HUMAN_MODELS } from '../helpers/cli.js'

/** One decoder under fuzz. */
export interface FuzzTarget {
  name: string
  /** Error names the decoder may throw for bad input. */
  errors: string[]
  /** Valid inputs the mutations start from. */
  seeds: () => Promise<Uint8Array[]>
  /** Decode one input (resolves or throws). */
  run: (input: Uint8Array) => Promise<unknown> | unknown
}

const utf8 = new TextEncoder()

/** A case: random bytes, or a seed mutated by overwrites, inserts and a truncation. */
export function inputs (seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const mutated = fc.record({
    seed: fc.nat({ max: Math.max(0, seeds.length - 1) }),
    edits: fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), insert: fc.boolean() }), { maxLength: 6 }),
    cut: fc.option(fc.nat(), { nil: undefined })
  }).map(({ seed, edits, cut }) => {
    let b = Array.from(seeds[seed] ?? new Uint8Array(0))
    for (const e of edits) {
      const at = b.length === 0 ? 0 : e.at % (b.length + (e.insert ? 1 : 0))
      if (e.insert) b.splice(at, 0, e.byte)
      else if (b.length > 0) b[at % b.length] = e.byte
    }
    if (cut !== undefined && b.length > 0) b = b.slice(0, cut % b.length)
    return Uint8Array.from(b)
  })
  return fc.oneof({ weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }) }, { weight: 4, arbitrary: mutated })
}

const cidOf = (bytes: Uint8Array): CID => hashBlock(bytes, raw.code)

/** A minimal GGUF v3 header: two key/values and one F32 tensor, in the spec's layout. */
function ggufSeed (): Uint8Array {
  const parts: number[] = []
  const u32 = (n: number): void => { const b = Buffer.alloc(4); b.writeUInt32LE(n); parts.push(...b) }
  const u64 = (n: number): void => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); parts.push(...b) }
  const str = (t: string): void => { const b = utf8.encode(t); u64(b.length); parts.push(...b) }
  parts.push(...utf8.encode('GGUF'))
  u32(3) // version
  u64(1) // tensors
  u64(2) // key/values
  str('general.architecture'); u32(8); str('llama')
  str('general.alignment'); u32(4); u32(32)
  str('token_embd.weight'); u32(2); u64(4); u64(2); u32(0); u64(0)
  while (parts.length % 32 !== 0) parts.push(0)
  parts.push(...new Uint8Array(32))
  return Uint8Array.from(parts)
}

/** A safetensors file: its 8-byte length, JSON header and data (two real-shaped tensors). */
function safetensorsSeed (): Uint8Array {
  const header = utf8.encode(JSON.stringify({ __metadata__: { format: 'pt' }, 'model.layers.0.w': { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] }, 'model.layers.0.b': { dtype: 'F16', shape: [2], data_offsets: [16, 20] } }))
  const out = new Uint8Array(8 + header.length + 20)
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true)
  out.set(header, 8)
  return out
}

/** Every decoder that faces remote or file input. */
export const TARGETS: FuzzTarget[] = [
  {
    name: 'Bitswap message (tensorswap wire codec)',
    errors: ['InvalidMessageError', 'MessageTooLargeError'],
    seeds: async () => {
      const block = utf8.encode('a block of real size is not needed here')
      const cid = cidOf(block)
      return ['/ipfs/bitswap/1.2.0', '/ipfs/bitswap/1.1.0'].map(p => encodeBitswap({
        wantlist: { full: false, entries: [{ cid, priority: 7, cancel: false, wantType: 'have', sendDontHave: true }, { cid, priority: 1, cancel: true, wantType: 'block', sendDontHave: false }] },
        blocks: [{ cid, bytes: block }],
        presences: [{ cid, type: 'dont-have' }],
        pendingBytes: 12
      }, p))
    },
    run: (b) => decodeBitswap(b, {})
  },
  {
    // as a frame read from a socket arrives: chunks, whose blocks the codec takes without joining them
    name: 'Bitswap message in chunks (tensorswap wire codec)',
    errors: ['InvalidMessageError', 'MessageTooLargeError'],
    seeds: async () => {
      const blocks = [utf8.encode('x'.repeat(300)), utf8.encode('a second block')]
      return [encodeBitswap({
        wantlist: { full: false, entries: blocks.map(b => ({ cid: cidOf(b), priority: 3, cancel: false, wantType: 'block' as const, sendDontHave: true })) },
        blocks: blocks.map(b => ({ cid: cidOf(b), bytes: b })),
        presences: [{ cid: cidOf(blocks[0] as Uint8Array), type: 'have' }],
        pendingBytes: 0
      }, '/tensorswap/1.0.0')]
    },
    run: (b) => {
      // cut where the input's own bytes say, so the chunking is as varied as the input
      const list = new Uint8ArrayList()
      for (let from = 0; from < b.byteLength;) {
        const n = 1 + ((b[from] ?? 0) % 97)
        list.append(b.slice(from, from + n))
        from += n
      }
      return decodeBitswap(list, {})
    }
  },
  {
    name: 'GraphSync 2.0.0 message',
    errors: ['InvalidMessageError', 'MessageTooLargeError', 'InvalidSelectorError', 'SelectorLimitError', 'UnsupportedSelectorError'],
    seeds: async () => {
      const block = utf8.encode('graphsync block')
      const root = cidOf(block)
      return [encodeGraphSync({
        requests: [{ id: new Uint8Array(16).fill(1), type: RequestType.New, priority: 3, root, selector: allSelector, extensions: { 'graphsync/do-not-send-first-blocks': 2 } }],
        responses: [{ requestId: new Uint8Array(16).fill(2), status: ResponseStatusCode.RequestCompletedFull, metadata: [{ link: root, action: 'p' }] } as any],
        blocks: [{ prefix: root.bytes.subarray(0, 4), data: block }]
      })]
    },
    run: (b) => decodeGraphSync(b, {})
  },
  {
    name: 'IPLD selector (DAG-CBOR)',
    errors: ['InvalidSelectorError', 'SelectorLimitError', 'UnsupportedSelectorError'],
    seeds: async () => [allSelector, s.exploreFields({ tensors: s.exploreIndex(0, s.matcher()) }), s.exploreRecursive(s.exploreAll(s.recursiveEdge()), { depth: 3 })].map(x => selectorToDagCbor(x)),
    run: (b) => selectorFromDagCbor(b)
  },
  {
    name: 'CAR v1/v2 import',
    errors: ['InvalidCarError', 'BlockHashMismatchError', 'UnsupportedHashError', 'UnsupportedCodecError', 'BlockVerificationError'],
    seeds: async () => {
      const store = new MemoryBlockstore()
      const leaf = utf8.encode('leaf bytes')
      const leafCid = cidOf(leaf)
      await store.put(leafCid, leaf)
      const node = dagCbor.encode({ name: 'n', link: leafCid })
      const root = hashBlock(node, dagCbor.code)
      await store.put(root, node)
      const chunks: Uint8Array[] = []
      await exportCar(store, root, async (c: Uint8Array) => { chunks.push(c) })
      return [Buffer.concat(chunks)]
    },
    run: async (b) => await importCar(new MemoryBlockstore(), [b])
  },
  {
    name: 'safetensors header',
    errors: ['InvalidSafetensorsError'],
    seeds: async () => [safetensorsSeed()],
    run: async (b) => await parseSafetensors(bufferReader(b), 'fuzz.safetensors')
  },
  {
    name: 'GGUF header',
    errors: ['InvalidGgufError'],
    seeds: async () => [ggufSeed()],
    run: async (b) => await parseGguf(bufferReader(b), 'fuzz.gguf')
  },
  {
    name: 'TF.js model.json',
    errors: ['InvalidTfjsModelError'],
    seeds: async () => ['antispoof.json', 'liveness.json'].map(f => readFileSync(join(HUMAN_MODELS, f))),
    run: (b) => parseTfjsModelJson(b, 'model.json')
  },
  {
    name: 'TensorSwap manifest (DAG-CBOR)',
    errors: ['InvalidManifestError', 'NotAManifestError'],
    seeds: async () => {
      const chunk = cidOf(utf8.encode('chunk'))
      return [encodeManifest({ format: MANIFEST_FORMAT, version: MANIFEST_VERSION, files: chunk, name: 'm', tensors: [{ name: 'model.layers.0.w', file: 'model.safetensors', dtype: 'F32', shape: [2, 2], offset: 0, length: 16, chunks: [chunk] }] } as any).bytes]
    },
    run: (b) => decodeManifest(b)
  }
]

/** A UnixFS file node (dag-pb) with inline data and two linked leaves, as ipfs-unixfs-importer writes one. */
function unixfsFileSeed (): Uint8Array {
  const leaf = cidOf(utf8.encode('leaf'))
  // UnixFS Data: Type=File(2), Data='ab', filesize=10, blocksizes [4, 4]
  const data = Uint8Array.from([0x08, 0x02, 0x12, 0x02, 0x61, 0x62, 0x18, 0x0a, 0x20, 0x04, 0x20, 0x04])
  return dagPb.encode(dagPb.prepare({ Data: data, Links: [{ Hash: leaf, Tsize: 4 }, { Hash: leaf, Tsize: 4 }] }))
}

/** A gateway request line: the path and query, then the Accept, Range and Cache-Control headers, one per line. */
function gatewayRequestOf (b: Uint8Array): { method: string, url: string, headers: Record<string, string> } {
  const [url = '/', accept, range, cacheControl] = new TextDecoder().decode(b).split('\n')
  const headers: Record<string, string> = {}
  if (accept != null) headers.accept = accept
  if (range != null) headers.range = range
  if (cacheControl != null) headers['cache-control'] = cacheControl
  return { method: 'GET', url, headers }
}

/** Option types of a command as the daemon checks them (spec/api.md): one of each kind. */
const API_OPTION_TYPES = { peer: 'string[]', output: 'string', json: 'boolean', tensors: 'string[]' } as const

TARGETS.push(
  {
    name: 'UnixFS node (dag-pb) and its file ranges',
    errors: ['InvalidDagError'],
    seeds: async () => [unixfsFileSeed()],
    run: async (b) => {
      const cid = hashBlock(b, dagPb.code)
      const n = decodeUnixfs(cid, b)
      if (n == null) return
      // walk the file's byte ranges through the links (the leaves are absent: a typed error or nothing)
      const store = new MemoryBlockstore()
      await store.put(cid, b)
      try {
        for await (const _ of walkFileRange(verifiedSource(store), cid, 0, 8)) { /* drain */ }
      } catch (err: any) {
        if (['InvalidDagError', 'NotFoundError', 'BlockNotFoundError'].includes(err?.name)) return
        throw err
      }
    }
  },
  {
    name: 'push request and response (DAG-CBOR)',
    errors: ['InvalidPushMessageError'],
    seeds: async () => {
      const root = cidOf(utf8.encode('pushed root'))
      return [encodePushRequest({ root, bytes: 123456, blocks: 7 }), encodePushResponse({ ok: true, blocks: 7, bytes: 123456, blocksAlreadyThere: 2, seconds: 1.5 }), encodePushResponse({ ok: false, reason: 'not accepted' })]
    },
    run: (b) => {
      let failures = 0
      try { decodePushRequest(b) } catch (err: any) { if (err?.name !== 'InvalidPushMessageError') throw err; failures++ }
      try { decodePushResponse(b) } catch (err: any) { if (err?.name !== 'InvalidPushMessageError') throw err; failures++ }
      return failures
    }
  },
  {
    name: 'gateway request (path, query, Accept, Range, entity-bytes)',
    errors: ['BadRequestError', 'NotAcceptableError', 'NotImplementedError', 'ContentNotFoundError', 'RangeNotSatisfiableError', 'PreconditionFailedError'],
    seeds: async () => {
      const file = cidOf(utf8.encode('file'))
      return [
        `/ipfs/${file}/a/b.safetensors?format=car&dag-scope=entity&entity-bytes=0:*&car-version=1&car-order=dfs&car-dups=y\napplication/vnd.ipld.car;version=1;order=dfs;dups=y, */*;q=0.1\nbytes=0-99\nonly-if-cached`,
        `/ipfs/${file}?filename=x.bin&download=true\napplication/vnd.ipld.raw\nbytes=-100\nno-cache`
      ].map(t => utf8.encode(t))
    },
    run: (b) => {
      const req = gatewayRequestOf(b)
      // the query's entity-bytes is parsed by parseGatewayRequest; the Range header also alone
      if (req.headers.range != null) parseRange(req.headers.range)
      return parseGatewayRequest(req)
    }
  },
  {
    name: 'API request (the daemon\'s options document and api file)',
    errors: ['ApiRequestError'],
    seeds: async () => [
      JSON.stringify({ peer: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWExample'], output: '/tmp/out', json: true, tensors: ['model.layers.0.*'] }),
      JSON.stringify({ address: '/tmp/repo/api.sock', pid: 1234, peerId: '12D3KooWExample', version: '0.1.0' })
    ].map(t => utf8.encode(t)),
    run: (b) => {
      const text = new TextDecoder().decode(b)
      let failures = 0
      try { checkOptions('get', text, API_OPTION_TYPES) } catch (err: any) { if (err?.name !== 'ApiRequestError') throw err; failures++ }
      try { parseApiFile(text) } catch (err: any) { if (err?.name !== 'ApiRequestError') throw err; failures++ }
      return failures
    }
  }
)

/** The manifest validator on arbitrary decoded values (not only on bytes). */
export function validateAny (value: unknown): unknown { return validateManifest(value) }

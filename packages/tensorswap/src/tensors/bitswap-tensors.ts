/**
 * Selected tensors over Bitswap, for peers that do not speak GraphSync (a Helia or Kubo peer,
 * or a TensorSwap node with GraphSync off): the same selection and the same yield order as
 * GraphSync's {@link tensors} in `model-selectors.ts`, built from single-block wants
 * (spec/graphsync.md "Bitswap fallback").
 *
 * 1. The manifest block (`root`) is fetched with one want unless it is local, and stored.
 * 2. The selected tensor indices come from {@link selectTensorIndices}.
 * 3. Their chunks, in computation order and each CID once, are asked for through a bounded
 *    pipeline: at most `maxBlocksInFlight` wants and `maxBytesInFlight` estimated bytes
 *    outstanding (wanted, not yet stored), earlier chunks with higher wire priority, so the
 *    serving engine answers in computation order. Chunks already local are not asked for.
 * 4. Each tensor is yielded as soon as all of its chunks are stored, in computation order,
 *    while later wants are still outstanding.
 *
 * Verification: the `want` function must resolve only with bytes that hash to the CID (the
 * exchange's `want` does: blocks are matched to wants by the multihash computed from their
 * bytes), so nothing unverified is stored.
 *
 * @module
 */
import { logger } from '@libp2p/logger'
import { CustomProgressEvent } from 'progress-events'
import { DEFAULT_BITSWAP_TENSOR_BLOCKS_IN_FLIGHT, DEFAULT_BITSWAP_TENSOR_BYTES_IN_FLIGHT } from './constants.js'
import { InvalidTensorSelectionError } from './errors.js'
import { assembleTensor, parseSelection, selectTensorIndices } from './model-selectors.js'
import type { FetchedTensor, TensorSelection } from './model-selectors.js'
import type { BlockProgressDetail } from '@tensorswap/blockstore'
import type { Manifest, ManifestTensor } from '@tensorswap/model'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent } from 'progress-events'

const log = logger('tensorswap:graphsync:bitswap-tensors')

/** Wire priority of the manifest want; chunk wants count down from it (computation order first). */
const ROOT_PRIORITY = 2 ** 30

/**
 * Fetch one block; must resolve only with bytes verified against `cid` (the exchange's `want`).
 */
export type BlockWant = (cid: CID, options: { signal: AbortSignal, priority: number }) => Promise<Uint8Array>

/** Where the fallback stores blocks and reads local ones. */
export interface BitswapTensorStore {
  has(cid: CID, options?: { signal?: AbortSignal }): Promise<boolean>
  /** The whole verified block. */
  get(cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array>
  put(cid: CID, bytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<unknown>
}

/** Detail of `tensorswap:bitswap-tensors:block`: one block fetched over Bitswap and stored (`from: 'network'`). */
export type BitswapTensorBlockDetail = BlockProgressDetail

/** Progress events of {@link bitswapTensors}. */
export type BitswapTensorsProgressEvents =
  ProgressEvent<'tensorswap:bitswap-tensors:block', BitswapTensorBlockDetail>

/** Options of {@link bitswapTensors}. */
export interface BitswapTensorsOptions extends Omit<TensorSelection, 'selector'> {
  signal?: AbortSignal
  onProgress?: (evt: BitswapTensorsProgressEvents) => void
  /** Reads the (stored, verified) manifest block. */
  readManifest: (root: CID, options: { signal?: AbortSignal }) => Promise<Manifest>
  /** Most wants outstanding (asked, not yet stored). @default {@link DEFAULT_BITSWAP_TENSOR_BLOCKS_IN_FLIGHT} */
  maxBlocksInFlight?: number
  /** Most estimated bytes outstanding. @default {@link DEFAULT_BITSWAP_TENSOR_BYTES_IN_FLIGHT} */
  maxBytesInFlight?: number
}

interface Item { cid: CID, key: string, est: number }

/**
 * Fetch the selected tensors of the model at `root` over Bitswap (`want`) and yield each one,
 * in computation order, as soon as its chunks are stored. Without `glob`/`layers`, every
 * tensor. See the module comment.
 *
 * @throws InvalidLayerRangeError, InvalidTensorSelectionError - a bad or empty selection (before any chunk is asked for)
 * @throws NotAManifestError (from `readManifest`) - `root` is not a TensorSwap manifest
 * @throws IncompleteTensorError - a tensor's chunks do not add up to its length
 * @throws the `want` function's errors (`BlockUnavailableError`, `NotStartedError`, ...), store errors, `signal.reason`
 */
export async function * bitswapTensors (want: BlockWant, store: BitswapTensorStore, root: CID, options: BitswapTensorsOptions): AsyncGenerator<FetchedTensor, void, undefined> {
  const { signal } = options
  signal?.throwIfAborted()
  parseSelection(options)
  const controller = new AbortController()
  const fetchSignal = signal == null ? controller.signal : AbortSignal.any([signal, controller.signal])

  if (!await store.has(root, { signal })) {
    const bytes = await want(root, { signal: fetchSignal, priority: ROOT_PRIORITY })
    await store.put(root, bytes, { signal })
    options.onProgress?.(new CustomProgressEvent<BitswapTensorBlockDetail>('tensorswap:bitswap-tensors:block', { cid: root, bytes: bytes.byteLength, from: 'network' }))
  }
  const manifest = await options.readManifest(root, { signal })
  const indices = selectTensorIndices(manifest, options)
  if (indices.length === 0) throw new InvalidTensorSelectionError(`manifest ${root.toString()}: the selection names no tensor of this model`)

  // every chunk of the selection once, in computation order; local ones count as arrived
  const arrived = new Set<string>()
  const queue: Item[] = []
  const seen = new Set<string>()
  for (const i of indices) {
    const t = manifest.tensors[i]
    const est = t.chunks.length > 0 ? Math.ceil(t.length / t.chunks.length) : 0
    for (const cid of t.chunks) {
      const key = cid.toString()
      if (seen.has(key)) continue
      seen.add(key)
      if (await store.has(cid, { signal })) arrived.add(key)
      else queue.push({ cid, key, est })
    }
  }
  log('%c: %d of %d tensors, %d chunks to fetch, %d local', root, indices.length, manifest.tensors.length, queue.length, arrived.size)

  const maxBlocks = options.maxBlocksInFlight ?? DEFAULT_BITSWAP_TENSOR_BLOCKS_IN_FLIGHT
  const maxBytes = options.maxBytesInFlight ?? DEFAULT_BITSWAP_TENSOR_BYTES_IN_FLIGHT
  let next = 0
  let blocksInFlight = 0
  let bytesInFlight = 0
  let failure: unknown
  const outstanding = new Set<Promise<void>>()
  let wake: (() => void) | undefined
  const notify = (): void => { const w = wake; wake = undefined; w?.() }

  const pump = (): void => {
    while (failure === undefined && next < queue.length && blocksInFlight < maxBlocks &&
      (bytesInFlight === 0 || bytesInFlight + queue[next].est <= maxBytes)) {
      const item = queue[next]
      const priority = Math.max(-(2 ** 31), ROOT_PRIORITY - 1 - next)
      next++
      blocksInFlight++
      bytesInFlight += item.est
      const p: Promise<void> = want(item.cid, { signal: fetchSignal, priority })
        .then(async bytes => {
          await store.put(item.cid, bytes, { signal: fetchSignal })
          arrived.add(item.key)
          options.onProgress?.(new CustomProgressEvent<BitswapTensorBlockDetail>('tensorswap:bitswap-tensors:block', { cid: item.cid, bytes: bytes.byteLength, from: 'network' }))
        })
        .then(() => {
          blocksInFlight--
          bytesInFlight -= item.est
          pump()
        }, (err: unknown) => { failure ??= err })
        .finally(() => { outstanding.delete(p); notify() })
      outstanding.add(p)
    }
  }

  try {
    pump()
    for (const i of indices) {
      const t: ManifestTensor = manifest.tensors[i]
      while (!t.chunks.every(c => arrived.has(c.toString()))) {
        if (failure !== undefined) throw failure
        await new Promise<void>(resolve => { wake = resolve })
      }
      yield await assembleTensor(store, t, i, signal)
    }
    if (failure !== undefined) throw failure
  } finally {
    controller.abort()
    // wants reject on abort; wait so no put lands after we return
    await Promise.allSettled([...outstanding])
  }
}

/**
 * GraphSync selectors over a TensorSwap model manifest (spec/model-dag.md "Manifest",
 * spec/graphsync.md "Model selectors"), and {@link tensors}: fetch a selection and yield each
 * tensor as soon as its chunks are verified.
 *
 * Every selector starts at the manifest block (the traversal loads the root first, so the
 * manifest is always the first block fetched) and lists tensors in manifest order, which is
 * computation order:
 *
 * ```
 * ExploreFields{ tensors: ExploreUnion[ ExploreRange(a, b, C), ExploreIndex(i, C), ... ] }
 *   where C = ExploreFields{ chunks: ExploreAll(Matcher) }
 * ```
 *
 * Contiguous runs of selected tensors become one ExploreRange; unions hold at most
 * MAX_UNION_MEMBERS members (nested when longer); more than {@link MAX_RUNS_PER_SELECTOR} runs
 * are split into several selectors fetched in order.
 *
 * @module
 */
import { logger } from '@libp2p/logger'
import { classifyName, globToRegExp } from '@tensorswap/model'
import { MAX_UNION_MEMBERS, s } from '@tensorswap/graphsync'
import { IncompleteTensorError, InvalidLayerRangeError, InvalidTensorSelectionError } from './errors.js'
import { MAX_RUNS_PER_SELECTOR } from './constants.js'
import type { Manifest, ManifestTensor, TfjsQuantization } from '@tensorswap/model'
import type { RequestResult, RequestorProgressEvents, Selector } from '@tensorswap/graphsync'
import type { CID } from 'multiformats/cid'

const log = logger('tensorswap:graphsync:model')

/** Which tensors of a model to fetch. At most one of `selector`, or `glob`/`layers` (both: intersection). */
export interface TensorSelection {
  /** A raw selector over the manifest (the caller's responsibility to keep computation order). */
  selector?: Selector
  /** Glob(s) over tensor names: `*`, `?`, `[0-3]`, `[!0-3]`, `{a,b}` (the model package's `globToRegExp`). */
  glob?: string | string[]
  /** Layer range `[A, B]` inclusive, or its text form `A-B` / `N`. See {@link layerIndex}. */
  layers?: [number, number] | string
}

/**
 * The layer index of a tensor name, or `undefined` for unindexed tensors. The model
 * package's rule first (`classifyName`: the first purely numeric `.`/`/` component, as in
 * `model.layers.3.mlp`, `blk.3.attn_q`, `h.3.attn`); then a `layer_N` / `layers_N` /
 * `block_N` / `blk_N` component (Keras and TF.js names).
 */
export function layerIndex (name: string): number | undefined {
  const c = classifyName(name)
  if (c.group === 1) return c.index
  const m = /(?:^|[./])(?:layers?|blocks?|blk|h)_(\d+)(?=$|[./_])/i.exec(name)
  return m == null ? undefined : Number(m[1])
}

/**
 * Parse a `--layers` value: `A-B` or `N` (= `N-N`).
 *
 * @throws InvalidLayerRangeError - not integers, or A > B
 */
export function parseLayerRange (text: string): [number, number] {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text)
  if (m == null) throw new InvalidLayerRangeError(`--layers ${JSON.stringify(text)}: expected A-B or N with integers`)
  const a = Number(m[1])
  const b = m[2] === undefined ? a : Number(m[2])
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a > b) throw new InvalidLayerRangeError(`--layers ${JSON.stringify(text)}: need 0 <= A <= B`)
  return [a, b]
}

/**
 * Check a selection before any network work: `layers` given as text must parse.
 *
 * @throws InvalidLayerRangeError - a malformed `layers` string
 * @throws InvalidTensorSelectionError - `selector` given together with `glob`/`layers`
 */
export function parseSelection (selection: TensorSelection): void {
  if (selection.selector !== undefined && (selection.glob !== undefined || selection.layers !== undefined)) {
    throw new InvalidTensorSelectionError('a raw selector cannot be combined with glob or layers')
  }
  if (typeof selection.layers === 'string') parseLayerRange(selection.layers)
  else if (selection.layers !== undefined) {
    const [a, b] = selection.layers
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a < 0 || a > b) throw new InvalidLayerRangeError(`layers [${a}, ${b}]: need integers 0 <= A <= B`)
  }
}

/**
 * Indices (manifest order) of the tensors a selection names.
 *
 * `layers [A, B]`: tensors whose {@link layerIndex} is in [A, B]; plus the embeddings
 * (`classifyName` group 0) when A = 0, because layer 0 consumes them; plus the unindexed
 * non-embedding tensors (final norms, head) when B is at least the largest layer index in the
 * manifest, because the last layer feeds them. So `0-k` and `k+1-last` split a model into two
 * pipeline stages that together hold every tensor.
 *
 * @throws InvalidTensorSelectionError - with `selector` (not a list of tensors)
 * @throws InvalidLayerRangeError - a malformed `layers` string
 */
export function selectTensorIndices (manifest: Manifest, selection: TensorSelection): number[] {
  if (selection.selector !== undefined) throw new InvalidTensorSelectionError('a raw selector does not name tensors')
  let keep = manifest.tensors.map(() => true)
  if (selection.glob !== undefined) {
    const res = (Array.isArray(selection.glob) ? selection.glob : [selection.glob]).map(globToRegExp)
    keep = manifest.tensors.map((t, i) => keep[i] && res.some(r => r.test(t.name)))
  }
  if (selection.layers !== undefined) {
    const [a, b] = typeof selection.layers === 'string' ? parseLayerRange(selection.layers) : selection.layers
    const idx = manifest.tensors.map(t => layerIndex(t.name))
    const last = Math.max(-1, ...idx.map(i => i ?? -1))
    keep = manifest.tensors.map((t, i) => {
      if (!keep[i]) return false
      const n = idx[i]
      if (n !== undefined) return n >= a && n <= b
      if (classifyName(t.name).group === 0) return a === 0
      return last >= 0 && b >= last
    })
  }
  const out: number[] = []
  keep.forEach((k, i) => { if (k) out.push(i) })
  return out
}

/** `ExploreFields{chunks: ExploreAll(Matcher)}`: every chunk of one tensor. */
function chunksOf (): Selector {
  return s.exploreFields({ chunks: s.exploreAll(s.matcher()) })
}

/** Contiguous runs `[start, end)` of sorted indices. */
function runs (indices: number[]): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (const i of indices) {
    const last = out[out.length - 1]
    if (last !== undefined && last[1] === i) last[1] = i + 1
    else out.push([i, i + 1])
  }
  return out
}

/** A union of `members` respecting MAX_UNION_MEMBERS by nesting (order preserved). */
function boundedUnion (members: Selector[]): Selector {
  if (members.length === 1) return members[0]
  if (members.length <= MAX_UNION_MEMBERS) return s.union(...members)
  const groups: Selector[] = []
  const size = Math.ceil(members.length / MAX_UNION_MEMBERS)
  for (let i = 0; i < members.length; i += size) groups.push(boundedUnion(members.slice(i, i + size)))
  return boundedUnion(groups)
}

/**
 * Selectors fetching the chunks of the tensors at `indices` (ascending, manifest order), one
 * per {@link MAX_RUNS_PER_SELECTOR} contiguous runs. The manifest block is the root of each.
 *
 * @throws InvalidTensorSelectionError - `indices` is empty or not ascending
 */
export function tensorSelectors (indices: number[]): Selector[] {
  if (indices.length === 0) throw new InvalidTensorSelectionError('the selection names no tensor')
  for (let i = 1; i < indices.length; i++) {
    if (!(indices[i] > indices[i - 1])) throw new InvalidTensorSelectionError('tensor indices must be ascending')
  }
  const all = runs(indices)
  const out: Selector[] = []
  for (let i = 0; i < all.length; i += MAX_RUNS_PER_SELECTOR) {
    const members = all.slice(i, i + MAX_RUNS_PER_SELECTOR).map(([a, b]) =>
      b - a === 1 ? s.exploreIndex(a, chunksOf()) : s.exploreRange(a, b, chunksOf()))
    out.push(s.exploreFields({ tensors: boundedUnion(members) }))
  }
  return out
}

/**
 * The whole model: the manifest, every tensor's chunks in computation order, then the UnixFS
 * DAG of the files (file nodes, headers, any bytes no tensor covers; tensor leaves are
 * not sent again). A union keeps `tensors` before `files` on the wire (ExploreFields would be
 * reordered by DAG-CBOR's key order, which puts `files` first).
 */
export function wholeModelSelector (): Selector {
  return s.union(
    s.matcher(),
    s.exploreFields({ tensors: s.exploreAll(chunksOf()) }),
    s.exploreFields({ files: s.exploreRecursive(s.union(s.matcher(), s.exploreAll(s.recursiveEdge()))) })
  )
}

/** Only the manifest block. */
export function manifestSelector (): Selector {
  return s.matcher()
}

/** One tensor yielded by {@link tensors}. */
export interface FetchedTensor {
  name: string
  dtype: string
  shape: number[]
  /** The tensor's bytes (as stored in its file(s)). */
  bytes: Uint8Array
  /** Index in the manifest (computation order). */
  index: number
  /** TF.js storage quantization, when the manifest has one. */
  quantization?: TfjsQuantization
}

/** Fetches the subgraph `selector` selects under `root` into the local store. */
export type SubgraphFetcher = (root: CID, selector: Selector, options: {
  signal?: AbortSignal
  onProgress?: (evt: RequestorProgressEvents) => void
  /** Called once each block the traversal reached is in the store (fetched and written, or already local). */
  onStored?: (cid: CID) => void
}) => Promise<RequestResult>

/** What {@link tensors} reads the manifest and chunks from. */
export interface TensorStore {
  has(cid: CID, options?: { signal?: AbortSignal }): Promise<boolean>
  /** The whole verified block. */
  get(cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array>
}

/** Options of {@link tensors}. */
export interface TensorsOptions extends Omit<TensorSelection, 'selector'> {
  signal?: AbortSignal
  onProgress?: (evt: RequestorProgressEvents) => void
  /** Reads the manifest (after fetching it when absent). */
  readManifest: (root: CID, options: { signal?: AbortSignal }) => Promise<Manifest>
}

/**
 * Fetch the selected tensors of the model at `root` and yield each one, in computation
 * order, as soon as all of its chunks are verified and stored (while the fetch continues).
 * Without `glob`/`layers`, every tensor. The manifest is fetched first when not local.
 *
 * @throws IncompleteTensorError - the fetch ended without some chunk of a selected tensor
 * @throws InvalidLayerRangeError, InvalidTensorSelectionError - a bad selection (before any fetch of chunks)
 * @throws the fetcher's errors (RequestFailedError, UnexpectedBlockError, ...) and the signal's reason
 */
export async function * tensors (fetch: SubgraphFetcher, store: TensorStore, root: CID, options: TensorsOptions): AsyncGenerator<FetchedTensor, void, undefined> {
  const { signal } = options
  signal?.throwIfAborted()
  parseSelection(options)
  if (!await store.has(root, { signal })) {
    await fetch(root, manifestSelector(), { signal, ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}) })
  }
  const manifest = await options.readManifest(root, { signal })
  const indices = selectTensorIndices(manifest, options)
  if (indices.length === 0) throw new InvalidTensorSelectionError('the selection names no tensor of this model')
  log('fetching %d of %d tensors of %c', indices.length, manifest.tensors.length, root)

  const arrived = new Set<string>()
  let wake: (() => void) | undefined
  const notify = (): void => { const w = wake; wake = undefined; w?.() }
  let done = false
  let failure: Error | undefined
  const controller = new AbortController()
  const fetchSignal = signal == null ? controller.signal : AbortSignal.any([signal, controller.signal])
  const onProgress = (evt: RequestorProgressEvents): void => { options.onProgress?.(evt) }
  const onStored = (cid: CID): void => {
    arrived.add(cid.toString())
    notify()
  }
  const running = (async () => {
    for (const selector of tensorSelectors(indices)) {
      await fetch(root, selector, { signal: fetchSignal, onProgress, onStored })
    }
  })().then(() => { done = true; notify() }, (err: Error) => { failure = err; done = true; notify() })

  try {
    for (const i of indices) {
      const t = manifest.tensors[i]
      while (true) {
        if (failure !== undefined) throw failure
        if (t.chunks.every(c => arrived.has(c.toString()))) break
        if (done) {
          // everything the fetch will bring is here; a chunk may have been local from the start
          if (await allLocal(store, t, signal)) break
          throw new IncompleteTensorError(`tensor ${JSON.stringify(t.name)} (index ${i}) of ${root.toString()}: the fetch ended without all of its ${t.chunks.length} chunks`)
        }
        await new Promise<void>(resolve => { wake = resolve })
      }
      yield await assembleTensor(store, t, i, signal)
    }
    await running
    if (failure !== undefined) throw failure
  } finally {
    if (!done) {
      controller.abort()
      await running
    }
  }
}

async function allLocal (store: TensorStore, t: ManifestTensor, signal?: AbortSignal): Promise<boolean> {
  for (const c of t.chunks) if (!await store.has(c, { signal })) return false
  return true
}

/**
 * Read a tensor's chunks from `store` and concatenate them: its bytes as stored in its file(s).
 *
 * @throws IncompleteTensorError - the chunks hold more or fewer than `t.length` bytes
 * @throws the store's errors (a chunk not stored), `signal.reason`
 */
export async function assembleTensor (store: TensorStore, t: ManifestTensor, index: number, signal?: AbortSignal): Promise<FetchedTensor> {
  const bytes = new Uint8Array(t.length)
  let at = 0
  for (const c of t.chunks) {
    const chunk = await store.get(c, { signal })
    if (at + chunk.byteLength > t.length) throw new IncompleteTensorError(`tensor ${JSON.stringify(t.name)}: chunks hold more than its ${t.length} bytes`)
    bytes.set(chunk, at)
    at += chunk.byteLength
  }
  if (at !== t.length) throw new IncompleteTensorError(`tensor ${JSON.stringify(t.name)}: chunks hold ${at} of its ${t.length} bytes`)
  const out: FetchedTensor = { name: t.name, dtype: t.dtype, shape: t.shape, bytes, index }
  if (t.quantization !== undefined) out.quantization = t.quantization
  return out
}

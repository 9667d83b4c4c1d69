/**
 * Selector traversal over a DAG of blocks, as an explicit-stack state machine.
 *
 * Visit order (IPLD selector spec and fixtures; go-ipld-prime `traversal/walk.go`):
 * depth-first, pre-order; each node is visited (and matched or not) before its
 * children; children are the selector's interests in selector order (ExploreFields,
 * ExploreIndex, ExploreRange, unions concatenated) or, for ExploreAll, every entry in
 * the codec's map key order / every list index ascending. A link reached with a live
 * selector is loaded and its block's root node is visited at the link's path.
 *
 * Memory: only the current stack (one frame per ancestor: its node, its runtime
 * selector and an iteration cursor), never the whole DAG.
 */
import { logger } from '@libp2p/logger'
import { verifyBlock } from '@tensorswap/blockstore'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { CustomProgressEvent } from 'progress-events'
import { TraversalBudgetError, UnsupportedSelectorError } from '../errors.js'
import { DEFAULT_MAX_TRAVERSAL_DEPTH } from '../constants.js'
import { decodeBlock, kindOf, lookup, mapKeys } from './codecs.js'
import { explore, interests, match, resolve } from './engine.js'
import { ADL_UNIXFS, readUnixfsFile, reifyUnixfs, UnixfsFile } from './unixfs.js'
import type { BlockOrigin, BlockProgressDetail } from '../progress.js'
import type { Kind } from './codecs.js'
import type { RuntimeSelector } from './engine.js'
import type { Selector } from '../selector/types.js'
import type { ProgressEvent } from 'progress-events'

const log = logger('tensorswap:graphsync:traverse')

/** A block the traversal loaded and verified. */
export interface LoadedBlock {
  cid: CID
  bytes: Uint8Array
}

/** One visited node, in visit order. */
export interface VisitEvent {
  /** Path from the root, segments joined by `/` (`''` for the root), e.g. `a/0/b`. */
  path: string
  /** The data model value (for a Matcher with `subset`, the matched slice). */
  node: unknown
  kind: Kind
  matched: boolean
  /** The label of the Matcher that matched, if it has one. */
  label?: string
  /** The link this node was reached through (the block's CID), when it is a block root. */
  link?: CID
  /** The block loaded for this visit (absent for identity CIDs, whose bytes are in the CID). */
  block?: LoadedBlock
  /** Blocks an ADL loaded to build this node (a reified UnixFS file's blocks), in load order. */
  adlBlocks?: LoadedBlock[]
}

/** Progress events of {@link traverse}. */
export type TraverseProgressEvents =
  ProgressEvent<'tensorswap:graphsync:traverse:block', BlockProgressDetail & { /** Path at which the block was reached. */ path: string }>

/** Options of the block loader. */
export interface LoaderOptions {
  signal?: AbortSignal
  /** Path at which the link was reached. */
  path: string
}

/**
 * Loads the bytes of a block; the traversal verifies them against the CID. Returning
 * `null` says the block is unavailable and the traversal skips the link (no visit, nothing
 * under it), as go-ipld-prime's `traversal.SkipMe` does for a GraphSync responder that lacks
 * a block; the skip is counted in {@link Traversal.linksSkipped}.
 */
export type BlockLoader = (cid: CID, options: LoaderOptions) => Promise<Uint8Array | null>

/** Traversal budgets; exceeding one throws TraversalBudgetError. */
export interface TraversalBudgetInit {
  /** Max path depth (segments) of a visited node. @default DEFAULT_MAX_TRAVERSAL_DEPTH */
  depth?: number
  /** Max blocks loaded (each load counts, also repeats). @default Infinity */
  blocks?: number
  /** Max block bytes loaded in total. @default Infinity */
  bytes?: number
}

/** Options of {@link traverse}. */
export interface TraverseOptions {
  signal?: AbortSignal
  onProgress?: (evt: TraverseProgressEvents) => void
  budget?: TraversalBudgetInit
  /** What `from` says in `tensorswap:graphsync:traverse:block`: where the loader gets blocks. @default 'local' */
  blockOrigin?: BlockOrigin
  /**
   * Called for each identity-hash link the traversal reaches, in load order, instead of the
   * loader (the block is the CID's digest: never loaded, never verified, never stored).
   * GraphSync uses it to list the link in its metadata as go-graphsync does. Resolving `false`
   * skips the link like a loader's `null` (nothing under it is visited). Default: follow it.
   */
  onInlineLink?: (cid: CID, options: LoaderOptions) => Promise<boolean>
}

interface Frame {
  node: unknown
  isList: boolean
  sel: RuntimeSelector
  path: string[]
  codec: number
  segs: Array<string | number>
  i: number
}

function joinPath (segs: string[]): string {
  return segs.join('/')
}

/**
 * The traversal state machine: `step()` advances to the next visit. The async generator
 * {@link traverse} drives it; it is exported for drivers that interleave traversal with
 * network I/O (the GraphSync requestor feeds blocks as they arrive).
 */
export class Traversal {
  private readonly stack: Frame[] = []
  private readonly loader: BlockLoader
  private readonly options: TraverseOptions
  private readonly maxDepth: number
  private readonly maxBlocks: number
  private readonly maxBytes: number
  private started = false
  private readonly root: CID
  private readonly selector: Selector
  /** Blocks loaded so far. */
  blocksLoaded = 0
  /** Block bytes loaded so far. */
  bytesLoaded = 0
  /** Links skipped because the loader returned `null` (the root included). */
  linksSkipped = 0
  /** Whether the loader returned `null` for the root (the traversal then visits nothing). */
  rootSkipped = false

  constructor (root: CID, selector: Selector, loader: BlockLoader, options: TraverseOptions = {}) {
    this.root = root
    this.selector = selector
    this.loader = loader
    this.options = options
    this.maxDepth = options.budget?.depth ?? DEFAULT_MAX_TRAVERSAL_DEPTH
    this.maxBlocks = options.budget?.blocks ?? Infinity
    this.maxBytes = options.budget?.bytes ?? Infinity
  }

  /** Frames on the stack (for tests: memory is bounded by the DAG depth). */
  get depth (): number {
    return this.stack.length
  }

  /**
   * Advance to the next visit.
   *
   * @returns the next visit event, or undefined when the traversal is complete
   * @throws TraversalBudgetError, BlockHashMismatchError, BlockDecodeError, UnsupportedCodecError,
   *   UnsupportedHashError, UnsupportedSelectorError, InvalidAdlDataError, SelectorLimitError, or the signal's reason
   */
  async step (): Promise<VisitEvent | undefined> {
    this.options.signal?.throwIfAborted()
    if (!this.started) {
      this.started = true
      const loaded = await this.load(this.root, [])
      if (loaded === null) {
        this.rootSkipped = true
        return undefined
      }
      return await this.arrive(loaded.node, this.selector, [], loaded.codec, this.root, loaded.block)
    }
    while (this.stack.length > 0) {
      const frame = this.stack[this.stack.length - 1]
      if (frame.i >= frame.segs.length) {
        this.stack.pop()
        continue
      }
      const seg = frame.segs[frame.i++]
      const child = lookup(frame.node, seg)
      if (child === undefined) continue
      const next = explore(frame.sel, frame.isList, seg, child)
      if (next === null) continue
      const path = [...frame.path, String(seg)]
      const link = CID.asCID(child)
      if (link != null) {
        const loaded = await this.load(link, path)
        if (loaded === null) continue
        return await this.arrive(loaded.node, next, path, loaded.codec, link, loaded.block)
      }
      return await this.arrive(child, next, path, frame.codec)
    }
    return undefined
  }

  private async load (cid: CID, path: string[]): Promise<{ node: unknown, codec: number, block?: LoadedBlock } | null> {
    const pathStr = joinPath(path)
    if (cid.multihash.code === identity.code) {
      const signal = this.options.signal
      if (this.options.onInlineLink !== undefined && !await this.options.onInlineLink(cid, signal === undefined ? { path: pathStr } : { signal, path: pathStr })) {
        this.linksSkipped++
        return null
      }
      return { node: decodeBlock(cid, cid.multihash.digest), codec: cid.code }
    }
    if (this.blocksLoaded + 1 > this.maxBlocks) throw new TraversalBudgetError('blocks', this.maxBlocks, pathStr)
    const signal = this.options.signal
    const bytes = await this.loader(cid, signal === undefined ? { path: pathStr } : { signal, path: pathStr })
    signal?.throwIfAborted()
    if (bytes === null) {
      this.linksSkipped++
      log.trace('skipped %c at "%s": loader has no block', cid, pathStr)
      return null
    }
    if (this.bytesLoaded + bytes.byteLength > this.maxBytes) throw new TraversalBudgetError('bytes', this.maxBytes, pathStr)
    verifyBlock(cid, bytes)
    this.blocksLoaded++
    this.bytesLoaded += bytes.byteLength
    log.trace('loaded %c (%d bytes) at "%s"', cid, bytes.byteLength, pathStr)
    this.options.onProgress?.(new CustomProgressEvent<BlockProgressDetail & { path: string }>('tensorswap:graphsync:traverse:block', { cid, path: pathStr, bytes: bytes.byteLength, from: this.options.blockOrigin ?? 'local' }))
    return { node: decodeBlock(cid, bytes), codec: cid.code, block: { cid, bytes } }
  }

  private async arrive (node: unknown, sel: RuntimeSelector, path: string[], codec: number, link?: CID, block?: LoadedBlock): Promise<VisitEvent> {
    const pathStr = joinPath(path)
    if (path.length > this.maxDepth) throw new TraversalBudgetError('depth', this.maxDepth, pathStr)
    const resolved = resolve(sel, node, pathStr, (as, n, p) => {
      if (as !== ADL_UNIXFS) throw new UnsupportedSelectorError(`at "${p}": unknown ADL "${as}" (supported: "${ADL_UNIXFS}")`)
      return reifyUnixfs(n, codec, p)
    }, false, link ?? node)
    node = resolved.node
    const adlBlocks: LoadedBlock[] = []
    if (node instanceof UnixfsFile) {
      // a reified UnixFS file is one bytes node: its blocks load here, at the file's path, in order
      node = await readUnixfsFile(node, async (cid) => {
        const loaded = await this.load(cid, path)
        if (loaded?.block !== undefined) adlBlocks.push(loaded.block)
        return loaded?.node ?? null
      }, pathStr)
    }
    const kind = kindOf(node)
    const m = match(resolved.sel, node)
    const evt: VisitEvent = { path: pathStr, node: m.node, kind: m.matched ? kindOf(m.node) : kind, matched: m.matched }
    if (m.label !== undefined) evt.label = m.label
    if (link !== undefined) evt.link = link
    if (block !== undefined) evt.block = block
    if (adlBlocks.length > 0) evt.adlBlocks = adlBlocks
    if (kind === 'map' || kind === 'list') {
      const isList = kind === 'list'
      const length = isList ? (node as unknown[]).length : 0
      const wanted = interests(resolved.sel, isList, length)
      const segs: Array<string | number> = wanted ?? (isList ? Array.from({ length }, (_, i) => i) : mapKeys(node, codec))
      if (segs.length > 0) this.stack.push({ node, isList, sel: resolved.sel, path, codec, segs, i: 0 })
    }
    return evt
  }
}

/**
 * Traverse the DAG under `root` with `selector`, loading blocks through `loader` and
 * verifying each against its CID. Yields one event per visited node in the spec's
 * order (see the module doc).
 *
 * @throws TraversalBudgetError when a budget (depth, blocks, bytes) is exceeded
 * @throws BlockHashMismatchError when a loaded block does not match its CID
 * @throws BlockDecodeError, UnsupportedCodecError, UnsupportedHashError for undecodable blocks
 * @throws UnsupportedSelectorError, InvalidAdlDataError, SelectorLimitError for selectors we cannot evaluate
 * @throws the signal's reason (a DOMException named AbortError by default) when aborted
 */
export async function * traverse (root: CID, selector: Selector, loader: BlockLoader, options: TraverseOptions = {}): AsyncGenerator<VisitEvent, void, undefined> {
  const t = new Traversal(root, selector, loader, options)
  while (true) {
    const evt = await t.step()
    if (evt === undefined) return
    yield evt
  }
}

/**
 * The library entry point: one TensorSwap node = a repo (blocks, datastore, identity), a libp2p
 * node (QUIC first, TCP fallback), the Bitswap-compatible exchange and GraphSync. Everything a
 * user does from the CLI is a method here, each taking `signal` and `onProgress`.
 *
 * @module
 */
import { openRepo, resolveRepoPath, exportCar, importCar } from '@tensorswap/blockstore'
import { exportModel, importModel, readManifest } from '@tensorswap/model'
import { logger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import { ipHost } from './bulk-lane.js'
import { createExchange, type Exchange, type ExchangeInit, type FetchProgressEvents } from './exchange.js'
import { GraphSyncNetwork } from './graphsync/network.js'
import { bitswapTensors, type BitswapTensorsProgressEvents } from './graphsync/bitswap-tensors.js'
import { parseSelection } from './graphsync/model-selectors.js'
import { graphSyncSupport, isUnsupportedProtocol } from './graphsync/protocol-choice.js'
import { getBlock } from '@tensorswap/blockstore'
import { PROTOCOL_ID as GRAPHSYNC_PROTOCOL } from '@tensorswap/graphsync'
import { CustomProgressEvent, type ProgressEvent } from 'progress-events'
import { createLibp2pNode, type EncrypterName, type TransportName, type TransportServices } from './transport/node.js'
import { Session, type SessionResult } from './session.js'
import { gatewayWant, withFallback } from './block-sources.js'
import { TrustlessGatewaySource } from './gateway-source.js'
import type { FetchedTensor } from './graphsync/model-selectors.js'
import type { RequestorProgressEvents } from '@tensorswap/graphsync'
import type { Repo, CarSink } from '@tensorswap/blockstore'
import type { ExportOptions, ImportOptions, ImportResult } from '@tensorswap/model'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'

const log = logger('tensorswap:node')

/** Options of {@link createTensorSwap}. */
export interface TensorSwapInit {
  /**
   * The repo: a directory path, or a repo already opened with `openRepo` (then the caller
   * closes it). @default `resolveRepoPath()` (`$TENSORSWAP_PATH` or `~/.tensorswap`)
   */
  repo?: string | Repo
  /** Listen multiaddrs. @default the repo config's `listen` */
  listen?: string[]
  /** Transports in preference order. @default ['quic', 'tcp'] */
  transports?: TransportName[]
  /** TCP encrypters in preference order. @default ['tls', 'noise'] */
  encrypters?: EncrypterName[]
  /** Exchange options (limits, ledger strategy, ...); see {@link ExchangeInit}. */
  exchange?: ExchangeInit
  /**
   * Serve and use GraphSync 2.0.0. With `false` the node does not handle
   * `/ipfs/graphsync/2.0.0` and `tensors()` always uses Bitswap: a Bitswap-only peer, for
   * interop tests and benchmarks of the fallback. @default true
   */
  graphsync?: boolean
}

/** Options of {@link TensorSwapNode.get}. */
export interface GetOptions {
  signal?: AbortSignal
  onProgress?: (evt: FetchProgressEvents | { type: string, detail?: unknown }) => void
  /** Peers to fetch from (multiaddrs ending in `/p2p/<id>`, or peer ids of connected peers). */
  peers?: Array<string | Multiaddr | PeerId>
  /** Write the files byte-exact into this directory after the fetch. */
  output?: string
  /**
   * Trustless gateway base URLs (`http://host:port`) to fetch from: alone, or as the fallback
   * for blocks no peer in `peers` has. Every block is verified either way.
   */
  gatewaySources?: string[]
}

/** Result of {@link TensorSwapNode.get}. */
export interface GetResult {
  /** What the exchange did: blocks/bytes fetched and found locally. */
  fetch: SessionResult
  /** Files written, when `output` was given. */
  export?: { files: number, bytes: number }
  /** Wall time of the fetch, seconds. */
  seconds: number
  /**
   * Per peer id during this node's life: block bytes received (the debt ledger) and the wire
   * bytes received per protocol (`/tensorswap/bulk/1.0.0` for the bulk lane).
   */
  peers: Record<string, { bytesReceived: number, blocksReceived: number, wireBytesReceived: Record<string, number> }>
}

/** Which protocol {@link TensorSwapNode.tensors} fetched with, for one peer. */
export interface TensorsProtocolDetail {
  peer: string
  protocol: 'graphsync' | 'bitswap'
}

/** Detail of `tensorswap:tensors:tensor`: one tensor verified and yielded. */
export interface TensorsTensorDetail {
  name: string
  /** Index in the manifest (computation order). */
  index: number
  /** Tensor size, bytes. */
  bytes: number
}

/**
 * Progress events of {@link TensorSwapNode.tensors}: the protocol chosen, each block (GraphSync
 * requestor or Bitswap fallback), each tensor yielded.
 */
export type TensorsProgressEvents =
  | ProgressEvent<'tensorswap:tensors:protocol', TensorsProtocolDetail>
  | ProgressEvent<'tensorswap:tensors:tensor', TensorsTensorDetail>
  | RequestorProgressEvents
  | BitswapTensorsProgressEvents

/** Options of {@link TensorSwapNode.tensors}. */
export interface TensorsOptions {
  signal?: AbortSignal
  onProgress?: (evt: TensorsProgressEvents) => void
  /** The peer to fetch from: a multiaddr ending in `/p2p/<id>`, or the peer id of a connected peer. */
  peer: string | Multiaddr | PeerId
  /** Glob(s) over tensor names (`*`, `?`, `[0-3]`, `{a,b}`). With `layers`, both must match. */
  glob?: string | string[]
  /** Layer range `A-B` / `N` (inclusive), see spec/graphsync.md "Model selectors". */
  layers?: string | [number, number]
  /**
   * `auto`: GraphSync when the peer speaks it, else Bitswap (spec/graphsync.md "Bitswap
   * fallback"); `graphsync` / `bitswap` force one (benchmarks, tests). @default 'auto'
   */
  protocol?: 'auto' | 'graphsync' | 'bitswap'
}

/** A running (or stopped) TensorSwap node. */
export interface TensorSwapNode {
  readonly repo: Repo
  readonly libp2p: Libp2p<TransportServices>
  readonly exchange: Exchange
  readonly graphsync: GraphSyncNetwork
  /** This node's peer id. */
  readonly peerId: PeerId
  /** Listen addresses, each ending in `/p2p/<peer id>`. */
  getMultiaddrs(): Multiaddr[]
  /** Start serving (exchange + GraphSync). */
  start(): Promise<void>
  /** Stop serving, stop libp2p, flush the ledger; closes the repo if this node opened it. */
  stop(): Promise<void>
  /** Import a model file or directory (see `importModel` in `@tensorswap/model`); its blocks are then served. */
  add(path: string, options?: Omit<ImportOptions, 'size'>): Promise<ImportResult>
  /** Fetch the DAG under `root` from peers (verified, resumable) and optionally write its files. */
  get(root: CID, options?: GetOptions): Promise<GetResult>
  /**
   * Fetch selected tensors (all without `glob`/`layers`) of the model at `root` from one peer,
   * over GraphSync when it speaks `/ipfs/graphsync/2.0.0`, else over Bitswap, and yield each
   * one in computation order as soon as its chunks are verified and stored.
   *
   * @throws InvalidLayerRangeError, InvalidTensorSelectionError - a bad selection (before any network work), or one naming no tensor
   * @throws NotAManifestError - `root` is not a TensorSwap manifest
   * @throws GraphSync: RequestFailedError (`.status`), UnexpectedBlockError, BlockHashMismatchError, TraversalMismatchError,
   *   MissingBlockError, ResponseIncompleteError, IncompleteTensorError; Bitswap: BlockUnavailableError; the dial's errors; `signal.reason`
   */
  tensors(root: CID, options: TensorsOptions): AsyncGenerator<FetchedTensor, void, undefined>
  /** Write the DAG under `root` as a CARv1 (DFS order) to `out`. */
  exportCar(root: CID, out: CarSink, options?: { signal?: AbortSignal }): Promise<{ blocks: number, bytes: number }>
  /** Import a CARv1/CARv2 stream, verifying every block. */
  importCar(source: AsyncIterable<Uint8Array>, options?: { signal?: AbortSignal }): Promise<{ roots: CID[], blocks: number, bytes: number }>
}

function toMultiaddr (peer: string | Multiaddr): Multiaddr {
  return typeof peer === 'string' ? multiaddr(peer) : peer
}

/**
 * Where a node accepts bulk lanes by default: port 0 (any free port) on every IP host it
 * listens on for libp2p, so a node reachable for libp2p is reachable for lanes on the same
 * interface. A node with no listen address only dials lanes.
 *
 * @param listen - the libp2p listen multiaddrs
 * @returns `/ip4|ip6/HOST/tcp/0` multiaddrs, one per distinct host
 */
export function defaultLaneListen (listen: string[]): string[] {
  const out = new Set<string>()
  for (const addr of listen) {
    const ip = ipHost(multiaddr(addr))
    if (ip != null) out.add(`/ip${ip.family}/${ip.host}/tcp/0`)
  }
  return [...out]
}

/**
 * Create a TensorSwap node: open (or take) the repo, assemble libp2p with the repo's identity
 * key, and wire the exchange (Bitswap 1.2.0/1.1.0 and `/tensorswap/1.0.0`, spec/tensorswap.md)
 * and GraphSync 2.0.0 (spec/graphsync.md) to the repo's blockstore and datastore. The node is
 * returned stopped except for libp2p; call `start()`.
 *
 * @throws RepoLockedError - another process holds the repo; InvalidRepoConfigError - bad config.json
 *
 * @example
 * ```ts
 * const node = await createTensorSwap({ repo: '/tmp/ts' })
 * await node.start()
 * const { root } = await node.add('./model')
 * ```
 */
export async function createTensorSwap (init: TensorSwapInit = {}): Promise<TensorSwapNode> {
  const ownsRepo = typeof init.repo !== 'object'
  const repo = typeof init.repo === 'object' ? init.repo : await openRepo(resolveRepoPath(init.repo))
  let libp2p: Libp2p<TransportServices>
  try {
    libp2p = await createLibp2pNode({
      privateKey: repo.privateKey,
      listen: init.listen ?? repo.config.listen,
      transports: init.transports,
      encrypters: init.encrypters
    })
  } catch (err) {
    if (ownsRepo) await repo.close()
    throw err
  }
  const exchange = createExchange({ libp2p, blockstore: repo.blockstore, datastore: repo.datastore, privateKey: repo.privateKey }, {
    ...init.exchange,
    bulkLane: init.exchange?.bulkLane ?? { listen: defaultLaneListen(init.listen ?? repo.config.listen) }
  })
  const graphsync = new GraphSyncNetwork({ libp2p, blockstore: repo.blockstore }, {
    onPeerMisbehaviour: (peer, offence) => { exchange.penalties.penalize(peer.toString(), offence, Date.now()) },
    isBanned: (peer) => exchange.penalties.isBanned(peer.toString(), Date.now())
  })

  const graphsyncEnabled = init.graphsync ?? true

  let gatewaySessions = 0
  /** A session whose blocks come from gateways, behind the given peers when there are any. */
  async function fetchWithGateways (root: CID, peers: Array<Multiaddr | PeerId>, urls: string[], options: GetOptions): Promise<SessionResult> {
    const viaGateways = gatewayWant(urls.map(u => new TrustlessGatewaySource(u)))
    let want = viaGateways
    if (peers.length > 0) {
      const ids: string[] = []
      for (const p of peers) {
        ids.push('toMultihash' in p ? p.toString() : (await libp2p.dial(p, { signal: options.signal })).remotePeer.toString())
      }
      const viaPeers: typeof want = async (cid, o) => ({ bytes: await exchange.want(cid, { signal: o.signal, priority: o.priority, peers: ids }), peer: 'p2p' })
      want = withFallback(viaPeers, viaGateways)
    }
    const session = new Session({ blockstore: repo.blockstore, want, onStored: (cid) => { exchange.notifyNewBlock(cid) } }, { id: -(++gatewaySessions) })
    return await session.run(root, { signal: options.signal, onProgress: options.onProgress })
  }

  const node: TensorSwapNode = {
    repo,
    libp2p,
    exchange,
    graphsync,
    peerId: libp2p.peerId,
    getMultiaddrs: () => libp2p.getMultiaddrs(),

    async start () {
      await exchange.start()
      if (graphsyncEnabled) await graphsync.start()
      log('started %p', libp2p.peerId)
    },

    async stop () {
      await graphsync.stop()
      await exchange.stop()
      await libp2p.stop()
      if (ownsRepo) await repo.close()
      log('stopped')
    },

    async add (path, options = {}) {
      const result = await importModel(repo.blockstore, path, options as ImportOptions)
      exchange.notifyNewBlock(result.root)
      return result
    },

    async get (root, options = {}) {
      const started = performance.now()
      const peers = options.peers?.map(p => typeof p === 'string' || !('toMultihash' in p) ? toMultiaddr(p) : p)
      const fetch = options.gatewaySources != null && options.gatewaySources.length > 0
        ? await fetchWithGateways(root, peers ?? [], options.gatewaySources, options)
        : await exchange.fetch(root, { signal: options.signal, onProgress: options.onProgress, peers })
      const seconds = (performance.now() - started) / 1000
      let exported: GetResult['export']
      if (options.output != null) {
        exported = await exportModel(repo.blockstore, root, options.output, { signal: options.signal, onProgress: options.onProgress } as ExportOptions)
      }
      const byPeer: GetResult['peers'] = {}
      const stats = exchange.stats()
      for (const [peer, entry] of Object.entries(stats.ledger)) {
        if (entry.bytesReceived === 0) continue
        const wireBytesReceived = Object.fromEntries(Object.entries(stats.wire[peer] ?? {}).map(([protocol, w]) => [protocol, w.bytesReceived]))
        byPeer[peer] = { bytesReceived: entry.bytesReceived, blocksReceived: entry.blocksReceived, wireBytesReceived }
      }
      return { fetch, export: exported, seconds, peers: byPeer }
    },

    async * tensors (root, options) {
      const { signal, onProgress } = options
      parseSelection(options)
      const target = typeof options.peer === 'string' || !('toMultihash' in options.peer) ? toMultiaddr(options.peer) : options.peer
      const conn = await libp2p.dial(target, { signal })
      const peer = conn.remotePeer
      const choice = options.protocol ?? 'auto'
      let useGraphSync = graphsyncEnabled && choice !== 'bitswap'
      if (useGraphSync && choice === 'auto' && await graphSyncSupport(libp2p, peer) === 'no') useGraphSync = false
      const announce = (protocol: TensorsProtocolDetail['protocol']): void => {
        log('tensors of %c from %p over %s', root, peer, protocol)
        onProgress?.(new CustomProgressEvent<TensorsProtocolDetail>('tensorswap:tensors:protocol', { peer: peer.toString(), protocol }))
      }
      const yielded = (t: FetchedTensor): FetchedTensor => {
        onProgress?.(new CustomProgressEvent<TensorsTensorDetail>('tensorswap:tensors:tensor', { name: t.name, index: t.index, bytes: t.bytes.byteLength }))
        return t
      }
      const readModelManifest = async (r: CID, o: { signal?: AbortSignal }): Promise<Awaited<ReturnType<typeof readManifest>>> => await readManifest(repo.blockstore, r, o)

      if (useGraphSync) {
        let any = false
        try {
          const source = graphsync.tensors(peer, root, {
            blockstore: repo.blockstore,
            signal,
            glob: options.glob,
            layers: options.layers,
            readManifest: readModelManifest,
            onProgress: (evt) => {
              if (!any) announce('graphsync')
              any = true
              onProgress?.(evt)
            }
          })
          for await (const t of source) {
            if (!any) announce('graphsync')
            any = true
            yield yielded(t)
          }
          return
        } catch (err) {
          // the peer refused /ipfs/graphsync/2.0.0 before anything was fetched: Bitswap instead
          if (any || choice === 'graphsync' || !isUnsupportedProtocol(err) || conn.status !== 'open') throw err
          log('%p does not speak %s', peer, GRAPHSYNC_PROTOCOL)
        }
      }
      announce('bitswap')
      const peerKey = peer.toString()
      const source = bitswapTensors(
        async (cid, o) => await exchange.want(cid, { ...o, peers: [peerKey] }),
        {
          has: async (cid, o) => await repo.blockstore.has(cid, o),
          get: async (cid, o) => await getBlock(repo.blockstore, cid, o),
          put: async (cid, bytes, o) => {
            await repo.blockstore.put(cid, bytes, o)
            exchange.notifyNewBlock(cid)
          }
        },
        root,
        {
          signal,
          glob: options.glob,
          layers: options.layers,
          readManifest: readModelManifest,
          ...(onProgress !== undefined ? { onProgress } : {})
        }
      )
      for await (const t of source) yield yielded(t)
    },

    async exportCar (root, out, options = {}) {
      return await exportCar(repo.blockstore, root, out, options)
    },

    async importCar (source, options = {}) {
      return await importCar(repo.blockstore, source, options)
    }
  }
  return node
}

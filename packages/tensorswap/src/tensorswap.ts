/**
 * The library entry point: one TensorSwap node = a repo (blocks, datastore, identity), a libp2p
 * node (QUIC first, TCP fallback), the Bitswap-compatible exchange and GraphSync. Everything a
 * user does from the CLI is a method here, each taking `signal` and `onProgress`.
 *
 * @module
 */
import { addPin, openRepo, resolveRepoPath, exportCar, importCar } from '@tensorswap/blockstore'
import { exportModel, importModel, modelPlacement, readManifest } from '@tensorswap/model'
import { isPeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import { ipHost } from './bulk-lane.js'
import { createExchange, type Exchange, type ExchangeInit, type FetchProgressEvents } from './exchange.js'
import { bitswapTensors, type BitswapTensorsProgressEvents } from './tensors/bitswap-tensors.js'
import { graphSyncTensors } from './tensors/graphsync-tensors.js'
import { parseSelection } from './tensors/model-selectors.js'
import { graphSyncSupport, isUnsupportedProtocol } from './tensors/protocol-choice.js'
import { getBlockUnverified } from '@tensorswap/blockstore'
import { GraphSyncNetwork, PROTOCOL_ID as GRAPHSYNC_PROTOCOL, type GraphSyncNetworkInit } from '@tensorswap/graphsync'
import { dialWithRetry } from '@tensorswap/transport'
import { CustomProgressEvent, type ProgressEvent } from 'progress-events'
import { createLibp2pNode, type EncrypterName, type Libp2pNodeInit, type TransportName, type TransportServices } from './transport/node.js'
import { WriteBackDatastore } from './transport/write-back-datastore.js'
import { Session, type SessionResult } from './session.js'
import { manifestChildren } from './tensors/manifest-children.js'
import { peerIdOf, resolveRouting, type RoutingInit } from './routing/config.js'
import { recordProvidedRoot } from './routing/roots.js'
import { ContentRouter, type FindProvidersOptions, type FindProvidersResult, type FoundProvider } from './routing/router.js'
import { NoProvidersError, RoutingDisabledError } from './routing/errors.js'
import { DEFAULT_CONNECTED_PROBE_TIMEOUT_MS, DEFAULT_FIND_PROVIDERS_TIMEOUT_MS, DEFAULT_REPROVIDE_INTERVAL_MS, DHT_PROTOCOL } from './constants.js'
import { SessionPeers } from './session-peers.js'
import { gatewayWant, withFallback } from './block-sources.js'
import { TrustlessGatewaySource } from './gateway-source.js'
import { BandwidthLimiter, type BandwidthLimits } from './rate-limit.js'
import { TransferRegistry, type TransferInfo } from './transfers.js'
import { HealthMonitor, type HealthEvents, type HealthMonitorInit } from './health/monitor.js'
import { describePeers, wireTotals, type PeerInfo } from './health/peers.js'
import { PushService, pushDag, type PushOptions, type PushResult, type PushServiceInit } from './push/index.js'
import type { FetchedTensor } from './tensors/model-selectors.js'
import type { RequestorProgressEvents } from '@tensorswap/graphsync'
import type { Repo, CarSink, ExportCarOptions, ImportCarOptions } from '@tensorswap/blockstore'
import type { ExportProgressEvents, ImportOptions, ImportResult } from '@tensorswap/model'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { InvalidCidError } from './errors.js'

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
   * Connection limits (spec/tensorswap.md §3): `maxConnections`, `maxIncomingPendingConnections`,
   * `maxIncomingPendingPerHost`, `inboundConnectionThreshold`, dial limits.
   * @default the transport constants (`DEFAULT_MAX_CONNECTIONS` 300, 10 pending, 4 pending per host, 5/s per host)
   */
  connections?: Libp2pNodeInit['connectionManager']
  /**
   * GraphSync limits (spec/graphsync.md §5 "Limits"): requests in progress per peer
   * (`maxRequestsPerPeer`, 100) and in all (`maxRequests`, 256), responder memory
   * (`maxMemoryResponder` 256 MiB, `maxMemoryPerPeerResponder` 16 MiB), traversal `budget`,
   * streams per connection, idle timeout. @default the graphsync constants
   */
  graphsyncLimits?: Omit<GraphSyncNetworkInit, 'bandwidth'>
  /**
   * Serve and use GraphSync 2.0.0. With `false` the node does not handle
   * `/ipfs/graphsync/2.0.0` and `tensors()` always uses Bitswap: a Bitswap-only peer, for
   * interop tests and benchmarks of the fallback. @default true
   */
  graphsync?: boolean
  /**
   * Push receiving (spec/tensorswap.md §8): who may ask this node to fetch a DAG, and the
   * limits. @default refuse every push
   */
  push?: PushServiceInit
  /**
   * Content routing (spec/tensorswap.md "Content routing"): kad-dht on `/ipfs/kad/1.0.0`,
   * bootstrap (`bootstrap` default: the repo config's), opt-in mDNS, providing recorded roots on
   * `start()` and every `reprovideIntervalMs`. @default none: no DHT, `get` needs `peers`
   */
  routing?: RoutingInit
  /**
   * Peer health (spec/tensorswap.md §10): ping every connected peer, disconnect one after
   * `maxFailures` failed pings in a row, feed each peer's score to the peer selector, sample
   * throughput for {@link TensorSwapNode.peers}. `false`: no pings (throughput still sampled).
   * @default every default of `HealthMonitorInit` (constants.ts `DEFAULT_HEALTH_*`)
   */
  health?: HealthMonitorInit | false
  /**
   * Bandwidth limits in bytes per second, node-wide and per peer (spec/tensorswap.md §11): blocks
   * served (Bitswap, `/tensorswap/1.0.0`, bulk lanes, GraphSync) wait for upload credit, frames
   * of blocks read wait for download credit. @default no limits
   * @throws InvalidRateLimitError (from `createTensorSwap`) - a limit below 1 byte/s or not a number
   */
  limits?: BandwidthLimits
  /** Health events: each ping's outcome, each peer disconnected for failing them. */
  onHealthEvent?: (evt: HealthEvents) => void
}

/**
 * Progress events of {@link TensorSwapNode.get}: the fetch's (`tensorswap:session:block` per
 * block, with the one `BlockProgressDetail` shape; `tensorswap:session:unavailable`), then,
 * with `output`, the export's (`tensorswap:export:file`, `tensorswap:export:bytes`).
 */
export type GetProgressEvents = FetchProgressEvents | ExportProgressEvents

/** Options of {@link TensorSwapNode.get}. */
export interface GetOptions {
  /** Aborts the fetch and the export; rejects with `signal.reason` (`AbortError` by `.name` for a plain `abort()`). */
  signal?: AbortSignal
  onProgress?: (evt: GetProgressEvents) => void
  /** Peers to fetch from (multiaddrs ending in `/p2p/<id>`, or peer ids of connected peers). */
  peers?: Array<string | Multiaddr | PeerId>
  /** Write the files byte-exact into this directory after the fetch. */
  output?: string
  /**
   * Fetch leaves straight into their place in the files of this directory (`NAME.part`, the
   * model package's `modelPlacement` with `dir`), for an `exportModel` into it afterwards that
   * then writes only what is not already there (write once). Defaults to `output`.
   */
  placeInto?: string
  /**
   * Trustless gateway base URLs (`http://host:port`) to fetch from: alone, or as the fallback
   * for blocks no peer in `peers` has. Every block is verified either way.
   */
  gatewaySources?: string[]
  /**
   * The fetch's progress deadline, ms: when no block arrives from any peer for this long, the
   * given peers are redialled and the wants re-sent; when it passes again, `get` rejects with
   * `FetchStalledError` (blocks already stored stay: a re-run resumes). `Infinity` turns it
   * off. spec/tensorswap.md section 4 "Progress deadline".
   * @default `DEFAULT_FETCH_PROGRESS_TIMEOUT_MS` (30 s)
   */
  progressTimeoutMs?: number
  /**
   * Find providers before fetching (node created with `routing`): given `peers` are dialled
   * (unreachable ones skipped), the DHT is searched, and the fetch runs from every peer found.
   * @default true when the node has routing and either no `peers` are given or it has a
   * bootstrap list or mDNS
   */
  findProviders?: boolean
  /** Search options (time budget, grace period, most providers). */
  findProvidersOptions?: Pick<FindProvidersOptions, 'timeoutMs' | 'graceMs' | 'maxProviders'>
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
   * `source`: how the peer was found (`given` for a peer of `options.peers` when no search ran).
   */
  peers: Record<string, { bytesReceived: number, blocksReceived: number, wireBytesReceived: Record<string, number>, source?: FoundProvider['source'] }>
  /** When providers were searched: every peer the fetch ran from and how it was found. */
  providers?: FoundProvider[]
  /** How long the provider search took, ms (when there was one). */
  searchedMs?: number
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
  /** The repo: blockstore, datastore, config, identity key. */
  readonly repo: Repo
  /** The libp2p node (QUIC first, TCP fallback), started. */
  readonly libp2p: Libp2p<TransportServices>
  /** The Bitswap-compatible exchange (Bitswap 1.2.0/1.1.0, `/tensorswap/1.0.0`). */
  readonly exchange: Exchange
  /** GraphSync 2.0.0 (spec/graphsync.md). */
  readonly graphsync: GraphSyncNetwork
  /** The content router, when the node was created with `routing`. */
  readonly routing?: ContentRouter
  /** This node's peer id. */
  readonly peerId: PeerId
  /** The node's bandwidth limits (`init.limits`), shared by the exchange and GraphSync. */
  readonly bandwidth: BandwidthLimiter
  /** Peer health and throughput (running between `start()` and `stop()`). */
  readonly health: HealthMonitor
  /**
   * The connected peers, sorted by peer id: addresses, exchange protocol, how each was found,
   * ping health (RTT EWMA ms, success rate, score), ledger bytes both ways, throughput
   * (spec/tensorswap.md §10).
   */
  peers(): PeerInfo[]
  /** The `get`s running on this node: root, start, block bytes and blocks so far (network and local), peers, rate. */
  transfers(): TransferInfo[]
  /** Listen addresses, each ending in `/p2p/<peer id>`. */
  getMultiaddrs(): Multiaddr[]
  /**
   * Start serving (exchange + GraphSync).
   *
   * @throws `signal.reason` (`AbortError` by `.name` for a plain `abort()`) when `signal`
   *   aborts first; what was started is stopped again
   */
  start(options?: AbortOptions): Promise<void>
  /**
   * Stop serving, stop libp2p, flush the ledger; closes the repo if this node opened it.
   * `signal` bounds the graceful part (outbound streams are closed, then aborted once it
   * fires); the ledger is flushed, libp2p stopped and the repo closed in any case.
   *
   * @throws `signal.reason` (`AbortError` by `.name` for a plain `abort()`) when it aborted
   *   (the node is stopped anyway); the datastore's errors from the ledger flush
   */
  stop(options?: AbortOptions): Promise<void>
  /** Import a model file or directory (see `importModel` in `@tensorswap/model`); its blocks are then served. */
  add(path: string, options?: Omit<ImportOptions, 'size'>): Promise<ImportResult>
  /**
   * Fetch the DAG under `root` (a `CID` or its string) from peers (verified, resumable) and
   * optionally write its files.
   *
   * @throws InvalidCidError - `root` is a string that is not a CID
   * @throws `BlockUnavailableError` (no peer has a valid copy of a block); `FetchStalledError`
   *   (no progress within `progressTimeoutMs`, twice); the dial's errors; `signal.reason`
   */
  get(root: CID | string, options?: GetOptions): Promise<GetResult>
  /**
   * Fetch selected tensors (all without `glob`/`layers`) of the model at `root` from one peer,
   * over GraphSync when it speaks `/ipfs/graphsync/2.0.0`, else over Bitswap, and yield each
   * one in computation order as soon as its chunks are verified and stored.
   *
   * @throws InvalidCidError - `root` is a string that is not a CID
   * @throws InvalidLayerRangeError, InvalidTensorSelectionError - a bad selection (before any network work), or one naming no tensor
   * @throws NotAManifestError - `root` is not a TensorSwap manifest
   * @throws GraphSync: RequestFailedError (`.status`), UnexpectedBlockError, BlockHashMismatchError, TraversalMismatchError,
   *   MissingBlockError, ResponseIncompleteError, IncompleteTensorError; Bitswap: BlockUnavailableError; the dial's errors; `signal.reason`
   */
  tensors(root: CID | string, options: TensorsOptions): AsyncGenerator<FetchedTensor, void, undefined>
  /**
   * Ask `options.peer` to fetch the DAG under `root` from this node (spec/tensorswap.md §8
   * "Push"); resolves once it holds the whole DAG. The node must be started (it serves the
   * receiver's wants). See `pushDag`.
   *
   * @throws PushRefusedError (`.reason`), PushNoResponseError, InvalidPushMessageError; the
   *   blockstore's BlockNotFoundError for a DAG not held whole here; the dial's errors; `signal.reason`
   */
  push(root: CID, options: Omit<PushOptions, 'peer'> & { peer: string | Multiaddr | PeerId }): Promise<PushResult>
  /**
   * Find providers of `cid` (DHT, connected peers, `given`): see `ContentRouter.findProviders`.
   *
   * @throws RoutingDisabledError - the node has no routing; NoProvidersError - none found; `signal.reason`
   */
  findProviders(cid: CID, options?: FindProvidersOptions): Promise<FindProvidersResult>
  /**
   * Write the DAG under `root` as a CARv1 (DFS order) to `out` (see `exportCar` of
   * `@tensorswap/blockstore`; `onProgress` gets `tensorswap:car:export:block` per block).
   *
   * @throws InvalidCidError - `root` is a string that is not a CID
   * @throws `signal.reason` on abort (the sink keeps what was written); the blockstore's `NotFoundError`
   */
  exportCar(root: CID | string, out: CarSink, options?: ExportCarOptions): Promise<{ blocks: number, bytes: number }>
  /**
   * Import a CARv1/CARv2 stream, verifying every block (see `importCar` of
   * `@tensorswap/blockstore`).
   *
   * @throws `signal.reason` on abort (blocks stored so far stay); the CAR errors of `importCar`
   */
  importCar(source: AsyncIterable<Uint8Array>, options?: ImportCarOptions): Promise<{ roots: CID[], blocks: number, bytes: number }>
}

/**
 * A root argument as a `CID`: a `CID` as it is, a string parsed (`bafy...`, `Qm...`, or
 * `/ipfs/<cid>[/...]`).
 * @throws InvalidCidError - the string is not a CID
 */
export function toCid (root: CID | string): CID {
  if (typeof root !== 'string') return root
  const text = root.startsWith('/ipfs/') ? root.slice(6).split('/')[0] : root
  try {
    return CID.parse(text)
  } catch (err) {
    throw new InvalidCidError(`not a CID: ${JSON.stringify(root)} (${(err as Error).message})`, { cause: err })
  }
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
  // a bad limit is the caller's error, before the repo is opened
  const bandwidth = new BandwidthLimiter(init.limits)
  const ownsRepo = typeof init.repo !== 'object'
  const repo = typeof init.repo === 'object' ? init.repo : await openRepo(resolveRepoPath(init.repo))
  let libp2p: Libp2p<TransportServices>
  // libp2p's peer store and DHT records: cached, written to the repo in batches (flushed at stop)
  const libp2pDatastore = new WriteBackDatastore(repo.datastore)
  const listen = init.listen ?? repo.config.listen
  let routingConfig: ReturnType<typeof resolveRouting> | undefined
  try {
    routingConfig = init.routing == null
      ? undefined
      : resolveRouting({ ...init.routing, bootstrap: init.routing.bootstrap ?? repo.config.bootstrap ?? [] }, listen, { reprovideIntervalMs: DEFAULT_REPROVIDE_INTERVAL_MS, findProvidersTimeoutMs: DEFAULT_FIND_PROVIDERS_TIMEOUT_MS })
    libp2p = await createLibp2pNode({
      privateKey: repo.privateKey,
      listen,
      transports: init.transports,
      encrypters: init.encrypters,
      datastore: libp2pDatastore,
      routing: routingConfig,
      ...(init.connections != null ? { connectionManager: init.connections } : {})
    })
  } catch (err) {
    if (ownsRepo) await repo.close()
    throw err
  }
  const exchange = createExchange({ libp2p, blockstore: repo.blockstore, datastore: repo.datastore, privateKey: repo.privateKey }, {
    ...init.exchange,
    ...(bandwidth.limited && init.exchange?.bandwidth == null ? { bandwidth } : {}),
    bulkLane: init.exchange?.bulkLane ?? { listen: defaultLaneListen(init.listen ?? repo.config.listen) }
  })
  const graphsync = new GraphSyncNetwork({
    libp2p,
    blockstore: repo.blockstore,
    penalties: {
      // a GraphSync offence that bans the peer hangs up on it, as a Bitswap offence does
      onOffence: (peer, offence) => { exchange.penalize(peer, offence) },
      isBanned: (peer) => exchange.penalties.isBanned(peer.toString(), Date.now())
    }
  }, { ...init.graphsyncLimits, ...(bandwidth.limited ? { bandwidth } : {}) })

  const graphsyncEnabled = init.graphsync ?? true
  /** How the peers of this node's fetches were found (peer id -> source). */
  const peerSources = new Map<string, FoundProvider['source']>()
  const running = new TransferRegistry()
  const health = new HealthMonitor({
    libp2p,
    totals: () => wireTotals(exchange, libp2p),
    onScore: (peer, score) => { exchange.peerSelector.setHealth(peer, score) },
    onEvent: init.onHealthEvent
  }, init.health === false ? { ping: false } : init.health)
  const pushService = new PushService({ libp2p, exchange }, init.push)
  const router = routingConfig == null
    ? undefined
    : new ContentRouter({
      libp2p,
      datastore: repo.datastore,
      wantFrom: async (cid, peer, o) => await exchange.want(cid, { peers: [peer], signal: o.signal })
    }, routingConfig)
  /** Record `root` in the provided-roots record and provide it when the node can be dialled. */
  const recordAndProvide = async (root: CID, signal?: AbortSignal): Promise<void> => {
    const cids = await recordProvidedRoot(repo.datastore, repo.blockstore, root, { signal })
    router?.provideInBackground(cids)
  }

  let gatewaySessions = 0
  /** A session whose blocks come from gateways, behind the given peers when there are any. */
  async function fetchWithGateways (root: CID, peers: Array<Multiaddr | PeerId>, urls: string[], options: GetOptions): Promise<SessionResult> {
    const viaGateways = gatewayWant(urls.map(u => new TrustlessGatewaySource(u)))
    let want = viaGateways
    if (peers.length > 0) {
      const ids: string[] = []
      for (const p of peers) {
        ids.push(isPeerId(p) ? p.toString() : (await dialWithRetry(async (o) => await libp2p.dial(p, o), { signal: options.signal, target: p })).remotePeer.toString())
      }
      const viaPeers: typeof want = async (cid, o) => ({ bytes: await exchange.want(cid, { signal: o.signal, priority: o.priority, peers: ids }), peer: 'p2p' })
      want = withFallback(viaPeers, viaGateways)
    }
    const session = new Session({ blockstore: repo.blockstore, want, onStored: (cid) => { exchange.notifyNewBlock(cid) } }, { id: -(++gatewaySessions), children: manifestChildren, progressTimeoutMs: options.progressTimeoutMs })
    return await session.run(root, { signal: options.signal, onProgress: options.onProgress })
  }

  const node: TensorSwapNode = {
    repo,
    libp2p,
    exchange,
    graphsync,
    routing: router,
    peerId: libp2p.peerId,
    bandwidth,
    health,
    getMultiaddrs: () => libp2p.getMultiaddrs(),
    peers: () => describePeers(libp2p, exchange, health, peerSources),
    transfers: () => running.list(Date.now()),

    async start (options = {}) {
      options.signal?.throwIfAborted()
      await exchange.start(options)
      try {
        if (graphsyncEnabled) await graphsync.start()
        await pushService.start(options)
        options.signal?.throwIfAborted()
        router?.start()
        health.start()
      } catch (err) {
        health.stop()
        await pushService.stop()
        await graphsync.stop()
        await exchange.stop()
        throw err
      }
      log('started %p', libp2p.peerId)
    },

    async stop (options = {}) {
      log('stopping')
      health.stop()
      try {
        await router?.stop()
        await pushService.stop()
        await graphsync.stop()
        await exchange.stop(options)
      } finally {
        await libp2p.stop()
        await libp2pDatastore.close().catch((err) => { log.error('libp2p\'s peer records not written to the repo - %e', err) })
        if (ownsRepo) await repo.close()
        log('stopped')
      }
      // the teardown ran to its end either way; an abort that cut it short is reported
      options.signal?.throwIfAborted()
    },

    async add (path, options = {}) {
      const result = await importModel(repo.blockstore, path, options as ImportOptions)
      await addPin(repo.datastore, result.root, { signal: options.signal })
      exchange.notifyNewBlock(result.root)
      await recordAndProvide(result.root, options.signal).catch((err) => { log.error('%c not recorded as a provided root - %e', result.root, err) })
      return result
    },

    async get (rootArg, options = {}) {
      const root = toCid(rootArg)
      const started = performance.now()
      let peers: Array<Multiaddr | PeerId> | undefined = options.peers?.map(p => isPeerId(p) ? p : toMultiaddr(p))
      const viaGateways = options.gatewaySources != null && options.gatewaySources.length > 0
      const givenIds = new Set((peers ?? []).map(p => isPeerId(p) ? p.toString() : peerIdOf(p)).filter((id): id is string => id != null))
      for (const id of givenIds) peerSources.set(id, 'given')
      const search = options.findProviders ?? (router != null && !viaGateways &&
        ((peers?.length ?? 0) === 0 || router.config.bootstrap.length > 0 || router.config.mdns))
      let fetch: SessionResult
      let swarm: SessionPeers | undefined
      let searchedMs: number | undefined
      // the model-shaped store lays each file's leaves out as the file (src/placement.ts of the model package)
      const placeInto = options.placeInto ?? options.output
      const unhint = repo.blockstore.addHints?.(modelPlacement(root, placeInto != null ? { dir: placeInto } : {}))
      if (search) {
        if (router == null) throw new RoutingDisabledError('get: findProviders needs a node created with `routing`')
        // a swarm session: the fetch starts now and takes every peer found while it runs
        swarm = new SessionPeers()
        const peerSet = swarm
        const stopSearch = new AbortController()
        const fetchAbort = new AbortController()
        const searchSignal = AbortSignal.any([stopSearch.signal, ...(options.signal != null ? [options.signal] : [])])
        const discovery = router.discover(root, {
          given: peers,
          signal: searchSignal,
          timeoutMs: options.findProvidersOptions?.timeoutMs,
          maxProviders: options.findProvidersOptions?.maxProviders,
          onFound: (p) => { peerSet.add(p.peerId, p.source) }
        })
        const stopSources = peerSet.onAdded((p, source) => { peerSources.set(p, source) })
        // nobody found by the first pass, and no connected peer answered the root want-have
        // within the probe time: NoProvidersError (unless the walk ends first: all blocks local)
        let noneTimer: ReturnType<typeof setTimeout> | undefined
        discovery.firstPass.then((first) => {
          searchedMs = first.searchedMs
          if (peerSet.size > 0 || stopSearch.signal.aborted) return
          noneTimer = setTimeout(() => {
            if (peerSet.size === 0) fetchAbort.abort(new NoProvidersError(root.toString(), first.searchedMs, [first.skipped.length > 0 ? `${first.skipped.length} unreachable` : '', `${router.config.bootstrap.length} bootstrap peers`, `DHT protocol ${DHT_PROTOCOL}`].filter(x => x !== '').join(', ')))
          }, DEFAULT_CONNECTED_PROBE_TIMEOUT_MS)
        }, () => {})
        const announced = { root: false }
        try {
          fetch = await exchange.fetch(root, {
            signal: AbortSignal.any([fetchAbort.signal, ...(options.signal != null ? [options.signal] : [])]),
            progressTimeoutMs: options.progressTimeoutMs,
            swarm: peerSet,
            onProgress: (evt) => {
              // a leecher announces the root once it holds it (as a BitTorrent client announces
              // while leeching): other leechers find it and trade the blocks it has
              if (!announced.root && evt.type === 'tensorswap:session:block' && evt.detail.cid.equals(root)) {
                announced.root = true
                router.provideInBackground([root])
              }
              options.onProgress?.(evt)
            }
          })
        } finally {
          unhint?.()
          clearTimeout(noneTimer)
          stopSources()
          stopSearch.abort(new Error('fetch over'))
          await discovery.done
        }
        searchedMs ??= (performance.now() - started)
        log('fetched %c from %d peers (%s)', root, peerSet.size, peerSet.entries().map(([, s]) => s).join(', '))
      } else {
        try {
          fetch = viaGateways
            ? await fetchWithGateways(root, peers ?? [], options.gatewaySources ?? [], options)
            : await exchange.fetch(root, { signal: options.signal, onProgress: options.onProgress, peers, progressTimeoutMs: options.progressTimeoutMs })
        } finally {
          unhint?.()
        }
      }
      const seconds = (performance.now() - started) / 1000
      // a fetched root is kept by gc (packages/blockstore/src/pins.ts)
      await addPin(repo.datastore, root, { signal: options.signal })
      // a DAG that is not UnixFS under its root is fetched all the same, just not recorded
      await recordAndProvide(root, options.signal).catch((err) => { log.error('%c not recorded as a provided root - %e', root, err) })
      let exported: GetResult['export']
      if (options.output != null) {
        exported = await exportModel(repo.blockstore, root, options.output, { signal: options.signal, onProgress: options.onProgress })
      }
      const byPeer: GetResult['peers'] = {}
      const stats = exchange.stats()
      for (const [peer, entry] of Object.entries(stats.ledger)) {
        if (entry.bytesReceived === 0) continue
        const wireBytesReceived = Object.fromEntries(Object.entries(stats.wire[peer] ?? {}).map(([protocol, w]) => [protocol, w.bytesReceived]))
        const source = swarm != null ? swarm.source(peer) : givenIds.has(peer) ? 'given' : undefined
        byPeer[peer] = { bytesReceived: entry.bytesReceived, blocksReceived: entry.blocksReceived, wireBytesReceived, ...(source != null ? { source } : {}) }
      }
      const providers: FoundProvider[] | undefined = swarm?.entries().map(([peerId, source]) => ({
        peerId, source, addrs: libp2p.getConnections().filter(c => c.remotePeer.toString() === peerId).map(c => c.remoteAddr.decapsulateCode(421).toString())
      }))
      return { fetch, export: exported, seconds, peers: byPeer, ...(providers != null ? { providers, searchedMs } : {}) }
    },

    async * tensors (rootArg, options) {
      const root = toCid(rootArg)
      const { signal, onProgress } = options
      parseSelection(options)
      const target = isPeerId(options.peer) ? options.peer : toMultiaddr(options.peer)
      const conn = await dialWithRetry(async (o) => await libp2p.dial(target, o), { signal, target })
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
          const source = graphSyncTensors(graphsync, peer, root, {
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
          get: async (cid, o) => await getBlockUnverified(repo.blockstore, cid, o),
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

    async push (root, options) {
      const peer = isPeerId(options.peer) ? options.peer : toMultiaddr(options.peer)
      return await pushDag({ libp2p, blockstore: repo.blockstore }, root, { ...options, peer })
    },

    async findProviders (cid, options = {}) {
      if (router == null) throw new RoutingDisabledError('findProviders needs a node created with `routing`')
      return await router.findProviders(cid, options)
    },

    async exportCar (root, out, options = {}) {
      return await exportCar(repo.blockstore, toCid(root), out, options)
    },

    async importCar (source, options = {}) {
      return await importCar(repo.blockstore, source, options)
    }
  }
  // transfers(): every get is counted from its progress events while it runs
  const untrackedGet = node.get.bind(node)
  node.get = async (rootArg, options = {}) => {
    const transfer = running.start(toCid(rootArg).toString(), Date.now())
    try {
      return await untrackedGet(rootArg, { ...options, onProgress: (evt) => { running.onProgress(transfer, evt); options.onProgress?.(evt) } })
    } finally {
      running.end(transfer)
    }
  }
  return node
}

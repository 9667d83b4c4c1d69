/**
 * Limits and protocol constants for `@tensorswap/graphsync`.
 *
 * Every limit says where its number comes from. Where the reference implementations
 * (go-ipld-prime, go-graphsync) set no limit, the number is ours and the comment says why.
 */

/** Protocol id of GraphSync 2.0.0 (go-graphsync v0.13+, `network/libp2p_impl.go`). */
export const PROTOCOL_NAME = 'graphsync'
/** Protocol version spoken. */
export const PROTOCOL_VERSION = '2.0.0'
/** `/ipfs/graphsync/2.0.0`. */
export const PROTOCOL_ID = `/ipfs/${PROTOCOL_NAME}/${PROTOCOL_VERSION}`

/**
 * Maximum nesting depth of a selector document (number of nested selector clauses on
 * one path from the root clause). go-ipld-prime sets no limit; our parser and walker
 * recurse over the selector structure, so we bound it well below the JS stack and far
 * above real selectors (path selectors of a few dozen segments, HAMT paths of <= 16).
 */
export const MAX_SELECTOR_DEPTH = 128

/**
 * Maximum members of one ExploreUnion. No reference limit; unions multiply the work per
 * visited node (each member is explored), so a hostile union is a CPU bomb. 64 is far
 * above what go-ipld-prime's own builders emit (2-3 members).
 */
export const MAX_UNION_MEMBERS = 64

/**
 * Maximum fields of one ExploreFields. No reference limit; 4096 lets a requestor name
 * every tensor of a large model file in one clause while bounding per-node work.
 */
export const MAX_EXPLORE_FIELDS = 4096

/**
 * Maximum clauses in one selector document overall (bounds parse time and memory
 * whatever the shape). Ours: a selector this size encodes to well under 1 MiB.
 */
export const MAX_SELECTOR_NODES = 16384

/**
 * Maximum clauses in the runtime (explored) form of a selector at one position.
 * ExploreRecursive with several edges can grow the runtime selector at each step
 * (the spec's "copy of the original ExploreRecursive"), which is exponential for
 * hostile selectors; go-ipld-prime has no guard. Exceeding it throws SelectorLimitError.
 */
export const MAX_RUNTIME_SELECTOR_NODES = 65536

/**
 * Default maximum path depth (segments from the root) a traversal visits. The selector
 * spec leaves `limit: {none}` to "the implementation library ... to identify an
 * appropriate max depth"; 1024 is far deeper than any UnixFS or manifest DAG we build
 * (balanced UnixFS of 1024-link nodes is 4 levels for 1 TiB) yet stops a hostile chain.
 */
export const DEFAULT_MAX_TRAVERSAL_DEPTH = 1024

/**
 * Maximum size of one GraphSync message on the wire, in bytes. go-graphsync reads
 * messages with libp2p's `network.MessageSizeMax` (4 MiB).
 */
export const MAX_MESSAGE_SIZE = 4 * 1024 * 1024

/** Length of a GraphSync 2.0.0 request id in bytes: a UUID (go-graphsync `RequestID`, `uuid.FromBytes`). */
export const REQUEST_ID_LENGTH = 16

/**
 * Maximum number of CIDs accepted in a `graphsync/do-not-send-cids` extension value.
 * Ours: bounded in practice by MAX_MESSAGE_SIZE (a CIDv1 sha2-256 link is ~41 bytes on the wire).
 */
export const MAX_DO_NOT_SEND_CIDS = 100_000

/**
 * Default most blocks one request may make a responder load (traversal `blocks` budget).
 * go-graphsync's `MaxLinksPerIncomingRequests` is unlimited by default; we bound it so one
 * request cannot cost unbounded work: 2^20 blocks is 1 TiB of 1 MiB leaves, above the largest
 * open model we expect to serve.
 */
export const DEFAULT_RESPONDER_MAX_BLOCKS = 1_048_576

/**
 * Default most block bytes one request may make a responder load (traversal `bytes` budget):
 * 1 TiB, consistent with {@link DEFAULT_RESPONDER_MAX_BLOCKS}. Ours; go-graphsync has none.
 */
export const DEFAULT_RESPONDER_MAX_BYTES = 2 ** 40

/**
 * Default most requests one peer may have in progress at a responder; more get status 31
 * (RequestFailedBusy, GraphSync spec "Response Status Codes"), not a penalty. AptosNet's
 * per-peer limit of 100 concurrent inbound RPCs (`MAX_CONCURRENT_INBOUND_RPCS` = 100,
 * aptos-core `network/framework/src/constants.rs`); go-graphsync's
 * `MaxInProgressIncomingRequestsPerPeer` is unlimited by default. The bytes these requests queue
 * are bounded separately by {@link DEFAULT_MAX_MEMORY_PER_PEER_RESPONDER}.
 */
export const DEFAULT_MAX_REQUESTS_PER_PEER = 100

/**
 * Default most requests in progress at a responder across all peers; more get 31. go-graphsync's
 * `MaxInProgressIncomingRequests` defaults to 6 (`defaultMaxInProgressRequests`, graphsync.go),
 * which serves few peers; ours is 256: queued response bytes are bounded by
 * {@link DEFAULT_MAX_MEMORY_RESPONDER}, so a request in progress costs its traversal state (its
 * dedup set, at most {@link DEFAULT_MAX_DEDUP_CIDS} CIDs) plus, while it waits for memory, the one
 * message it has built (typically {@link DEFAULT_RESPONSE_FLUSH_BYTES}, at most MAX_MESSAGE_SIZE).
 */
export const DEFAULT_MAX_REQUESTS = 256

/**
 * Default most bytes of response messages a responder holds for all peers before its streams
 * take them. go-graphsync `defaultTotalMaxMemory = uint64(256 << 20)` (graphsync.go, option
 * `MaxMemoryResponder`). Over it a response waits (back-pressure); see `allocator.ts`.
 */
export const DEFAULT_MAX_MEMORY_RESPONDER = 256 * 1024 * 1024

/**
 * Default most bytes of response messages a responder holds for one peer. go-graphsync
 * `defaultMaxMemoryPerPeer = uint64(16 << 20)` (graphsync.go, option `MaxMemoryPerPeerResponder`).
 * Over it that peer's responses wait; other peers are not delayed.
 */
export const DEFAULT_MAX_MEMORY_PER_PEER_RESPONDER = 16 * 1024 * 1024

/**
 * A responder flushes a response message once it holds this many block bytes (and earlier
 * when the next block would push it past MAX_MESSAGE_SIZE). One 1 MiB leaf per message keeps
 * the first tensor's latency low; the per-message overhead is ~100 bytes. Ours.
 */
export const DEFAULT_RESPONSE_FLUSH_BYTES = 1024 * 1024

/**
 * Most metadata entries in one response message (links without a block, e.g. `d` for blocks
 * the requestor has, cost ~45 bytes each). Ours: 16384 x 45 bytes stays far under 4 MiB.
 */
export const MAX_METADATA_PER_MESSAGE = 16_384

/**
 * Bytes reserved in a response message for everything but block data and metadata (map
 * keys, request id, status, list headers). Ours, measured encodings are ~40 bytes.
 */
export const RESPONSE_OVERHEAD_BYTES = 1024

/**
 * Most CIDs a responder remembers per request to send a block only once (later repeats get
 * metadata `d`). Past this, a repeated block is sent again (still correct, the requestor
 * accepts it). Bounds responder memory per request to a few MiB. Ours.
 */
export const DEFAULT_MAX_DEDUP_CIDS = 65_536

/**
 * Most CIDs a requestor announces in `graphsync/do-not-send-cids` when resuming. A CIDv1
 * sha2-256 link is ~41 bytes in DAG-CBOR, so 65536 links take ~2.7 MiB of the 4 MiB
 * message. Ours.
 */
export const DEFAULT_MAX_RESUME_CIDS = 65_536

/**
 * Most response messages a requestor buffers ahead of its traversal. The requestor pulls
 * messages only when its traversal needs the next metadata entry, so one suffices; the
 * network driver applies back-pressure to the stream beyond it.
 */
export const REQUESTOR_MESSAGE_BUFFER = 1

// --- the libp2p driver (`network.ts`) ---

/**
 * A request fails with `ResponseIncompleteError` when no response message arrives for this
 * long, in ms. go-graphsync has no such timer (it relies on the connection); ours, so a
 * responder that stalls or loses its stream cannot hang a fetch. 30 s is 3x the QUIC idle
 * timeout.
 */
export const DEFAULT_REQUEST_IDLE_TIMEOUT_MS = 30_000

/**
 * libp2p `maxInboundStreams` / `maxOutboundStreams` per connection for the GraphSync
 * protocol (`libp2p.handle(PROTOCOL_ID, handler, { maxInboundStreams, maxOutboundStreams })`;
 * libp2p resets streams over it). One stream per request each way and at most
 * {@link DEFAULT_MAX_REQUESTS_PER_PEER} (100) requests per peer; ours: that plus a margin for
 * busy replies and cancels. libp2p's own default is 32 inbound / 64 outbound.
 */
export const DEFAULT_MAX_GRAPHSYNC_STREAMS = 128

/**
 * Blockstore puts one request of the driver keeps in flight. A durable put (`FsBlockstore`:
 * temp file, fsync, rename) costs mostly latency; one put at a time capped a 173 MB fetch of
 * small tensor blocks at ~13 MB/s. 32, as the TensorSwap exchange's sessions
 * (`DEFAULT_MAX_CONCURRENT_PUTS` in the `tensorswap` package).
 */
export const DEFAULT_MAX_CONCURRENT_PUTS = 32

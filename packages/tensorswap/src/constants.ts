/**
 * Exchange limits, protocol ids and tuning defaults. Every number says where it comes from.
 * Transport limits live in `src/transport/constants.ts`.
 *
 * @module
 */

/** 1 KiB in bytes. */
const KiB = 1024
/** 1 MiB in bytes. */
const MiB = 1024 * KiB

/** Bitswap 1.0.0 protocol id (specs.ipfs.tech/bitswap-protocol). Decoded, never negotiated by us. */
export const BITSWAP_100 = '/ipfs/bitswap/1.0.0'
/** Bitswap 1.1.0 protocol id: CIDv1 payload, no HAVE/DONT_HAVE (specs.ipfs.tech/bitswap-protocol). */
export const BITSWAP_110 = '/ipfs/bitswap/1.1.0'
/** Bitswap 1.2.0 protocol id: want-have, HAVE/DONT_HAVE presences, pendingBytes. */
export const BITSWAP_120 = '/ipfs/bitswap/1.2.0'
/** TensorSwap 1.0.0: the Bitswap 1.2.0 message, unchanged (spec/tensorswap.md "The extension"). */
export const TENSORSWAP_100 = '/tensorswap/1.0.0'

/**
 * Protocols we speak, best first; `dialProtocol` negotiates the first one the remote has.
 */
export const PROTOCOLS: readonly string[] = [TENSORSWAP_100, BITSWAP_120, BITSWAP_110]

/**
 * Largest encoded message we send or accept, in bytes. Bitswap spec ("Bitswap 1.0.0:
 * Protocol Format"): "All protocol messages MUST be less than or equal to 4MiB";
 * @helia/bitswap `DEFAULT_MAX_INCOMING_MESSAGE_SIZE` and `DEFAULT_MAX_OUTGOING_MESSAGE_SIZE`
 * are 4 MiB, as is boxo's network `maxMessageSize`.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * MiB

/**
 * Slack added to `maxMessageBytes` for the frame reader, in bytes: a peer whose encoder
 * counts a few header bytes differently is not cut off. Frames above max + slack are refused.
 */
export const FRAME_SLACK_BYTES = 64 * KiB

/**
 * Largest block we send or accept, in bytes. Bitswap spec ("Block Sizes"): implementations
 * MUST support blocks up to 2 MiB and larger ones are not recommended.
 */
export const DEFAULT_MAX_BLOCK_BYTES = 2 * MiB

/**
 * Largest CID accepted on the wire, in bytes. boxo `MaximumAllowedCid`
 * (`binary.MaxVarintLen64*4 + MaximumHashLength` = 10*4 + 128).
 */
export const MAX_CID_BYTES = 168

/**
 * Most want-list entries kept per remote peer, and most entries accepted in one message.
 * @helia/bitswap `DEFAULT_MAX_WANTLIST_SIZE` = 1024; boxo
 * `MaxQueuedWantlistEntiresPerPeer` = 1024.
 */
export const DEFAULT_MAX_WANTLIST_SIZE = 1024

/**
 * Most block presences accepted in one message. A peer only answers our wants, and we never
 * have more than {@link DEFAULT_MAX_WANTLIST_SIZE} entries outstanding at it.
 */
export const DEFAULT_MAX_PRESENCES = DEFAULT_MAX_WANTLIST_SIZE

/**
 * Blocks no larger than this, in bytes, are sent in place of a HAVE answer to a want-have.
 * @helia/bitswap `DEFAULT_MAX_SIZE_REPLACE_HAS_WITH_BLOCK` = 1024 (boxo: 1024 too).
 */
export const DEFAULT_MAX_SIZE_REPLACE_HAVE_WITH_BLOCK = 1024

/**
 * Block size assumed for in-flight accounting when nothing better is known, in bytes. Our
 * leaves are at most 1 MiB (spec/model-dag.md, as Helia/ipfs-car 1 MiB chunks).
 */
export const DEFAULT_ESTIMATED_BLOCK_BYTES = 1 * MiB

/**
 * Most bytes (estimated) of want-blocks outstanding across all peers; a session counts a block
 * against it until the block is on disk, so this bounds the fetcher's block memory. 32 MiB is
 * 0.25 s at 1 Gbit/s and two peers' {@link DEFAULT_MAX_PEER_BYTES_IN_FLIGHT}. Measured
 * (bench/README.md, 256 MiB over TCP+TLS): 64 MiB gave the same MB/s with 20-50 MiB more
 * fetcher peak RSS.
 */
export const DEFAULT_MAX_BYTES_IN_FLIGHT = 32 * MiB

/**
 * Most bytes (estimated) of want-blocks outstanding at one peer. 16 MiB covers the
 * bandwidth-delay product of 1 Gbit/s at 100 ms RTT (12.5 MB), and is 4 of the peer's
 * 4 MiB messages, so its engine always has the next message ready.
 */
export const DEFAULT_MAX_PEER_BYTES_IN_FLIGHT = 16 * MiB

/**
 * Most want entries outstanding at one peer. Half of the remote's want-list cap
 * ({@link DEFAULT_MAX_WANTLIST_SIZE}), so two sessions' worth never overflow it.
 */
export const DEFAULT_MAX_PEER_WANTS_IN_FLIGHT = DEFAULT_MAX_WANTLIST_SIZE / 2

/**
 * A want-block is given up at a peer (cancel sent, another peer asked) when that peer has
 * sent nothing for this long, in ms. @helia/bitswap `DEFAULT_MESSAGE_RECEIVE_TIMEOUT` = 10 s.
 */
export const DEFAULT_PEER_IDLE_TIMEOUT_MS = 10_000

/**
 * A want-block is given up at a peer after this long even if the peer is delivering other
 * blocks, in ms (guards against a peer that silently drops one want). 6x the idle timeout.
 */
export const DEFAULT_WANT_TIMEOUT_MS = 60_000

/**
 * After every candidate answered DONT_HAVE or timed out, a want is retried at them after
 * this long, in ms (the remote may have fetched the block since). boxo's rebroadcast delay
 * is 1 minute; a model download is interactive, so we retry sooner.
 */
export const DEFAULT_UNAVAILABLE_RETRY_MS = 5_000

/**
 * EWMA smoothing factor for per-peer latency and throughput samples (weight of the newest
 * sample). 0.2: about the last 5 samples dominate, enough to follow a peer that slows down.
 */
export const DEFAULT_EWMA_ALPHA = 0.2

/**
 * Throughput assumed for a peer with no samples yet, in bytes per ms (10 MB/s). Optimistic
 * enough that new peers get tried, low enough that a measured fast peer is preferred.
 */
export const DEFAULT_PRIOR_THROUGHPUT_BYTES_PER_MS = 10_000

/**
 * Round-trip time assumed for a peer with no samples yet, in ms.
 */
export const DEFAULT_PRIOR_LATENCY_MS = 50

/** How often the exchange checks for timed-out wants, in ms. */
export const DEFAULT_TICK_INTERVAL_MS = 1_000

/** How often the debt ledger is flushed to the datastore, in ms (and always at stop). */
export const DEFAULT_LEDGER_FLUSH_INTERVAL_MS = 30_000

/** Datastore key prefix of persisted ledgers: `/tensorswap/ledger/<peerId>`. */
export const LEDGER_KEY_PREFIX = '/tensorswap/ledger/'

/**
 * Most want-block tasks of one peer served in one engine batch. 4 blocks of 1 MiB fill one
 * {@link DEFAULT_MAX_MESSAGE_BYTES} message; the next batch for the same peer waits for the
 * stream to drain, which is the engine's back-pressure.
 */
export const DEFAULT_ENGINE_BLOCKS_PER_BATCH = 4

/** Most HAVE/DONT_HAVE answers in one engine batch (one small message). */
export const DEFAULT_ENGINE_PRESENCES_PER_BATCH = 256

/**
 * Most engine batches being read from the blockstore and written at once, across peers.
 * Bounds serving memory to about this many messages (8 x 4 MiB). boxo uses 8 task workers
 * (`BitswapEngineTaskWorkerCount`).
 */
export const DEFAULT_ENGINE_CONCURRENCY = 8

/**
 * Penalty score at which a peer is disconnected and its messages ignored for
 * {@link DEFAULT_BAN_MS}. The weights are in spec/tensorswap.md "Penalties".
 */
export const DEFAULT_PENALTY_THRESHOLD = 100

/** How long a peer that crossed the penalty threshold is ignored, in ms. */
export const DEFAULT_BAN_MS = 10 * 60_000

/** Penalty scores decay by half every this many ms, so rare benign mistakes are forgiven. */
export const PENALTY_HALF_LIFE_MS = 60_000

/**
 * Outbound streams idle for this long are closed, in ms. Below @helia/bitswap's 10 s
 * inbound receive timeout, so Helia never has to abort our idle stream.
 */
export const DEFAULT_STREAM_IDLE_MS = 5_000

/**
 * Most time opening an exchange stream (stream open plus multistream-select) may take, in ms.
 * Without it a stream open that never completes (seen on QUIC while the remote was hanging up
 * on another, banned peer) held the peer's channel forever: every later send waited on the
 * same open. libp2p's own dial timeout covers the connection, not the stream.
 */
export const DEFAULT_STREAM_OPEN_TIMEOUT_MS = 10_000

/** One attempt to dial a peer given to `fetch`, in ms (libp2p's whole-dial default is 10 s). */
export const DEFAULT_DIAL_ATTEMPT_TIMEOUT_MS = 8_000

/** Attempts to dial a peer given to `fetch` (see `Exchange#dial`). */
export const DIAL_ATTEMPTS = 3

/**
 * Tit-for-tat: bytes served to a peer before its debt ratio is looked at (so new peers can
 * bootstrap), and the largest debt ratio still served.
 */
export const TIT_FOR_TAT_GRACE_BYTES = 64 * MiB
/** @see TIT_FOR_TAT_GRACE_BYTES */
export const TIT_FOR_TAT_MAX_RATIO = 2

/** Wire priority of the first want of a session; later wants count down from it. */
export const SESSION_ROOT_PRIORITY = 2 ** 30

/**
 * Blockstore puts a session keeps in flight. Each put of `FsBlockstore` is a durable write
 * (temp file, fsync, rename) whose cost is mostly latency; measured on this machine, one put at
 * a time capped a 173 MB fetch of small tensor blocks at ~13 MB/s. Our own figure.
 */
export const DEFAULT_MAX_CONCURRENT_PUTS = 32

/**
 * Block bytes a session keeps being written at once (besides {@link DEFAULT_MAX_CONCURRENT_PUTS}).
 * libuv runs 4 file-system operations at a time (its default thread pool), so with 1 MiB
 * blocks 8 MiB keeps every thread busy; puts queued beyond that only hold memory (with 32
 * puts of 1 MiB the fetcher held 32 MiB of blocks waiting for a thread; bench/README.md).
 */
export const DEFAULT_MAX_PUT_BYTES_IN_FLIGHT = 8 * MiB

/**
 * Most time, in ms, one serving batch may wait for the peer to read it (stream drain) before
 * the send is abandoned, its stream reset and the peer penalised (`slowReader`). Without it, a
 * few peers that ask and never read hold every engine slot forever. It must stay under the
 * fetchers' patience ({@link DEFAULT_PEER_IDLE_TIMEOUT_MS}, Helia's 10 s receive timeout), or
 * honest peers give up before the slots free. 5 s moves a 4 MiB message at 0.8 MB/s: slower
 * links are cut too and re-ask (their wants time out); stalled readers are banned after four.
 * Our own figure (test/exchange/hostile.test.ts, 8 non-reading peers).
 */
export const DEFAULT_SEND_DEADLINE_MS = 5_000

/**
 * Bulk lane discovery protocol: the server answers with its lane addresses (spec/tensorswap.md
 * "Bulk lane").
 */
export const BULK_LANE_PROTOCOL = '/tensorswap/bulk/1.0.0'

/** ALPN id of a bulk-lane TLS connection, so a lane socket is never taken for anything else. */
export const BULK_LANE_ALPN = 'tensorswap-bulk/1'

/** TLS handshake plus certificate check of a lane, and its discovery, ms (libp2p's upgrade timeout is 3 s on loopback-class links; we allow 5 s). */
export const DEFAULT_LANE_HANDSHAKE_TIMEOUT_MS = 5000

/** A lane with no traffic either way for this long is closed, ms (re-opened on the next want). */
export const DEFAULT_LANE_IDLE_MS = 60_000

/** Most lane sockets a node accepts at once (as libp2p's default `maxConnections` order of magnitude: 300). */
export const DEFAULT_MAX_LANE_CONNECTIONS = 256

/** Most lane addresses accepted in a discovery answer. */
export const MAX_LANE_ADDRESSES = 8

/** After a failed lane attempt to a peer, blocks use its streams and no lane is tried for this long, ms. */
export const DEFAULT_LANE_RETRY_MS = 60_000

/**
 * The want-block to a peer that opens a bulk lane to it (counted while connected). A DAG walk
 * asks for its root and first nodes first: the lane is opened when the bulk starts, so its TLS
 * handshake and certificate checks (~10 ms of CPU) do not delay the first block, and fetches of
 * a few blocks never open one.
 */
export const LANE_MIN_BLOCK_WANTS = 4

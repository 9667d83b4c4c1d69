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
 * Largest CID accepted on the wire, in bytes: 168, boxo `MaximumAllowedCid`
 * (`binary.MaxVarintLen64*4 + MaximumHashLength` = 10*4 + 128). Declared once in
 * `@tensorswap/blockstore`, re-exported here.
 */
export { MAX_CID_BYTES } from '@tensorswap/blockstore'

/**
 * Most want-list entries kept per remote peer, and most entries accepted in one message.
 * @helia/bitswap `DEFAULT_MAX_WANTLIST_SIZE` = 1024; boxo
 * `MaxQueuedWantlistEntiresPerPeer` = 1024.
 */
export const DEFAULT_MAX_WANTLIST_SIZE = 1024

/**
 * libp2p `maxInboundStreams` per connection and exchange protocol (`libp2p.handle(protocols,
 * handler, { maxInboundStreams, maxOutboundStreams })`; libp2p resets streams over it).
 * @helia/bitswap `DEFAULT_MAX_INBOUND_STREAMS` = 1024 (its `constants.ts`).
 */
export const DEFAULT_MAX_INBOUND_STREAMS = 1024

/** libp2p `maxOutboundStreams` per connection and exchange protocol. @helia/bitswap `DEFAULT_MAX_OUTBOUND_STREAMS` = 1024. */
export const DEFAULT_MAX_OUTBOUND_STREAMS = 1024

/**
 * Exchange streams one peer may have open with us at once, over all its connections and
 * exchange protocols; a stream over it is reset unread and the peer gets `tooManyStreams`
 * (`network.ts`, spec/tensorswap.md §3). AptosNet's 100 concurrent inbound requests per peer.
 * libp2p's own bound ({@link DEFAULT_MAX_INBOUND_STREAMS} per connection and protocol) let one
 * peer hold 1000 streams, each answered (bench/README.md "Hostile peers": 0.9 CPU s of the
 * seeder's, the costliest single attack).
 */
export const DEFAULT_MAX_INBOUND_STREAMS_PER_PEER = 100

/**
 * Inbound messages carrying a want-list accepted per second per peer (token bucket refill,
 * `rate-limit.ts`); over the rate the want-list is dropped and the peer gets the `rateLimited`
 * penalty. Neither boxo nor @helia/bitswap limit a peer's message rate (boxo bounds only the
 * queued want-list, as {@link DEFAULT_MAX_WANTLIST_SIZE} does here). Ours: an honest fetcher
 * sends about one want-list message per message of blocks it receives (new wants as its window
 * slides, cancels), which is ~250/s at 1 GB/s of 4-block messages of 1 MiB blocks; 1000/s
 * (10x AptosNet's 100 concurrent RPCs per peer) leaves room for small-block models and stops
 * floods of tens of thousands of messages a second.
 */
export const DEFAULT_INBOUND_MESSAGES_PER_SECOND = 1000

/** Token bucket capacity for {@link DEFAULT_INBOUND_MESSAGES_PER_SECOND}: a burst of 2000 messages after idling (2 s at the rate). Ours. */
export const DEFAULT_INBOUND_MESSAGE_BURST = 2000

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
 * A want-block is given up sooner at a peer that has never delivered a block to us: after this
 * long, in ms, when another peer could be asked for it; the peer is then asked only for blocks
 * no other peer can give (`PeerSelector.pick`) until it delivers one. A provider that answers
 * every want-have with HAVE and then sends nothing keeps its wants alive past the idle timeout
 * with those HAVEs, and held the root of a 32 MiB fetch for ~10 s at a time (35 s instead of
 * 2.5 s, test/exchange/hostile-attacks.test.ts). Ours: a first block arrives in ~30 ms on loopback
 * (bench/README.md TTFB) and a 1 MiB one in under a second at 10 Mbit/s with a 200 ms RTT; a
 * slow honest peer only loses that one want to a faster one.
 */
export const DEFAULT_UNPROVEN_PEER_TIMEOUT_MS = 1_000

/**
 * While another peer answers want-blocks fast, the unproven-peer timeout shrinks to this many
 * times that peer's delivery time (`PeerSelector.fastestDeliveryMs`: want sent to block
 * received, queueing included), within {@link DEFAULT_UNPROVEN_PEER_MIN_TIMEOUT_MS} ..
 * {@link DEFAULT_UNPROVEN_PEER_TIMEOUT_MS}. A silent provider next to a loopback seeder held
 * its wants for the whole second while the fetch of 256 MiB took 1.1-1.6 s (the hostile bench's
 * all-at-once phase at 0.66-0.84 of alone, bench/README.md "Hostile peers"); on a 100 Mbit/s
 * link a busy seeder's delivery time is a few hundred ms and the timeout stays at 1 s. A
 * silent peer is told apart from a slow one only by this comparison and by bytes arriving
 * ({@link DEFAULT_UNPROVEN_MIN_BYTES_PER_SECOND}).
 */
export const DEFAULT_UNPROVEN_DELIVERY_FACTOR = 4

/**
 * Deliveries (of blocks of at least {@link MIN_THROUGHPUT_SAMPLE_BYTES}) a peer must have made
 * before its delivery time shrinks the unproven-peer timeout ({@link DEFAULT_UNPROVEN_DELIVERY_FACTOR}).
 * The first blocks of a fetch come before the queues build: a 1 MiB block takes ~85 ms on an
 * idle 100 Mbit/s link and 1-2 s once six leechers share it, so the first figure alone made the
 * timeout ~350 ms, short for an honest leecher whose first block waits in its queue (the share
 * of bytes leechers served each other in test/swarm/leechers.test.ts was 5-32 % in five runs
 * without this floor, 19-50 % before the rule; not told apart from noise). Eight such blocks
 * take over half a second on that link and ~40 ms on loopback.
 */
export const MIN_DELIVERY_SAMPLES = 8

/** Floor of the scaled unproven-peer timeout ({@link DEFAULT_UNPROVEN_DELIVERY_FACTOR}), ms: a few loopback round trips of a busy node's event loop. */
export const DEFAULT_UNPROVEN_PEER_MIN_TIMEOUT_MS = 250

/**
 * Ceiling of the scaled unproven-peer timeout ({@link DEFAULT_UNPROVEN_DELIVERY_FACTOR}), ms.
 * Six leechers on 100 Mbit/s links, each serving the others while it fetches, take 1-2.5 s for
 * a first block (their uplinks are shared, our want waits behind others' batches): with the
 * timeout capped at {@link DEFAULT_UNPROVEN_PEER_TIMEOUT_MS} those wants moved after 1 s and
 * arrived twice, 40-72 MB of duplicates per 201 MB (bench/README.md "Swarm"). While the proven
 * peers themselves take seconds, a stranger gets 4x the fastest of them, up to this. Ours.
 */
export const DEFAULT_UNPROVEN_PEER_MAX_TIMEOUT_MS = 5_000

/**
 * Past {@link DEFAULT_UNPROVEN_PEER_TIMEOUT_MS}, a peer that has not delivered a block yet keeps
 * a want while its bytes (frames still in transit included) have arrived at least this fast
 * since the want was sent, bytes/s: its first message is on the way and moving the want would
 * fetch the block twice (three providers sharing a 100 Mbit/s downlink took over a second for a
 * first 4 MiB message, and 1-5 blocks came twice, test/swarm/multi-provider.test.ts). A peer
 * sending nothing (HAVE, then silence) still loses its wants after the timeout; one trickling
 * bytes must keep up this rate, and whatever it sends is verified. Ours: well above a trickle,
 * well below a share of a real link (100 Mbit/s split ten ways is 1.25 MB/s).
 */
export const DEFAULT_UNPROVEN_MIN_BYTES_PER_SECOND = 256 * 1024

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
 * A fetch's progress deadline, in ms: when no block arrives from any peer for this long while
 * blocks are wanted, the fetch redials the peers it was given (with back-off, through
 * `dialWithRetry`) and re-sends its wants; when the deadline passes again with nothing, it fails
 * with `FetchStalledError` (blocks already stored stay, so a re-run resumes). 30 s is three
 * {@link DEFAULT_PEER_IDLE_TIMEOUT_MS}: a want has timed out and been retried at every peer
 * before the fetch calls itself stalled (spec/tensorswap.md section 4, "Progress deadline").
 * Our own figure; `tensorswap get --timeout <seconds>` sets it.
 */
export const DEFAULT_FETCH_PROGRESS_TIMEOUT_MS = 30_000

/**
 * Back-off before the second redial attempt of a stalled fetch, in ms, doubled before each
 * later one (`dialWithRetry`); the attempts end when the second deadline does.
 */
export const DEFAULT_FETCH_REDIAL_BACKOFF_MS = 250

/**
 * Most redial attempts per peer of a stalled fetch (250 ms, 0.5 s, 1 s, ... apart: 12 attempts
 * span about 8.5 min of back-off, so the deadline, not the count, ends them in practice).
 */
export const DEFAULT_FETCH_REDIAL_ATTEMPTS = 12

/**
 * Longest wait between two prompt redials of a fetch whose last connected peer went away, ms:
 * the waits start at {@link DEFAULT_FETCH_REDIAL_BACKOFF_MS} and double up to this, each drawn
 * at random between half and all of it (jitter, so leechers of one seeder that restarts do
 * not redial in step). Our own figure: a restarted `serve` is back within a few seconds, and
 * the progress deadline bounds the whole (spec/tensorswap.md section 4, "Progress deadline").
 */
export const DEFAULT_FETCH_REDIAL_MAX_BACKOFF_MS = 4_000

/**
 * Most prompt redials after the last connected peer of a fetch went away, per loss (a block
 * arriving or a peer coming back starts a new count): 250 ms, 0.5, 1, 2, 4, 4, ... s apart
 * (before jitter), about 31 s in all, so the progress deadline usually ends them first.
 */
export const DEFAULT_FETCH_PROMPT_REDIALS = 10

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

/**
 * How often the exchange checks for timed-out wants, in ms. A want times out up to one interval
 * after its deadline, so this is under half of the shortest one, {@link DEFAULT_UNPROVEN_PEER_MIN_TIMEOUT_MS}:
 * with 1 s a block held by a silent provider moved after 1-2 s (1.8 s measured, the manifest of
 * a 256 MiB fetch: the whole fetch waited, bench/README.md "Hostile peers"). A tick walks the
 * want-list once (a few thousand entries at most) and flushes.
 */
export const DEFAULT_TICK_INTERVAL_MS = 100

/**
 * Smallest block whose delivery time is a throughput sample, bytes. A smaller block arrives
 * within a round trip: its time measures latency (the latency EWMA takes it), not bandwidth. A
 * ~300-byte root over a 28 ms round trip read as 10 kB/s, a thousandth of the prior
 * ({@link DEFAULT_PRIOR_THROUGHPUT_BYTES_PER_MS}), and made the seeder that had just delivered it
 * look slower than any stranger: the next block (the manifest, which the whole fetch waits for)
 * went to a provider that never answered. 64 KiB: the initial TCP/QUIC window on loopback-class
 * links. Ours.
 */
export const MIN_THROUGHPUT_SAMPLE_BYTES = 64 * 1024

/**
 * Shortest interval a throughput sample spans, ms: deliveries closer together than this are
 * summed into one sample (unless the last one leaves nothing outstanding at the peer). Blocks arrive in bursts (4 in one message; a seeder shared by six
 * leechers sends each a message every ~2 s), and one sample per block read a burst's last
 * blocks, a few ms apart, as hundreds of MB/s: the per-peer cap (throughput x
 * `DEFAULT_PEER_QUEUE_MS`) then let each leecher queue wants for 4 s at the seeder
 * (bench/README.md "Swarm"). 50 ms: a 1 MiB block on a 100 Mbit/s link takes 84 ms. Ours.
 */
export const MIN_THROUGHPUT_INTERVAL_MS = 50

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

/**
 * Link time one engine batch for a peer should take, ms: a peer whose data channel has a
 * measured rate gets batches of about this many bytes of it (at least one block, at most
 * {@link DEFAULT_ENGINE_BLOCKS_PER_BATCH}; `blocksForLink` in engine.ts). Six leechers sharing a
 * 100 Mbit/s seeder (~2 MB/s each) get one block per batch instead of 4 MiB messages that no
 * cancel can recall (bench/README.md "Swarm"); one leecher alone on that link gets 3; loopback,
 * where no rate is given, 4. Our figure.
 */
export const DEFAULT_ENGINE_BATCH_MS = 250

/**
 * Writes to a peer's data channel that carry one block each while its rate is unknown (engine.ts
 * `blocksForLink`): the first blocks of a fetch arrive one by one, and on a slow link the first
 * write already measures it; after them a link that still gives no rate is fast (loopback) and
 * gets full batches. Ours.
 */
export const ENGINE_FIRST_SINGLE_WRITES = 2

/**
 * Sends of a block handed out by the engine count against it for this long, ms: a peer's
 * queued want-blocks sent fewest times within it go first (engine.ts, "Swarm serving").
 */
export const DEFAULT_ENGINE_SENT_WINDOW_MS = 30_000

/** Most blocks whose recent sends the engine remembers (~100 bytes each). */
export const DEFAULT_ENGINE_SENT_MEMORY = 16_384

/** Most HAVE/DONT_HAVE answers in one engine batch (one small message). */
export const DEFAULT_ENGINE_PRESENCES_PER_BATCH = 256

/**
 * Most engine batches of one peer in progress at once: its next batch is read from the
 * blockstore while the previous one is written (they are written in order, each after the
 * previous one drained), so the data channel does not idle during reads. A slow reader holds
 * at most this many messages of ours. Ours (bench/README.md "Push": one batch at a time
 * served 10 MB at ~220 MB/s on loopback, the lane idle while each batch was read).
 */
export const DEFAULT_ENGINE_BATCHES_PER_PEER = 2

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
 * Time-boxes and retries of dials and exchange stream opens. They live with the dial helper
 * (`dialWithRetry`) in `@tensorswap/transport`: DEFAULT_STREAM_OPEN_TIMEOUT_MS (10 s, one
 * exchange stream open plus multistream-select), DEFAULT_DIAL_ATTEMPT_TIMEOUT_MS (8 s, one
 * attempt to dial a peer given to `fetch`), DEFAULT_DIAL_ATTEMPTS (3).
 */
export { DEFAULT_STREAM_OPEN_TIMEOUT_MS, DEFAULT_DIAL_ATTEMPT_TIMEOUT_MS, DEFAULT_DIAL_ATTEMPTS } from '@tensorswap/transport'

/** Attempts to dial a peer given to `fetch`. @deprecated use `DEFAULT_DIAL_ATTEMPTS` (`@tensorswap/transport`) */
export { DEFAULT_DIAL_ATTEMPTS as DIAL_ATTEMPTS } from '@tensorswap/transport'

/**
 * Tit-for-tat: bytes served to a peer before its debt ratio is looked at (so new peers can
 * bootstrap), and the largest debt ratio still served.
 */
export const TIT_FOR_TAT_GRACE_BYTES = 64 * MiB
/** @see TIT_FOR_TAT_GRACE_BYTES */
export const TIT_FOR_TAT_MAX_RATIO = 2

/**
 * Blocks a session keeps handed out and not yet stored (its window in blocks; the byte bound is
 * {@link DEFAULT_MAX_BYTES_IN_FLIGHT}). Deep enough that the byte bound, not the count, limits
 * a fetch of 1 MiB blocks; small blocks (dag-pb interior nodes) still pipeline deeply. Our own figure.
 */
export const DEFAULT_MAX_WANTS_AHEAD = 1024

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
 * A serving batch is abandoned (its stream reset, the engine slot freed, the peer penalised
 * `slowReader`) when the peer has taken none of its bytes for this long, in ms: the stream's
 * write buffer did not shrink. Without it, a few peers that ask and never read hold every
 * engine slot forever. It follows progress, not the batch: a batch that takes 20 s on a slow
 * or shared link while its bytes keep leaving is honest and is waited for (a fixed 5 s per
 * batch got the slower leechers of a busy 100 Mbit/s seeder banned:
 * test/swarm/busy-seeder.test.ts). Under the fetchers' patience
 * ({@link DEFAULT_PEER_IDLE_TIMEOUT_MS}, Helia's 10 s receive timeout). Our own figure
 * (test/exchange/hostile.test.ts, 8 non-reading peers).
 */
export const DEFAULT_SEND_STALL_MS = 5_000

/**
 * Upper bound on the whole send of one serving batch of `bytes`, in ms, however its bytes
 * trickle: boxo's `sendTimeout` (bitswap/network: 2 s latency plus the time at 100 kbit/s,
 * clamped to 10 s .. 2 min), so a peer that reads just enough to look alive cannot hold an
 * engine slot for ever.
 *
 * @param bytes - encoded bytes of the batch
 * @returns the limit in ms, 10_000 .. 120_000
 */
export function sendTimeoutMs (bytes: number): number {
  const ms = SEND_LATENCY_MS + bytes * 1000 / MIN_SEND_RATE_BYTES_PER_S
  return Math.ceil(Math.min(MAX_SEND_TIMEOUT_MS, Math.max(MIN_SEND_TIMEOUT_MS, ms)))
}

/** boxo `sendLatency`: the latency allowed for in {@link sendTimeoutMs}, ms. */
export const SEND_LATENCY_MS = 2_000
/** boxo `minSendRate` (100 kbit/s): the slowest rate {@link sendTimeoutMs} allows, bytes/s. */
export const MIN_SEND_RATE_BYTES_PER_S = 12_500
/** boxo `minSendTimeout`, ms. */
export const MIN_SEND_TIMEOUT_MS = 10_000
/** boxo `maxSendTimeout`, ms. */
export const MAX_SEND_TIMEOUT_MS = 120_000

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

/**
 * When a peer's libp2p connection closes while something it sent is still being read (its bulk
 * lane, whose socket outlives the connection; frames a stream had buffered), that is read to its
 * end before the peer's wants move elsewhere: a provider killed mid-fetch still delivers what
 * its sockets held (the kernel sends it, then FIN), and moving its wants at once fetched those
 * blocks twice (1-3 MiB of duplicates in 4 of 30 runs of test/swarm/multi-provider.test.ts).
 * The readers are given up (and the wants moved) once no byte arrived from the peer for this long, ms.
 */
export const DEFAULT_DEPARTURE_QUIET_MS = 500

/** ...and at the latest this long after the connection closed, ms: a peer that trickles bytes cannot hold its wants. */
export const DEFAULT_DEPARTURE_MAX_MS = 5_000

/** After a failed lane attempt to a peer, blocks use its streams and no lane is tried for this long, ms. */
export const DEFAULT_LANE_RETRY_MS = 60_000

/**
 * The want-block to a peer that opens a bulk lane to it (counted while connected). A DAG walk
 * asks for its root and first nodes first: the lane is opened when the bulk starts, so its TLS
 * handshake and certificate checks (~10 ms of CPU) do not delay the first block, and fetches of
 * a few blocks never open one.
 */
export const LANE_MIN_BLOCK_WANTS = 4

// --- content routing (src/routing/*, spec/tensorswap.md "Content routing") ---

/**
 * The Kademlia DHT protocol id we speak: the IPFS public DHT's ("Amino"), so provider records
 * interoperate with Kubo and Helia (specs.ipfs.tech/routing/kad-dht; `@libp2p/kad-dht` default).
 */
export const DHT_PROTOCOL = '/ipfs/kad/1.0.0'

/**
 * How often every root in the provided-roots record is provided again, ms. Kubo's
 * `Reprovider.Interval` default is 22 h, inside the 48 h validity of a provider record
 * (`@libp2p/kad-dht` `reprovide.validity`; go-libp2p-kad-dht `amino.DefaultProvideValidity`).
 */
export const DEFAULT_REPROVIDE_INTERVAL_MS = 22 * 60 * 60_000

/**
 * How long `get` (with no `--peer` that answers) and `providers` search the DHT for
 * providers before giving up, ms. A Kubo `routing findprovs` typically answers within a few
 * seconds on the public DHT; a LAN DHT answers in milliseconds.
 */
export const DEFAULT_FIND_PROVIDERS_TIMEOUT_MS = 30_000

/**
 * After the first provider is found, how much longer `get` keeps collecting providers
 * before the fetch starts, ms; the search also ends when the DHT query completes or
 * {@link DEFAULT_MAX_PROVIDERS} were found. Short: a fetch from one peer beats waiting.
 */
export const DEFAULT_PROVIDER_GRACE_MS = 1_000

/** Most providers `get` fetches from, and `providers` prints (Kubo `findprovs --num-providers` default: 20). */
export const DEFAULT_MAX_PROVIDERS = 20

/**
 * How long one dial round of a found provider or bootstrap peer may take, ms (all its
 * addresses, each at most half of it); after {@link DEFAULT_PROVIDER_DIAL_ATTEMPTS} failed rounds a
 * provider whose addresses are unreachable or garbage is skipped.
 */
export const DEFAULT_PROVIDER_DIAL_TIMEOUT_MS = 8_000

/**
 * How long `providers` waits for one already-connected peer to answer a want for the root
 * (the Bitswap probe that marks a provider `connected`), ms.
 */
export const DEFAULT_CONNECTED_PROBE_TIMEOUT_MS = 2_000

/** Datastore key prefix of the provided-roots record: `/tensorswap/routing/roots/<cid>`. */
export const PROVIDED_ROOTS_KEY_PREFIX = '/tensorswap/routing/roots/'

/**
 * Delay before `@libp2p/bootstrap` dials its list after start, ms (its default: 1000).
 * We dial at once: `get` waits for the DHT, so every millisecond shows.
 */
export const DEFAULT_BOOTSTRAP_DIAL_DELAY_MS = 0

/**
 * Delay before kad-dht's first self-query, ms (`initialQuerySelfInterval`; its default 1000).
 * Every DHT query waits for that first self-query, so the default cost each `get` and
 * `providers` about a second; the self-query itself waits until the routing table has a peer.
 */
export const DEFAULT_DHT_INITIAL_SELF_QUERY_DELAY_MS = 0

/**
 * Most time dialling the bootstrap list may take before a provider search goes on without it,
 * ms (kad-dht then waits, within the search's own budget, until its routing table has a peer).
 */
export const DEFAULT_BOOTSTRAP_WAIT_MS = 10_000

/**
 * The public IPFS bootstrap list (Kubo `config.DefaultBootstrapAddresses`, Helia's
 * `@helia/config` bootstrap list), named `amino` on the command line. Never dialled unless asked:
 * the default list is empty and no test uses it.
 */
export const AMINO_BOOTSTRAP: readonly string[] = Object.freeze([
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt',
  '/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ'
])

/** The name `--bootstrap amino` and `"bootstrap": ["amino"]` expand to {@link AMINO_BOOTSTRAP}. */
export const AMINO_BOOTSTRAP_NAME = 'amino'

/** Dial rounds per found provider or bootstrap peer (each round tries every address once). */
export const DEFAULT_PROVIDER_DIAL_ATTEMPTS = 2

/**
 * Back-off before dial round 2, ms; round n waits `base * 2^(n-2)`, times a uniform jitter
 * in [0.5, 1.5) so peers that failed together do not retry together. libp2p 3's dialer has no
 * jitter option; its reconnect back-off for `KEEP_ALIVE` peers is configured by
 * {@link DEFAULT_RECONNECT_RETRY_INTERVAL_MS} and {@link DEFAULT_RECONNECT_BACKOFF_FACTOR}.
 */
export const DEFAULT_PROVIDER_DIAL_BACKOFF_MS = 500

/**
 * libp2p `connectionManager.reconnectRetryInterval`: first wait before redialling a lost peer
 * tagged `KEEP_ALIVE` — kad-dht tags its closest peers so; bootstrap peers are not tagged (the
 * router redials them before each search and reprovide) — ms (libp2p default 1000).
 */
export const DEFAULT_RECONNECT_RETRY_INTERVAL_MS = 1_000

/** libp2p `connectionManager.reconnectBackoffFactor`: each further redial waits this many times longer (libp2p default 2). */
export const DEFAULT_RECONNECT_BACKOFF_FACTOR = 2

/** libp2p `connectionManager.reconnectRetries`: redials of a lost `KEEP_ALIVE` peer (libp2p default 5). */
export const DEFAULT_RECONNECT_RETRIES = 5

// ---------------------------------------------------------------------------------------------
// Peer health (src/health/, spec/tensorswap.md §10 "Peer health"). Seeds: AptosNet's health
// checker (ping every interval, disconnect after N consecutive failures), NeuroShard's peer
// scores (RTT and reliability combined into one number the scheduler uses).

/**
 * How often each connected peer is pinged (`/ipfs/ping/1.0.0`), ms. AptosNet's health checker
 * pings every 10 s (`ping_interval_ms`); 15 s keeps the pings of a 100-peer node under 7 a second.
 */
export const DEFAULT_HEALTH_PING_INTERVAL_MS = 15_000

/**
 * A ping not answered within this long counts as a failure, ms. AptosNet: `ping_timeout_ms`
 * 20 s; 10 s here, the {@link DEFAULT_PEER_IDLE_TIMEOUT_MS} after which wants fail over anyway
 * (a ping queued behind a full transfer on one TCP connection still answers well inside it).
 */
export const DEFAULT_HEALTH_PING_TIMEOUT_MS = 10_000

/**
 * A peer whose pings failed this many times in a row is disconnected. AptosNet:
 * `ping_failures_tolerated` 3 (disconnects on the 4th); ours disconnects on the 3rd: with the
 * interval above a silent peer is dropped after about 40 s.
 */
export const DEFAULT_HEALTH_MAX_FAILURES = 3

/** EWMA weight of the newest ping RTT sample, 0..1 (as the peer selector's {@link DEFAULT_EWMA_ALPHA}). */
export const DEFAULT_HEALTH_RTT_ALPHA = 0.3

/**
 * EWMA weight of the newest ping outcome in the success rate (1 success, 0 failure), 0..1: one
 * failure takes a perfect peer to 0.8, three in a row to about 0.5.
 */
export const DEFAULT_HEALTH_SUCCESS_ALPHA = 0.2

/**
 * RTT at which the health score's latency factor is 1/2, ms: `1 / (1 + rtt / ref)`. A busy
 * TCP connection queues pings behind megabytes of blocks, so the reference is generous and the
 * score is led by the success rate; latency proper is the peer selector's own estimate.
 */
export const DEFAULT_HEALTH_RTT_REFERENCE_MS = 1_000

/**
 * Lowest health factor the peer selector divides a peer's cost by: a peer with a score near 0
 * looks at most this many times slower (1 / 0.05 = 20x), never unusable (it may hold the only
 * copy of a block).
 */
export const MIN_HEALTH_FACTOR = 0.05

/** How often the node samples wire bytes per peer for `peers()` throughput and the status page plot, ms. */
export const DEFAULT_THROUGHPUT_SAMPLE_INTERVAL_MS = 1_000

/** Throughput is the bytes moved over the last this many ms (a sliding window of samples). */
export const DEFAULT_THROUGHPUT_WINDOW_MS = 5_000

/** Samples of the node-wide throughput kept for the status page's plot (one per sample interval: 5 minutes). */
export const DEFAULT_THROUGHPUT_HISTORY = 300

// ---------------------------------------------------------------------------------------------
// Bandwidth limits (src/rate-limit.ts `BandwidthLimiter`, spec/tensorswap.md §11): token buckets
// in bytes per second, off unless a limit is given (`--max-upload-rate` ...).

/**
 * Credit an idle byte bucket saves up, in ms at its rate: a node that was idle may send
 * 100 ms worth at once. Small, so a limit holds over short windows too; the bucket goes into
 * debt for a message larger than that (a 4 MiB message is let through and the next waits).
 */
export const DEFAULT_RATE_LIMIT_BURST_MS = 100

/** Smallest burst of a byte bucket, bytes (one 16 KiB TLS record's worth at very low rates). */
export const MIN_RATE_LIMIT_BURST_BYTES = 16 * KiB

/** Per-peer byte buckets kept before full (idle) ones are forgotten. */
export const MAX_IDLE_RATE_BUCKETS = 1024

// --- wire compression (src/wire/compression*.ts, spec/tensorswap.md §12) ---

/** Whether a node compresses blocks on the wire and accepts compressed ones: `'auto'` or `'off'` (`serve --wire-compression`). */
export const DEFAULT_WIRE_COMPRESSION = 'auto'

/**
 * zstd level of a compressed plane. Measured on the human-models float tensors (bench/README.md
 * "Wire compression"): level 1 reaches the ratio of level 3 (within 0.01) at about twice its speed.
 */
export const DEFAULT_ZSTD_LEVEL = 1

/**
 * Largest zstd window a received plane may need, log2 bytes: 2 MiB, the largest plane (a block
 * is at most {@link DEFAULT_MAX_BLOCK_BYTES}). A frame asking for more is refused before it is
 * decoded, so a peer cannot make us allocate a large window.
 */
export const ZSTD_WINDOW_LOG_MAX = 21

/**
 * A block is sent compressed only when its compressed size is at most this fraction of its
 * length (and the estimate before compressing says the same): below 5% the receiver's work
 * is not worth it. Ours.
 */
export const COMPRESSION_MAX_RATIO = 0.95

/** A plane whose estimated ratio is above this is stored, not given to zstd (random bytes: mantissas). Ours. */
export const PLANE_STORE_RATIO = 0.97

/** Blocks shorter than this are never compressed, bytes (the headers and DAG nodes of a model). */
export const MIN_COMPRESS_BLOCK_BYTES = 4 * KiB

/**
 * Compressor speed assumed before one was measured, raw bytes per ms (100 MB/s): below the
 * 120-330 MB/s measured for byte planes + zstd level 1 on this machine (bench/README.md), so
 * a fast link is never compressed on a guess.
 */
export const DEFAULT_PRIOR_COMPRESS_BYTES_PER_MS = 100_000

/**
 * Wire compression is off while this process's main thread waits for a CPU more than this
 * share of its runnable time (`wire/cpu-wait.ts`, Linux `/proc/self/schedstat`): on an
 * oversubscribed machine compressing (and the peer's decompressing) takes CPU the exchange is
 * waiting for. One leecher and its seeder on 2 cores waited 0.13; six leechers and their
 * seeder on 2 cores 0.74-0.75, where wire compression off cut the leechers' CPU by 15 % and
 * the seeder's by 25 % (bench/README.md, stop 31). Ours.
 */
export const COMPRESS_MAX_CPU_WAIT_SHARE = 0.5

/** Shortest interval between two reads of the run-queue counters (`wire/cpu-wait.ts`), ms. Ours. */
export const CPU_WAIT_SAMPLE_MS = 250

/**
 * The run-queue wait share (`wire/cpu-wait.ts`) is taken over at least this long, ms: three
 * `get`s starting next to a seeder on 2 cores (~0.6 CPU s each) oversubscribe it for about a
 * second, which turned compression off for the first blocks of a 20 Mbit/s fetch when the
 * share was taken over 250 ms (test/compression/negotiation.test.ts, CI). Ours.
 */
export const CPU_WAIT_WINDOW_MS = 2_000

/**
 * The share of the time per byte the compressor may take: a block is compressed only when
 * compressing it takes at most this share of the time its plain bytes would take on the link,
 * so the compressor (which runs on the event loop between the writes, while the socket buffer
 * drains) never becomes the bottleneck. Ours.
 */
export const COMPRESSOR_TIME_SHARE = 0.5

/**
 * Weight the past keeps in the measured compressor speed per MiB compressed since: the speed is
 * (decayed sum of raw bytes compressed) / (decayed sum of the compressor's own work on them,
 * ms), decayed by bytes, not by batch, so twenty batches of one small block do not erase the
 * history, and one block slowed by a pause (49 KB in 10.4 ms, measured on a 100 Mbit/s link;
 * its neighbours took 0.3 ms) weighs by its bytes. Ours.
 */
export const COMPRESS_SPEED_DECAY = 0.8

/**
 * The prior compressor speed weighs as this many raw bytes compressed at
 * {@link DEFAULT_PRIOR_COMPRESS_BYTES_PER_MS} (decayed like the bytes measured), so the first small block
 * (5 KB in 1.4 ms, zstd's set-up included: 3.7 MB/s) does not stand for the compressor alone.
 * Measured on a 100 Mbit/s link: that one block turned compression off for 2 s. Ours.
 */
export const COMPRESS_PRIOR_WEIGHT_BYTES = 1024 * KiB

/**
 * A measured compressor speed not refreshed for this long is replaced by the prior
 * ({@link DEFAULT_PRIOR_COMPRESS_BYTES_PER_MS}), ms. Only compressing measures the speed, so one
 * slow measurement (a core taken by another process) would turn compression off for the rest
 * of a transfer; at worst one batch every 2 s is compressed where it does not pay. Ours.
 */
export const COMPRESS_SPEED_MAX_AGE_MS = 2_000

/**
 * Link rate (`wire/link-rate.ts`): a data write that starts more than this after the previous
 * one drained opens a new busy period, ms. Measured on a 100 Mbit/s link (bench/README.md),
 * the seeder's writes follow each other after 0.2-10 ms (preparing the next message), while
 * the socket buffer and tbf's 50 ms queue keep the link busy; a longer gap may have let it
 * idle. Ours.
 */
export const LINK_BUSY_GAP_MS = 10

/**
 * Link rate: busy periods shorter than this do not count, and no rate is given until this much
 * busy time was measured, ms. Short periods are the ones a socket buffer swallows whole. Ours.
 */
export const LINK_MIN_PERIOD_MS = 50

/** Link rate: weight the past busy periods keep at each closed one (sums of bytes and of ms). Ours. */
export const LINK_PERIOD_DECAY = 0.5

/**
 * Link rate: a rate is given only while the writes spend at least this share of the busy time
 * waiting for their drain. Below it the sender sets the pace, not the link: compressing would
 * only take time from a sender that has none to spare. Measured (bench/README.md): 0.68-0.95
 * on a 100 Mbit/s link once its queue is full, 0.17-0.46 on loopback (2 cores, loaded). Ours.
 */
export const LINK_MIN_BLOCKED_SHARE = 0.6

/**
 * Most bytes the compressed blocks of one message may decompress to: twice the message cap
 * (8 MiB), which a batch of {@link DEFAULT_ENGINE_BLOCKS_PER_BATCH} blocks of 2 MiB fits.
 * A message declaring more is refused whole (`MessageTooLargeError`) before anything is
 * decompressed; the sender splits its messages to respect it.
 */
export const DEFAULT_MAX_INFLATED_MESSAGE_BYTES = 2 * DEFAULT_MAX_MESSAGE_BYTES

// --- swarm sessions (spec/tensorswap.md §9 "Swarm sessions") --------------------------------

/**
 * Per-peer in-flight target, ms of that peer's measured throughput: a peer is given at most
 * `throughput x this` bytes of want-blocks (clamped to {@link DEFAULT_MIN_PEER_BYTES_IN_FLIGHT}
 * .. {@link DEFAULT_MAX_PEER_BYTES_IN_FLIGHT}), so a slow or shared peer (a busy seeder) holds
 * a short queue and the rest of the wants stay free for whichever peer says HAVE first.
 */
export const DEFAULT_PEER_QUEUE_MS = 1_000

/**
 * Refill hysteresis of the per-peer in-flight caps: a peer with wants outstanding is given new
 * ones only once at least this fraction of its byte cap and of its want cap is free, and then
 * filled up to the caps in one want-list message. Without it every message of blocks that
 * arrived freed room for a few wants and one want-list message went back per message of
 * blocks: a fetch of the human-models set (4,995 blocks of ~35 KB) sent ~2,900 want-list
 * messages in 1.6 s, over the seeder's inbound limit
 * ({@link DEFAULT_INBOUND_MESSAGES_PER_SECOND}), which dropped them and banned the fetcher.
 * A quarter leaves three quarters of the cap queued at the peer while the next wants travel;
 * for 1 MiB blocks and the 4 MiB floor it is one block, as before. Our own figure
 * (bench/README.md, "The model-shaped store").
 */
export const DEFAULT_PEER_REFILL_FRACTION = 0.25

/** The floor of the adaptive per-peer in-flight cap ({@link DEFAULT_PEER_QUEUE_MS}), bytes: 4 blocks of 1 MiB. */
export const DEFAULT_MIN_PEER_BYTES_IN_FLIGHT = 4 * MiB

/**
 * In a swarm session every want is first asked as a want-have of every session peer; it is
 * given (as a want-block) only to a peer that said HAVE; when nobody said HAVE this long after
 * it was made, ms, peers that did not answer are asked too (at the selector's doubled cost for
 * unknown presence). While some peer said HAVE they are not: in a swarm a silent leecher most
 * likely lacks the block, and the most advanced leecher sat its wants out at such peers for
 * the unproven-peer timeout, over and over (bench/README.md "Swarm").
 */
export const DEFAULT_HAVE_WAIT_MS = 1_000

/**
 * Priority jitter of a swarm session, in wants: each want's wire priority is lowered by a random
 * 0..this-1 positions, so leechers that start together ask a busy seeder for different blocks
 * first and have something to trade (BitTorrent's random first pieces). Order stays the
 * computation order at this granularity.
 */
export const DEFAULT_SWARM_PRIORITY_JITTER = 64

/**
 * A swarm session searches the DHT for more providers again at most this long after a search
 * pass ended, ms (the longest wait; see {@link DEFAULT_SESSION_FIRST_REQUERY_MS}).
 */
export const DEFAULT_SESSION_REQUERY_MS = 2_000

/**
 * The first wait between two provider-search passes of a swarm session, ms; each next wait
 * doubles, up to {@link DEFAULT_SESSION_REQUERY_MS}. Leechers that start together provide the
 * root ~0.4 s in: with a fixed 2 s wait (and passes that waited for the dials of stale
 * records) six leechers found each other 4-6 s into a 12 s fetch (bench/README.md "Swarm").
 * Our figure: a pass against a small DHT is one query of a few RPCs.
 */
export const DEFAULT_SESSION_FIRST_REQUERY_MS = 250

/**
 * A provider from the DHT whose dial failed is not dialled again by the same swarm session for
 * this long, ms, doubled after each further failure (a stale record of a leecher that left costs
 * two dial rounds per pass otherwise).
 */
export const DEFAULT_PROVIDER_RETRY_MS = 10_000

/**
 * While a fetch runs with a provider already known, each later provider-search pass is cut
 * after this long, ms, so the next pass (which finds leechers that provided the root meanwhile)
 * is not held by a query waiting on slow peers: in test/swarm/leechers.test.ts six leechers
 * found each other 19 s into a 24 s fetch when the first pass ran to its end.
 */
export const DEFAULT_SESSION_PASS_MS = 3_000

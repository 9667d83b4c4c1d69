/**
 * Limits and fixed header values of the HTTP gateway, each citing where it comes from.
 *
 * @module
 */

/** `Cache-Control` of every immutable `/ipfs/` response (path-gateway spec, "Cache-Control (response header)"). */
export const CACHE_CONTROL_IMMUTABLE = 'public, max-age=29030400, immutable'

/** Media type of a single raw block (IANA `application/vnd.ipld.raw`, trustless-gateway spec). */
export const MEDIA_TYPE_RAW = 'application/vnd.ipld.raw'

/** Media type of a CAR stream (IANA `application/vnd.ipld.car`, trustless-gateway spec). */
export const MEDIA_TYPE_CAR = 'application/vnd.ipld.car'

/**
 * How long a request waits for `fetchMissing` to bring one missing block from peers before
 * answering 504, in ms. Kubo's gateway has no per-block timeout (it relies on the client); one
 * minute matches the order of magnitude of Kubo's `Gateway.RetrievalTimeout` (30 s) with room
 * for a cold DHT lookup.
 */
export const DEFAULT_FETCH_TIMEOUT_MS = 60_000

/** `Retry-After` seconds sent with 502/504 (path-gateway spec: those responses SHOULD carry it). */
export const RETRY_AFTER_SECONDS = 60

/**
 * Most responses the gateway serves at once (`/metrics` excluded); one more is answered 503
 * with `Retry-After: BUSY_RETRY_AFTER_SECONDS` before any block is read. Each response holds
 * at most a socket buffer and one block (back-pressured writes), and a missing block may wait
 * `DEFAULT_FETCH_TIMEOUT_MS` on peers, so this bounds memory and the exchange wants the
 * gateway can create. Ours: Kubo's gateway has no such cap (it relies on the Go HTTP server's
 * goroutines). 1024: a block-fetching client such as Helia's trustless-gateway broker asks
 * for many blocks at once and treats a 503 as "this gateway cannot serve it" (with 64 the Helia
 * interop test failed); 1024 responses of at most one block each stay within ~1 GiB.
 */
export const DEFAULT_MAX_CONCURRENT_RESPONSES = 1024

/**
 * Most responses one client (one IP address) is served at once; its next requests wait for one
 * of them to end (at most {@link DEFAULT_CLIENT_QUEUE_WAIT_MS}, then 503), so they read no
 * block and write no byte meanwhile. What it bounds is what a slow reader costs before the
 * floor ({@link DEFAULT_MIN_CLIENT_BYTES_PER_SECOND}) can cut it: every response's socket takes
 * megabytes into the kernel's buffers at once (here ~5 MB each, the sender's 4 MiB `tcp_wmem`
 * and the reader's autotuned window), so 200 readers at 1 KiB/s from one host made the
 * gateway write ~1 GB in their first seconds, and its `writev` took 11 % of a seeder's CPU
 * while an honest peer fetched 256 MiB beside it (bench/README.md, stop 28). 16 is above
 * what a browser opens to one host (6 HTTP/1.1 connections) and what curl or `ipfs-car`
 * use; Helia's trustless-gateway broker asks for many blocks at once, and its extra requests
 * wait here for milliseconds instead of being refused. Ours (nginx `limit_conn` is the same
 * idea, answering 503 without a queue).
 */
export const DEFAULT_MAX_RESPONSES_PER_CLIENT = 16

/**
 * Longest a request waits for one of its client's response slots
 * ({@link DEFAULT_MAX_RESPONSES_PER_CLIENT}) before it is answered 503 with `Retry-After`, ms.
 * A client's own responses on loopback end in milliseconds; one that keeps every slot busy for
 * 10 s is either fetching missing blocks from peers or not reading. Ours.
 */
export const DEFAULT_CLIENT_QUEUE_WAIT_MS = 10_000

/**
 * Most requests of one client waiting for a response slot; one more is answered 503 at once.
 * Ours: as many as {@link DEFAULT_MAX_CONCURRENT_RESPONSES} served, so one client's queue holds
 * no more sockets than the gateway serves.
 */
export const DEFAULT_MAX_QUEUED_PER_CLIENT = 1024

/**
 * Slowest a client may take a response, bytes per second, measured over the time the response
 * waits on the client (its socket buffer full): a leaky bucket holding
 * {@link DEFAULT_SEND_GRACE_MS}, drained by every millisecond of waiting and refilled by every
 * byte the client takes at this rate (`SendFloor` in server.ts). A client that falls the grace
 * behind it is cut off (the connection reset, the walk stopped, logged under
 * `tensorswap:gateway:server`, counted in `tensorswap_gateway_slow_clients_total`), so 200
 * readers taking 1 KiB/s each are cut ~46 s after they first make the gateway wait, instead of
 * holding a block apiece in memory and a response slot for the hours their response takes
 * them (test/gateway/slow-readers.test.ts). 64 KiB/s (512 kbit/s) is five times boxo's
 * 100 kbit/s floor for a Bitswap send (`sendTimeout`): a gateway response is a download, a
 * client below it would take days for a model. Ours; nginx's `send_timeout` (60 s between two
 * writes) is the same idea without a rate.
 */
export const DEFAULT_MIN_CLIENT_BYTES_PER_SECOND = 64 * 1024

/**
 * Slack of the rate floor (see {@link DEFAULT_MIN_CLIENT_BYTES_PER_SECOND}), ms: how far in
 * all a client may fall behind the floor before it is cut off; never more is saved up. It must
 * cover the longest time a client at the floor shows no progress to this process, and that is
 * set by the kernel and the block being written, not the client: once a socket's send buffer
 * is full, Linux reports it writable again only when about a third of it is free
 * (`sk_stream_write_space`), and the buffer autotunes up to `net.ipv4.tcp_wmem` max (4 MiB by
 * default), so progress arrives in steps of ~1.5 MiB (measured on loopback: 1.6 MiB every 6.5 s
 * for a client at 256 KiB/s); at a client's first stall the whole block being written (1 MiB)
 * waits in this process too (later ones are written in slices, {@link SLICE_AFTER_WAIT_MS}).
 * ~2.5 MiB is ~40 s at 64 KiB/s: 45 s covers it (with a 5 s grace a client at 4x the floor was
 * cut; a host with a larger `tcp_wmem` needs a larger grace or floor). boxo's `sendLatency` is
 * 2 s, for messages, not a stream through a kernel buffer.
 */
export const DEFAULT_SEND_GRACE_MS = 45_000

/**
 * Largest single write of a response body to a slow client's socket, bytes (see
 * {@link SLICE_AFTER_WAIT_MS}): a block (up to 1 MiB, more for a raw block) is written in slices
 * of this size, each after the previous one left this process. Node counts a write as sent only when all of it reached the kernel, so
 * the slow-client floor ({@link DEFAULT_MIN_CLIENT_BYTES_PER_SECOND}) sees a client's progress
 * in steps of one write on top of the kernel's own (see {@link DEFAULT_SEND_GRACE_MS}): a whole
 * 1 MiB block adds 16 s at the floor to the ~25 s of the kernel's step, a slice 1 s. 64 KiB is
 * also Node's default stream high-water mark. Ours.
 */
export const RESPONSE_WRITE_SLICE_BYTES = 64 * 1024

/**
 * A response is written in {@link RESPONSE_WRITE_SLICE_BYTES} slices only after a wait on its
 * client lasted longer than this, ms (and in whole blocks again after a shorter one): a client
 * that keeps a block waiting for a second is under 1 MiB/s, where slices cost nothing that
 * matters. Slicing every response cost a third of the gateway's CAR throughput on loopback
 * (bench gateway/car-curl, 3 runs each, same hour: 387 MB/s sliced, 554 whole, 632 with this
 * threshold); at 100 ms curl still got slices part of the time (444 MB/s). Ours.
 */
export const SLICE_AFTER_WAIT_MS = 1_000

/**
 * Bytes of recently verified blocks the gateway keeps for its responses (`VerifiedBlockCache`
 * in blocks.ts; option `verifiedBlockCacheBytes`, 0 turns it off): 16 blocks of 1 MiB, so
 * readers that start one DAG together (a CAR each, or 200 slow ones) read and hash each block
 * once. Ours (Kubo's gateway reads through the blockstore's ARC cache of blocks, not bytes).
 */
export const DEFAULT_VERIFIED_BLOCK_CACHE_BYTES = 16 * 1024 * 1024

/** `Retry-After` seconds sent with a 503 for too many concurrent responses: short, the overload passes with the responses in flight. Ours. */
export const BUSY_RETRY_AFTER_SECONDS = 1

/**
 * Most path segments after the CID. Same bound as the model package's `MAX_DAG_DEPTH` (64),
 * which also bounds the HAMT and file depth its UnixFS reader walks: no TensorSwap DAG is
 * deeper, and it bounds the work a hostile URL can cause.
 */
export const MAX_PATH_SEGMENTS = 64

/**
 * Most entries rendered in a directory or manifest listing; the rest are summarised in one
 * line. Listings are the only responses built in memory, so they need a bound. Matches the
 * largest flat directory the model importer writes (far under `MAX_FLAT_DIRECTORY_BYTES`).
 */
export const MAX_LISTING_ENTRIES = 10_000

/**
 * Version of the generated listing HTML, part of its `Etag` (path-gateway spec: "the etag
 * returned with HTTP response should be based on the version of gateway implementation").
 */
export const DIR_INDEX_VERSION = 'tensorswap-1'

/**
 * HAMT fanout bound accepted when walking sharded directories (UnixFS spec: a power of two;
 * ipfs-unixfs caps at 1024). Defined by the UnixFS reader in `@tensorswap/model`.
 */
export { MAX_HAMT_FANOUT } from '@tensorswap/model'

/** Label values of the `route` metric label. */
export const ROUTES = ['ipfs', 'metrics', 'status', 'other'] as const

/** Path of the status JSON (spec/gateway.md "Status"); the page itself is at `/`. */
export const STATUS_API_PATH = '/api/v0/status'

/** Most roots listed by the status endpoint (the rest are left out). */
export const MAX_STATUS_ROOTS = 100

/** Most tensors listed per root by the status endpoint (`tensorsOmitted` counts the rest). */
export const MAX_STATUS_TENSORS_PER_ROOT = 5_000

/** How often the status page polls {@link STATUS_API_PATH}, ms. */
export const STATUS_POLL_MS = 1_000

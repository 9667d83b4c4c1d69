/**
 * Transport limits and tuning defaults. Every number cites where it comes from; the
 * figures quoted are from `bench/README.md` (loopback, 2 cores, Node 24).
 *
 * @module
 */

/** 1 KiB in bytes. */
const KiB = 1024
/** 1 MiB in bytes. */
const MiB = 1024 * KiB

// Frame limits (DEFAULT_MAX_FRAME_BYTES, MAX_FRAME_BYTES, MAX_VARINT_BYTES,
// DEFAULT_READ_HIGH_WATER_BYTES) live with the framing in `@tensorswap/transport` and are
// re-exported by `./index.ts`.

/**
 * yamux initial per-stream window, in bytes. 256 KiB is the spec's fixed initial window
 * (hashicorp/yamux spec.md "initial window size"); a larger value is rejected by peers
 * that follow the spec, so we keep it and let the window grow via `maxStreamWindowSize`.
 */
export const DEFAULT_YAMUX_INITIAL_STREAM_WINDOW = 256 * KiB

/**
 * yamux maximum per-stream receive window, in bytes. @chainsafe/libp2p-yamux defaults to
 * 16 MiB; measured in bench/README.md (yamux window sweep).
 */
export const DEFAULT_YAMUX_MAX_STREAM_WINDOW = 16 * MiB

/**
 * yamux maximum data frame payload, in bytes. @chainsafe/libp2p-yamux defaults to 64 KiB;
 * measured in bench/README.md (yamux maxMessageSize sweep).
 */
export const DEFAULT_YAMUX_MAX_MESSAGE_SIZE = 64 * KiB

/**
 * QUIC per-stream receive window (quinn `stream_receive_window`), in bytes.
 * @chainsafe/libp2p-quic defaults to 10 MB; measured in bench/README.md.
 */
export const DEFAULT_QUIC_MAX_STREAM_DATA = 10_000_000

/**
 * QUIC per-connection receive window (quinn `receive_window`), in bytes.
 * @chainsafe/libp2p-quic defaults to 15 MB; measured in bench/README.md.
 */
export const DEFAULT_QUIC_MAX_CONNECTION_DATA = 15_000_000

/**
 * Maximum concurrent bidirectional QUIC streams per connection the remote may open.
 * @chainsafe/libp2p-quic default (256); matches yamux's inbound stream budget order.
 */
export const DEFAULT_QUIC_MAX_CONCURRENT_STREAMS = 256

/**
 * QUIC keep-alive interval, in ms. @chainsafe/libp2p-quic default (5 s), half of its
 * 10 s idle timeout so an idle but wanted connection is never dropped.
 */
export const DEFAULT_QUIC_KEEPALIVE_MS = 5_000

/**
 * QUIC idle timeout, in ms (@chainsafe/libp2p-quic default, 10 s).
 */
export const DEFAULT_QUIC_MAX_IDLE_TIMEOUT_MS = 10_000

/**
 * Default maximum connections held by the connection manager. libp2p 3's own default
 * is 300; a model seeder serves many leechers, we keep libp2p's figure.
 */
export const DEFAULT_MAX_CONNECTIONS = 300

/**
 * Inbound connections still being upgraded (encryption, muxer negotiation) at once; more are
 * refused. libp2p's `maxIncomingPendingConnections` default (`MAX_INCOMING_PENDING_CONNECTIONS`
 * = 10, `connection-manager/constants.defaults.js`), set explicitly so it is documented.
 */
export const DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS = 10

/**
 * Inbound connections from one host (IP address) still being upgraded at once; more from that
 * host are refused (`inbound-gate.ts`). Ours: libp2p bounds pending upgrades only node-wide
 * ({@link DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS}), so one host sending nothing on 10 sockets
 * locked every peer out for the 10 s upgrade timeout (test/exchange/hostile-attacks.test.ts). An honest
 * host completes an upgrade in a few round trips; 4 leaves room for several peers behind one
 * NAT dialling at the same moment, and a refused dial is retried (`dialWithRetry`).
 */
export const DEFAULT_MAX_INCOMING_PENDING_PER_HOST = 4

/**
 * Inbound connections accepted per second from one host; more are refused. libp2p's
 * `inboundConnectionThreshold` default (`INBOUND_CONNECTION_THRESHOLD` = 5).
 */
export const DEFAULT_INBOUND_CONNECTION_THRESHOLD = 5

/**
 * Transports in the order {@link dialPreferred} tries them for bulk transfers, fastest
 * first. Set from the raw-stream measurements in bench/README.md.
 */
export const DEFAULT_TRANSPORT_PREFERENCE: ReadonlyArray<'quic' | 'tcp'> = Object.freeze(['quic', 'tcp'])

/**
 * Floor for a stream's `maxReadBufferLength` (bytes buffered while paused before the
 * stream is reset): `@libp2p/utils` default, 4 MiB. yamux streams get at least their max
 * window, since a paused yamux reader can still receive one whole window.
 */
export const DEFAULT_STREAM_MAX_READ_BUFFER = 4 * MiB

/**
 * UDP socket send/receive buffer for QUIC, bytes (@chainsafe/libp2p-quic default
 * 500 kB); measured in bench/README.md.
 */
export const DEFAULT_QUIC_UDP_BUFFER_BYTES = 500_000

/**
 * Concurrent outbound `/ipfs/ping/1.0.0` streams per connection (`@libp2p/ping`'s default is 1).
 * Two pingers share the protocol: libp2p's connection monitor (every 10 s; it aborts the
 * connection when its ping fails) and our health monitor (src/health/). With a cap of 1, a
 * monitor ping that fired while a health ping was open failed with
 * `TooManyOutboundProtocolStreamsError` and the monitor aborted a connection carrying a
 * transfer (a rate-limited 27.5 MB fetch stalled 30 s, test/status/rate-limit.test.ts). Ours:
 * both pingers with room for one slow ping each.
 */
export const DEFAULT_PING_MAX_OUTBOUND_STREAMS = 4

/**
 * Concurrent inbound `/ipfs/ping/1.0.0` streams per connection (`@libp2p/ping`'s default is 2):
 * the remote's two pingers (see {@link DEFAULT_PING_MAX_OUTBOUND_STREAMS}), each with one
 * slow ping outstanding, and no more (a ping stream is cheap but not free).
 */
export const DEFAULT_PING_MAX_INBOUND_STREAMS = 4

/**
 * How long libp2p's writes (peer store, kad-dht records) wait in the write-back cache before
 * they reach the repo's leveldb in one batch, ms (`transport/write-back-datastore.ts`; also
 * flushed at stop). A SIGKILL loses at most this much of peer records, which libp2p learns again.
 */
export const DEFAULT_WRITE_BACK_FLUSH_INTERVAL_MS = 1_000

/** libp2p records kept in memory by the write-back cache (clean ones beyond it are dropped, oldest first; pending ones never). */
export const DEFAULT_WRITE_BACK_MAX_ENTRIES = 4_096

/**
 * How long the dial filter (`dial-filter.ts`) uses our own listening addresses once read, ms,
 * before it reads them again (it also reads them again when libp2p says they changed). Reading
 * them (`libp2p.getMultiaddrs()`) lists the host's interfaces and classifies each address, and
 * the filter is asked about every address kad-dht's queries return.
 */
export const DIAL_FILTER_OWN_ADDRESSES_TTL_MS = 1_000

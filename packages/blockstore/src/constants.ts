/**
 * Limits and defaults of `@tensorswap/blockstore`, each with the source of its number.
 */

/**
 * Largest CAR section (varint-framed `CID || block`) accepted on import, in bytes.
 * Mirrors go-car's `DefaultMaxAllowedSectionSize = 8 << 20` (v2/internal/carv1/car.go,
 * re-exported from v2/options.go: "Typically IPLD blocks should be under 2 MiB").
 */
export const MAX_CAR_SECTION_SIZE = 8 << 20

/**
 * Largest CARv1 header (the dag-cbor `{ version, roots }` map) accepted on import, in bytes.
 * Mirrors go-car's `DefaultMaxAllowedHeaderSize = 32 << 20` (v2/internal/carv1/car.go).
 */
export const MAX_CAR_HEADER_SIZE = 32 << 20

/**
 * Longest unsigned LEB128 varint accepted in a CAR, in bytes. 9 bytes carry 63 bits, the
 * limit of the multiformats unsigned-varint spec ("practical maximum of 9 bytes"); every
 * length we accept is far below 2^53 anyway.
 */
export const MAX_VARINT_BYTES = 9

/**
 * The CARv2 pragma: the 11 bytes that open every CARv2 file, a CARv1-style header
 * `varint(10) || dag-cbor({ version: 2 })` (CARv2 spec, "Pragma").
 */
export const CARV2_PRAGMA = Uint8Array.from([0x0a, 0xa1, 0x67, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x02])

/**
 * Size of the fixed CARv2 header that follows the pragma, in bytes: 16 bytes characteristics,
 * then data offset, data size and index offset as little-endian uint64 (CARv2 spec, "Header").
 */
export const CARV2_HEADER_SIZE = 40

/** Multicodec code of `raw` (multicodec table). */
export const CODEC_RAW = 0x55
/** Multicodec code of `dag-pb` (multicodec table). */
export const CODEC_DAG_PB = 0x70
/** Multicodec code of `dag-cbor` (multicodec table). */
export const CODEC_DAG_CBOR = 0x71
/** Multicodec code of `dag-json` (multicodec table). */
export const CODEC_DAG_JSON = 0x0129
/** Multihash code of `identity` (multicodec table). */
export const HASH_IDENTITY = 0x00
/** Multihash code of `sha2-256` (multicodec table). */
export const HASH_SHA2_256 = 0x12
/** Digest length of sha2-256, in bytes (FIPS 180-4). */
export const SHA2_256_DIGEST_LENGTH = 32
/** Multihash code of `sha2-512` (multicodec table). */
export const HASH_SHA2_512 = 0x13
/** Digest length of sha2-512, in bytes (FIPS 180-4). */
export const SHA2_512_DIGEST_LENGTH = 64

/**
 * Largest binary CID accepted from a peer (Bitswap want-lists, presences and block prefixes,
 * GraphSync links) or as the CID of a CAR section beyond its block, in bytes. boxo's
 * `MaximumAllowedCid` (boxo/verifcid: `binary.MaxVarintLen64*4 + MaximumHashLength` = 10*4 + 128):
 * four varints (version, codec, multihash code, digest length) and a digest of at most 128 bytes.
 */
export const MAX_CID_BYTES = 168

/**
 * How many block writes `FsBlockstore.putMany` keeps in flight. Each put ends in an fsync,
 * whose latency (not bandwidth) dominates small blocks; a handful in parallel hides it.
 * blockstore-fs uses 50; we keep fewer open files since 2 MiB blocks are buffered whole.
 */
export const DEFAULT_PUT_MANY_CONCURRENCY = 8

/**
 * Number of characters of the base32 key used as the shard directory name, taken just before the
 * last character: Kubo's flatfs default `/repo/flatfs/shard/v1/next-to-last/2`.
 */
export const DEFAULT_SHARD_PREFIX_LENGTH = 2

/** File extension of block files, as Kubo's flatfs and blockstore-fs. */
export const BLOCK_FILE_EXTENSION = '.data'

/** Name of the file recording the shard function at the blockstore root, as Kubo's flatfs. */
export const SHARDING_FILE = 'SHARDING'

/** Environment variable that overrides the default repo path. */
export const REPO_PATH_ENV = 'TENSORSWAP_PATH'

/** Default repo directory name under the user's home directory. */
export const DEFAULT_REPO_DIRNAME = '.tensorswap'

/** Current version of `config.json`. */
export const REPO_CONFIG_VERSION = 1

/**
 * Default listen addresses: QUIC first, TCP fallback, any interface, ephemeral ports
 * (DESIGN.md, "Streams").
 */
export const DEFAULT_LISTEN_ADDRS: readonly string[] = Object.freeze(['/ip4/0.0.0.0/udp/0/quic-v1', '/ip4/0.0.0.0/tcp/0'])

/** File mode of the identity key: owner read/write only (as Kubo's and ssh's private keys). */
export const IDENTITY_KEY_MODE = 0o600

/** Name of the model-shaped store's directory in the repo (`ModelStore`). */
export const STORE_DIR = 'store'

/** Format of the model-shaped store (its index keys and values); recorded as `/store/version`. */
export const STORE_FORMAT_VERSION = 1

/**
 * The store commits (fdatasync of the files written, then one index batch) once this many bytes
 * were written since the last commit: 32 MiB, a few hundred ms of disk bandwidth, so a kill -9
 * loses at most that much work and commits stay rare next to the writes they cover.
 */
export const DEFAULT_STORE_BATCH_BYTES = 32 * 1024 * 1024

/** ... or once this many blocks were written since the last commit (small blocks: ~35 KB each). */
export const DEFAULT_STORE_BATCH_BLOCKS = 4096

/**
 * ... or this long after the first uncommitted write, ms: a slow fetch still becomes durable
 * several times a second, so a kill -9 never loses more than ~100 ms of it.
 */
export const DEFAULT_STORE_BATCH_MS = 100

/**
 * Most bytes one combined block write of the model store carries (adjacent blocks queued in one
 * turn of the event loop go out as one `pwritev`): 1 MiB, the largest leaf, so big blocks are
 * written alone as before.
 */
export const WRITE_RUN_BYTES = 1024 * 1024

/**
 * Bytes queued for one data file's combined writes that are written at once rather than at the
 * end of the event-loop turn (a fetch bounds the bytes of its puts in flight at 8 MiB).
 */
export const WRITE_QUEUE_BYTES = 8 * 1024 * 1024

/** Most blocks in one combined write (Linux `IOV_MAX` is 1024). */
export const WRITE_RUN_PARTS = 256

/** Data file handles the store keeps open at once (files being written or read stay open, past it for a moment). */
export const DEFAULT_STORE_OPEN_FILES = 64

/**
 * How long a data file's size/mtime check holds before reads check again, ms: a file edited
 * under a running node is noticed within a second.
 */
export const DEFAULT_STORE_RECHECK_MS = 1000

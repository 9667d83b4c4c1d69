/**
 * Limits and format parameters. Each number cites where it comes from.
 *
 * @module
 */

/** Leaf size: 1 MiB, the chunk size of Helia / `ipfs-car` / the `unixfs-v1-2025` profile. */
export const DEFAULT_CHUNK_SIZE = 1_048_576

/** Largest leaf we write: 1 MiB. Bitswap peers (boxo, Helia) reject blocks over 2 MiB. */
export const MAX_LEAF_SIZE = 1_048_576

/** Links per UnixFS file node: 1024, as `ipfs-unixfs-importer`'s `unixfs-v1-2025` profile. */
export const DEFAULT_MAX_CHILDREN_PER_NODE = 1024

/**
 * File bytes read per `read()` call while importing (4 MiB): big enough for sequential disk
 * throughput, small enough to keep import memory constant.
 */
export const DEFAULT_READ_SIZE = 4 * 1_048_576

/**
 * Files whose headers are read at once in the layout pass of an import (filesystem round
 * trips dominate for many small files; headers are small).
 */
export const DEFAULT_LAYOUT_CONCURRENCY = 16

/**
 * Files streamed at once in the write pass of an import (each holds one 4 MiB read buffer;
 * `ipfs-unixfs-importer` imports 50 files at once, we keep memory small).
 */
export const DEFAULT_FILE_CONCURRENCY = 4

/**
 * Files an export (`exportModel`, `get -o`) checks and finishes at once: each is a few
 * file-system round trips (its file nodes read, a stat, the leaves its data file lacks), which
 * one after another took ~0.4 s for the 83 files of the human-models set (bench/README.md,
 * stop 28). A file written by streaming holds one block at a time.
 */
export const DEFAULT_EXPORT_CONCURRENCY = 8

/**
 * `ipfs-unixfs-importer`'s `shardSplitThresholdBytes` (262144, `links-bytes` strategy): a
 * directory whose estimated node size exceeds it would be HAMT-sharded.
 */
export const MAX_FLAT_DIRECTORY_BYTES = 262_144

/** Safetensors header limit: 100,000,000 bytes, `MAX_HEADER_SIZE` in huggingface/safetensors. */
export const MAX_SAFETENSORS_HEADER_SIZE = 100_000_000

/** Largest tensor rank we accept in safetensors/TF.js headers (ONNX and PyTorch stop far below). */
export const MAX_TENSOR_RANK = 64

/** GGUF: `GGML_MAX_DIMS` in ggml.h. */
export const MAX_GGUF_DIMS = 4

/** GGUF: default `general.alignment` (ggml docs/gguf.md, `GGUF_DEFAULT_ALIGNMENT`). */
export const DEFAULT_GGUF_ALIGNMENT = 32

/** GGUF: nesting depth of metadata arrays we follow (the spec allows arrays of arrays). */
export const MAX_GGUF_ARRAY_DEPTH = 8

/** Largest `model.json` we parse (64 MiB; the largest human-models graph is ~1 MB). */
export const MAX_TFJS_MODEL_JSON_SIZE = 64 * 1_048_576

/**
 * Largest manifest block (2,000,000 bytes): under the 2 MiB (2,097,152 bytes) block limit of
 * Bitswap peers (boxo, Helia), so any peer accepts it. About 50 GB of 1 MiB leaves.
 */
export const MAX_MANIFEST_SIZE = 2_000_000

/** Most tensors a manifest may list (bounds a peer's manifest; ~36 bytes per chunk CID alone). */
export const MAX_MANIFEST_TENSORS = 1_000_000

/** Longest tensor name / file path in a manifest (bytes of UTF-16 code units). */
export const MAX_MANIFEST_STRING = 65_536

/**
 * Deepest UnixFS DAG we walk on export/list. A balanced 1024-ary tree of 1 MiB leaves is
 * 4 levels deep at 1 PiB; trickle DAGs from other tools are deeper, 64 covers them.
 */
export const MAX_DAG_DEPTH = 64

/**
 * Largest HAMT fanout any UnixFS read accepts (list, export and the gateway's reads, all through
 * `hamtPad` in unixfs-read.ts); the fanout must also be a power of two. UnixFS spec,
 * HAMTShard: the fanout must be a power of two; boxo and ipfs-unixfs cap it at 1024.
 */
export const MAX_HAMT_FANOUT = 1024

/** Manifest `format` field value. */
export const MANIFEST_FORMAT = 'tensorswap-model'

/** Manifest `version` field value this code writes and reads. */
export const MANIFEST_VERSION = 1

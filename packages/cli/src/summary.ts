/**
 * The one `--json` scheme every command follows (packages/cli/README.md "JSON output"): the
 * same name means the same thing in every command's result.
 *
 * - `root`: the CID the command is about (added, listed, exported, fetched, put); `roots` only
 *   for `car import`, whose CAR may have several.
 * - `files`: always an array of {@link JsonFile} `{path, cid, bytes}`.
 * - `tensors`: always an array of {@link JsonTensor}.
 * - `bytes` / `blocks`: what the command moved (imported, fetched from the network, written
 *   into a CAR, read from a CAR); `blocks` counts distinct blocks.
 * - `blocksStored`: blocks newly written to the repo (not there before); `blocksLocal`: blocks
 *   already in the repo that were not fetched or written again.
 * - `seconds`: wall time of the command's work; `MBps`: `bytes / 1e6 / seconds` (1 MB = 1e6 B).
 * - `output`: the path written.
 */
import { listModel } from '@tensorswap/model'
import { emptyEntryCounts, type EntryCounts, type ExchangeStats } from 'tensorswap'
import type { BlockSource } from '@tensorswap/model'
import type { CID } from 'multiformats/cid'

/** One file of a model in a `--json` result. */
export interface JsonFile {
  /** Path relative to the model's root directory (`''` for a single-file root). */
  path: string
  /** The file's UnixFS CID. */
  cid: string
  /** File size, bytes. */
  bytes: number
}

/** One tensor in a `--json` result. */
export interface JsonTensor {
  name: string
  /** The file it lies in (`ls`, `add`) or the raw file it was written to (`get --tensors`). */
  file: string
  dtype: string
  shape: number[]
  /** Tensor size, bytes. */
  bytes: number
}

/** MB/s of `bytes` moved in `seconds` (1 MB = 1e6 bytes); 0 when nothing moved. */
export function megabytesPerSecond (bytes: number, seconds: number): number {
  return bytes === 0 ? 0 : bytes / 1e6 / Math.max(seconds, 1e-9)
}

/**
 * The files under `root` (a manifest, UnixFS directory or file) as {@link JsonFile}s.
 * @throws the errors of `listModel` (a missing block: NotFoundError; InvalidDagError)
 */
export async function jsonFiles (blockstore: BlockSource, root: CID): Promise<JsonFile[]> {
  const listing = await listModel(blockstore, root)
  return listing.files.map(f => ({ path: f.path, cid: f.cid.toString(), bytes: f.size }))
}

/** One direction of {@link MessageTotals}: frames, their bytes and their entries. */
export type MessageTally = { messages: number, bytes: number } & EntryCounts

/**
 * `get --json` `messages`: the exchange's messages (frames) sent and received during this
 * `get` (also `get --include`), over every peer and protocol (Bitswap, `/tensorswap/1.0.0`, the bulk lane), with
 * their bytes and entries (want-have, want-block, cancel, HAVE, DONT_HAVE, blocks and the
 * presence entries' protobuf bytes, `EntryCounts` of packages/tensorswap/src/network.ts).
 */
export interface MessageTotals { sent: MessageTally, received: MessageTally }

/** The exchange's wire counters summed over peers and protocols, `after` minus `before`. */
export function messagesSince (before: Pick<ExchangeStats, 'wire'>, after: Pick<ExchangeStats, 'wire'>): MessageTotals {
  const tally = (): MessageTally => ({ messages: 0, bytes: 0, ...emptyEntryCounts() })
  const out: MessageTotals = { sent: tally(), received: tally() }
  const add = (stats: Pick<ExchangeStats, 'wire'>, sign: 1 | -1): void => {
    for (const byProtocol of Object.values(stats.wire)) {
      for (const w of Object.values(byProtocol)) {
        out.sent.messages += sign * w.messagesSent
        out.sent.bytes += sign * w.bytesSent
        out.received.messages += sign * w.messagesReceived
        out.received.bytes += sign * w.bytesReceived
        for (const k of Object.keys(w.entriesSent) as Array<keyof EntryCounts>) {
          out.sent[k] += sign * w.entriesSent[k]
          out.received[k] += sign * w.entriesReceived[k]
        }
      }
    }
  }
  add(after, 1)
  add(before, -1)
  return out
}

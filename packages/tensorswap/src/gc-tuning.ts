/**
 * Garbage-collector tuning for processes that move bulk data through Buffers.
 *
 * V8 by default starts a full mark-compact whenever the memory held by ArrayBuffers (Node
 * Buffers: file reads, socket chunks, frames) has grown by a few MiB since the last one,
 * whatever the size of the JS heap. A TensorSwap transfer allocates ~1 MiB of Buffers per
 * 1 MiB block on each side, so a seeder ran a full GC every ~40 ms (trace: 32 mark-compacts
 * of a 22 MB heap per 256 MiB, 15–35 ms each) and spent 30–40 % of its CPU there.
 * V8's `--external-memory-accounted-in-global-limit` counts that memory in the heap's global
 * limit instead, so collections follow the usual heap-growth heuristics. Measured
 * (bench/README.md "Garbage collection", 256 MiB, TCP+TLS, 3 runs): 114 → 167 MB/s, seeder
 * 1.53 → 0.79 CPU s, fetcher 2.64 → 1.94 CPU s; the price is fetcher peak RSS 233 → ~300–330 MiB,
 * flat from 256 MiB to 1 GiB.
 *
 * A process-wide V8 flag is the embedding process's decision: the `tensorswap` CLI calls
 * {@link tuneGcForBulkTransfer} at start-up; libraries that embed `createTensorSwap` may call it
 * too (the flag is read when V8 decides whether to collect, so setting it after start-up works).
 *
 * @module
 */

import { setFlagsFromString } from 'node:v8'

/** The V8 flag {@link tuneGcForBulkTransfer} sets. */
export const BULK_TRANSFER_V8_FLAGS = '--external-memory-accounted-in-global-limit'

let tuned = false

/**
 * Set {@link BULK_TRANSFER_V8_FLAGS} for this process (idempotent). See the module comment for
 * what it changes and what it costs.
 *
 * @returns the flags that were set
 * @throws `Error` from `v8.setFlagsFromString` only if this Node's V8 lacks the flag (Node 24 has it)
 */
export function tuneGcForBulkTransfer (): string {
  if (!tuned) {
    setFlagsFromString(BULK_TRANSFER_V8_FLAGS)
    tuned = true
  }
  return BULK_TRANSFER_V8_FLAGS
}

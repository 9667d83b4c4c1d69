/**
 * Pins and garbage collection of a repo (`tensorswap pin add|rm|ls`, `tensorswap gc`): a pin is
 * a root whose whole DAG is kept; `gc` frees every stored block no pin reaches (Kubo's
 * recursive pins and `repo gc`). `add` and `get` pin their roots.
 *
 * Pins live in the repo's datastore under `/pins/<CID>` (value: JSON `{ "pinnedAt": ms }`).
 *
 * @module
 */

import { logger } from '@libp2p/logger'
import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import { HASH_IDENTITY } from './constants.js'
import { base32Key } from './block-key.js'
import { getVerifiedBlock } from './fs-blockstore.js'
import { links } from './links.js'
import type { ModelStore } from './model-store.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { Datastore } from 'interface-datastore'

const log = logger('tensorswap:blockstore:gc')

/** Datastore prefix of pins. */
export const PIN_PREFIX = '/pins/'

/** A pin: a root kept with everything below it. */
export interface Pin {
  cid: CID
  /** When it was pinned, ms since the epoch. */
  pinnedAt: number
}

/**
 * Pin `cid` (idempotent; the first `pinnedAt` stays).
 * @throws the datastore's errors
 */
export async function addPin (datastore: Datastore, cid: CID, options: AbortOptions = {}): Promise<void> {
  const key = new Key(PIN_PREFIX + cid.toString())
  if (await datastore.has(key, options)) return
  await datastore.put(key, new TextEncoder().encode(JSON.stringify({ pinnedAt: Date.now() })), options)
}

/**
 * Unpin `cid`.
 * @returns whether it was pinned
 */
export async function removePin (datastore: Datastore, cid: CID, options: AbortOptions = {}): Promise<boolean> {
  const key = new Key(PIN_PREFIX + cid.toString())
  if (!await datastore.has(key, options)) return false
  await datastore.delete(key, options)
  return true
}

/** Every pin, in key order. Entries whose key is not a CID are skipped (logged). */
export async function listPins (datastore: Datastore, options: AbortOptions = {}): Promise<Pin[]> {
  const out: Pin[] = []
  for await (const { key, value } of datastore.query({ prefix: PIN_PREFIX }, options)) {
    try {
      const cid = CID.parse(key.toString().slice(PIN_PREFIX.length))
      const { pinnedAt } = JSON.parse(new TextDecoder().decode(value)) as { pinnedAt: number }
      out.push({ cid, pinnedAt })
    } catch (err) {
      log.error('skipping pin entry %s - %e', key.toString(), err)
    }
  }
  return out
}

/** Options of {@link gc}. */
export interface GcOptions extends AbortOptions {
  /** Roots kept besides the pins (e.g. a fetch under way). */
  keep?: CID[]
}

/** What {@link gc} did. */
export interface GcResult {
  /** Blocks reachable from the pins (kept). */
  kept: number
  /** Blocks freed. */
  blocks: number
  /** Bytes of the freed blocks. */
  bytes: number
  /** Bytes of disk given back (owned data files removed, the small-block log compacted). */
  diskBytes: number
  /** Pinned blocks that are not stored (their DAG is incomplete; nothing below them is lost). */
  missing: CID[]
}

/**
 * Free every block of the repo's store that no pin (nor `options.keep`) reaches, then give the
 * space back ({@link ModelStore.compact}). Marking reads the non-raw blocks under the pins
 * (verified) to follow their links; raw leaves are not read. A pinned DAG with a block missing
 * keeps what is reachable and reports the missing CID.
 *
 * @param blockstore - the repo's blockstore (reads)
 * @param store - the repo's {@link ModelStore}
 * @param datastore - the repo's datastore (pins)
 * @throws UnsupportedCodecError - a pinned block of a codec whose links cannot be read
 * @throws AbortError - `options.signal` aborted (nothing is freed)
 */
export async function gc (blockstore: Pick<Blockstore, 'get' | 'has'>, store: ModelStore, datastore: Datastore, options: GcOptions = {}): Promise<GcResult> {
  const roots = [...(await listPins(datastore, options)).map(p => p.cid), ...(options.keep ?? [])]
  const live = new Set<string>()
  const missing: CID[] = []
  const stack = [...roots]
  while (stack.length > 0) {
    options.signal?.throwIfAborted()
    const cid = stack.pop() as CID
    if (cid.multihash.code === HASH_IDENTITY) continue
    const key = base32Key(cid.multihash.bytes)
    if (live.has(key)) continue
    if (!await blockstore.has(cid, options)) {
      missing.push(cid)
      continue
    }
    live.add(key)
    if (cid.code === 0x55) continue
    const bytes = await getVerifiedBlock(blockstore, cid, options)
    for (const child of links(cid, bytes)) stack.push(child)
  }
  options.signal?.throwIfAborted()
  const freed = await store.compact(key => live.has(key))
  log('gc: %d blocks kept, %d freed (%d bytes), %d disk bytes given back', live.size, freed.blocks, freed.bytes, freed.diskBytes)
  return { kept: live.size, ...freed, missing }
}

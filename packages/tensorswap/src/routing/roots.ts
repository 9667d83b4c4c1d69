/**
 * The provided-roots record: which DAG roots this repo announces on the DHT. One datastore
 * entry per top-level root (`/tensorswap/routing/roots/<cid>`), holding the manifest root and
 * every UnixFS root under it — Kubo's "roots" reprovide strategy, never one record per block.
 * Written by `add` and by a completed `get`; read by `serve` (provide on start and every
 * reprovide interval).
 *
 * @module
 */

import { logger } from '@libp2p/logger'
import { readManifest, walkUnixfs } from '@tensorswap/model'
import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import { PROVIDED_ROOTS_KEY_PREFIX } from '../constants.js'
import type { BlockSource } from '@tensorswap/model'
import type { Datastore } from 'interface-datastore'

const log = logger('tensorswap:routing:roots')

/** One entry of the record. */
export interface ProvidedRoot {
  /** The root a user added or fetched (a manifest, or a UnixFS file/directory). */
  root: CID
  /** What is provided for it: `root`, the manifest's `files` root, every file and directory under it. */
  cids: CID[]
  /** When it was recorded, epoch ms. */
  recordedAt: number
}

/**
 * The CIDs to provide for `root`: itself; when it is a TensorSwap manifest, its `files` root;
 * then every file and directory of the UnixFS tree (not their chunks). Blocks must be local.
 *
 * @param blockstore - where the DAG is
 * @param root - a manifest, UnixFS directory or file CID
 * @param options - `signal`
 * @returns distinct CIDs, `root` first
 * @throws the blockstore's `NotFoundError` when a directory block is missing; `signal.reason`
 */
export async function rootsOf (blockstore: BlockSource, root: CID, options: { signal?: AbortSignal } = {}): Promise<CID[]> {
  const out = new Map<string, CID>([[root.toString(), root]])
  let files = root
  try {
    files = (await readManifest(blockstore, root, options)).files
    out.set(files.toString(), files)
  } catch (err: any) {
    if (err?.name !== 'NotAManifestError') throw err
  }
  for await (const entry of walkUnixfs(blockstore, files, options)) {
    out.set(entry.cid.toString(), entry.cid)
  }
  return [...out.values()]
}

/**
 * Read/write access to the provided-roots record in a repo's datastore.
 */
export class ProvidedRoots {
  readonly #datastore: Datastore

  /** @param datastore - the repo's datastore */
  constructor (datastore: Datastore) {
    this.#datastore = datastore
  }

  /**
   * Record `root` and the CIDs to provide for it (replacing an earlier entry for it).
   *
   * @param root - the top-level root
   * @param cids - see {@link rootsOf}
   */
  async put (root: CID, cids: CID[], options: { signal?: AbortSignal } = {}): Promise<void> {
    const value = { root: root.toString(), cids: cids.map(c => c.toString()), recordedAt: Date.now() }
    await this.#datastore.put(new Key(PROVIDED_ROOTS_KEY_PREFIX + root.toString()), new TextEncoder().encode(JSON.stringify(value)), options)
  }

  /**
   * Every recorded entry. An entry that does not parse (a damaged datastore) is skipped with a
   * log line.
   */
  async list (options: { signal?: AbortSignal } = {}): Promise<ProvidedRoot[]> {
    const out: ProvidedRoot[] = []
    for await (const { key, value } of this.#datastore.query({ prefix: PROVIDED_ROOTS_KEY_PREFIX }, options)) {
      try {
        const v = JSON.parse(new TextDecoder().decode(value)) as { root: string, cids: string[], recordedAt: number }
        out.push({ root: CID.parse(v.root), cids: v.cids.map(c => CID.parse(c)), recordedAt: Number(v.recordedAt) })
      } catch (err) {
        log.error('skipping unreadable provided-roots entry %s - %e', key.toString(), err)
      }
    }
    return out
  }
}

/**
 * Compute {@link rootsOf} `root` and record it in the repo's provided-roots record.
 *
 * @returns the CIDs recorded
 * @throws as {@link rootsOf}; the datastore's errors
 */
export async function recordProvidedRoot (datastore: Datastore, blockstore: BlockSource, root: CID, options: { signal?: AbortSignal } = {}): Promise<CID[]> {
  const cids = await rootsOf(blockstore, root, options)
  await new ProvidedRoots(datastore).put(root, cids, options)
  log('recorded %c (%d CIDs to provide)', root, cids.length)
  return cids
}

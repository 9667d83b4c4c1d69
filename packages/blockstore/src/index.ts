/**
 * @packageDocumentation
 *
 * Storage for TensorSwap: a crash-safe, sharded filesystem blockstore (interface-blockstore v7),
 * the one block verifier (multihash table `HASHERS`: identity, sha2-256, sha2-512) with its error
 * family (`BlockVerificationError`), link extraction, the repo directory (blocks, datastore, config, identity
 * key) and streaming CAR import (CARv1/CARv2, every block verified before it is stored) and
 * export (CARv1, depth-first pre-order as the trustless gateway's `order=dfs`).
 *
 * @example
 * ```ts
 * import { openRepo, resolveRepoPath, importCarFile, exportCar } from '@tensorswap/blockstore'
 * import { createWriteStream } from 'node:fs'
 *
 * const repo = await openRepo(resolveRepoPath())
 * const { roots } = await importCarFile(repo.blockstore, 'model.car')
 * const out = createWriteStream('copy.car')
 * await exportCar(repo.blockstore, roots[0], out)
 * out.end()
 * await repo.close()
 * ```
 */

export { FsBlockstore, blockSize, getBlockUnverified, getVerifiedBlock } from './fs-blockstore.js'
export type { FsBlockstoreInit, SizedBlockstore } from './fs-blockstore.js'
export { HASHERS, canVerify, digestOf, cidOf, verifyBlock, hashBlock } from './verify.js'
export type { HashFunction } from './verify.js'
export { links } from './links.js'
export { resolveRepoPath, openRepo, defaultRepoConfig, validateRepoConfig, CONFIG_FILE, IDENTITY_KEY_FILE, BLOCKS_DIR, DATASTORE_DIR, RATE_LIMIT_CONFIG_KEYS, REPO_CONFIG_KEYS } from './repo.js'
export type { Repo, RepoConfig, OpenRepoOptions } from './repo.js'
export { importCar, importCarFile } from './car-import.js'
export type { ImportCarOptions, ImportCarResult, ImportCarProgressEvents } from './car-import.js'
export { exportCar, dagBlocks, carHeader, carSectionPrefix } from './car-export.js'
export type { CarSink, ExportCarOptions, ExportCarResult, ExportCarProgressEvents, DagBlock, DagBlocksOptions, DagBlockSource } from './car-export.js'
export { encodeVarint } from './varint.js'
export type { BlockOrigin, BlockProgressDetail } from './progress.js'
export * from './errors.js'
export * from './constants.js'
export { BoundedQueue, mapLimit } from './concurrency.js'
export { base32Key } from './block-key.js'
export type { BoundedQueueInit } from './concurrency.js'
export { ModelStore, SMALL_LOG_FILE, DATA_DIR } from './model-store.js'
export type { ModelStoreInit, DataFileRef, Placement, PlaceOptions, PlacementHints, BlockLocation, StoredRead, StoreDb } from './model-store.js'
export { RepoBlockstore } from './repo.js'
export { addPin, removePin, listPins, gc, PIN_PREFIX } from './pins.js'
export type { Pin, GcOptions, GcResult } from './pins.js'
export { verifyStore } from './verify-store.js'
export type { VerifyStoreOptions, VerifyStoreResult, VerifyStoreProgressEvents } from './verify-store.js'

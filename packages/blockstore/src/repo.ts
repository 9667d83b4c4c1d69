/**
 * The repo directory: blocks, datastore, config and the node's persisted identity key.
 */

import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { logger } from '@libp2p/logger'
import { IdentityBlockstore } from 'blockstore-core/identity'
import { LevelDatastore } from 'datastore-level'
import { Level } from 'level'
import { DEFAULT_LISTEN_ADDRS, DEFAULT_REPO_DIRNAME, HASH_IDENTITY, IDENTITY_KEY_MODE, REPO_CONFIG_VERSION, REPO_PATH_ENV, STORE_DIR } from './constants.js'
import { InvalidRepoConfigError, RepoLockedError, RepoNotFoundError } from './errors.js'
import { FsBlockstore } from './fs-blockstore.js'
import { ModelStore } from './model-store.js'
import { verifyBlock } from './verify.js'
import type { SizedBlockstore } from './fs-blockstore.js'
import type { BlockLocation, DataFileRef, ModelStoreInit, PlacementHints, PlaceOptions, StoredRead, StoreDb } from './model-store.js'
import type { AbortOptions, PrivateKey } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { Blockstore } from 'interface-blockstore'
import type { Datastore } from 'interface-datastore'

const log = logger('tensorswap:blockstore:repo')

/**
 * The repo's blockstore: blockstore-core's `IdentityBlockstore` over the {@link ModelStore}, with
 * the store's extras (`size`, placement hints, `flush`, locations).
 */
export class RepoBlockstore extends IdentityBlockstore implements SizedBlockstore {
  /** The store under the identity layer. */
  readonly store: ModelStore

  constructor (store: ModelStore) {
    super(store)
    this.store = store
  }

  /** {@link ModelStore.put} with its {@link PlaceOptions} (identity CIDs are not stored). */
  override put (cid: CID, bytes: Uint8Array, options?: PlaceOptions): any {
    return super.put(cid, bytes, options)
  }

  /** See {@link ModelStore.size}; an identity CID's block is its digest. */
  async size (cid: CID, options: AbortOptions = {}): Promise<number | undefined> {
    if (cid.multihash.code === HASH_IDENTITY) return cid.multihash.digest.byteLength
    return await this.store.size(cid, options)
  }

  /** See {@link ModelStore.addHints}. */
  addHints (hints: PlacementHints): () => void { return this.store.addHints(hints) }
  /** See {@link ModelStore.flush}. */
  async flush (): Promise<void> { await this.store.flush() }
  /** See {@link ModelStore.locate}. */
  locate (cid: CID): BlockLocation | undefined { return this.store.locate(cid) }
  /** See {@link ModelStore.dataFile}. */
  dataFile (id: number): { key: string, path: string, external: boolean } | undefined { return this.store.dataFile(id) }
  /** See {@link ModelStore.fileOf}. */
  fileOf (ref: DataFileRef): { id: number, path: string } | undefined { return this.store.fileOf(ref) }
  /** See {@link ModelStore.fill}. */
  async fill (ref: DataFileRef, offset: number, bytes: Uint8Array): Promise<void> { await this.store.fill(ref, offset, bytes) }
  /** See {@link ModelStore.finishFiles}. */
  async finishFiles (files: ReadonlyArray<{ ref: DataFileRef, size: number, to: string }>): Promise<void> { await this.store.finishFiles(files) }
  /** See {@link ModelStore.readStored}. */
  async readStored (cid: CID, options?: AbortOptions): Promise<StoredRead | undefined> { return await this.store.readStored(cid, options) }
}

/** Name of the config file in the repo. */
export const CONFIG_FILE = 'config.json'
/** Name of the identity key file in the repo. */
export const IDENTITY_KEY_FILE = 'identity.key'
/** Name of the blockstore directory in the repo. */
export const BLOCKS_DIR = 'blocks'
/** Name of the datastore (leveldb) directory in the repo. */
export const DATASTORE_DIR = 'datastore'

/** Contents of `config.json`. Unknown keys are rejected, so typos surface instead of being ignored. */
export interface RepoConfig {
  /** Config format version; always 1. */
  version: 1
  /** Multiaddrs to listen on. Default: QUIC and TCP on all IPv4 interfaces, ephemeral ports. */
  listen: string[]
  /** Listen address of the HTTP gateway (e.g. `'/ip4/127.0.0.1/tcp/8080'`); no gateway when absent. */
  gateway?: string
  /**
   * Bootstrap peers of the DHT (multiaddrs ending in `/p2p/<id>`, or `"amino"` for the public
   * IPFS list); `serve --bootstrap` adds to these. Default: none (the node dials nobody unasked).
   */
  bootstrap?: string[]
  /** Node-wide upload limit, bytes/s (>= 1); `--max-upload-rate` overrides it. Default: none. */
  maxUploadRate?: number
  /** Node-wide download limit, bytes/s (>= 1); `--max-download-rate` overrides it. Default: none. */
  maxDownloadRate?: number
  /** Upload limit to each peer, bytes/s (>= 1). Default: none. */
  maxUploadRatePerPeer?: number
  /** Download limit from each peer, bytes/s (>= 1). Default: none. */
  maxDownloadRatePerPeer?: number
  /** Peers whose pushes `serve` accepts (peer ids, or `"any"`); `--accept-push` adds to them. Default: none. */
  acceptPush?: string[]
}

/** The bandwidth limit keys of {@link RepoConfig} (bytes per second, each >= 1). */
export const RATE_LIMIT_CONFIG_KEYS = ['maxUploadRate', 'maxDownloadRate', 'maxUploadRatePerPeer', 'maxDownloadRatePerPeer'] as const

/** Every key `config.json` may hold. */
export const REPO_CONFIG_KEYS: readonly string[] = ['version', 'listen', 'gateway', 'bootstrap', ...RATE_LIMIT_CONFIG_KEYS, 'acceptPush']

/** Options of {@link openRepo}. */
export interface OpenRepoOptions {
  /** Abort opening (resources opened so far are closed). */
  signal?: AbortSignal
  /** Options for the repo's {@link ModelStore} (batching). */
  blockstore?: ModelStoreInit
  /** Config written when the repo has none yet (validated); defaults to {@link defaultRepoConfig}. */
  config?: RepoConfig
  /**
   * Create the repo when `repoPath` holds none (no `config.json`); `false` throws
   * `RepoNotFoundError` instead, so a mistyped path is not silently made a new repo.
   * @default true
   */
  create?: boolean
}

/** An open repo. Call `close()` to release the datastore lock. */
export interface Repo {
  /** Absolute repo path. */
  readonly path: string
  /**
   * Block storage: the model-shaped {@link ModelStore} at `<path>/store` (index in the datastore) behind blockstore-core's
   * `IdentityBlockstore`, as Helia does, so identity CIDs (multihash 0x00, the block is the digest)
   * are never written or asked for: `has` is always true, `get` yields the digest, `put` and
   * `delete` write nothing, `getAll` lists only stored blocks.
   */
  readonly blockstore: RepoBlockstore
  /** Key/value storage (ledger, peer store, pins), leveldb at `<path>/datastore`. Holds the repo lock. */
  readonly datastore: Datastore
  /** The current config (replaced by `saveConfig`). */
  readonly config: RepoConfig
  /** The node's Ed25519 identity, created on first open and reloaded afterwards. */
  readonly privateKey: PrivateKey
  /**
   * Validate and atomically write `config.json`, then make it `repo.config`.
   *
   * @throws InvalidRepoConfigError - `cfg` fails validation
   */
  saveConfig: (cfg: RepoConfig) => Promise<void>
  /** Close the blockstore and datastore (releasing the lock). Idempotent. */
  close: () => Promise<void>
}

/**
 * The repo path to use: `flag` if given, else `$TENSORSWAP_PATH`, else `~/.tensorswap`;
 * resolved to an absolute path (a leading `~/` is expanded to the home directory).
 *
 * @param flag - value of a `--repo` style flag
 */
export function resolveRepoPath (flag?: string): string {
  const env = process.env[REPO_PATH_ENV]
  const chosen = flag != null && flag !== ''
    ? flag
    : env != null && env !== '' ? env : path.join(os.homedir(), DEFAULT_REPO_DIRNAME)
  const expanded = chosen === '~' || chosen.startsWith('~/') ? path.join(os.homedir(), chosen.slice(1)) : chosen
  return path.resolve(expanded)
}

/** A fresh default config. */
export function defaultRepoConfig (): RepoConfig {
  return { version: REPO_CONFIG_VERSION, listen: [...DEFAULT_LISTEN_ADDRS] }
}

/**
 * Check that `value` is a valid {@link RepoConfig}.
 *
 * @param value - parsed JSON
 * @param file - file name used in the error message
 * @throws InvalidRepoConfigError - wrong version, wrong types or unknown keys (names `file`)
 */
export function validateRepoConfig (value: unknown, file: string = CONFIG_FILE): RepoConfig {
  const fail = (why: string): never => { throw new InvalidRepoConfigError(`invalid repo config ${file}: ${why}`, file) }
  if (value == null || typeof value !== 'object' || Array.isArray(value)) fail('expected a JSON object')
  const obj = value as Record<string, unknown>
  for (const key of Object.keys(obj)) {
    if (!REPO_CONFIG_KEYS.includes(key)) fail(`unknown key "${key}"`)
  }
  if (obj.version !== REPO_CONFIG_VERSION) fail(`"version" must be ${REPO_CONFIG_VERSION}, got ${JSON.stringify(obj.version)}`)
  if (!Array.isArray(obj.listen) || !obj.listen.every(a => typeof a === 'string' && a.startsWith('/'))) {
    fail('"listen" must be an array of multiaddr strings (each starting with "/")')
  }
  if (obj.gateway !== undefined && (typeof obj.gateway !== 'string' || obj.gateway === '')) fail('"gateway" must be a non-empty string when present')
  if (obj.bootstrap !== undefined && (!Array.isArray(obj.bootstrap) || !obj.bootstrap.every(a => typeof a === 'string' && (a.startsWith('/') || a === 'amino')))) {
    fail('"bootstrap" must be an array of multiaddr strings (each starting with "/") or "amino"')
  }
  for (const key of RATE_LIMIT_CONFIG_KEYS) {
    const v = obj[key]
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 1)) fail(`"${key}" must be a rate of at least 1 byte/s (a number), got ${JSON.stringify(v)}`)
  }
  if (obj.acceptPush !== undefined && (!Array.isArray(obj.acceptPush) || !obj.acceptPush.every(a => typeof a === 'string' && a !== ''))) {
    fail('"acceptPush" must be an array of peer id strings or "any"')
  }
  const cfg: RepoConfig = { version: REPO_CONFIG_VERSION, listen: [...(obj.listen as string[])] }
  if (obj.gateway !== undefined) cfg.gateway = obj.gateway as string
  if (obj.bootstrap !== undefined) cfg.bootstrap = [...(obj.bootstrap as string[])]
  for (const key of RATE_LIMIT_CONFIG_KEYS) if (obj[key] !== undefined) cfg[key] = obj[key] as number
  if (obj.acceptPush !== undefined) cfg.acceptPush = [...(obj.acceptPush as string[])]
  return cfg
}

/**
 * Open (creating if needed) the repo at `repoPath`.
 *
 * Order: create the directory, open the datastore (taking leveldb's LOCK, so a second open of the
 * same repo fails before touching anything else), then config and identity key, then the
 * blockstore. `config.json` and `identity.key` are written atomically (temp file + fsync + rename);
 * the key is a libp2p protobuf `PrivateKey` (Ed25519, from `@libp2p/crypto`) with mode 0600.
 *
 * @param repoPath - the repo directory (see {@link resolveRepoPath})
 * @param options - signal, blockstore options, initial config
 * @throws RepoLockedError - another process or another open `Repo` holds the datastore lock
 * @throws InvalidRepoConfigError - `config.json` is not valid JSON / fails validation, or
 *   `identity.key` cannot be decoded (the message names the file)
 * @throws OpenFailedError - the datastore or blockstore cannot be opened for another reason
 * @throws RepoNotFoundError - `repoPath` is not a directory (a file, say), or holds no repo and
 *   `options.create` is `false`
 * @throws AbortError - `options.signal` aborted
 */
export async function openRepo (repoPath: string, options: OpenRepoOptions = {}): Promise<Repo> {
  const { signal } = options
  signal?.throwIfAborted()
  const root = path.resolve(repoPath)
  await assertRepoPath(root, options.create ?? true)
  await fs.mkdir(root, { recursive: true })

  const { datastore, db } = await openDatastore(path.join(root, DATASTORE_DIR))
  try {
    signal?.throwIfAborted()
    let config = await loadOrCreateConfig(root, options.config)
    signal?.throwIfAborted()
    const privateKey = await loadOrCreateKey(root)
    signal?.throwIfAborted()
    const blocks = new ModelStore(path.join(root, STORE_DIR), db as unknown as StoreDb, options.blockstore)
    await blocks.open()
    await migrateFlatfs(path.join(root, BLOCKS_DIR), blocks)
    const blockstore = new RepoBlockstore(blocks)
    let closed = false
    log('opened repo %s', root)
    return {
      path: root,
      blockstore,
      datastore,
      get config () { return config },
      privateKey,
      async saveConfig (cfg: RepoConfig): Promise<void> {
        const valid = validateRepoConfig(cfg, path.join(root, CONFIG_FILE))
        await writeFileAtomic(path.join(root, CONFIG_FILE), JSON.stringify(valid, null, 2) + '\n', 0o644)
        config = valid
      },
      async close (): Promise<void> {
        if (closed) return
        closed = true
        try {
          await blocks.close()
        } finally {
          await datastore.close()
        }
        log('closed repo %s', root)
      }
    }
  } catch (err) {
    await datastore.close()
    throw err
  }
}

/**
 * Check `root` can be (or is) a repo: not a file, and holding `config.json` unless `create`.
 * @throws RepoNotFoundError - naming `root`
 */
async function assertRepoPath (root: string, create: boolean): Promise<void> {
  const st = await fs.stat(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    if (err.code === 'ENOTDIR') throw new RepoNotFoundError(`${root}: a parent of the path is not a directory, so it cannot be a repo`, root, { cause: err })
    throw err
  })
  if (st != null && !st.isDirectory()) throw new RepoNotFoundError(`${root} is not a directory, so it cannot be a repo`, root)
  if (create) return
  const hasConfig = st != null && await fs.stat(path.join(root, CONFIG_FILE)).then(() => true, (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return false
    throw err
  })
  if (!hasConfig) throw new RepoNotFoundError(`no repo at ${root} (no ${CONFIG_FILE})`, root)
}

async function openDatastore (dir: string): Promise<{ datastore: LevelDatastore, db: Level<string, Uint8Array> }> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
  try {
    await db.open({ createIfMissing: true, compression: false } as any)
  } catch (err: any) {
    if (err.code === 'LEVEL_LOCKED' || err.cause?.code === 'LEVEL_LOCKED') {
      throw new RepoLockedError(`repo datastore ${dir} is locked: another tensorswap process (or an open Repo in this process) is using this repo; stop it or use another repo path`)
    }
    throw err
  }
  const datastore = new LevelDatastore(db as any)
  await datastore.open()
  return { datastore, db }
}

/**
 * Move the blocks of a repo from before the model-shaped store (`<repo>/blocks`, one flatfs file
 * per block) into the store's log: each block is verified, put, committed, then the old
 * directory is removed. A block that fails verification is left out (logged); a crash midway
 * redoes the migration (puts of blocks already moved are no-ops).
 */
async function migrateFlatfs (dir: string, store: ModelStore): Promise<void> {
  const exists = await fs.stat(path.join(dir, 'SHARDING')).then(() => true, (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return false
    throw err
  })
  if (!exists) return
  const old = new FsBlockstore(dir)
  await old.open()
  let moved = 0
  for await (const { cid, bytes } of old.getAll()) {
    const chunks: Uint8Array[] = []
    for await (const c of bytes) chunks.push(c)
    const block = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
    try {
      verifyBlock(cid, block)
    } catch (err) {
      log.error('migration: block %c of %s is corrupt, left out - %e', cid, dir, err)
      continue
    }
    await store.put(cid, block)
    moved++
  }
  await store.flush()
  await fs.rm(dir, { recursive: true, force: true })
  log('migrated %d blocks from %s into the store', moved, dir)
}

async function loadOrCreateConfig (root: string, initial?: RepoConfig): Promise<RepoConfig> {
  const file = path.join(root, CONFIG_FILE)
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw err
    const cfg = validateRepoConfig(initial ?? defaultRepoConfig(), file)
    await writeFileAtomic(file, JSON.stringify(cfg, null, 2) + '\n', 0o644)
    log('wrote default config %s', file)
    return cfg
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err: any) {
    throw new InvalidRepoConfigError(`invalid repo config ${file}: not valid JSON (${err.message})`, file, { cause: err })
  }
  return validateRepoConfig(parsed, file)
}

async function loadOrCreateKey (root: string): Promise<PrivateKey> {
  const file = path.join(root, IDENTITY_KEY_FILE)
  let bytes: Buffer
  try {
    bytes = await fs.readFile(file)
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw err
    const key = await generateKeyPair('Ed25519')
    await writeFileAtomic(file, privateKeyToProtobuf(key), IDENTITY_KEY_MODE)
    log('generated identity key %s', file)
    return key
  }
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err: any) {
    throw new InvalidRepoConfigError(`invalid identity key ${file}: cannot decode libp2p PrivateKey protobuf (${err.message})`, file, { cause: err })
  }
}

/** Write via a temp file in the same directory, fsync, rename; the file never appears half-written. */
async function writeFileAtomic (file: string, data: string | Uint8Array, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  const handle = await fs.open(tmp, 'wx', mode)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } catch (err) {
    await handle.close()
    await fs.rm(tmp, { force: true })
    throw err
  }
  await handle.close()
  // mode passed to open() is masked by the umask; enforce it (0600 for the key)
  await fs.chmod(tmp, mode)
  await fs.rename(tmp, file)
}

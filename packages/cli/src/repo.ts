/**
 * Open the node's repo for the duration of one command.
 */
import { openRepo, resolveRepoPath, type Repo } from '@tensorswap/blockstore'
import type { GlobalOptions } from './output.js'
import type { Placement } from '@tensorswap/blockstore'
import type { CID } from 'multiformats/cid'

/**
 * Open the repo named by `--repo`, `TENSORSWAP_PATH` or the default `~/.tensorswap`. Only the
 * commands that make a node's state (`init`, `add`, `get`, `serve`) pass `create: true`; the
 * others fail on a mistyped path instead of creating an empty repo there.
 * @throws {RepoNotFoundError} no repo there and `create` is false, or the path is a file (names the path)
 * @throws {RepoLockedError} if another process holds the repo
 */
export async function openCliRepo (opts: GlobalOptions, create: boolean): Promise<Repo> {
  return await openRepo(resolveRepoPath(opts.repo), { create, config: { version: 1, listen: [...DEFAULT_CLI_LISTEN] } })
}

/**
 * Listen addresses written into a repo the command creates: fixed ports (QUIC on UDP 4001, TCP
 * 4001, as Kubo), so a seeder's address survives restarts. `serve --listen` or the repo's
 * `config.json` override them.
 */
export const DEFAULT_CLI_LISTEN: readonly string[] = Object.freeze(['/ip4/0.0.0.0/udp/4001/quic-v1', '/ip4/0.0.0.0/tcp/4001'])

/** A block sink that writes each distinct block once and counts what it did. */
export interface CountingSink {
  /** `put` for `importModel` / `importCar`: a repeated or already stored block is not written again. */
  put(cid: CID, bytes: Uint8Array, options?: { signal?: AbortSignal, placement?: Placement }): Promise<CID>
  /** Distinct blocks put, stored before or not. */
  readonly blocks: number
  /** Distinct blocks newly written to the repo. */
  readonly blocksStored: number
}

/**
 * Wrap `blockstore` so a caller's repeated blocks (the same chunk in two files, a CAR with a
 * block twice) and blocks the repo already holds are counted, not written again (the
 * `blocks` / `blocksStored` of the `--json` scheme, src/summary.ts). `onStored` is told of each
 * block newly written (the daemon serves it to peers waiting for it).
 */
export function countingSink (blockstore: Pick<Repo['blockstore'], 'put' | 'has'>, onStored?: (cid: CID) => void): CountingSink {
  const seen = new Set<string>()
  let stored = 0
  return {
    async put (cid, bytes, options) {
      const key = Buffer.from(cid.multihash.bytes).toString('base64')
      if (seen.has(key)) return cid
      seen.add(key)
      if (await blockstore.has(cid, options)) return cid
      stored++
      const put = await blockstore.put(cid, bytes, options)
      onStored?.(cid)
      return put
    },
    get blocks () { return seen.size },
    get blocksStored () { return stored }
  }
}

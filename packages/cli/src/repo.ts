/**
 * Open the node's repo for the duration of one command.
 */
import { openRepo, resolveRepoPath, type Repo } from '@tensorswap/blockstore'
import type { GlobalOptions } from './output.js'

/**
 * Open the repo named by `--repo`, `TENSORSWAP_PATH` or the default `~/.tensorswap`, run `fn`,
 * and close the repo whatever happens.
 * @throws {RepoLockedError} if another process holds the repo
 */
export async function withRepo<T> (opts: GlobalOptions, fn: (repo: Repo) => Promise<T>): Promise<T> {
  const repo = await openRepo(resolveRepoPath(opts.repo))
  try {
    return await fn(repo)
  } finally {
    await repo.close()
  }
}

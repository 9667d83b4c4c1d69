/**
 * `tensorswap init`: create the repo (config with the default listen addresses, identity key,
 * blocks, datastore) so commands that never create one (`ls`, `export`, `car`, `dag`) can use it.
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { CONFIG_FILE, resolveRepoPath } from '@tensorswap/blockstore'
import { printResult, type GlobalOptions } from '../output.js'
import { withRepo } from '../repo.js'

/**
 * Run `init`: prints `initialized repo <path>` (or `repo <path> already exists`); `--json`:
 * `{repo, created, listen}`.
 * @throws RepoNotFoundError - the path is a file; RepoLockedError - another process holds it
 */
export async function init (opts: GlobalOptions): Promise<void> {
  const existed = await stat(join(resolveRepoPath(opts.repo), CONFIG_FILE)).then(() => true, (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return false // openRepo below names a bad path
    throw err
  })
  await withRepo(opts, async (repo) => {
    printResult(opts, { repo: repo.path, created: !existed, listen: repo.config.listen },
      [existed ? `repo ${repo.path} already exists` : `initialized repo ${repo.path}`])
  }, true)
}

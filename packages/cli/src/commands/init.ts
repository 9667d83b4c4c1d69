/**
 * `tensorswap init`: create the repo (config with the default listen addresses, identity key,
 * blocks, datastore) so commands that never create one (`ls`, `export`, `car`, `dag`) can use it.
 */
import { defineCommand } from '../command.js'
import { printResult } from '../output.js'

/** `init`'s result (`--json`): `{repo, created, listen}`. */
export interface InitResult { repo: string, created: boolean, listen: string[] }

/**
 * `init`: prints `initialized repo <path>` (or `repo <path> already exists`). Through the
 * daemon the repo exists already.
 * @throws RepoNotFoundError - the path is a file; RepoLockedError - another process holds it
 */
export const initCommand = defineCommand<Record<string, never>, InitResult>({
  name: 'init',
  options: {},
  create: true,
  async execute (ctx) {
    return { repo: ctx.repo.path, created: ctx.created, listen: ctx.repo.config.listen }
  },
  render (r, opts) {
    printResult(opts, r, [r.created ? `initialized repo ${r.repo}` : `repo ${r.repo} already exists`])
  }
})

/**
 * Run a command that takes `--repo`: through the daemon when one serves the repo (spec/api.md),
 * else in this process with the repo opened here. Either way the same `execute` runs and the
 * same events and result are rendered, so output, `--json` and exit codes are the same.
 */
import { stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { CONFIG_FILE, resolveRepoPath } from '@tensorswap/blockstore'
import { createTensorSwap, type TensorSwapNode } from 'tensorswap'
import { callDaemon, findDaemon } from './api/client.js'
import { createContext, type CommandSpec } from './command.js'
import { loadCommand } from './commands/registry.js'
import { info, interruptible, type GlobalOptions } from './output.js'
import { createEventRenderer, type EventRenderer } from './render-events.js'
import { openCliRepo } from './repo.js'

/** Whether the repo at `path` has its config already (before a command may create it). */
async function repoExists (path: string): Promise<boolean> {
  return await stat(join(path, CONFIG_FILE)).then(() => true, (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return false // openRepo names a bad path
    throw err
  })
}

/** Run `spec` with the repo opened in this process (and a node, when its `localNode` asks for one). */
async function runLocal (spec: CommandSpec, options: Record<string, unknown>, globals: GlobalOptions, repoPath: string, renderer: EventRenderer): Promise<unknown> {
  const created = spec.create === true && !await repoExists(repoPath)
  const repo = await openCliRepo(globals, spec.create === true)
  let node: TensorSwapNode | undefined
  try {
    const init = spec.localNode?.(options, repo)
    if (init != null) {
      node = await createTensorSwap({ ...init, repo })
      await node.start()
    }
    const ctx = createContext({
      repo,
      node,
      daemon: false,
      created,
      signal: new AbortController().signal, // Ctrl-C ends the process (interruptible)
      emit: (e) => { void renderer.handle(e) },
      stdout: process.stdout,
      ...(spec.stdin?.(options) === true ? { stdin: process.stdin } : {})
    })
    return await spec.execute(ctx, options)
  } finally {
    await node?.stop()
    await repo.close()
  }
}

/**
 * Run the command `name` with `options` (its positional arguments and flags, as JSON values)
 * and print its result as `globals` ask.
 *
 * @throws {UsageError} from the command's checks, before the repo is opened
 * @throws {RemoteCommandError} the command failed in the daemon; the command's own errors locally
 * @throws {ApiSocketRefusedError} the repo's API socket is not this user's alone
 * @throws {DaemonConnectionError} the daemon went away before the result
 */
export async function runCommand (name: string, options: Record<string, unknown>, globals: GlobalOptions): Promise<void> {
  const spec = await loadCommand(name)
  if (spec == null) throw new Error(`no command ${name}`)
  const o: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(options)) if (v !== undefined) o[k] = v
  spec.validate?.(o)
  // the daemon runs elsewhere: paths are the client's, made absolute
  for (const key of spec.paths ?? []) {
    const v = o[key]
    if (typeof v === 'string' && v !== '-') o[key] = resolve(v)
  }
  const repoPath = resolveRepoPath(globals.repo)
  const renderer = createEventRenderer(globals)
  const work = async (): Promise<unknown> => {
    const api = await findDaemon(repoPath, (line) => { info(globals, line) })
    if (api == null) return await runLocal(spec, o, globals, repoPath, renderer)
    return await callDaemon(api, name, o, {
      onEvent: (e) => renderer.handle(e),
      ...(spec.stdin?.(o) === true ? { stdin: process.stdin } : {})
    })
  }
  let result: unknown
  try {
    result = spec.interruptible === true ? await interruptible(work) : await work()
  } finally {
    renderer.stop()
  }
  spec.render(result, globals)
}

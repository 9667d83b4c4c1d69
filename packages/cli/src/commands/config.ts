/**
 * `tensorswap config show | get <key> | set <key> <value> | unset <key>`: the repo's
 * `config.json` (`RepoConfig` of `@tensorswap/blockstore`). Reads and writes the file directly
 * (validated, written atomically), without the repo lock, so it works while `serve` runs; a
 * running node reads the new value at its next start, as Kubo's `ipfs config` does.
 *
 * Keys (camelCase as in the file, or kebab-case as the flags): `listen`, `bootstrap`,
 * `acceptPush` (lists: a JSON array or comma-separated), `gateway`, `maxUploadRate`,
 * `maxDownloadRate`, `maxUploadRatePerPeer`, `maxDownloadRatePerPeer` (bytes/s: `2500000`,
 * `2.5M`, `10MiB/s`). An unknown key or a bad value is a usage error (exit 2) naming it.
 */
import { randomBytes } from 'node:crypto'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CONFIG_FILE, REPO_CONFIG_KEYS, RepoNotFoundError, resolveRepoPath, validateRepoConfig, type RepoConfig } from '@tensorswap/blockstore'
import { parseRate } from 'tensorswap/rate-limit'
import { UsageError } from '../errors.js'
import { printResult, type GlobalOptions } from '../output.js'

/** How each settable key's text value becomes its JSON value. */
const PARSERS: Record<string, (text: string, key: string) => unknown | Promise<unknown>> = {
  listen: (t, k) => list(t, k).map(a => multiaddrText(a, k)),
  bootstrap: (t, k) => list(t, k).map(a => a === 'amino' ? a : multiaddrText(a, k)),
  acceptPush: async (t, k) => {
    const { parsePushAccept } = await import('tensorswap')
    const entries = list(t, k)
    try {
      parsePushAccept(entries)
    } catch (err: any) {
      throw new UsageError(`config ${k}: ${String(err.message)}`)
    }
    return entries
  },
  gateway: (t, k) => {
    if (t.trim() === '') throw new UsageError(`config ${k}: expected a non-empty address`)
    return t.trim()
  },
  maxUploadRate: rate,
  maxDownloadRate: rate,
  maxUploadRatePerPeer: rate,
  maxDownloadRatePerPeer: rate
}

function rate (text: string, key: string): number {
  try {
    return parseRate(text, `config ${key}`)
  } catch (err: any) {
    throw new UsageError(err.message)
  }
}

/** A JSON array of strings, or a comma-separated list. */
function list (text: string, key: string): string[] {
  const t = text.trim()
  if (t.startsWith('[')) {
    let v: unknown
    try {
      v = JSON.parse(t)
    } catch (err: any) {
      throw new UsageError(`config ${key}: not a JSON array (${String(err.message)})`)
    }
    if (!Array.isArray(v) || !v.every(x => typeof x === 'string')) throw new UsageError(`config ${key}: expected an array of strings`)
    return v
  }
  return t === '' ? [] : t.split(',').map(s => s.trim()).filter(s => s !== '')
}

function multiaddrText (a: string, key: string): string {
  if (!a.startsWith('/')) throw new UsageError(`config ${key}: ${JSON.stringify(a)} is not a multiaddr (it must start with "/")`)
  return a
}

/**
 * The config key named by `name` (camelCase or kebab-case).
 * @throws {UsageError} - not a key `config.json` may hold (`version` is not settable)
 */
export function configKey (name: string, settable = false): string {
  const camel = name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())
  const known = settable ? Object.keys(PARSERS) : REPO_CONFIG_KEYS
  if (!known.includes(camel)) throw new UsageError(`config: unknown key ${JSON.stringify(name)} (keys: ${known.join(', ')})`)
  return camel
}

async function load (opts: GlobalOptions): Promise<{ file: string, config: RepoConfig }> {
  const root = resolveRepoPath(opts.repo)
  const file = join(root, CONFIG_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err: any) {
    if (err?.code === 'ENOENT' || err?.code === 'ENOTDIR') throw new RepoNotFoundError(`no repo at ${root} (no ${CONFIG_FILE})`, root, { cause: err })
    throw err
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err: any) {
    parsed = err
  }
  // validateRepoConfig names the file and what is wrong (InvalidRepoConfigError)
  return { file, config: validateRepoConfig(parsed instanceof Error ? undefined : parsed, file) }
}

async function save (file: string, config: RepoConfig): Promise<void> {
  const valid = validateRepoConfig(config, file)
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, JSON.stringify(valid, null, 2) + '\n', { mode: 0o600 })
  await rename(tmp, file)
}

function text (v: unknown): string {
  return Array.isArray(v) ? v.join('\n') : String(v)
}

/** `config show`: the whole file. */
export async function configShow (opts: GlobalOptions): Promise<void> {
  const { config } = await load(opts)
  printResult(opts, config, JSON.stringify(config, null, 2).split('\n'))
}

/** `config get <key>`: one value (a list one item a line); exit 1 when the key is not set. */
export async function configGet (name: string, opts: GlobalOptions): Promise<void> {
  const key = configKey(name)
  const { config } = await load(opts)
  const value = (config as unknown as Record<string, unknown>)[key]
  if (value === undefined) {
    printResult(opts, { key, value: null }, [])
    process.exitCode = 1
    return
  }
  printResult(opts, { key, value }, text(value) === '' ? [] : [text(value)])
}

/** `config set <key> <value>`: parse, validate, write. */
export async function configSet (name: string, value: string, opts: GlobalOptions): Promise<void> {
  const key = configKey(name, true)
  const parsed = await PARSERS[key](value, key)
  const { file, config } = await load(opts)
  const next = { ...config, [key]: parsed } as RepoConfig
  await save(file, next)
  printResult(opts, { key, value: parsed }, [`${key} = ${JSON.stringify(parsed)}`])
}

/** `config unset <key>`: remove an optional key (`listen` and `version` cannot be). */
export async function configUnset (name: string, opts: GlobalOptions): Promise<void> {
  const key = configKey(name, true)
  if (key === 'listen') throw new UsageError('config: "listen" cannot be unset (set it to the addresses to listen on)')
  const { file, config } = await load(opts)
  const next = { ...config } as Record<string, unknown>
  delete next[key]
  await save(file, next as unknown as RepoConfig)
  printResult(opts, { key, value: null }, [`${key} unset`])
}

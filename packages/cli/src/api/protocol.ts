/**
 * The daemon's local API (spec/api.md): the `api` file, the events of a command's NDJSON
 * response, and the checks on a request's options. Pure: no sockets here (server.ts, client.ts).
 */
import { ApiRequestError } from '../errors.js'

/**
 * Contents of `<repo>/api` (JSON, mode 0600), written by `serve` once its socket listens and
 * removed when it stops (spec/api.md §1).
 */
export interface ApiFile {
  /** Absolute path of the Unix socket (`<repo>/api.sock`). */
  address: string
  /** The daemon's process id. */
  pid: number
  /** The daemon's libp2p peer id. */
  peerId: string
  /** The `@tensorswap/cli` version of the daemon. */
  version: string
}

/**
 * Parse the `api` file's text.
 * @throws {ApiRequestError} not JSON, or a field missing or of the wrong type
 */
export function parseApiFile (text: string): ApiFile {
  let v: any
  try {
    v = JSON.parse(text)
  } catch (err) {
    throw new ApiRequestError(`api file: not JSON (${(err as Error).message})`)
  }
  if (typeof v?.address !== 'string' || !Number.isSafeInteger(v.pid) || typeof v.peerId !== 'string' || typeof v.version !== 'string') {
    throw new ApiRequestError('api file: expected {"address", "pid", "peerId", "version"}')
  }
  return { address: v.address, pid: v.pid, peerId: v.peerId, version: v.version }
}

/**
 * A progress bar's state (spec/api.md §3): bytes `moved` (fetched, read, written: they count
 * toward the rate) and `local` (found in the repo already: they do not), the `total` (0 while
 * unknown), the extra `fields` of its format (e.g. `peers`). Sent at most every
 * `API_PROGRESS_INTERVAL_MS` per bar, and once with `done: true` when the bar ends.
 */
export interface ProgressApiEvent {
  type: 'progress'
  /** Bar number within the command (0, 1, ...). */
  bar: number
  /** The bar's label (`get`, `import`, `export`, ...). */
  label: string
  /** Extra format text after the standard fields, e.g. ` | peers {peers}`. */
  extra?: string
  moved: number
  local: number
  total: number
  fields?: Record<string, string | number>
  done?: boolean
}

/** A diagnostic line for stderr (printed unless `--quiet`/`--json`). */
export interface LogApiEvent { type: 'log', line: string }

/**
 * Bytes for the client's stdout (`export -o -`, `car export -o -`, `dag walk`). On the wire a
 * binary frame: the line {@link StdoutFrameHeader} `{"type":"stdout","bytes":N}`, then exactly
 * `N` raw bytes (spec/api.md §3); the client may hand them on in several pieces.
 */
export interface StdoutApiEvent { type: 'stdout', data: Uint8Array }

/** The NDJSON line that starts a stdout frame: `bytes` raw bytes follow it (no newline after them). */
export interface StdoutFrameHeader { type: 'stdout', bytes: number }

/** Largest stdout frame, bytes (a chunk larger than this is sent as several frames). */
export const MAX_STDOUT_FRAME_BYTES = 16 * 1024 * 1024

/** The command's result: the object `--json` prints; always the last event of a success. */
export interface ResultApiEvent { type: 'result', result: unknown }

/** The command failed: the error's `name` and first message line, and the exit code; always last. */
export interface ErrorApiEvent { type: 'error', error: { name: string, message: string }, exitCode: number }

/** A command's event, as the renderer gets it. */
export type ApiEvent = ProgressApiEvent | LogApiEvent | StdoutApiEvent | ResultApiEvent | ErrorApiEvent

/** One NDJSON line of a command's response: an event, or the header of a stdout frame. */
export type ApiLine = Exclude<ApiEvent, StdoutApiEvent> | StdoutFrameHeader

/** The JSON type an option must have. */
export type OptionType = 'string' | 'boolean' | 'string[]'

/** Allowed options of one command: name → type. */
export type OptionTypes = Readonly<Record<string, OptionType>>

/** Whether `name` is a well-formed command name: `add`, `car/export` (lowercase words, at most two). */
export function isCommandName (name: string): boolean {
  return /^[a-z]+(?:\/[a-z]+)?$/.test(name)
}

/**
 * Check a request's options document against the command's option types.
 * @returns the options as an object
 * @throws {ApiRequestError} not a JSON object, an unknown option, or a value of the wrong type
 */
export function checkOptions (command: string, text: string, types: OptionTypes): Record<string, unknown> {
  let v: unknown
  try {
    v = JSON.parse(text === '' ? '{}' : text)
  } catch (err) {
    throw new ApiRequestError(`${command}: the request body is not JSON (${(err as Error).message})`)
  }
  if (v == null || typeof v !== 'object' || Array.isArray(v)) throw new ApiRequestError(`${command}: the request body must be a JSON object of options`)
  const options = v as Record<string, unknown>
  for (const [key, value] of Object.entries(options)) {
    const type = Object.hasOwn(types, key) ? types[key] : undefined
    if (type === undefined) throw new ApiRequestError(`${command}: unknown option ${JSON.stringify(key)} (known: ${Object.keys(types).join(', ') || 'none'})`)
    const ok = type === 'string[]'
      ? Array.isArray(value) && value.every(x => typeof x === 'string')
      : typeof value === type // eslint-disable-line valid-typeof
    if (!ok) throw new ApiRequestError(`${command}: option ${JSON.stringify(key)} must be a ${type}`)
  }
  return options
}

/** One line of NDJSON for `event` (a stdout frame: {@link encodeStdoutFrame}). */
export function encodeEvent (event: ApiLine): string {
  return JSON.stringify(event) + '\n'
}

/**
 * The pieces of stdout frames carrying `data`: header line, raw bytes (one frame per
 * {@link MAX_STDOUT_FRAME_BYTES}), to be written in order.
 */
export function encodeStdoutFrame (data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let at = 0; at < data.byteLength; at += MAX_STDOUT_FRAME_BYTES) {
    const piece = data.subarray(at, at + MAX_STDOUT_FRAME_BYTES)
    out.push(Buffer.from(encodeEvent({ type: 'stdout', bytes: piece.byteLength })), piece)
  }
  return out
}

/**
 * Parse one NDJSON response line.
 * @throws {SyntaxError} not JSON; {TypeError} not an event (no known `type`), or a stdout
 *   header whose `bytes` is not an integer in 1..{@link MAX_STDOUT_FRAME_BYTES}
 */
export function decodeEvent (line: string): ApiLine {
  const v = JSON.parse(line)
  if (v == null || typeof v !== 'object' || !['progress', 'log', 'stdout', 'result', 'error'].includes(v.type)) throw new TypeError(`not an API event: ${line.slice(0, 80)}`)
  if (v.type === 'stdout' && !(Number.isInteger(v.bytes) && v.bytes >= 1 && v.bytes <= MAX_STDOUT_FRAME_BYTES)) throw new TypeError(`a stdout frame of ${JSON.stringify(v.bytes)} bytes: expected 1..${MAX_STDOUT_FRAME_BYTES}`)
  return v as ApiLine
}

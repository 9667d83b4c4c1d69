/**
 * The client side of the daemon's local API (spec/api.md): find a running daemon from
 * `<repo>/api` (removing the file a daemon killed with -9 left), refuse a socket that is not
 * this user's alone, send a command and read its NDJSON events.
 */
import { connect } from 'node:net'
import { lstat, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { API_CONNECT_TIMEOUT_MS, API_FILE, API_PREFIX } from '../constants.js'
import { ApiSocketRefusedError, DaemonConnectionError, RemoteCommandError } from '../errors.js'
import { decodeEvent, parseApiFile, type ApiEvent, type ApiFile, type ApiLine } from './protocol.js'

/** Remove a file; one that is not there is fine. @throws the other unlink errors */
export async function removeIfThere (path: string): Promise<void> {
  try {
    await unlink(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}

/** Whether process `pid` exists (`EPERM`: it does, another user's). */
function pidAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Check the socket file is this user's alone: a socket, owned by this uid, mode 0600 (no group
 * or other bits).
 * @returns false when it does not exist
 * @throws {ApiSocketRefusedError} another user's, not a socket, or open to group/others
 */
export async function checkSocketFile (path: string): Promise<boolean> {
  let st
  try {
    st = await lstat(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
  const uid = process.getuid?.()
  if (!st.isSocket()) throw new ApiSocketRefusedError(`${path} is not a socket`)
  if (uid != null && st.uid !== uid) throw new ApiSocketRefusedError(`${path} is owned by uid ${st.uid}, not by this user (uid ${uid}): refusing to talk to it`)
  if ((st.mode & 0o077) !== 0) throw new ApiSocketRefusedError(`${path} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}; only its owner may use it (0600): refusing to talk to it`)
  return true
}

/** Try to connect to the socket: `ok`, `refused` (nobody listens: stale), or an error to report. */
async function probe (path: string): Promise<'ok' | 'refused'> {
  return await new Promise((resolve, reject) => {
    const sock = connect({ path })
    const timer = setTimeout(() => { sock.destroy(); reject(new DaemonConnectionError(`${path}: the daemon did not accept a connection in ${API_CONNECT_TIMEOUT_MS} ms`)) }, API_CONNECT_TIMEOUT_MS)
    sock.once('connect', () => { clearTimeout(timer); sock.destroy(); resolve('ok') })
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve('refused')
      else if (err.code === 'EACCES' || err.code === 'EPERM') reject(new ApiSocketRefusedError(`${path}: cannot open the daemon's socket (${err.code})`))
      else reject(new DaemonConnectionError(`${path}: ${err.message}`))
    })
  })
}

/**
 * The daemon serving the repo at `repoPath`, from `<repo>/api`; `undefined` when none runs.
 * An `api` file whose daemon is gone (its pid does not run, or its socket refuses connections:
 * kill -9) is removed with its socket, and `onStale` is told why.
 *
 * @throws {ApiSocketRefusedError} the socket is another user's, not a socket, or not mode 0600
 * @throws {DaemonConnectionError} the socket neither accepts nor refuses in time
 */
export async function findDaemon (repoPath: string, onStale: (line: string) => void = () => {}): Promise<ApiFile | undefined> {
  const apiPath = join(repoPath, API_FILE)
  let text: string
  try {
    text = await readFile(apiPath, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw err
  }
  let api: ApiFile
  try {
    api = parseApiFile(text)
  } catch (err) {
    await removeIfThere(apiPath)
    onStale(`removed ${apiPath}: ${(err as Error).message}`)
    return undefined
  }
  const stale = async (why: string): Promise<undefined> => {
    await removeIfThere(apiPath)
    // the socket too, if it is this user's (another user's is left for `serve` to refuse)
    const st = await lstat(api.address).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return undefined; throw err })
    if (st != null && st.isSocket() && st.uid === process.getuid?.()) await removeIfThere(api.address)
    onStale(`removed the stale ${apiPath}: ${why}`)
    return undefined
  }
  if (!pidAlive(api.pid)) return await stale(`daemon pid ${api.pid} is gone`)
  if (!await checkSocketFile(api.address)) return await stale(`its socket ${api.address} is gone`)
  if (await probe(api.address) === 'refused') return await stale(`nobody listens on ${api.address}`)
  return api
}

/** Options of {@link callDaemon}. */
export interface CallOptions {
  /** Each `progress`/`log`/`stdout` event; a returned promise holds the next event back (back-pressure). */
  onEvent: (event: ApiEvent) => Promise<void> | undefined
  /** The command's stdin, sent after the options line. */
  stdin?: AsyncIterable<Uint8Array>
}

/**
 * Run `command` in the daemon with `options` (spec/api.md §2-3).
 * @returns the `result` event's object
 * @throws {RemoteCommandError} the command failed in the daemon (its error's name, message, exit code)
 * @throws {DaemonConnectionError} the connection failed or ended before a result (daemon killed)
 */
export async function callDaemon (api: ApiFile, command: string, options: Record<string, unknown>, call: CallOptions): Promise<unknown> {
  const lost = (why: string): DaemonConnectionError => new DaemonConnectionError(`lost the daemon (pid ${api.pid}, ${api.address}) before ${command} finished: ${why}`)
  // loaded here, not at the top: every command imports this module to look for a daemon, and an
  // ES import of node:http builds its namespace, which loads undici (~40-90 ms of start-up CPU)
  const { request } = process.getBuiltinModule('node:http')
  return await new Promise<unknown>((resolve, reject) => {
    const req = request({ socketPath: api.address, method: 'POST', path: API_PREFIX + command, headers: { 'content-type': 'application/json' } })
    let settled = false
    const fail = (err: Error): void => { if (!settled) { settled = true; reject(err) } }
    req.on('error', (err) => { fail(lost(err.message)) })
    req.on('response', (res) => {
      (async () => {
        // lines are split on the bytes as they come: a newline is looked for in each new chunk
        // only; a stdout frame's raw bytes (spec/api.md §3) are handed on as they arrive
        let pieces: Buffer[] = []
        let terminal: ApiLine | undefined
        /** Raw bytes still owed to the current stdout frame. */
        let owed = 0
        const line = async (bytes: Buffer): Promise<void> => {
          if (bytes.byteLength === 0) return
          const e = decodeEvent(bytes.toString('utf8'))
          if (e.type === 'result' || e.type === 'error') terminal = e
          else if (e.type === 'stdout') owed = e.bytes
          else await call.onEvent(e)
        }
        for await (const data of res) {
          let chunk = data as Buffer
          while (chunk.byteLength > 0) {
            if (owed > 0) {
              const piece = chunk.subarray(0, owed)
              owed -= piece.byteLength
              chunk = chunk.subarray(piece.byteLength)
              await call.onEvent({ type: 'stdout', data: piece })
              continue
            }
            const nl = chunk.indexOf(10)
            if (nl < 0) {
              pieces.push(chunk)
              break
            }
            pieces.push(chunk.subarray(0, nl))
            const whole = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces)
            pieces = []
            chunk = chunk.subarray(nl + 1)
            await line(whole)
          }
        }
        if (owed > 0) throw lost(`the connection closed ${owed} bytes short of a stdout frame`)
        if (!res.complete) throw lost('the connection closed mid-response')
        await line(Buffer.concat(pieces))
        if (terminal == null) throw lost('no result in the response')
        if (terminal.type === 'error') throw new RemoteCommandError(terminal.error.name, terminal.error.message, terminal.exitCode)
        return (terminal as { result: unknown }).result
      })().then((r) => { settled = true; resolve(r) }, (err: Error) => {
        fail(err instanceof RemoteCommandError || err instanceof DaemonConnectionError ? err : lost(err.message))
      })
    })
    req.write(JSON.stringify(options) + '\n')
    if (call.stdin == null) { req.end(); return }
    const stdin = call.stdin
    ;(async () => {
      for await (const chunk of stdin) {
        if (!req.write(chunk)) await new Promise<void>(resolve => req.once('drain', () => { resolve() }))
      }
      req.end()
    })().catch((err: Error) => { req.destroy(err) })
  })
}

/**
 * The daemon's local API server (spec/api.md): HTTP/1.1 on a Unix socket in the repo
 * (`<repo>/api.sock`, mode 0600), its address and pid in `<repo>/api`. `POST /api/v1/<command>`
 * with the options as JSON runs the command's `execute` against the daemon's repo and node and
 * answers `application/x-ndjson` events. A bad request gets one `error` event and the daemon
 * keeps serving; a client that disconnects aborts its command.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { chmod, lstat, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import type { Repo } from '@tensorswap/blockstore'
import type { TensorSwapNode } from 'tensorswap'
import { API_FILE, API_PREFIX, API_SOCKET, MAX_API_REQUEST_BYTES } from '../constants.js'
import { createContext, eventStdout } from '../command.js'
import { loadCommand } from '../commands/registry.js'
import { ApiRequestError, ApiSocketRefusedError, DaemonConnectionError } from '../errors.js'
import { exitCodeFor } from '../output.js'
import { removeIfThere } from './client.js'
import { checkOptions, encodeEvent, isCommandName, type ApiFile, type ApiLine } from './protocol.js'

const log = logger('tensorswap:cli:api')

/** What the API server needs. */
export interface ApiServerInit {
  repo: Repo
  /** The daemon's started node. */
  node: TensorSwapNode
  /** The CLI version written into the `api` file. */
  version: string
  /** One line per request served (`api <command> ok 12 ms`), e.g. `serve`'s log; default none. */
  onRequest?: (line: string) => void
  /** Largest options document, bytes. @default MAX_API_REQUEST_BYTES (1 MiB) */
  maxRequestBytes?: number
}

/** A listening API server. */
export interface ApiServer {
  /** What `<repo>/api` holds. */
  readonly api: ApiFile
  /** Abort running commands, stop listening, remove the socket and the `api` file. Idempotent. */
  close(): Promise<void>
}

/** The request's options document was larger than allowed. */
class TooLargeError extends ApiRequestError {}

/**
 * Split a request body into its first line (the options JSON, at most `max` bytes) and the
 * bytes after it (a command's stdin, spec/api.md §2).
 * @throws {TooLargeError} more than `max` bytes before the first newline
 */
async function readHead (req: IncomingMessage, max: number): Promise<{ head: string, rest: AsyncIterable<Uint8Array> }> {
  const it = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  const chunks: Buffer[] = []
  let size = 0
  const tooLarge = (): TooLargeError => new TooLargeError(`the request's options are larger than ${max} bytes`)
  while (true) {
    const { value, done } = await it.next()
    if (done === true) {
      return { head: Buffer.concat(chunks).toString('utf8'), rest: (async function * () {})() }
    }
    const nl = value.indexOf(10)
    if (nl < 0) {
      size += value.byteLength
      if (size > max) throw tooLarge()
      chunks.push(value)
      continue
    }
    if (size + nl > max) throw tooLarge()
    chunks.push(value.subarray(0, nl))
    const leftover = value.subarray(nl + 1)
    const rest = (async function * () {
      if (leftover.byteLength > 0) yield leftover
      while (true) {
        const r = await it.next()
        if (r.done === true) return
        yield r.value
      }
    })()
    return { head: Buffer.concat(chunks).toString('utf8'), rest }
  }
}

/** Whether `rest` holds any byte (reads it to the end, at most `max` bytes). @throws {TooLargeError} */
async function hasBytes (rest: AsyncIterable<Uint8Array>, max: number): Promise<boolean> {
  let n = 0
  for await (const chunk of rest) {
    n += chunk.byteLength
    if (n > max) throw new TooLargeError(`the request is larger than ${max} bytes`)
  }
  return n > 0
}

/** Answer a request that cannot run with one `error` event (and the HTTP status). */
function refuse (res: ServerResponse, status: number, err: Error, closeAfter = false): void {
  const event: ApiLine = { type: 'error', error: { name: err.name, message: err.message.split('\n')[0] }, exitCode: exitCodeFor(err) }
  res.writeHead(status, { 'content-type': 'application/x-ndjson', ...(closeAfter ? { connection: 'close' } : {}) })
  res.end(encodeEvent(event))
}

/**
 * Start the API server on `<repo>/api.sock` and write `<repo>/api`. A socket file left by a
 * daemon killed with -9 is replaced; one owned by another user, or that is not a socket, is not.
 *
 * @throws {ApiSocketRefusedError} `<repo>/api.sock` exists and is another user's, or not a socket
 * @throws the listen errors (EACCES, ...)
 */
export async function startApiServer (init: ApiServerInit): Promise<ApiServer> {
  const { repo, node } = init
  const max = init.maxRequestBytes ?? MAX_API_REQUEST_BYTES
  const socketPath = join(repo.path, API_SOCKET)
  const apiPath = join(repo.path, API_FILE)
  const existing = await lstat(socketPath).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return undefined; throw err })
  if (existing != null) {
    const uid = process.getuid?.()
    if (uid != null && existing.uid !== uid) throw new ApiSocketRefusedError(`${socketPath} is owned by uid ${existing.uid}, not by this user (uid ${uid}); remove it to serve this repo`)
    if (!existing.isSocket()) throw new ApiSocketRefusedError(`${socketPath} exists and is not a socket; remove it to serve this repo`)
    await unlink(socketPath) // left by a daemon that did not stop (kill -9): the repo lock is ours now
  }

  const running = new Set<AbortController>()
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now()
    const url = req.url ?? ''
    const name = url.startsWith(API_PREFIX) ? url.slice(API_PREFIX.length) : ''
    if (req.method !== 'POST') { refuse(res, 405, new ApiRequestError(`${req.method ?? '?'} ${url}: only POST ${API_PREFIX}<command>`), true); return }
    const spec = isCommandName(name) ? await loadCommand(name) : undefined
    if (spec == null) { refuse(res, 404, new ApiRequestError(`unknown command ${JSON.stringify(url.slice(0, 200))}: expected POST ${API_PREFIX}<command>`), true); return }
    let options: Record<string, unknown>
    let stdin: AsyncIterable<Uint8Array> | undefined
    try {
      const { head, rest } = await readHead(req, max)
      options = checkOptions(name, head, spec.options)
      spec.validate?.(options)
      if (spec.stdin?.(options) === true) stdin = rest
      else if (await hasBytes(rest, max)) throw new ApiRequestError(`${name}: unexpected bytes after the options (the command reads no stdin)`)
    } catch (err) {
      refuse(res, err instanceof TooLargeError ? 413 : 400, err as Error, true)
      init.onRequest?.(`api ${name} refused: ${(err as Error).message}`)
      return
    }
    const controller = new AbortController()
    running.add(controller)
    res.on('close', () => { if (!res.writableFinished) controller.abort(new DaemonConnectionError('the client went away')) })
    res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    res.flushHeaders()
    const emit = (event: ApiLine): boolean => res.destroyed ? true : res.write(encodeEvent(event))
    const writeStdout = (piece: Uint8Array): boolean => res.destroyed ? true : res.write(piece)
    const drained = async (): Promise<void> => {
      if (res.destroyed) throw controller.signal.reason ?? new DaemonConnectionError('the client went away')
      await new Promise<void>((resolve) => {
        const done = (): void => { res.off('drain', done); res.off('close', done); resolve() }
        res.once('drain', done)
        res.once('close', done)
      })
    }
    const ctx = createContext({ repo, node, daemon: true, signal: controller.signal, emit, stdout: eventStdout(writeStdout, drained), stdin })
    let outcome = 'ok'
    try {
      const result = await spec.execute(ctx, options)
      emit({ type: 'result', result })
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err))
      outcome = controller.signal.aborted ? 'aborted (client went away)' : e.name
      log('%s failed - %e', name, e)
      emit({ type: 'error', error: { name: e.name, message: e.message.split('\n')[0] }, exitCode: exitCodeFor(e) })
    } finally {
      running.delete(controller)
      res.end()
      init.onRequest?.(`api ${name} ${outcome} ${Math.round(performance.now() - started)} ms`)
    }
  }

  const server = createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => {
    handle(req, res).catch((err: Error) => {
      // a failure of the handler itself (not of a command): answer if still possible, keep serving
      log.error('api request failed - %e', err)
      if (!res.headersSent) refuse(res, 500, err, true)
      else res.destroy()
    })
  })
  server.on('clientError', (err, socket) => {
    log('bad HTTP from an API client - %e', err)
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n')
    else socket.destroy()
  })
  // the socket is created 0600: only this user may connect (spec/api.md §1)
  const umask = process.umask(0o177)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(socketPath, () => { server.off('error', reject); resolve() })
    })
  } finally {
    process.umask(umask)
  }
  await chmod(socketPath, 0o600)
  const api: ApiFile = { address: socketPath, pid: process.pid, peerId: node.peerId.toString(), version: init.version }
  const tmp = `${apiPath}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(api) + '\n', { mode: 0o600 })
  await rename(tmp, apiPath)

  let closed: Promise<void> | undefined
  return {
    api,
    async close () {
      closed ??= (async () => {
        for (const c of running) c.abort(new DaemonConnectionError('the daemon is stopping'))
        await removeIfThere(apiPath)
        await new Promise<void>(resolve => {
          server.close(() => { resolve() })
          server.closeAllConnections()
        })
        await removeIfThere(socketPath) // server.close removes it on most systems
      })()
      await closed
    }
  }
}

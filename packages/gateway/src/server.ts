/**
 * The HTTP gateway server (node:http): trustless responses (`application/vnd.ipld.raw`,
 * `application/vnd.ipld.car`), deserialized UnixFS files with `Range`, directory and
 * model-manifest listings, and Prometheus metrics at `/metrics`. Specs: ipfs/specs
 * `http-gateways/trustless-gateway.md` and `path-gateway.md`, IPIP-402 and IPIP-412. The
 * behaviour is documented in `spec/gateway.md`.
 *
 * Every body is streamed: a block at a time is read, verified and written (in slices of
 * `RESPONSE_WRITE_SLICE_BYTES`); when `write()`
 * returns false the handler waits for `'drain'`, so a slow client holds at most the socket's
 * high-water mark plus one block in this process. A client that goes away aborts the request's
 * signal: the walk stops, no further block is read. A client that reads more slowly than
 * `minClientBytesPerSecond` is cut off (`SlowClientError`, logged under
 * `tensorswap:gateway:server` and counted in `tensorswap_gateway_slow_clients_total`), so slow
 * readers cannot pin blocks in memory nor hold response slots: see {@link SendFloor}.
 *
 * @module
 */

import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import { links } from '@tensorswap/blockstore'
import { directoryEntries, entityKind, listModel, walkFileRange } from '@tensorswap/model'
import { logger } from '@libp2p/logger'
import contentDispositionHeader from 'content-disposition'
import fresh from 'fresh'
import { CustomProgressEvent } from 'progress-events'
import { BlockReader, VerifiedBlockCache } from './blocks.js'
import { carBlocks, carHeader, carSectionPrefix } from './car.js'
import { ClientSlots, clientKey } from './client-slots.js'
import { BUSY_RETRY_AFTER_SECONDS, CACHE_CONTROL_IMMUTABLE, DEFAULT_CLIENT_QUEUE_WAIT_MS, DEFAULT_FETCH_TIMEOUT_MS, DEFAULT_MAX_CONCURRENT_RESPONSES, DEFAULT_MAX_QUEUED_PER_CLIENT, DEFAULT_MAX_RESPONSES_PER_CLIENT, DEFAULT_MIN_CLIENT_BYTES_PER_SECOND, DEFAULT_SEND_GRACE_MS, DEFAULT_VERIFIED_BLOCK_CACHE_BYTES, DIR_INDEX_VERSION, MAX_LISTING_ENTRIES, MEDIA_TYPE_CAR, MEDIA_TYPE_RAW, RESPONSE_WRITE_SLICE_BYTES, SLICE_AFTER_WAIT_MS } from './constants.js'
import { GatewayBusyError, GatewayError, NotImplementedError, RangeNotSatisfiableError, SlowClientError, StatusForbiddenError } from './errors.js'
import { createMetrics, gatewayMetrics } from './metrics.js'
import { encodePath, renderListing } from './listing.js'
import { parseGatewayRequest, resolveEntityBytes, resolveRange } from './request.js'
import { resolvePath } from './resolve.js'
import { buildStatus, type ListingCache, type StatusSource } from './status.js'
import { STATUS_PAGE_HTML } from './status-page.js'
import { STATUS_API_PATH } from './constants.js'
import type { FetchMissing } from './blocks.js'
import type { ListingRow } from './listing.js'
import type { GatewayRequest } from './request.js'
import type { Resolved } from './resolve.js'
import type { UnixfsNode } from '@tensorswap/model'
import type { Blockstore } from 'interface-blockstore'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { ProgressEvent } from 'progress-events'
import type { Registry } from 'prom-client'

const log = logger('tensorswap:gateway:server')

/** Progress events of the gateway server (observability and tests). */
export type GatewayProgressEvents =
  ProgressEvent<'tensorswap:gateway:response', { method: string, path: string, status: number, bytes: number, aborted: boolean }> |
  ProgressEvent<'tensorswap:gateway:backpressure', { path: string, writableLength: number, socketBuffered: number }>

/** Options of {@link createGatewayServer}. */
export interface GatewayServerInit {
  /** Where blocks come from. */
  blockstore: Pick<Blockstore, 'get'>
  /**
   * Bring a missing block from peers into `blockstore` (`tensorswap serve --gateway-fetch`).
   * Without it the gateway is non-recursive: a missing block is 404.
   */
  fetchMissing?: FetchMissing
  /**
   * Per-block timeout of `fetchMissing`, ms.
   *
   * @default 60000 (DEFAULT_FETCH_TIMEOUT_MS)
   */
  fetchTimeoutMs?: number
  /**
   * Most responses served at once (`/metrics` not counted); one more is answered 503 with
   * `Retry-After` (`GatewayBusyError`) before any block is read.
   *
   * @default 1024 (DEFAULT_MAX_CONCURRENT_RESPONSES)
   */
  maxConcurrentResponses?: number
  /**
   * Most responses one client (IP address) is served at once; its further requests wait, in
   * order, for one of them to end, and read no block meanwhile (`ClientSlots`).
   *
   * @default 16 (DEFAULT_MAX_RESPONSES_PER_CLIENT)
   */
  maxResponsesPerClient?: number
  /**
   * Longest a request waits for one of its client's slots before it is answered 503 with
   * `Retry-After`, ms.
   *
   * @default 10000 (DEFAULT_CLIENT_QUEUE_WAIT_MS)
   */
  clientQueueWaitMs?: number
  /**
   * Most requests of one client waiting for a slot; one more is answered 503 at once.
   *
   * @default 1024 (DEFAULT_MAX_QUEUED_PER_CLIENT)
   */
  maxQueuedPerClient?: number
  /**
   * Slowest a client may take a response, bytes/s, measured while the response waits on the
   * client (a leaky bucket of `sendGraceMs`, see {@link SendFloor}); a client below it is cut
   * off: the connection reset (`SlowClientError`, logged and counted, never answered).
   *
   * @default 65536 (DEFAULT_MIN_CLIENT_BYTES_PER_SECOND)
   */
  minClientBytesPerSecond?: number
  /**
   * Slack of the rate floor, ms: how far behind `minClientBytesPerSecond` a client may fall in
   * all (round trips, a TCP window's ramp, a pause) before it is cut off.
   *
   * @default 45000 (DEFAULT_SEND_GRACE_MS)
   */
  sendGraceMs?: number
  /**
   * Bytes of recently verified blocks kept for the responses (`VerifiedBlockCache`), so readers
   * of the same DAG read and hash each block once; 0 keeps none.
   *
   * @default 16777216 (DEFAULT_VERIFIED_BLOCK_CACHE_BYTES)
   */
  verifiedBlockCacheBytes?: number
  /**
   * Registry the gateway metrics are registered on and `/metrics` renders.
   *
   * @default a private `createMetrics()` registry
   */
  metrics?: Registry
  /** Receives {@link GatewayProgressEvents}. */
  onProgress?: (evt: GatewayProgressEvents) => void
  /**
   * The running node's status (`status.ts`): with it, `GET /` serves the status page and
   * `GET /api/v0/status` its JSON (spec/gateway.md "Status"). Without it both are 404.
   */
  status?: StatusSource
  /**
   * Serve the status page and JSON to any client, not only loopback ones (127.0.0.0/8, ::1).
   * Both are read-only either way. @default false (others get 403)
   */
  statusAllowRemote?: boolean
}

/** A gateway server. */
export interface GatewayServer {
  /** The underlying node:http server. */
  server: Server
  /**
   * Start listening; resolves with the base URL (`http://host:port`, the actual port when
   * `port` is 0).
   */
  listen: (host: string, port: number) => Promise<{ url: string }>
  /** Stop accepting, drop open connections (slow or idle clients included) and wait for the close. */
  close: () => Promise<void>
}

/**
 * The slow-client floor of one response, a leaky bucket in milliseconds.
 *
 * `slackMs` starts at `sendGraceMs`. Every millisecond the handler waits for the client (a
 * `write()` returned false and no `'drain'` came yet) takes one from it; every byte the client
 * takes (leaves this process's buffers for the kernel) gives back `1000 / minRate` ms, up to
 * `sendGraceMs` (no credit is saved up beyond the grace). When `slackMs` falls below zero the
 * client is cut off. So a client is cut as soon as it has fallen `sendGraceMs` behind the floor
 * over the time it kept the gateway waiting, wherever that time lies in the response: unlike a
 * deadline per drain (boxo's `sendTimeout`, nginx's `send_timeout`), the grace is not granted
 * afresh at each write, and a client cannot stay just under the floor by draining in bursts. A
 * reader taking r < minRate bytes/s is cut after about `sendGraceMs / (1 - r / minRate)` of
 * waiting (1 KiB/s against 64 KiB/s with the 45 s default: ~46 s). Time spent reading
 * blocks from disk or peers is not the client's and is not counted. The bytes are seen as they
 * leave this process, in the kernel's steps: the grace has to cover one (`DEFAULT_SEND_GRACE_MS`).
 */
export interface SendFloor {
  /** Slack left, ms (may be negative for an instant before the cut). */
  slackMs: number
  /** Body bytes out of this process at the last accounting (written minus still buffered). */
  flushed: number
  /** Total ms the response waited on the client. */
  waitedMs: number
  /** Bytes the client took while the response waited on it. */
  takenWhileWaiting: number
  /** How long the last wait on the client lasted, ms: over `SLICE_AFTER_WAIT_MS`, bodies are written in slices. */
  lastWaitMs: number
}

/** Per-request bookkeeping. */
interface Ctx {
  route: 'ipfs' | 'metrics' | 'status' | 'other'
  format: 'raw' | 'car' | 'file' | 'listing' | 'none'
  bytes: number
  signal: AbortSignal
  res: ServerResponse
  path: string
  floor: SendFloor
}

/**
 * Create the gateway server (not yet listening).
 *
 * Routes: `GET|HEAD /ipfs/{cid}[/{path}]` (see `spec/gateway.md`), `GET /metrics` (Prometheus
 * text format), anything else 404; methods other than GET/HEAD 405. Errors are answered with
 * their status and a one-line `text/plain` body when no response byte was sent yet; after that
 * the connection is cut (an incomplete CAR or file, which clients must detect). At most
 * `maxConcurrentResponses` responses are served at once; more get 503 with `Retry-After`. One
 * client (IP address) gets at most `maxResponsesPerClient` of them; its next requests wait up
 * to `clientQueueWaitMs` for one to end, then get 503 too.
 *
 * @throws RangeError when `maxConcurrentResponses` or `maxResponsesPerClient` is not a positive
 *   integer, `maxQueuedPerClient` or `clientQueueWaitMs` or `verifiedBlockCacheBytes` is negative, or
 *   `minClientBytesPerSecond` / `sendGraceMs` is not a positive finite number
 */
export function createGatewayServer (init: GatewayServerInit): GatewayServer {
  const registry = init.metrics ?? createMetrics()
  const metrics = gatewayMetrics(registry)
  const fetchTimeoutMs = init.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS
  /** Blocks verified last, shared by every response (see `VerifiedBlockCache`). */
  const verified = new VerifiedBlockCache(init.verifiedBlockCacheBytes ?? DEFAULT_VERIFIED_BLOCK_CACHE_BYTES)
  const maxConcurrent = init.maxConcurrentResponses ?? DEFAULT_MAX_CONCURRENT_RESPONSES
  if (!Number.isSafeInteger(maxConcurrent) || maxConcurrent < 1) throw new RangeError(`maxConcurrentResponses must be a positive integer, got ${maxConcurrent}`)
  const minRate = init.minClientBytesPerSecond ?? DEFAULT_MIN_CLIENT_BYTES_PER_SECOND
  const graceMs = init.sendGraceMs ?? DEFAULT_SEND_GRACE_MS
  if (!(minRate > 0 && Number.isFinite(minRate))) throw new RangeError(`minClientBytesPerSecond must be a positive number, got ${minRate}`)
  if (!(graceMs > 0 && Number.isFinite(graceMs))) throw new RangeError(`sendGraceMs must be a positive number, got ${graceMs}`)
  /** How often a waiting response's floor is accounted, ms: a fifth of the grace, at most 1 s. */
  const floorTickMs = Math.max(10, Math.min(1000, graceMs / 5))
  /** Responses in progress that count against `maxConcurrent`. */
  let serving = 0
  /** Responses in progress and waiting per client (`maxResponsesPerClient`). */
  const clientSlots = new ClientSlots(init.maxResponsesPerClient ?? DEFAULT_MAX_RESPONSES_PER_CLIENT, init.maxQueuedPerClient ?? DEFAULT_MAX_QUEUED_PER_CLIENT)
  const clientQueueWaitMs = init.clientQueueWaitMs ?? DEFAULT_CLIENT_QUEUE_WAIT_MS
  if (!(clientQueueWaitMs >= 0 && Number.isFinite(clientQueueWaitMs))) throw new RangeError(`clientQueueWaitMs must be a non-negative number, got ${clientQueueWaitMs}`)
  /** Root listings of the status endpoint (immutable content). */
  const listings: ListingCache = new Map()

  const server = createServer((req, res) => {
    handle(req, res).catch(err => {
      // handle() answers every error itself; reaching here is a bug, do not crash the daemon
      log.error('unhandled gateway error %e', err)
      res.destroy()
    })
  })

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now()
    const controller = new AbortController()
    const path = (req.url ?? '/').split('?')[0]
    const ctx: Ctx = { route: 'other', format: 'none', bytes: 0, signal: controller.signal, res, path, floor: { slackMs: graceMs, flushed: 0, waitedMs: 0, takenWhileWaiting: 0, lastWaitMs: 0 } }
    metrics.requestsInFlight.inc()
    res.once('close', () => {
      const aborted = !res.writableFinished
      if (aborted) {
        controller.abort(new DOMException('client went away', 'AbortError'))
        metrics.requestsAborted.inc({ format: ctx.format })
      }
      metrics.requestsInFlight.dec()
      metrics.requests.inc({ route: ctx.route, format: ctx.format, status: String(res.statusCode) })
      metrics.requestDuration.observe({ route: ctx.route, format: ctx.format }, (performance.now() - started) / 1000)
      log('%s %s %d %d bytes%s, waited %d ms on the client', req.method, req.url, res.statusCode, ctx.bytes, aborted ? ' (aborted)' : '', Math.round(ctx.floor.waitedMs))
      init.onProgress?.(new CustomProgressEvent('tensorswap:gateway:response', { method: req.method ?? '', path, status: res.statusCode, bytes: ctx.bytes, aborted }))
    })
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        throw new GatewayError(`method ${String(req.method).slice(0, 20)} is not allowed: use GET or HEAD`, 405, { Allow: 'GET, HEAD' })
      }
      if (path === '/metrics') {
        ctx.route = 'metrics'
        const body = await registry.metrics()
        sendText(res, req.method, 200, body, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' })
        return
      }
      if (init.status != null && (path === '/' || path === STATUS_API_PATH)) {
        ctx.route = 'status'
        // read-only, and by default only for this machine (spec/gateway.md "Status")
        if (init.statusAllowRemote !== true && !isLoopback(req.socket.remoteAddress)) throw new StatusForbiddenError('the status page is served to loopback clients only')
        if (path === '/') {
          sendText(res, req.method, 200, STATUS_PAGE_HTML, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'" })
        } else {
          const body = JSON.stringify(await buildStatus(init.status, init.blockstore, listings, { signal: ctx.signal }))
          sendText(res, req.method, 200, body, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' })
        }
        return
      }
      if (path.startsWith('/ipfs/') || path.startsWith('/ipns/')) ctx.route = 'ipfs'
      // one client's responses at most `maxResponsesPerClient` at once; its others wait here
      // before reading anything (DEFAULT_MAX_RESPONSES_PER_CLIENT)
      const client = clientKey(req.socket.remoteAddress)
      if (clientSlots.active(client) >= clientSlots.max) log.trace('%s %s waits: %s has %d responses in progress', req.method, path, client, clientSlots.active(client))
      const releaseClientSlot = await clientSlots.acquire(client, clientQueueWaitMs, BUSY_RETRY_AFTER_SECONDS, ctx.signal).catch((err: any) => {
        if (err?.name === 'GatewayBusyError') log('busy: %s %s from %s answered 503 (%s)', req.method, path, client, err.message)
        throw err
      })
      res.once('close', releaseClientSlot)
      if (serving >= maxConcurrent) {
        log('busy: %d responses in progress, %s %s answered 503', serving, req.method, path)
        throw new GatewayBusyError(`the gateway is serving ${maxConcurrent} responses; retry later`, BUSY_RETRY_AFTER_SECONDS)
      }
      serving++
      res.once('close', () => { serving-- })
      const r = parseGatewayRequest(req)
      ctx.format = r.format === 'raw' ? 'raw' : r.format === 'car' ? 'car' : 'file'
      const reader = new BlockReader({
        blockstore: init.blockstore,
        fetchTimeoutMs,
        localOnly: r.onlyIfCached,
        cache: verified,
        ...(init.fetchMissing != null ? { fetchMissing: init.fetchMissing } : {})
      })
      // only-if-cached: the reader answers every absent block (root, path, entity) with
      // PreconditionFailedError (412) and never calls fetchMissing
      if (r.format === 'raw') await serveRaw(ctx, r, reader)
      else if (r.format === 'car') await serveCar(ctx, r, reader)
      else await serveDeserialized(ctx, r, reader)
    } catch (err: any) {
      if (ctx.signal.aborted || err?.name === 'SlowClientError') return // the client went away, or was cut off: nothing to answer
      if (!res.headersSent) {
        const { status, headers, message } = toResponse(err)
        if (status >= 500 && status !== 503) log.error('%s %s: %e', req.method, req.url, err)
        sendText(res, req.method, status, oneLine(message) + '\n', { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' })
      } else {
        // committed to 200: terminate the stream so the client sees it incomplete (trustless-gateway spec)
        log.error('%s %s failed mid-stream: %e', req.method, req.url, err)
        res.destroy()
      }
    }
  }

  /**
   * Write with back-pressure: wait for 'drain' whenever the buffer is over its high-water mark.
   * Once a wait on the client lasted over {@link SLICE_AFTER_WAIT_MS}, in slices of at most
   * {@link RESPONSE_WRITE_SLICE_BYTES} (views, not copies), so the slow-client floor sees a slow
   * client's progress slice by slice; a fast client gets whole blocks (slices for everyone cost
   * a third of a CAR's throughput on loopback, see the constant).
   * An empty chunk writes nothing.
   */
  async function write (ctx: Ctx, chunk: Uint8Array): Promise<void> {
    ctx.signal.throwIfAborted()
    for (let offset = 0; offset < chunk.byteLength;) {
      ctx.signal.throwIfAborted()
      const size = ctx.floor.lastWaitMs > SLICE_AFTER_WAIT_MS ? RESPONSE_WRITE_SLICE_BYTES : chunk.byteLength
      const slice = offset === 0 && size >= chunk.byteLength ? chunk : chunk.subarray(offset, offset + size)
      offset += slice.byteLength
      ctx.bytes += slice.byteLength
      metrics.responseBytes.inc({ route: ctx.route, format: ctx.format }, slice.byteLength)
      if (!ctx.res.write(slice)) {
        init.onProgress?.(new CustomProgressEvent('tensorswap:gateway:backpressure', {
          path: ctx.path, writableLength: ctx.res.writableLength, socketBuffered: ctx.res.socket?.writableLength ?? 0
        }))
        await drained(ctx)
      }
    }
  }

  /** Body bytes that left this process for the client's socket (written minus still buffered). */
  function flushed (ctx: Ctx): number {
    return Math.max(0, ctx.bytes - ctx.res.writableLength)
  }

  /**
   * Wait for `'drain'` (or, for the end of the response, `'finish'`) under the response's {@link SendFloor}: the bytes the client took since
   * the last wait are credited first, then every `floorTickMs` the time waited is debited and
   * the bytes taken credited; a client whose slack runs out is cut off (connection reset, see `cutOff`) with
   * {@link SlowClientError}.
   */
  async function drained (ctx: Ctx, event: 'drain' | 'finish' = 'drain'): Promise<void> {
    const floor = ctx.floor
    const credit = (bytes: number): void => { floor.slackMs = Math.min(graceMs, floor.slackMs + bytes * 1000 / minRate) }
    let mark = flushed(ctx)
    credit(mark - floor.flushed)
    let last = performance.now()
    const began = last
    const account = (): void => {
      const now = performance.now()
      const f = flushed(ctx)
      floor.slackMs -= now - last
      floor.waitedMs += now - last
      floor.takenWhileWaiting += f - mark
      credit(f - mark)
      last = now
      mark = f
    }
    const slow = new AbortController()
    const timer = setInterval(() => {
      account()
      if (floor.slackMs >= 0) return
      const rate = floor.waitedMs > 0 ? Math.round(floor.takenWhileWaiting * 1000 / floor.waitedMs) : 0
      slow.abort(new SlowClientError(`client took ${rate} bytes/s over the ${Math.round(floor.waitedMs)} ms the response waited on it, below the floor of ${minRate} bytes/s (grace ${graceMs} ms)`))
    }, floorTickMs)
    try {
      await once(ctx.res, event, { signal: AbortSignal.any([ctx.signal, slow.signal]) })
    } catch (err) {
      if (!slow.signal.aborted || ctx.signal.aborted) throw err
      metrics.slowClients.inc({ format: ctx.format })
      log('%s: cut off a slow client (%s) after %d bytes - %e', ctx.path, ctx.res.socket?.remoteAddress ?? '?', flushed(ctx), slow.signal.reason)
      cutOff(ctx)
      throw slow.signal.reason
    } finally {
      clearInterval(timer)
      if (!slow.signal.aborted) account()
      floor.flushed = flushed(ctx)
      floor.lastWaitMs = performance.now() - began
    }
  }

  /**
   * Cut a slow client off with a TCP reset (`SO_LINGER` 0, `socket.resetAndDestroy()`), not a
   * FIN: a FIN queues behind the bytes already in the kernel's send buffer (up to `tcp_wmem`,
   * 4 MiB), which a client taking 1 KiB/s would need an hour to read, so the connection would
   * stay open (FIN_WAIT1 here, ESTABLISHED there) with those bytes pinned in kernel memory; a
   * reset drops them and the client sees the cut at once. nginx's `reset_timedout_connection`
   * does the same for its `send_timeout`.
   */
  function cutOff (ctx: Ctx): void {
    const socket = ctx.res.socket
    if (socket != null && !socket.destroyed) socket.resetAndDestroy()
    ctx.res.destroy()
  }

  /** End the response and wait until its last bytes left this process, under the same floor as every write. */
  async function end (ctx: Ctx): Promise<void> {
    ctx.res.end()
    if (!ctx.res.writableFinished) await drained(ctx, 'finish')
  }

  async function serveRaw (ctx: Ctx, r: GatewayRequest, reader: BlockReader): Promise<void> {
    const block = await reader.getBlock(r.root, { signal: ctx.signal })
    const cid = r.root.toString()
    const headers: Record<string, string> = {
      ...commonHeaders(r),
      'Content-Type': MEDIA_TYPE_RAW,
      'Content-Length': String(block.byteLength),
      'Content-Disposition': attachment(r.filename ?? `${cid}.bin`),
      'X-Ipfs-Roots': cid,
      Etag: `"${cid}.raw"`
    }
    if (notModified(ctx, r, headers)) return
    ctx.res.writeHead(200, headers)
    if (r.method === 'GET') {
      await write(ctx, block)
      metrics.blocksServed.inc({ format: 'raw' })
    }
    await end(ctx)
  }

  async function serveCar (ctx: Ctx, r: GatewayRequest, reader: BlockReader): Promise<void> {
    const car = r.car ?? { version: 1, order: 'dfs', dups: false }
    const resolved = await resolvePath(reader, r.root, r.segments, { signal: ctx.signal })
    let scope = r.dagScope
    let range: { start: number, end: number } | undefined
    if (r.entityBytes !== undefined && resolved.kind === 'file') {
      range = resolveEntityBytes(r.entityBytes, resolved.size ?? 0)
      // IPIP-402: a range with no bytes of the entity (an empty file, a range past the end) needs
      // no leaf; the CAR carries only the blocks that prove the entity: its root block
      if (range === undefined) scope = 'block'
    }
    if (scope === 'all') {
      // fail before the 200 when the terminal's links cannot be read (UnsupportedCodecError: 400)
      links(resolved.terminal, resolved.block)
    }
    const key = `${r.pathname}|${scope}|${range != null ? `${range.start}-${range.end}` : ''}|dups=${car.dups ? 'y' : 'n'}|order=dfs|v1`
    const root = r.root.toString()
    const headers: Record<string, string> = {
      ...commonHeaders(r),
      'Content-Type': `${MEDIA_TYPE_CAR}; version=1; order=dfs; dups=${car.dups ? 'y' : 'n'}`,
      'Content-Disposition': attachment(r.filename ?? `${root}.car`),
      'Accept-Ranges': 'none',
      'X-Ipfs-Roots': resolved.roots.map(c => c.toString()).join(','),
      Etag: `"${root}.car.${createHash('sha256').update(key).digest('hex').slice(0, 16)}"`
    }
    if (notModified(ctx, r, headers)) return
    ctx.res.writeHead(200, headers)
    if (r.method === 'GET') {
      await write(ctx, carHeader([resolved.terminal]))
      const opts: Parameters<typeof carBlocks>[2] = { scope, dups: car.dups, signal: ctx.signal }
      if (range !== undefined) opts.range = range
      for await (const { cid, bytes } of carBlocks(reader, resolved, opts)) {
        await write(ctx, carSectionPrefix(cid, bytes.byteLength))
        if (bytes.byteLength > 0) await write(ctx, bytes)
        metrics.blocksServed.inc({ format: 'car' })
      }
    }
    await end(ctx)
  }

  async function serveDeserialized (ctx: Ctx, r: GatewayRequest, reader: BlockReader): Promise<void> {
    const resolved = await resolvePath(reader, r.root, r.segments, { signal: ctx.signal })
    switch (resolved.kind) {
      case 'file':
        await serveFile(ctx, r, reader, resolved)
        return
      case 'directory':
      case 'hamt-directory':
      case 'manifest':
        ctx.format = 'listing'
        if (!r.trailingSlash) {
          // path-gateway spec: a directory without the trailing slash MUST redirect
          const qs = r.search.toString()
          sendText(ctx.res, r.method, 301, `moved to ${r.pathname}/\n`, {
            Location: `${r.pathname}/${qs !== '' ? '?' + qs : ''}`,
            'Content-Type': 'text/plain; charset=utf-8'
          })
          return
        }
        await serveListing(ctx, r, reader, resolved)
        return
      default:
        throw new NotImplementedError(`${resolved.terminal} is not a UnixFS file or directory (codec 0x${resolved.terminal.code.toString(16)}): request ?format=raw or ?format=car`)
    }
  }

  async function serveFile (ctx: Ctx, r: GatewayRequest, reader: BlockReader, resolved: Resolved): Promise<void> {
    const size = resolved.size ?? 0
    const cid = resolved.terminal.toString()
    let start = 0
    let endAt = size
    let status = 200
    const headers: Record<string, string> = {
      ...commonHeaders(r),
      'Content-Type': contentTypeFor(r.filename ?? r.segments[r.segments.length - 1] ?? ''),
      'Accept-Ranges': 'bytes',
      'X-Ipfs-Roots': resolved.roots.map(c => c.toString()).join(','),
      Etag: `"${cid}"`
    }
    if (r.range !== undefined) {
      const rr = resolveRange(r.range, size)
      if (rr === undefined) throw new RangeNotSatisfiableError(`range does not overlap the ${size}-byte file ${cid}`, size)
      start = rr.start
      endAt = rr.end
      status = 206
      headers['Content-Range'] = `bytes ${start}-${endAt - 1}/${size}`
      headers.Etag = `"${cid}.${start}-${endAt - 1}"`
    }
    headers['Content-Length'] = String(endAt - start)
    const disposition = contentDisposition(r)
    if (disposition !== undefined) headers['Content-Disposition'] = disposition
    if (notModified(ctx, r, headers)) return
    ctx.res.writeHead(status, headers)
    if (r.method === 'GET' && endAt > start) {
      let sent = 0
      for await (const step of walkFileRange(reader, resolved.terminal, start, endAt, { signal: ctx.signal })) {
        metrics.blocksServed.inc({ format: 'file' })
        if (step.content.byteLength === 0) continue
        sent += step.content.byteLength
        if (sent > endAt - start) break
        await write(ctx, step.content)
      }
      if (sent !== endAt - start) {
        throw new GatewayError(`file ${cid} yielded ${sent} bytes for a ${endAt - start}-byte response`, 500)
      }
    }
    await end(ctx)
  }

  async function serveListing (ctx: Ctx, r: GatewayRequest, reader: BlockReader, resolved: Resolved): Promise<void> {
    const base = r.pathname
    const rows: ListingRow[] = []
    let omitted = 0
    let description: string
    if (resolved.kind === 'manifest' && resolved.manifest !== undefined) {
      const m = resolved.manifest
      const listing = await listModel(reader, resolved.terminal, { signal: ctx.signal })
      for (const f of listing.files) {
        if (rows.length >= MAX_LISTING_ENTRIES) { omitted++; continue }
        const name = f.path === '' ? (m.name ?? f.cid.toString()) : f.path
        rows.push({ name, href: f.path === '' ? `/ipfs/${f.cid.toString()}` : base + encodePath(f.path), cid: f.cid, type: 'file', size: f.size })
      }
      description = `TensorSwap model${m.name !== undefined ? ` ${JSON.stringify(m.name)}` : ''}, ${m.tensors.length} tensors, ${listing.files.length} files, files root ${m.files.toString()}`
    } else {
      description = resolved.kind === 'hamt-directory' ? 'UnixFS sharded directory' : 'UnixFS directory'
      for await (const entry of directoryEntries(reader, resolved.terminal, resolved.node as UnixfsNode, { signal: ctx.signal })) {
        if (rows.length >= MAX_LISTING_ENTRIES) { omitted++; continue }
        const child = entityKind(entry.cid, await reader.getBlock(entry.cid, { signal: ctx.signal }))
        const type = child.kind === 'file' ? 'file' : child.kind === 'directory' || child.kind === 'hamt-directory' ? 'directory' : 'other'
        const row: ListingRow = { name: entry.name, href: base + encodeURIComponent(entry.name) + (type === 'directory' ? '/' : ''), cid: entry.cid, type }
        if (child.size !== undefined) row.size = child.size
        rows.push(row)
      }
    }
    const html = renderListing({ ipfsPath: r.ipfsPath, cid: resolved.terminal, description, rows, omitted })
    const headers: Record<string, string> = {
      ...commonHeaders(r),
      'Content-Type': 'text/html; charset=utf-8',
      'X-Ipfs-Roots': resolved.roots.map(c => c.toString()).join(','),
      Etag: `"DirIndex-${DIR_INDEX_VERSION}_CID-${resolved.terminal.toString()}"`
    }
    if (notModified(ctx, r, headers)) return
    sendText(ctx.res, r.method, 200, html, headers)
    if (r.method === 'GET') {
      ctx.bytes += Buffer.byteLength(html)
      metrics.responseBytes.inc({ route: ctx.route, format: ctx.format }, Buffer.byteLength(html))
    }
  }

  /**
   * Answer 304 when `If-None-Match` matches the response's Etag, or is `*` (path-gateway spec,
   * "If-None-Match"; RFC 9110 section 13.1.2, weak comparison). The comparison is `fresh`'s; it
   * gets only `If-None-Match`, not the request's `Cache-Control` (`no-cache` is a cache's concern:
   * this origin answers the conditional request) nor `If-Modified-Since` (RFC 9110 section
   * 13.1.3: ignored when `If-None-Match` is present).
   */
  function notModified (ctx: Ctx, r: GatewayRequest, headers: Record<string, string>): boolean {
    if (r.ifNoneMatch === undefined) return false
    if (!fresh({ 'if-none-match': r.ifNoneMatch }, { etag: headers.Etag })) return false
    const keep = ['Etag', 'Cache-Control', 'X-Ipfs-Path', 'X-Ipfs-Roots', 'Vary', 'Content-Location']
    ctx.res.writeHead(304, Object.fromEntries(Object.entries(headers).filter(([k]) => keep.includes(k))))
    ctx.res.end()
    return true
  }

  return {
    server,
    async listen (host, port) {
      server.listen(port, host)
      await once(server, 'listening')
      const addr = server.address()
      const actualPort = typeof addr === 'object' && addr !== null ? addr.port : port
      const h = host.includes(':') ? `[${host}]` : host
      const url = `http://${h}:${actualPort}`
      log('gateway listening on %s', url)
      return { url }
    },
    async close () {
      if (!server.listening) return
      const closed = once(server, 'close')
      server.close()
      server.closeAllConnections()
      await closed
    }
  }
}

/** Headers every `/ipfs/` success response carries. */
function commonHeaders (r: GatewayRequest): Record<string, string> {
  const h: Record<string, string> = {
    'Cache-Control': CACHE_CONTROL_IMMUTABLE,
    'X-Ipfs-Path': r.ipfsPath,
    'X-Content-Type-Options': 'nosniff',
    Vary: 'Accept',
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Content-Type, Etag, X-Ipfs-Path, X-Ipfs-Roots'
  }
  const location = contentLocation(r)
  if (location !== undefined) h['Content-Location'] = location
  return h
}

/** The query parameters that name a CAR variant (trustless-gateway spec, IPIP-412). */
const CAR_QUERY_PARAMS = ['car-version', 'car-order', 'car-dups'] as const

/**
 * `Content-Location` of a trustless response: the canonical URL of the variant sent, so caches
 * keep variants apart (path-gateway spec, "Content-Location"; trustless-gateway spec, CAR
 * "Content-Location" with the `car-*` parameters). Sent when the format came from `Accept`, and
 * for a CAR whenever the URL carried a `car-*` parameter. The canonical URL is the request's path
 * and query with `format` set and, for a CAR, `car-version`, `car-order` and `car-dups` set to
 * the values negotiated (the query's, else `Accept`'s, else the defaults).
 *
 * @returns the URL (path and query, no origin), or `undefined` when none is due
 */
function contentLocation (r: GatewayRequest): string | undefined {
  if (r.format === 'deserialized') return undefined
  const carInQuery = r.format === 'car' && CAR_QUERY_PARAMS.some(k => r.search.has(k))
  if (r.formatFromQuery && !carInQuery) return undefined
  const q = new URLSearchParams(r.search)
  q.set('format', r.format)
  if (r.format === 'car' && r.car !== undefined) {
    q.set('car-version', String(r.car.version))
    q.set('car-order', r.car.order)
    q.set('car-dups', r.car.dups ? 'y' : 'n')
  }
  return `${r.pathname}?${q.toString()}`
}

/** Whether a socket's remote address is on this machine (127.0.0.0/8, ::1, their IPv4-mapped forms). */
export function isLoopback (address: string | undefined): boolean {
  if (address == null) return false
  const a = address.startsWith('::ffff:') ? address.slice(7) : address
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a)
}

function sendText (res: ServerResponse, method: string | undefined, status: number, body: string, headers: Record<string, string>): void {
  res.writeHead(status, { ...headers, 'Content-Length': String(Buffer.byteLength(body)) })
  res.end(method === 'HEAD' ? undefined : body)
}

function oneLine (s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 500)
}

/** Map an error to its HTTP answer. */
function toResponse (err: any): { status: number, headers: Record<string, string>, message: string } {
  if (err instanceof GatewayError) return { status: err.status, headers: err.headers, message: err.message }
  const message = String(err?.message ?? err)
  switch (err?.name) {
    case 'BlockNotFoundError':
    case 'NotFoundError':
      return { status: 404, headers: {}, message }
    case 'UnsupportedHashError':
    case 'UnsupportedCodecError':
      return { status: 400, headers: {}, message }
    case 'InvalidDagError':
    case 'NotAManifestError':
      return { status: 502, headers: {}, message: `malformed DAG: ${message}` }
    case 'BlockHashMismatchError':
      return { status: 500, headers: {}, message: `stored block is corrupt: ${message}` }
    default:
      return { status: 500, headers: {}, message: `internal error: ${err?.name ?? 'Error'}` }
  }
}

const ATTACHMENT_SAFE = /[^\x20-\x7e]|["\\]/g

/** `attachment; filename="..."` with an ASCII fallback and RFC 8187 `filename*` for other names. */
function attachment (name: string): string {
  return disposition('attachment', name)
}

/**
 * `Content-Disposition` built by `content-disposition` (1.x: it always quotes `filename`, which
 * our responses and tests rely on; 2.x and later write token names unquoted). We pass our own
 * ASCII fallback (non-printable-ASCII, `"` and `\` replaced by `_`) so the quoted `filename` stays
 * plain ASCII and any other name also gets `filename*=UTF-8''...`. The library keeps only a
 * name's last `/`- or `\`-separated component (a `?filename=` with a path); the fallback is made
 * from that same component.
 */
function disposition (kind: 'attachment' | 'inline', name: string): string {
  const base = name.replace(/[/\\]+$/, '').replace(/^.*[/\\]/, '')
  // the library writes an empty name as `filename*=UTF-8''` only; keep the quoted empty name
  if (base === '') return `${kind}; filename=""`
  return contentDispositionHeader(base, { type: kind, fallback: base.replace(ATTACHMENT_SAFE, '_') })
}

/** path-gateway spec: `download=true` -> attachment, a `filename` alone -> inline. */
function contentDisposition (r: GatewayRequest): string | undefined {
  const name = r.filename ?? r.segments[r.segments.length - 1] ?? r.root.toString()
  if (r.download) return disposition('attachment', name)
  if (r.filename !== undefined) return disposition('inline', name)
  return undefined
}

const CONTENT_TYPES: Record<string, string> = {
  json: 'application/json',
  txt: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  car: MEDIA_TYPE_CAR
}

/**
 * Content type from the file name's extension (a short list; model weights and anything else
 * are `application/octet-stream`). HTML and scripts are deliberately served as octet-stream so
 * gateway content never runs in the gateway's origin.
 */
export function contentTypeFor (name: string): string {
  const dot = name.lastIndexOf('.')
  const ext = dot >= 0 ? name.slice(dot + 1).toLowerCase() : ''
  return CONTENT_TYPES[ext] ?? 'application/octet-stream'
}


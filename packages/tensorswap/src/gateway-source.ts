/**
 * A trustless HTTP gateway as a block source (ipfs/specs `http-gateways/trustless-gateway`):
 * single raw blocks (`?format=raw`, `Accept: application/vnd.ipld.raw`) and streamed CARs
 * (`?format=car`, `Accept: application/vnd.ipld.car; version=1; order=dfs; dups=n`, with
 * IPIP-402 `dag-scope` / `entity-bytes`). Nothing from the gateway is trusted: every block is
 * re-hashed against its CID, CAR blocks must be reachable from the requested root through
 * blocks already received, oversize responses are cut off while streaming, and a `dag-scope=all`
 * CAR must be complete.
 *
 * Used by `tensorswap get --gateway-source URL`; works against any trustless gateway (Kubo,
 * Rainbow, ours).
 *
 * @module
 */

import { importCar, links, verifyBlock, HASH_IDENTITY, MAX_CID_BYTES, UnexpectedBlockError } from '@tensorswap/blockstore'
import { logger } from '@libp2p/logger'
import { CustomProgressEvent } from 'progress-events'
import { DEFAULT_MAX_BLOCK_BYTES } from './constants.js'
import type { BlockProgressDetail } from '@tensorswap/blockstore'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent } from 'progress-events'

const log = logger('tensorswap:gateway-source')

/**
 * Time allowed for a raw block request, or for a CAR response to start and between two of its
 * chunks, ms. Helia's trustless-gateway broker relies on the caller's signal; 30 s matches Kubo's
 * `Gateway.RetrievalTimeout` default.
 */
export const DEFAULT_GATEWAY_TIMEOUT_MS = 30_000


// ---- errors (match on `.name`) ----

/** The gateway answered with a non-success status, or the request failed at the network level (`status` undefined). */
export class GatewayRequestError extends Error {
  static override name = 'GatewayRequestError'
  override name = 'GatewayRequestError'
  /** HTTP status, when a response arrived. */
  readonly status?: number
  /** The request URL. */
  readonly url: string
  constructor (message: string, url: string, status?: number, options?: ErrorOptions) {
    super(message, options)
    this.url = url
    if (status !== undefined) this.status = status
  }
}

/** The response is not the requested media type (e.g. a deserialized page instead of a CAR). */
export class InvalidGatewayResponseError extends Error {
  static override name = 'InvalidGatewayResponseError'
  override name = 'InvalidGatewayResponseError'
}

/** A block (raw response or CAR section) exceeds `maxBlockBytes`; the response was aborted. */
export class GatewayBlockTooLargeError extends Error {
  static override name = 'GatewayBlockTooLargeError'
  override name = 'GatewayBlockTooLargeError'
}

/**
 * A CAR carried a block that is not reachable from the requested root through the blocks before
 * it (`cid` is that block). Declared once in `@tensorswap/blockstore`, re-exported here.
 */
export { UnexpectedBlockError }

/** A CAR ended before every block of the requested scope arrived. */
export class IncompleteCarError extends Error {
  static override name = 'IncompleteCarError'
  override name = 'IncompleteCarError'
  /** Blocks linked but never received. */
  readonly missing: number
  constructor (message: string, missing: number) {
    super(message)
    this.missing = missing
  }
}

/** No response byte (or no next CAR chunk) within `timeoutMs`. */
export class GatewayTimeoutError extends Error {
  static override name = 'GatewayTimeoutError'
  override name = 'GatewayTimeoutError'
}

// ---- types ----

/** Options of {@link TrustlessGatewaySource}. */
export interface TrustlessGatewaySourceInit {
  /**
   * Raw requests: time for the whole request. CAR requests: time to the response and between
   * two chunks of it. In ms.
   *
   * @default 30000 (DEFAULT_GATEWAY_TIMEOUT_MS)
   */
  timeoutMs?: number
  /**
   * Largest block accepted, bytes; a bigger raw response or CAR section aborts the request.
   *
   * @default 2097152 (DEFAULT_MAX_BLOCK_BYTES, Bitswap spec "Block Sizes")
   */
  maxBlockBytes?: number
  /** `fetch` implementation (default: the global, undici in Node). */
  fetch?: typeof globalThis.fetch
}

/** Progress events of {@link TrustlessGatewaySource}. */
export type GatewaySourceProgressEvents =
  ProgressEvent<'tensorswap:gateway-source:request', { url: string }> |
  ProgressEvent<'tensorswap:gateway-source:block', BlockProgressDetail>

/** Options of {@link TrustlessGatewaySource.getBlock}. */
export interface GatewayGetBlockOptions {
  signal?: AbortSignal
  onProgress?: (evt: GatewaySourceProgressEvents) => void
}

/** Options of {@link TrustlessGatewaySource.getCar}. */
export interface GatewayGetCarOptions extends GatewayGetBlockOptions {
  /**
   * IPIP-402 `dag-scope`.
   *
   * @default 'all'
   */
  dagScope?: 'block' | 'entity' | 'all'
  /** IPIP-402 `entity-bytes=from:to` (inclusive `to`, negative from the end, `'*'` end of file); implies `dag-scope=entity`. */
  entityBytes?: { from: number, to: number | '*' }
  /**
   * Ask for `dups=y` (each occurrence sent). Duplicates are yielded once either way.
   *
   * @default false
   */
  dups?: boolean
}

/** A verified block from a gateway. */
export interface GatewayBlock {
  cid: CID
  bytes: Uint8Array
}

/**
 * A trustless gateway as a block source.
 *
 * @example
 * ```ts
 * const source = new TrustlessGatewaySource('http://127.0.0.1:8080')
 * const bytes = await source.getBlock(cid)
 * for await (const { cid, bytes } of source.getCar(root)) await blockstore.put(cid, bytes)
 * ```
 */
export class TrustlessGatewaySource {
  /** Base URL without a trailing slash. */
  readonly url: string
  private readonly timeoutMs: number
  private readonly maxBlockBytes: number
  private readonly fetch: typeof globalThis.fetch

  /**
   * @param url - gateway base URL (`http://host:port`, optionally with a path prefix)
   * @throws TypeError - `url` is not an http(s) URL
   */
  constructor (url: string, init: TrustlessGatewaySourceInit = {}) {
    const parsed = new URL(url)
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError(`gateway URL ${url} is not http(s)`)
    this.url = url.replace(/\/+$/, '')
    this.timeoutMs = init.timeoutMs ?? DEFAULT_GATEWAY_TIMEOUT_MS
    this.maxBlockBytes = init.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES
    this.fetch = init.fetch ?? globalThis.fetch
  }

  /**
   * Fetch one block: `GET {url}/ipfs/{cid}?format=raw` with `Accept: application/vnd.ipld.raw`,
   * verified against `cid` before it is returned. Identity CIDs are answered locally.
   *
   * @throws GatewayRequestError - non-200 status (`status`) or network failure
   * @throws InvalidGatewayResponseError - the response is not `application/vnd.ipld.raw`
   * @throws GatewayBlockTooLargeError - more than `maxBlockBytes` (aborted while streaming)
   * @throws BlockHashMismatchError - the bytes do not hash to `cid` (from @tensorswap/blockstore)
   * @throws UnsupportedHashError - `cid` uses a hash we cannot verify
   * @throws GatewayTimeoutError - `timeoutMs` elapsed
   * @throws AbortError - `options.signal` aborted
   */
  async getBlock (cid: CID, options: GatewayGetBlockOptions = {}): Promise<Uint8Array> {
    options.signal?.throwIfAborted()
    if (cid.multihash.code === HASH_IDENTITY) return cid.multihash.digest
    const url = `${this.url}/ipfs/${cid.toString()}?format=raw`
    const timeout = AbortSignal.timeout(this.timeoutMs)
    const signal = options.signal != null ? AbortSignal.any([options.signal, timeout]) : timeout
    try {
      const res = await this.request(url, 'application/vnd.ipld.raw', signal, options)
      const type = res.headers.get('content-type')
      if (type != null && !type.toLowerCase().startsWith('application/vnd.ipld.raw')) {
        await res.body?.cancel()
        throw new InvalidGatewayResponseError(`${url}: expected application/vnd.ipld.raw, got ${type}`)
      }
      const bytes = await this.readLimited(res, url)
      verifyBlock(cid, bytes)
      options.onProgress?.(new CustomProgressEvent<BlockProgressDetail>('tensorswap:gateway-source:block', { cid, bytes: bytes.byteLength, from: 'gateway' }))
      return bytes
    } catch (err) {
      throw this.mapAbort(err, timeout, options.signal, url)
    }
  }

  /**
   * Stream a CAR: `GET {url}/ipfs/{root}?format=car[&dag-scope=..][&entity-bytes=..]` with
   * `Accept: application/vnd.ipld.car; version=1; order=dfs; dups=n|y`. Yields each block once,
   * in arrival order, after checking that it hashes to its CID and is reachable from `root`
   * (the root, or linked from a block already yielded). With `dag-scope=all` (the default) the
   * CAR must also be complete. Parsing is `@tensorswap/blockstore`'s `importCar` (go-car limits,
   * section size capped at `maxBlockBytes` + CID). Memory: one section plus the sets of CIDs
   * seen and expected. Breaking out of the loop aborts the HTTP request.
   *
   * @throws GatewayRequestError, InvalidGatewayResponseError, GatewayTimeoutError, AbortError - as {@link getBlock}
   * @throws InvalidCarError - malformed CAR (with byte offset), or a section over the size limit
   * @throws GatewayBlockTooLargeError - a block over `maxBlockBytes`
   * @throws BlockHashMismatchError, UnsupportedHashError - a block does not verify
   * @throws UnexpectedBlockError - a block not reachable from `root`
   * @throws IncompleteCarError - `dag-scope=all` and linked blocks never arrived (or, any scope, the root never arrived)
   * @throws UnsupportedCodecError - `dag-scope=all` and a block's links cannot be read
   */
  async * getCar (root: CID, options: GatewayGetCarOptions = {}): AsyncGenerator<GatewayBlock> {
    options.signal?.throwIfAborted()
    const dups = options.dups ?? false
    const scope = options.entityBytes !== undefined ? 'entity' : options.dagScope ?? 'all'
    const params = new URLSearchParams({ format: 'car' })
    if (options.dagScope !== undefined && options.entityBytes === undefined) params.set('dag-scope', options.dagScope)
    if (options.entityBytes !== undefined) params.set('entity-bytes', `${options.entityBytes.from}:${options.entityBytes.to}`)
    const url = `${this.url}/ipfs/${root.toString()}?${params.toString()}`

    const idle = new IdleTimer(this.timeoutMs)
    const signal = options.signal != null ? AbortSignal.any([options.signal, idle.signal]) : idle.signal
    const stop = new AbortController()
    const importSignal = AbortSignal.any([signal, stop.signal])

    // single-slot hand-off between importCar (producer) and this generator (consumer)
    const queue: GatewayBlock[] = []
    let wakeConsumer: (() => void) | undefined
    let wakeProducer: (() => void) | undefined
    let done = false
    let failure: unknown
    const maxBlockBytes = this.maxBlockBytes
    const sink = {
      put: async (cid: CID, bytes: Uint8Array): Promise<CID> => {
        if (bytes.byteLength > maxBlockBytes) {
          throw new GatewayBlockTooLargeError(`${url}: block ${cid} is ${bytes.byteLength} bytes, over the ${maxBlockBytes}-byte limit`)
        }
        queue.push({ cid, bytes })
        wakeConsumer?.()
        await new Promise<void>(resolve => { wakeProducer = resolve })
        importSignal.throwIfAborted()
        return cid
      }
    }

    let producer: Promise<void> | undefined
    try {
      const res = await this.request(url, `application/vnd.ipld.car; version=1; order=dfs; dups=${dups ? 'y' : 'n'}`, importSignal, options)
      const type = res.headers.get('content-type') ?? ''
      const version = /;\s*version\s*=\s*"?(\w+)/i.exec(type)?.[1]
      if (!type.toLowerCase().startsWith('application/vnd.ipld.car') || (version !== undefined && version !== '1')) {
        await res.body?.cancel()
        throw new InvalidGatewayResponseError(`${url}: expected application/vnd.ipld.car; version=1, got ${type === '' ? 'no Content-Type' : type}`)
      }
      const body = res.body
      if (body == null) throw new InvalidGatewayResponseError(`${url}: response has no body`)
      idle.touch()
      const chunks = (async function * () {
        for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
          idle.touch()
          yield chunk
        }
      })()
      producer = importCar(sink as any, chunks, { signal: importSignal, name: url, maxSectionSize: maxBlockBytes + MAX_CID_BYTES }) // a section is CID || block
        .then(() => { done = true; wakeConsumer?.() }, (err) => { failure = err; done = true; wakeConsumer?.() })

      const expected = new Set<string>([root.toString()])
      const received = new Set<string>()
      while (true) {
        const item = queue.shift()
        if (item === undefined) {
          if (done) {
            if (failure !== undefined) throw failure
            break
          }
          await new Promise<void>(resolve => { wakeConsumer = resolve })
          wakeConsumer = undefined
          continue
        }
        const key = item.cid.toString()
        if (!expected.has(key)) {
          throw new UnexpectedBlockError(`${url}: block ${key} is not reachable from ${root} through the blocks received before it`, item.cid)
        }
        if (!received.has(key)) {
          received.add(key)
          if (scope !== 'block') {
            for (const child of links(item.cid, item.bytes)) {
              if (child.multihash.code !== HASH_IDENTITY) expected.add(child.toString())
            }
          }
          options.onProgress?.(new CustomProgressEvent<BlockProgressDetail>('tensorswap:gateway-source:block', { cid: item.cid, bytes: item.bytes.byteLength, from: 'gateway' }))
          yield item
        }
        const wake = wakeProducer
        wakeProducer = undefined
        wake?.()
      }
      if (root.multihash.code !== HASH_IDENTITY && !received.has(root.toString())) {
        throw new IncompleteCarError(`${url}: the CAR ended without the root block ${root}`, 1)
      }
      if (scope === 'all' && received.size < expected.size) {
        const missing = expected.size - received.size
        throw new IncompleteCarError(`${url}: the CAR ended with ${missing} linked blocks missing`, missing)
      }
      log('CAR %c from %s: %d blocks', root, this.url, received.size)
    } catch (err) {
      throw this.mapAbort(err, idle.signal, options.signal, url)
    } finally {
      idle.clear()
      stop.abort()
      const wake = wakeProducer
      wakeProducer = undefined
      wake?.()
      await producer
    }
  }

  private async request (url: string, accept: string, signal: AbortSignal, options: GatewayGetBlockOptions): Promise<Response> {
    options.onProgress?.(new CustomProgressEvent('tensorswap:gateway-source:request', { url }))
    let res: Response
    try {
      res = await this.fetch(url, { headers: { Accept: accept }, signal, redirect: 'follow' })
    } catch (err: any) {
      if (signal.aborted) throw err
      throw new GatewayRequestError(`${url}: request failed: ${String(err?.cause?.message ?? err?.message)}`, url, undefined, { cause: err })
    }
    if (res.status !== 200) {
      const text = await readErrorLine(res)
      throw new GatewayRequestError(`${url}: HTTP ${res.status}${text !== '' ? `: ${text}` : ''}`, url, res.status)
    }
    return res
  }

  /** Read a raw block body, aborting past `maxBlockBytes`. */
  private async readLimited (res: Response, url: string): Promise<Uint8Array> {
    const declared = Number(res.headers.get('content-length') ?? NaN)
    if (declared > this.maxBlockBytes) {
      await res.body?.cancel()
      throw new GatewayBlockTooLargeError(`${url}: Content-Length ${declared} is over the ${this.maxBlockBytes}-byte block limit`)
    }
    if (res.body == null) return new Uint8Array(0)
    const chunks: Uint8Array[] = []
    let total = 0
    const reader = res.body.getReader()
    try {
      while (true) {
        const { done, value } = await reader.read()
        if (done) break
        total += value.byteLength
        if (total > this.maxBlockBytes) {
          throw new GatewayBlockTooLargeError(`${url}: response exceeds the ${this.maxBlockBytes}-byte block limit at byte ${total}`)
        }
        chunks.push(value)
      }
    } catch (err) {
      await reader.cancel()
      throw err
    } finally {
      reader.releaseLock()
    }
    if (chunks.length === 1) return chunks[0]
    const out = new Uint8Array(total)
    let at = 0
    for (const c of chunks) { out.set(c, at); at += c.byteLength }
    return out
  }

  /** A timeout abort becomes GatewayTimeoutError; the caller's abort stays an AbortError. */
  private mapAbort (err: unknown, timeout: AbortSignal, callerSignal: AbortSignal | undefined, url: string): unknown {
    if (callerSignal?.aborted === true) return callerSignal.reason ?? err
    if (timeout.aborted) return new GatewayTimeoutError(`${url}: no response within ${this.timeoutMs} ms`)
    return err
  }
}

/** First line of an error body (at most 200 characters, never more than 4 KiB read). */
async function readErrorLine (res: Response): Promise<string> {
  if (res.body == null) return ''
  const reader = res.body.getReader()
  try {
    const { value } = await reader.read()
    return value === undefined ? '' : new TextDecoder().decode(value.subarray(0, 4096)).split('\n')[0].slice(0, 200)
  } catch {
    // the error body is only decoration for the message; the status is what matters
    return ''
  } finally {
    await reader.cancel().catch(() => {})
  }
}

/** An abort signal that fires when `touch()` has not been called for `ms`. */
class IdleTimer {
  private readonly controller = new AbortController()
  private timer: ReturnType<typeof setTimeout> | undefined
  readonly signal = this.controller.signal

  constructor (private readonly ms: number) {
    this.touch()
  }

  touch (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = setTimeout(() => { this.controller.abort(new DOMException('idle timeout', 'TimeoutError')) }, this.ms)
    this.timer.unref?.()
  }

  clear (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
  }
}

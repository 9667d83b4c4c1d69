/**
 * Parsing and content negotiation of gateway requests, without I/O: URL path and CID, `format`
 * and `Accept` (RFC 9110 section 12.5.1), the CAR parameters of IPIP-412 (`version`, `order`,
 * `dups`), `dag-scope` and `entity-bytes` of IPIP-402, and the `Range` header (RFC 9110
 * section 14). Everything a hostile client can send ends in a {@link BadRequestError} or a
 * {@link NotAcceptableError}, never a crash.
 *
 * @module
 */

import { CID } from 'multiformats/cid'
import { MAX_PATH_SEGMENTS, MEDIA_TYPE_CAR, MEDIA_TYPE_RAW } from './constants.js'
import { BadRequestError, ContentNotFoundError, NotAcceptableError, NotImplementedError } from './errors.js'

/** What the response body is: a raw block, a CAR stream, or deserialized UnixFS (file bytes or a listing). */
export type ResponseFormat = 'raw' | 'car' | 'deserialized'

/** `dag-scope` (trustless-gateway spec). */
export type DagScope = 'block' | 'entity' | 'all'

/** Negotiated CAR parameters (IPIP-412). We only produce CARv1 in `dfs` order. */
export interface CarParams {
  version: 1
  order: 'dfs'
  /** `dups=y`: a block is sent each time the walk reaches it. */
  dups: boolean
}

/**
 * `entity-bytes=from:to` before the entity size is known: `from` may be negative (from the
 * end), `to` is inclusive, negative (from the end) or `'*'` (end of file).
 */
export interface EntityBytes {
  from: number
  to: number | '*'
}

/** A parsed `Range: bytes=...` header with a single range, before the file size is known. */
export type ByteRangeSpec =
  | { kind: 'range', first: number, last?: number }
  | { kind: 'suffix', length: number }

/** A request under `/ipfs/`, parsed and negotiated. */
export interface GatewayRequest {
  method: 'GET' | 'HEAD'
  /** The CID in the URL. */
  root: CID
  /** Decoded path segments after the CID (no empty segments, no `.`/`..`). */
  segments: string[]
  /** The URL path ended with `/`. */
  trailingSlash: boolean
  /** `X-Ipfs-Path`: `/ipfs/{cid}[/{path}]` as requested (percent-encoded, so always a valid header value). */
  ipfsPath: string
  format: ResponseFormat
  /** The format came from `?format=` (else from `Accept`, or the default). */
  formatFromQuery: boolean
  /** Set when `format` is `'car'`. */
  car?: CarParams
  dagScope: DagScope
  /** Set when the request carried a (syntactically valid) `entity-bytes`. */
  entityBytes?: EntityBytes
  /** A single-range `Range` header (deserialized responses only); absent when none or ignored. */
  range?: ByteRangeSpec
  /** `Cache-Control: only-if-cached` was sent. */
  onlyIfCached: boolean
  /** Raw `If-None-Match` value. */
  ifNoneMatch?: string
  /** `?filename=` */
  filename?: string
  /** `?download=true` */
  download: boolean
  /** The request's path and query, for `Content-Location`. */
  pathname: string
  search: URLSearchParams
}

/** The part of an incoming request the parser reads. */
export interface RequestLike {
  method?: string
  url?: string
  headers: Record<string, string | string[] | undefined>
}

const FORMATS_WE_DO_NOT_SERVE = new Set(['tar', 'dag-json', 'dag-cbor', 'json', 'cbor', 'ipns-record'])
const DESERIALIZED_TYPES = new Set(['*/*', 'text/*', 'text/html', 'text/plain', 'application/*', 'application/octet-stream'])

function header (req: RequestLike, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v.join(', ') : v
}

/**
 * Parse a request whose path starts with `/ipfs/`.
 *
 * @throws BadRequestError - invalid CID, path segment, `format`, `dag-scope`, `entity-bytes`,
 *   `car-*` parameter, a path on a raw block request, or scope parameters on a non-CAR request
 * @throws NotAcceptableError - `Accept` lists only media types (or CAR variants) we do not produce
 * @throws NotImplementedError - an `/ipns/` path
 * @throws ContentNotFoundError - a path outside `/ipfs/` and `/ipns/`
 */
export function parseGatewayRequest (req: RequestLike): GatewayRequest {
  const method = req.method === 'HEAD' ? 'HEAD' : 'GET'
  let url: URL
  try {
    url = new URL(req.url ?? '/', 'http://gateway.invalid')
  } catch (err) {
    throw new BadRequestError('invalid request URL', { cause: err })
  }
  const rawSegments = url.pathname.split('/').slice(1)
  if (rawSegments[0] === 'ipns') {
    throw new NotImplementedError('/ipns/ paths are not supported by this gateway, use /ipfs/{cid}')
  }
  if (rawSegments[0] !== 'ipfs' || rawSegments.length < 2 || rawSegments[1] === '') {
    throw new ContentNotFoundError(`no such route ${url.pathname.slice(0, 100)}; use /ipfs/{cid}[/path]`)
  }
  let root: CID
  try {
    root = CID.parse(rawSegments[1])
  } catch (err: any) {
    throw new BadRequestError(`invalid CID ${JSON.stringify(rawSegments[1].slice(0, 100))}: ${String(err?.message)}`, { cause: err })
  }
  const rest = rawSegments.slice(2)
  const trailingSlash = rest.length > 0 && rest[rest.length - 1] === ''
  if (trailingSlash) rest.pop()
  if (rest.length > MAX_PATH_SEGMENTS) {
    throw new BadRequestError(`path has ${rest.length} segments, at most ${MAX_PATH_SEGMENTS} are allowed`)
  }
  const segments = rest.map((s, i) => decodeSegment(s, i))

  const q = url.searchParams
  const { format, formatFromQuery, car } = negotiate(q, header(req, 'accept'))
  if (format === 'raw' && segments.length > 0) {
    throw new BadRequestError('raw block requests take no path: use /ipfs/{cid}?format=raw (trustless-gateway spec)')
  }

  let dagScope: DagScope = 'all'
  const scopeParam = q.get('dag-scope')
  if (scopeParam != null) {
    if (scopeParam !== 'block' && scopeParam !== 'entity' && scopeParam !== 'all') {
      throw new BadRequestError(`invalid dag-scope ${JSON.stringify(scopeParam.slice(0, 50))}: expected block, entity or all`)
    }
    dagScope = scopeParam
  }
  let entityBytes: EntityBytes | undefined
  const eb = q.get('entity-bytes')
  if (eb != null) {
    entityBytes = parseEntityBytes(eb)
    dagScope = 'entity'
  }
  if ((scopeParam != null || eb != null) && format !== 'car') {
    throw new BadRequestError('dag-scope and entity-bytes apply only to CAR responses (format=car)')
  }

  let range: ByteRangeSpec | undefined
  const rangeHeader = header(req, 'range')
  if (rangeHeader != null && format === 'deserialized') {
    range = parseRange(rangeHeader)
  }
  const cacheControl = header(req, 'cache-control') ?? ''
  const download = q.get('download') === 'true'
  const filename = q.get('filename') ?? undefined
  const out: GatewayRequest = {
    method,
    root,
    segments,
    trailingSlash,
    ipfsPath: url.pathname,
    format,
    formatFromQuery,
    dagScope,
    onlyIfCached: cacheControl.split(',').some(d => d.trim().toLowerCase() === 'only-if-cached'),
    download,
    pathname: url.pathname,
    search: q
  }
  if (car !== undefined) out.car = car
  if (entityBytes !== undefined) out.entityBytes = entityBytes
  if (range !== undefined) out.range = range
  const inm = header(req, 'if-none-match')
  if (inm !== undefined) out.ifNoneMatch = inm
  if (filename !== undefined) out.filename = filename
  return out
}

function decodeSegment (s: string, i: number): string {
  let d: string
  try {
    d = decodeURIComponent(s)
  } catch (err) {
    throw new BadRequestError(`path segment ${i + 1} is not valid percent-encoding`, { cause: err })
  }
  if (d === '' || d === '.' || d === '..' || d.includes('/') || d.includes('\0')) {
    throw new BadRequestError(`path segment ${i + 1} (${JSON.stringify(d.slice(0, 100))}) is empty or not a single name`)
  }
  return d
}

interface MediaRange {
  type: string
  params: Map<string, string>
  q: number
  index: number
}

/**
 * Parse an `Accept` value into media ranges sorted by `q` (descending, stable).
 *
 * Our own parser, not `negotiator`: negotiator ranks equal-`q` types by specificity before
 * header order (`*\/*, application/vnd.ipld.raw` would become raw, spec/gateway.md says ties go
 * in header order: deserialized), matches a CAR range only when every parameter equals one of
 * the variants offered (`application/vnd.ipld.car; foo=bar` and `text/html;charset=utf-8` would
 * become 406), and returns bare types without the parameters: the IPIP-412 CAR parameters
 * (`version`, `order`, `dups`) are read here from each range.
 *
 * @param accept - the header value (several headers joined with `, `)
 * @returns every range (`q=0` included), lowercased type and parameter values, `q` clamped to [0, 1]
 */
export function parseAccept (accept: string): MediaRange[] {
  const out: MediaRange[] = []
  accept.split(',').forEach((part, index) => {
    const [typePart, ...paramParts] = part.split(';')
    const type = typePart.trim().toLowerCase()
    if (type === '') return
    const params = new Map<string, string>()
    let q = 1
    for (const p of paramParts) {
      const eq = p.indexOf('=')
      if (eq < 0) continue
      const k = p.slice(0, eq).trim().toLowerCase()
      const v = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1')
      if (k === 'q') {
        const n = Number(v)
        q = Number.isFinite(n) ? Math.min(Math.max(n, 0), 1) : 0
      } else {
        params.set(k, v.toLowerCase())
      }
    }
    out.push({ type, params, q, index })
  })
  return out.sort((a, b) => b.q - a.q || a.index - b.index)
}

/** CAR parameters from an Accept media range; `undefined` when it asks for a variant we do not produce. */
function carFromParams (params: Map<string, string>): CarParams | undefined {
  const version = params.get('version')
  const order = params.get('order')
  const dups = params.get('dups')
  if (version !== undefined && version !== '1') return undefined
  // `unk` (or no order) lets us pick; dfs is a valid "unknown" order
  if (order !== undefined && order !== 'dfs' && order !== 'unk') return undefined
  if (dups !== undefined && dups !== 'y' && dups !== 'n') return undefined
  return { version: 1, order: 'dfs', dups: dups === 'y' }
}

function negotiate (q: URLSearchParams, accept: string | undefined): { format: ResponseFormat, formatFromQuery: boolean, car?: CarParams } {
  const ranges = accept != null && accept.trim() !== '' ? parseAccept(accept).filter(r => r.q > 0) : undefined
  const formatParam = q.get('format')
  let format: ResponseFormat | undefined
  let car: CarParams | undefined
  if (formatParam != null) {
    if (formatParam === 'raw') format = 'raw'
    else if (formatParam === 'car') format = 'car'
    else if (FORMATS_WE_DO_NOT_SERVE.has(formatParam)) throw new BadRequestError(`format=${formatParam} is not supported by this gateway: use raw or car`)
    else throw new BadRequestError(`unknown format ${JSON.stringify(formatParam.slice(0, 50))}: use raw or car`)
    if (format === 'car') {
      // Accept may still carry the CAR parameters the client wants
      const r = ranges?.find(r => r.type === MEDIA_TYPE_CAR)
      car = (r !== undefined ? carFromParams(r.params) : undefined) ?? { version: 1, order: 'dfs', dups: false }
    }
  } else if (ranges === undefined) {
    format = 'deserialized'
  } else {
    for (const r of ranges) {
      if (r.type === MEDIA_TYPE_RAW) { format = 'raw'; break }
      if (r.type === MEDIA_TYPE_CAR) {
        const params = carFromParams(r.params)
        if (params !== undefined) { format = 'car'; car = params; break }
        continue
      }
      if (DESERIALIZED_TYPES.has(r.type)) { format = 'deserialized'; break }
    }
    if (format === undefined) {
      throw new NotAcceptableError(`none of the Accept media types can be served: this gateway produces ${MEDIA_TYPE_RAW}, ${MEDIA_TYPE_CAR};version=1;order=dfs;dups=n|y and deserialized UnixFS`)
    }
  }
  if (format === 'car') {
    car = applyCarQuery(q, car ?? { version: 1, order: 'dfs', dups: false })
  }
  const out: { format: ResponseFormat, formatFromQuery: boolean, car?: CarParams } = { format, formatFromQuery: formatParam != null }
  if (car !== undefined) out.car = car
  return out
}

/** `car-version`, `car-order`, `car-dups` query parameters take precedence over `Accept` (trustless-gateway spec). */
function applyCarQuery (q: URLSearchParams, car: CarParams): CarParams {
  const version = q.get('car-version')
  if (version != null && version !== '1') throw new BadRequestError(`car-version=${version.slice(0, 20)} is not supported: only 1`)
  const order = q.get('car-order')
  if (order != null && order !== 'dfs' && order !== 'unk') throw new BadRequestError(`car-order=${order.slice(0, 20)} is not supported: dfs or unk`)
  const dups = q.get('car-dups')
  if (dups != null && dups !== 'y' && dups !== 'n') throw new BadRequestError(`car-dups=${dups.slice(0, 20)} is invalid: y or n`)
  return { version: 1, order: 'dfs', dups: dups != null ? dups === 'y' : car.dups }
}

function parseInteger (s: string, what: string): number {
  if (!/^-?\d{1,16}$/.test(s)) throw new BadRequestError(`${what} ${JSON.stringify(s.slice(0, 30))} is not an integer of at most 16 digits`)
  const n = Number(s)
  if (!Number.isSafeInteger(n)) throw new BadRequestError(`${what} ${s} exceeds 2^53`)
  return n === 0 ? 0 : n // normalise -0
}

/**
 * Parse `entity-bytes=from:to` (trustless-gateway spec, IPIP-402): integers, negative meaning
 * from the end, `to` may be `*`.
 *
 * @throws BadRequestError - malformed, over 2^53, or `0 <= to < from`
 */
export function parseEntityBytes (value: string): EntityBytes {
  const m = /^(-?\d+):(-?\d+|\*)$/.exec(value)
  if (m == null) throw new BadRequestError(`invalid entity-bytes ${JSON.stringify(value.slice(0, 50))}: expected from:to, to may be *`)
  const from = parseInteger(m[1], 'entity-bytes from')
  const to = m[2] === '*' ? '*' : parseInteger(m[2], 'entity-bytes to')
  if (from >= 0 && to !== '*' && to >= 0 && to < from) {
    throw new BadRequestError(`entity-bytes ${value}: to is before from`)
  }
  return { from, to }
}

/**
 * Parse a `Range` header. Returns `undefined` (the header is ignored and the whole file sent,
 * as RFC 9110 section 14.2 allows) for other units, several ranges, or malformed syntax.
 *
 * Our own parser, not `range-parser`: that one needs the file size while parsing (this runs
 * before the path is resolved), reads `bytes=abc` and `bytes=5-1` as unsatisfiable (416 where we
 * ignore them: 200), and accepts trailing junk through `parseInt` (`bytes=1x-2`).
 *
 * @returns a single range or suffix; values over 2^53 are clamped to `Number.MAX_SAFE_INTEGER`
 */
export function parseRange (value: string): ByteRangeSpec | undefined {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(value)
  if (m == null) return undefined
  const [, a, b] = m
  if (a === '' && b === '') return undefined
  const big = (s: string): number => s.length > 16 ? Number.MAX_SAFE_INTEGER : Math.min(Number(s), Number.MAX_SAFE_INTEGER)
  if (a === '') return { kind: 'suffix', length: big(b) }
  const first = big(a)
  if (b === '') return { kind: 'range', first }
  const last = big(b)
  if (last < first) return undefined
  return { kind: 'range', first, last }
}

/**
 * Resolve a `Range` against a file of `size` bytes: `[start, end)`.
 *
 * @throws RangeNotSatisfiableError - (thrown by the caller's factory) when nothing overlaps
 */
export function resolveRange (range: ByteRangeSpec, size: number): { start: number, end: number } | undefined {
  if (range.kind === 'suffix') {
    if (range.length === 0 || size === 0) return undefined
    return { start: Math.max(size - range.length, 0), end: size }
  }
  if (range.first >= size) return undefined
  const last = range.last === undefined ? size - 1 : Math.min(range.last, size - 1)
  return { start: range.first, end: last + 1 }
}

/**
 * Resolve `entity-bytes` against an entity of `size` bytes: `[start, end)`, or `undefined` when
 * the range is empty or entirely outside the entity.
 */
export function resolveEntityBytes (eb: EntityBytes, size: number): { start: number, end: number } | undefined {
  const from = eb.from < 0 ? Math.max(size + eb.from, 0) : eb.from
  let last = eb.to === '*' ? size - 1 : eb.to < 0 ? size + eb.to : eb.to
  last = Math.min(last, size - 1)
  if (from > last || from >= size) return undefined
  return { start: from, end: last + 1 }
}

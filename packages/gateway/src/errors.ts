/**
 * Errors of the HTTP gateway. Each carries the HTTP status it is answered with; the server
 * writes the message as a one-line `text/plain` body. Match on `.name`, never on the message.
 *
 * @module
 */

/** Base class: an error answered with `status` before any response byte was sent. */
export class GatewayError extends Error {
  static override name = 'GatewayError'
  override name = 'GatewayError'
  /** HTTP status code the gateway answers with. */
  readonly status: number
  /** Extra response headers (e.g. `Content-Range` on 416, `Retry-After` on 502/504). */
  readonly headers: Record<string, string>

  constructor (message: string, status: number, headers: Record<string, string> = {}, options?: ErrorOptions) {
    super(message, options)
    this.status = status
    this.headers = headers
  }
}

/** 400: malformed CID, path, query parameter or header value (path-gateway spec, "400 Bad Request"). */
export class BadRequestError extends GatewayError {
  static override name = 'BadRequestError'
  override name = 'BadRequestError'
  constructor (message: string, options?: ErrorOptions) { super(message, 400, {}, options) }
}

/** 404: the content (root block, or a block on the path) is not available here (path-gateway spec, "404 Not Found"). */
export class ContentNotFoundError extends GatewayError {
  static override name = 'ContentNotFoundError'
  override name = 'ContentNotFoundError'
  constructor (message: string, options?: ErrorOptions) { super(message, 404, {}, options) }
}

/** 406: no media type in `Accept` is one this gateway produces (RFC 9110 section 15.5.7). */
export class NotAcceptableError extends GatewayError {
  static override name = 'NotAcceptableError'
  override name = 'NotAcceptableError'
  constructor (message: string, options?: ErrorOptions) { super(message, 406, {}, options) }
}

/**
 * 412: `Cache-Control: only-if-cached` and a block the response needs (the root or one on the
 * path) is not local (path-gateway spec, "Cache-Control (request header)": "412 Precondition
 * Failed" when the gateway does not have the content).
 */
export class PreconditionFailedError extends GatewayError {
  static override name = 'PreconditionFailedError'
  override name = 'PreconditionFailedError'
  constructor (message: string, options?: ErrorOptions) { super(message, 412, {}, options) }
}

/** 416: a `Range` that does not overlap the file; `Content-Range: bytes *\/{size}` (RFC 9110 section 15.5.17). */
export class RangeNotSatisfiableError extends GatewayError {
  static override name = 'RangeNotSatisfiableError'
  override name = 'RangeNotSatisfiableError'
  /** File size in bytes. */
  readonly size: number
  constructor (message: string, size: number) {
    super(message, 416, { 'Content-Range': `bytes */${size}` })
    this.size = size
  }
}

/** 501: a feature this gateway does not implement (IPNS, deserializing dag-cbor/dag-json, pathing through non-UnixFS data). */
export class NotImplementedError extends GatewayError {
  static override name = 'NotImplementedError'
  override name = 'NotImplementedError'
  constructor (message: string, options?: ErrorOptions) { super(message, 501, {}, options) }
}

/**
 * 502 or 504: `fetchMissing` failed to bring a block from peers (path-gateway spec, "502 Bad
 * Gateway" / "504 Gateway Timeout", both with `Retry-After`).
 */
export class UpstreamFetchError extends GatewayError {
  static override name = 'UpstreamFetchError'
  override name = 'UpstreamFetchError'
  constructor (message: string, status: 502 | 504, retryAfterSeconds: number, options?: ErrorOptions) {
    super(message, status, { 'Retry-After': String(retryAfterSeconds) }, options)
  }
}

/**
 * 503: the gateway already serves `maxConcurrentResponses` responses (`DEFAULT_MAX_CONCURRENT_RESPONSES`);
 * answered with `Retry-After` (RFC 9110 §15.6.4: a 503 MAY carry it; path-gateway spec lists 503
 * for a temporarily overloaded gateway).
 */
export class GatewayBusyError extends GatewayError {
  static override name = 'GatewayBusyError'
  override name = 'GatewayBusyError'
  constructor (message: string, retryAfterSeconds: number, options?: ErrorOptions) {
    super(message, 503, { 'Retry-After': String(retryAfterSeconds) }, options)
  }
}

/** 403: the status page or its JSON asked for by a client that is not on this machine (spec/gateway.md "Status"). */
export class StatusForbiddenError extends GatewayError {
  static override name = 'StatusForbiddenError'
  override name = 'StatusForbiddenError'
  constructor (message: string) {
    super(message, 403)
  }
}

/**
 * A client took a response more slowly than the gateway's floor
 * (`minClientBytesPerSecond`): over the time the response waited on it, it fell more than
 * `sendGraceMs` behind that rate (`SendFloor` in server.ts). The response is cut (the connection
 * reset); nothing is answered, the error is only logged and counted.
 */
export class SlowClientError extends Error {
  static override name = 'SlowClientError'
  override name = 'SlowClientError'
}

/**
 * Length-prefixed framing over a libp2p 3 {@link Stream}: every frame is an unsigned
 * varint byte length (multiformats unsigned-varint spec: LEB128, minimal, at most 9
 * bytes) followed by that many bytes — the framing Bitswap 1.x uses on its streams
 * (`it-length-prefixed` in js, `msgio` varint in go).
 *
 * Both directions apply back-pressure so memory stays bounded whatever the transfer
 * size:
 * - {@link FrameWriter.write} waits for the stream's `drain` EVENT when `send()` returns
 *   false. It deliberately does not use `stream.onDrain()`: in `@libp2p/utils` 7.4.1 the
 *   promise behind `onDrain()` resolves once and is never reset, so after the first drain
 *   it returns at once while the stream is still full and a sender buffers everything
 *   (test/upstream-defects.test.ts shows it; when that test reports the defect
 *   fixed, `waitForDrain` may become `stream.onDrain({ signal })`).
 *   A `drain` alone is not enough either: a yamux stream dispatches one on every window
 *   update while its write buffer still holds bytes (`@chainsafe/libp2p-yamux` 8
 *   `handleWindowUpdate`), so a writer that went on at the first one appended a whole message
 *   per window update, and a peer reading at 2 MB/s was "sent" 12 MiB in 74 ms, all of it
 *   held in the sender's memory. The wait ends once the stream's own write buffer is empty:
 *   its `idle` event, or a `drain` that finds `writeBufferLength` at 0.
 * - {@link readFrames} pauses the stream when more than
 *   `max(highWaterBytes, current frame size)` bytes are buffered and resumes when the
 *   consumer has taken them, so a slow consumer throttles the remote sender through the
 *   muxer's flow control (yamux withholds window updates; QUIC, with our patch of
 *   `@chainsafe/libp2p-quic`, stops reading and quinn's stream window fills).
 *
 * @module
 */

import { logger } from '@libp2p/logger'
import { varint } from 'multiformats'
import { Uint8ArrayList } from 'uint8arraylist'
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_READ_HIGH_WATER_BYTES, MAX_FRAME_BYTES, MAX_VARINT_BYTES } from './constants.js'
import { FrameTooLargeError, InvalidFrameError, SendStalledError, StreamWriteClosedError } from './errors.js'
import type { AbortOptions, Stream } from '@libp2p/interface'

const log = logger('tensorswap:transport:framing')

/**
 * The part of a libp2p 3 `Stream` the framing uses (a structural subset so tests and
 * other message streams can be framed too).
 */
export type FramedStream = Pick<Stream,
'send' | 'addEventListener' | 'removeEventListener' | 'writableNeedsDrain' | 'writeStatus' |
'readStatus' | 'readableEnded' | 'readBufferLength' | 'pause' | 'resume' | 'abort' | 'status'> & {
  /**
   * Bytes queued in the stream and not yet taken by the transport (libp2p 3 streams have it;
   * a socket's `writableLength`). It is how a writer tells a slow reader from a stalled one.
   */
  readonly writeBufferLength?: number
}

/** Options of a write that may wait for drain. */
export interface DrainOptions extends AbortOptions {
  /**
   * Fail with `SendStalledError` when, while waiting for drain, the stream's write buffer
   * (`writeBufferLength`) has not shrunk for this long, in ms: a reader that takes bytes
   * slowly is waited for, one that takes none is not. On a stream without
   * `writeBufferLength` this is a plain time limit on the wait. Off when absent.
   */
  stallTimeoutMs?: number
}

/**
 * Encode `n` as an unsigned varint (LEB128, minimal form) with multiformats' `varint`.
 *
 * @param n - a non-negative safe integer
 * @returns 1..8 bytes
 * @throws `RangeError` when `n` is negative or not a safe integer
 */
export function encodeVarint (n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`encodeVarint: ${n} is not a non-negative safe integer`)
  return varint.encodeTo(n, new Uint8Array(varint.encodingLength(n)))
}

/**
 * Resolve when a stream whose `send()` returned false may be written again: once it holds
 * none of the bytes written to it, on its `idle` event or on a `drain` event that finds its
 * `writeBufferLength` at 0 (not `onDrain()`, and not any `drain`: see the module comment). A
 * stream without `writeBufferLength` resolves on its first `drain`.
 *
 * @param stream - the stream
 * @param options - `signal` rejects the wait with its reason; `stallTimeoutMs` rejects it
 *   when the stream's write buffer stops shrinking for that long
 * @throws `StreamWriteClosedError` when the stream closes (or is reset) first, or was
 *   already not writable; `SendStalledError` on a stall; `signal.reason` when `signal` aborts
 */
export async function waitForDrain (stream: FramedStream, options: DrainOptions = {}): Promise<void> {
  options.signal?.throwIfAborted()
  if (stream.writeStatus !== 'writable') {
    throw new StreamWriteClosedError(`waitForDrain: stream is ${stream.writeStatus}`)
  }
  if (!stream.writableNeedsDrain) return
  await new Promise<void>((resolve, reject) => {
    const stall = options.stallTimeoutMs != null ? watchProgress(stream, options.stallTimeoutMs, () => { cleanup(); reject(new SendStalledError(`waitForDrain: write buffer stuck at ${stream.writeBufferLength ?? '?'} bytes for ${options.stallTimeoutMs} ms`)) }) : undefined
    const cleanup = (): void => {
      if (stall != null) clearInterval(stall)
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('idle', onIdle)
      stream.removeEventListener('close', onClose)
      options.signal?.removeEventListener('abort', onAbort)
    }
    const onIdle = (): void => { cleanup(); resolve() }
    // a yamux stream drains on every window update: what is still in its buffer waits for more
    const onDrain = (): void => { if ((stream.writeBufferLength ?? 0) === 0) onIdle() }
    const onClose = (evt: Event & { error?: Error }): void => {
      cleanup()
      const err = new StreamWriteClosedError(`waitForDrain: stream closed while waiting for drain${evt.error != null ? ` (${evt.error.name})` : ''}`)
      if (evt.error != null) (err as any).cause = evt.error
      reject(err)
    }
    const onAbort = (): void => { cleanup(); reject(options.signal?.reason) }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('idle', onIdle)
    stream.addEventListener('close', onClose)
    options.signal?.addEventListener('abort', onAbort)
  })
}

/**
 * Call `onStall` once the stream's `writeBufferLength` has not shrunk for `stallMs` (checked
 * every quarter of it, at most every second); any shrink from one check to the next restarts
 * the clock. A rise is not progress (a transport may move bytes between its own queues, e.g. a
 * TLS socket counting a batch both before and after encryption) but becomes the new reference.
 *
 * @returns the interval timer, for `clearInterval`
 */
function watchProgress (stream: FramedStream, stallMs: number, onStall: () => void): ReturnType<typeof setInterval> {
  let previous = stream.writeBufferLength ?? Infinity
  let progressAt = Date.now()
  const timer = setInterval(() => {
    const now = Date.now()
    const len = stream.writeBufferLength ?? Infinity
    if (len < previous) progressAt = now
    previous = len
    if (now - progressAt >= stallMs) onStall()
  }, Math.max(10, Math.min(1000, stallMs / 4)))
  timer.unref?.()
  return timer
}

/** Options of {@link FrameWriter}. */
export interface FrameWriterInit {
  /** Largest frame body `write` accepts, bytes. @default {@link DEFAULT_MAX_FRAME_BYTES} */
  maxFrameBytes?: number
}

/**
 * Writes varint-length-prefixed frames to a stream, one `send()` per `write` call, and
 * waits for the stream's `drain` event whenever `send()` reports a full buffer — so at
 * most one `write`'s bytes are ever queued in the stream beyond what the transport took.
 *
 * Not safe for concurrent `write` calls from several tasks: await each `write` (callers
 * that multiplex should serialise through one writer).
 */
export class FrameWriter {
  readonly #stream: FramedStream
  readonly #maxFrameBytes: number
  #bytesWritten = 0

  /**
   * @param stream - a libp2p 3 stream (or another {@link FramedStream})
   * @param init - see {@link FrameWriterInit}
   */
  constructor (stream: FramedStream, init: FrameWriterInit = {}) {
    this.#stream = stream
    this.#maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  }

  /** Bytes handed to the stream so far, prefixes included. */
  get bytesWritten (): number { return this.#bytesWritten }

  /**
   * Write one frame or several (each gets its own length prefix) and return once the
   * stream can take more.
   *
   * @param frame - frame bodies, each up to `maxFrameBytes` bytes; a `Uint8ArrayList` is one
   *   frame made of its chunks (sent as they are, not concatenated)
   * @param options - `signal` aborts the wait for drain (the bytes already handed to the
   *   stream are not recalled); `stallTimeoutMs` fails it when the reader stops taking bytes
   * @throws `FrameTooLargeError` (nothing is sent) when a body exceeds `maxFrameBytes`;
   *   `StreamWriteClosedError` when the stream is or becomes unwritable; `signal.reason`
   */
  async write (frame: Uint8Array | Uint8ArrayList | Array<Uint8Array | Uint8ArrayList>, options: DrainOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    const frames = Array.isArray(frame) ? frame : [frame]
    const list = new Uint8ArrayList()
    for (const f of frames) {
      if (f.byteLength > this.#maxFrameBytes) {
        throw new FrameTooLargeError(`FrameWriter.write: frame of ${f.byteLength} bytes exceeds maxFrameBytes ${this.#maxFrameBytes}`)
      }
      list.append(encodeVarint(f.byteLength), f)
    }
    if (this.#stream.writeStatus !== 'writable') {
      throw new StreamWriteClosedError(`FrameWriter.write: stream is ${this.#stream.writeStatus}`)
    }
    const ok = this.#stream.send(list)
    this.#bytesWritten += list.byteLength
    if (!ok) {
      log.trace('send returned false after %d bytes, waiting for drain', this.#bytesWritten)
      await waitForDrain(this.#stream, options)
    }
  }
}

/** Options of {@link readFrames}. */
export interface ReadFramesOptions extends AbortOptions {
  /**
   * Largest frame body accepted, bytes; a longer declared length fails with
   * `FrameTooLargeError` before any of its body is buffered. At most
   * {@link MAX_FRAME_BYTES}. @default {@link DEFAULT_MAX_FRAME_BYTES}
   */
  maxFrameBytes?: number
  /**
   * Buffered bytes beyond the current frame above which the stream is paused.
   * @default {@link DEFAULT_READ_HIGH_WATER_BYTES}
   */
  highWaterBytes?: number
  /**
   * Called with the length of every chunk read from the stream, before it is framed (so a
   * reader sees a large frame arriving before it is whole). Must not throw.
   */
  onBytes?: (bytes: number) => void
}

/**
 * Read varint-length-prefixed frames from a stream until the remote closes its writable
 * end. Memory is bounded by `max(highWaterBytes, largest frame) + one transport read`:
 * the stream is paused while that much is buffered and the consumer has not asked for
 * more.
 *
 * While iterating, this function owns the stream's readable side. On a framing error or
 * an aborted `signal` it aborts the stream with that error (a byte stream cannot be
 * resynchronised after a bad prefix) and throws it. Breaking out of the loop early
 * leaves the stream to the caller.
 *
 * @param stream - a libp2p 3 stream (or another {@link FramedStream})
 * @param options - see {@link ReadFramesOptions}
 * @returns an async generator of frame bodies (zero-copy `Uint8ArrayList` views; call
 *   `.subarray()` for one contiguous `Uint8Array`)
 * @throws `FrameTooLargeError` for a declared length above `maxFrameBytes`;
 *   `InvalidFrameError` for a varint prefix longer than 9 bytes or non-minimal, or a
 *   stream that ends inside a frame; the stream's close error when it is reset;
 *   `signal.reason` on abort; `RangeError` for `maxFrameBytes` above
 *   {@link MAX_FRAME_BYTES}
 */
export async function * readFrames (stream: FramedStream, options: ReadFramesOptions = {}): AsyncGenerator<Uint8ArrayList, void, undefined> {
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  if (!(maxFrameBytes >= 0 && maxFrameBytes <= MAX_FRAME_BYTES)) {
    throw new RangeError(`readFrames: maxFrameBytes ${maxFrameBytes} outside 0..${MAX_FRAME_BYTES}`)
  }
  const highWater = options.highWaterBytes ?? DEFAULT_READ_HIGH_WATER_BYTES
  const signal = options.signal

  const buffer = new Uint8ArrayList()
  /** Stream offset of `buffer[0]`, for error messages. */
  let offset = 0
  /** Body length of the frame being assembled, once its prefix is decoded. */
  let bodyLength: number | undefined
  let prefixLength = 0
  let ended = stream.readableEnded
  let failure: Error | undefined
  let wake: (() => void) | undefined
  /**
   * Set by every event, cleared before the loop re-examines the buffer: an event that fires
   * while the loop is not waiting (e.g. synchronously inside `stream.resume()`, which
   * delivers what was buffered during the pause) is never lost.
   */
  let signalled = false
  const notify = (): void => { signalled = true; const w = wake; wake = undefined; w?.() }
  /** True while `stream.resume()` runs (see {@link resume}). */
  let resuming = false

  const threshold = (): number => Math.max(highWater, bodyLength == null ? 0 : prefixLength + bodyLength)
  const onBytes = options.onBytes
  const onMessage = (evt: Event & { data: Uint8Array | Uint8ArrayList }): void => {
    buffer.append(evt.data)
    onBytes?.(evt.data.byteLength)
    if (!resuming && buffer.byteLength >= threshold() && stream.readStatus === 'readable') {
      log.trace('pausing stream with %d bytes buffered', buffer.byteLength)
      stream.pause()
    }
    notify()
  }
  const onEnd = (): void => { ended = true; notify() }
  const onClose = (evt: Event & { error?: Error }): void => {
    if (evt.error != null) failure = evt.error
    else if (stream.readBufferLength === 0) ended = true
    notify()
  }
  const onAbort = (): void => { failure = signal?.reason ?? new Error('aborted'); notify() }

  stream.addEventListener('message', onMessage as any)
  stream.addEventListener('end', onEnd)
  stream.addEventListener('close', onClose as any)
  signal?.addEventListener('abort', onAbort)

  /**
   * Resume the stream. `resume()` first dispatches the bytes buffered during the pause
   * (synchronously, into `onMessage`) and only then tells the muxer to resume; pausing from
   * inside that dispatch would be undone by the muxer's resume (yamux would keep granting
   * window while the stream reports 'paused', and its read buffer would grow to the
   * window). So the pause decision is taken after `resume()` returns.
   */
  const resume = (): void => {
    resuming = true
    try {
      stream.resume()
    } finally {
      resuming = false
    }
    if (buffer.byteLength >= threshold() && stream.readStatus === 'readable') {
      log.trace('pausing stream with %d bytes buffered after resume', buffer.byteLength)
      stream.pause()
    }
  }

  const fail = (err: Error): Error => {
    stream.abort(err)
    return err
  }

  /** Decode the varint prefix at the head of `buffer`; false if incomplete. */
  const parsePrefix = (): boolean => {
    let value = 0
    let scale = 1
    const n = Math.min(buffer.byteLength, MAX_VARINT_BYTES)
    for (let i = 0; i < n; i++) {
      const b = buffer.get(i)
      value += (b & 0x7f) * scale
      scale *= 0x80
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) {
          throw fail(new InvalidFrameError(`readFrames: non-minimal varint length prefix at stream byte offset ${offset}`))
        }
        if (value > maxFrameBytes) {
          throw fail(new FrameTooLargeError(`readFrames: frame at stream byte offset ${offset} declares ${value} bytes, above maxFrameBytes ${maxFrameBytes}`))
        }
        prefixLength = i + 1
        bodyLength = value
        return true
      }
      // stop early once even the smallest continuation exceeds the limit
      if (value > maxFrameBytes) {
        throw fail(new FrameTooLargeError(`readFrames: frame at stream byte offset ${offset} declares more than ${value} bytes, above maxFrameBytes ${maxFrameBytes}`))
      }
    }
    if (buffer.byteLength >= MAX_VARINT_BYTES) {
      throw fail(new InvalidFrameError(`readFrames: varint length prefix longer than ${MAX_VARINT_BYTES} bytes at stream byte offset ${offset}`))
    }
    return false
  }

  try {
    while (true) {
      signalled = false
      if (failure != null) {
        if (signal?.aborted === true) stream.abort(failure)
        throw failure
      }
      if (bodyLength == null && buffer.byteLength > 0) parsePrefix()
      if (bodyLength != null && buffer.byteLength >= prefixLength + bodyLength) {
        const frame = buffer.sublist(prefixLength, prefixLength + bodyLength)
        buffer.consume(prefixLength + bodyLength)
        offset += prefixLength + bodyLength
        bodyLength = undefined
        prefixLength = 0
        if (stream.readStatus === 'paused' && buffer.byteLength < highWater / 2) resume()
        yield frame
        continue
      }
      // a stream can report its readable end as ended while it still holds bytes that arrived
      // before our listener did (libp2p 3 delivers them on a microtask after addEventListener):
      // it has ended for us only once those were delivered
      if ((ended || stream.readableEnded) && stream.readBufferLength === 0) {
        if (buffer.byteLength > 0) {
          throw fail(new InvalidFrameError(`readFrames: stream ended inside a frame at stream byte offset ${offset} (${buffer.byteLength} bytes of ${bodyLength == null ? 'a length prefix' : `${prefixLength + bodyLength}`})`))
        }
        return
      }
      if (stream.readStatus === 'paused') resume()
      // something happened since the checks above (data delivered by resume()): look again
      if (signalled) continue
      await new Promise<void>(resolve => { wake = resolve })
    }
  } finally {
    stream.removeEventListener('message', onMessage as any)
    stream.removeEventListener('end', onEnd)
    stream.removeEventListener('close', onClose as any)
    signal?.removeEventListener('abort', onAbort)
  }
}

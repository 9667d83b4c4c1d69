/**
 * A byte reader over an async iterable of chunks, for parsers that must not own their I/O
 * (the shape of @ipld/car's `BytesReader`: peek `upTo`/`exactly`, consume `seek`, `pos`).
 * Buffers at most what the caller asked to peek plus one source chunk, so memory stays bounded.
 */

import { logger } from '@libp2p/logger'
import { varint } from 'multiformats'
import { MAX_VARINT_BYTES } from './constants.js'

const log = logger('tensorswap:blockstore:stream-reader')

/** Outcome of {@link StreamReader.readVarint}. */
export type VarintResult =
  | { kind: 'ok', value: number, length: number }
  | { kind: 'eof' }
  | { kind: 'truncated' }
  | { kind: 'too-long' }
  | { kind: 'too-large' }

/** Streaming reader with absolute position tracking. Not exported from the package. */
export class StreamReader {
  /** Absolute offset (from the start of the source) of the next unconsumed byte. */
  pos = 0
  private readonly iterator: AsyncIterator<Uint8Array>
  private chunks: Uint8Array[] = []
  private buffered = 0
  private done = false
  private reading = false
  private readonly signal?: AbortSignal

  constructor (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, signal?: AbortSignal) {
    this.iterator = Symbol.asyncIterator in source
      ? source[Symbol.asyncIterator]()
      : toAsync(source[Symbol.iterator]())
    this.signal = signal
  }

  /** Pull chunks until `n` bytes are buffered or the source ends. */
  private async fill (n: number): Promise<void> {
    while (this.buffered < n && !this.done) {
      this.signal?.throwIfAborted()
      this.reading = true
      const next = await raceAbort(this.iterator.next(), this.signal)
      this.reading = false
      if (next.done === true) {
        this.done = true
        break
      }
      const chunk = next.value
      if (chunk.byteLength === 0) continue
      this.chunks.push(chunk)
      this.buffered += chunk.byteLength
    }
  }

  /** Peek at up to `n` bytes (fewer only at the end of the source). */
  async upTo (n: number): Promise<Uint8Array> {
    await this.fill(n)
    return this.peek(Math.min(n, this.buffered))
  }

  /** Peek at exactly `n` bytes, or `undefined` if the source ends first. */
  async exactly (n: number): Promise<Uint8Array | undefined> {
    await this.fill(n)
    if (this.buffered < n) return undefined
    return this.peek(n)
  }

  /** Bytes buffered and available without more reads (after `upTo`/`exactly`). */
  get available (): number {
    return this.buffered
  }

  /** Consume `n` already-buffered bytes. */
  seek (n: number): void {
    if (n > this.buffered) throw new RangeError(`seek(${n}) past buffered ${this.buffered} bytes`)
    this.pos += n
    this.buffered -= n
    while (n > 0) {
      const first = this.chunks[0]
      if (first.byteLength <= n) {
        this.chunks.shift()
        n -= first.byteLength
      } else {
        this.chunks[0] = first.subarray(n)
        n = 0
      }
    }
  }

  /** Consume `n` bytes, reading and discarding as needed; returns how many were skipped (< n at end of source). */
  async skip (n: number): Promise<number> {
    let left = n
    while (left > 0) {
      if (this.buffered === 0) {
        await this.fill(1)
        if (this.buffered === 0) break
      }
      const step = Math.min(left, this.buffered)
      this.seek(step)
      left -= step
    }
    return n - left
  }

  /**
   * Peek an unsigned LEB128 varint (multiformats unsigned-varint) at the current position
   * without consuming it.
   */
  async readVarint (): Promise<VarintResult> {
    const bytes = await this.upTo(MAX_VARINT_BYTES)
    if (bytes.byteLength === 0) return { kind: 'eof' }
    let decoded: [number, number]
    try {
      decoded = varint.decode(bytes)
    } catch {
      // multiformats' decode throws a RangeError when no byte ends the varint within `bytes`
      // (truncated at end of stream, or longer than 9 bytes) and for a non-minimal encoding
      return bytes.byteLength < MAX_VARINT_BYTES && bytes.every(b => b >= 0x80) ? { kind: 'truncated' } : { kind: 'too-long' }
    }
    const [value, length] = decoded
    if (!Number.isSafeInteger(value)) return { kind: 'too-large' }
    return { kind: 'ok', value, length }
  }

  /**
   * Stop reading: release the source (calls its `return()`). When a `next()` is still pending
   * (we were aborted while the source stalled) the `return()` is queued behind it by the async
   * generator protocol, so it is not awaited: a stalled source must not stall the caller.
   */
  async close (): Promise<void> {
    this.chunks = []
    this.buffered = 0
    if (this.done) return
    this.done = true
    const ret = this.iterator.return?.()
    if (this.reading) {
      ret?.then(undefined, (err: Error) => { log.error('closing CAR source failed - %e', err) })
      return
    }
    await ret
  }

  private peek (n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0)
    const first = this.chunks[0]
    if (first.byteLength >= n) return first.subarray(0, n)
    const out = new Uint8Array(n)
    let offset = 0
    for (const chunk of this.chunks) {
      const take = Math.min(chunk.byteLength, n - offset)
      out.set(chunk.subarray(0, take), offset)
      offset += take
      if (offset === n) break
    }
    // keep the joined copy so repeated peeks do not copy again
    this.chunks = consolidate(this.chunks, out)
    return out
  }
}

function consolidate (chunks: Uint8Array[], joined: Uint8Array): Uint8Array[] {
  let left = joined.byteLength
  const rest: Uint8Array[] = [joined]
  for (const chunk of chunks) {
    if (left >= chunk.byteLength) {
      left -= chunk.byteLength
    } else {
      rest.push(chunk.subarray(left))
      left = 0
    }
  }
  return rest
}

async function * toAsyncGen (it: Iterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  while (true) {
    const next = it.next()
    if (next.done === true) return
    yield next.value
  }
}

function toAsync (it: Iterator<Uint8Array>): AsyncIterator<Uint8Array> {
  return toAsyncGen(it)
}

/** Reject with the signal's reason as soon as it aborts, else settle as `p`. */
export async function raceAbort<T> (p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal == null) return await p
  signal.throwIfAborted()
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([p, aborted])
  } finally {
    if (onAbort != null) signal.removeEventListener('abort', onAbort)
  }
}

/**
 * Random-access byte readers. Parsers read through {@link ByteReader} so the same parser
 * serves a file on disk and a buffer in memory, and never loads tensor data (the pattern of
 * `@ipld/car`'s reader interface).
 *
 * @module
 */

import { open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'

/** Options accepted by every reader call. */
export interface ReadOptions {
  signal?: AbortSignal
}

/**
 * A source of bytes addressed by absolute offset.
 *
 * - `size`: total length in bytes.
 * - `read(offset, length)`: resolves to exactly `length` bytes starting at `offset`; rejects
 *   with `RangeError` when `[offset, offset + length)` is outside `[0, size)`, and with
 *   {@link ShortReadError} when the underlying source returned fewer bytes than promised
 *   (a file that shrank). The returned array is owned by the caller (never reused).
 */
export interface ByteReader {
  readonly size: number
  read(offset: number, length: number, options?: ReadOptions): Promise<Uint8Array>
}

/** The source returned fewer bytes than its `size` promised (e.g. a file truncated meanwhile). */
export class ShortReadError extends Error {
  static override name = 'ShortReadError'
  override name = 'ShortReadError'
}

function checkRange (offset: number, length: number, size: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new RangeError(`read [${offset}, +${length}) outside [0, ${size})`)
  }
}

/** A {@link ByteReader} over an in-memory buffer (returns copies-free subarrays). */
export function bufferReader (bytes: Uint8Array): ByteReader {
  return {
    size: bytes.byteLength,
    async read (offset: number, length: number): Promise<Uint8Array> {
      checkRange(offset, length, bytes.byteLength)
      return bytes.subarray(offset, offset + length)
    }
  }
}

/** A {@link ByteReader} over an open file, plus `close()`. */
export interface FileReader extends ByteReader {
  /** Path the reader was opened on (for error messages). */
  readonly path: string
  close(): Promise<void>
}

/**
 * Opens `path` for positioned reads. `size` is the size at open time; reads past a later
 * truncation reject with {@link ShortReadError}.
 */
export async function openFileReader (path: string): Promise<FileReader> {
  const fh: FileHandle = await open(path, 'r')
  let size: number
  try {
    size = (await fh.stat()).size
  } catch (err) {
    await fh.close()
    throw err
  }
  return {
    path,
    size,
    async read (offset: number, length: number, options?: ReadOptions): Promise<Uint8Array> {
      options?.signal?.throwIfAborted()
      checkRange(offset, length, size)
      // not zero-filled and not pooled: every byte is overwritten below, and the caller owns it
      // (zero-filled allocations of this size cost a page fault per 4 KiB on every read)
      const buf = Buffer.allocUnsafeSlow(length)
      let done = 0
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, offset + done)
        if (bytesRead === 0) {
          throw new ShortReadError(`${path}: file ended at byte ${offset + done}, expected ${size} bytes`)
        }
        done += bytesRead
      }
      return buf
    },
    async close (): Promise<void> {
      await fh.close()
    }
  }
}

/**
 * A forward-only cursor with a read-ahead window, for parsing headers made of many small
 * little-endian values (GGUF metadata). Call `await need(n)` before the sync getters; it
 * throws `onTruncated(offset)` when fewer than `n` bytes remain.
 */
export class Cursor {
  private window: Uint8Array = new Uint8Array(0)
  private view: DataView = new DataView(this.window.buffer)
  private windowStart = 0
  /** Absolute position of the next byte to read. */
  pos: number

  constructor (
    private readonly reader: ByteReader,
    start: number,
    private readonly onTruncated: (offset: number, wanted: number) => Error,
    private readonly readAhead = 1_048_576,
    private readonly options: ReadOptions = {}
  ) {
    this.pos = start
  }

  /** Bytes left between `pos` and the end of the source. */
  get remaining (): number {
    return this.reader.size - this.pos
  }

  /** Ensures `n` bytes from `pos` are buffered; throws the truncation error if they do not exist. */
  async need (n: number): Promise<void> {
    if (!Number.isSafeInteger(n) || n < 0 || n > this.remaining) {
      throw this.onTruncated(this.pos, n)
    }
    const rel = this.pos - this.windowStart
    if (rel >= 0 && rel + n <= this.window.byteLength) {
      return
    }
    const length = Math.min(Math.max(n, this.readAhead), this.remaining)
    const bytes = await this.reader.read(this.pos, length, this.options)
    this.window = bytes
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.windowStart = this.pos
  }

  private at (n: number): number {
    const rel = this.pos - this.windowStart
    this.pos += n
    return rel
  }

  u8 (): number { return this.view.getUint8(this.at(1)) }
  i8 (): number { return this.view.getInt8(this.at(1)) }
  u16 (): number { return this.view.getUint16(this.at(2), true) }
  i16 (): number { return this.view.getInt16(this.at(2), true) }
  u32 (): number { return this.view.getUint32(this.at(4), true) }
  i32 (): number { return this.view.getInt32(this.at(4), true) }
  u64 (): bigint { return this.view.getBigUint64(this.at(8), true) }
  i64 (): bigint { return this.view.getBigInt64(this.at(8), true) }
  f32 (): number { return this.view.getFloat32(this.at(4), true) }
  f64 (): number { return this.view.getFloat64(this.at(8), true) }

  /** The next `n` bytes (a view into the window; copy it to keep it). */
  bytes (n: number): Uint8Array {
    const rel = this.at(n)
    return this.window.subarray(rel, rel + n)
  }
}

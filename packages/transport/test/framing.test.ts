import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { FrameWriter, encodeVarint, readFrames } from '../src/framing.js'
import { FakeStream, TRANSPORTS, nodePair } from './helpers.js'
import type { NodePair } from './helpers.js'
import type { FramedStream } from '../src/framing.js'
import { Uint8ArrayList } from 'uint8arraylist'

/**
 * A {@link FakeStream} that behaves like libp2p 3's `AbstractMessageStream`: bytes arriving
 * while paused are held, and `resume()` dispatches them synchronously before the muxer is
 * told to resume. Counts `pause()` calls made from inside that dispatch.
 */
class ResumeDeliversStream extends FakeStream {
  held = new Uint8ArrayList()
  inResume = false
  pausedInsideResume = 0
  override feed (bytes: Uint8Array): void {
    if (this.readStatus === 'paused') {
      this.held.append(bytes)
      return
    }
    super.feed(bytes)
  }

  override pause (): void {
    if (this.inResume) this.pausedInsideResume++
    super.pause()
  }

  override resume (): void {
    if (this.readStatus !== 'paused') return
    this.readStatus = 'readable'
    this.inResume = true
    try {
      if (this.held.byteLength > 0) {
        const data = this.held.subarray()
        this.held = new Uint8ArrayList()
        super.feed(data)
      }
    } finally {
      this.inResume = false
    }
  }
}

const PROTO = '/tensorswap-test/frames/1.0.0'
const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.byteLength }
  return out
}
const encodeFrames = (frames: Uint8Array[]): Uint8Array => concat(frames.flatMap(f => [encodeVarint(f.byteLength), f]))
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

async function collect (it: AsyncIterable<{ subarray: () => Uint8Array }>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const f of it) out.push(f.subarray())
  return out
}

describe('encodeVarint', () => {
  it('matches the unsigned-varint spec vectors', () => {
    // multiformats/unsigned-varint README examples
    assert.deepEqual([...encodeVarint(1)], [0x01])
    assert.deepEqual([...encodeVarint(127)], [0x7f])
    assert.deepEqual([...encodeVarint(128)], [0x80, 0x01])
    assert.deepEqual([...encodeVarint(255)], [0xff, 0x01])
    assert.deepEqual([...encodeVarint(300)], [0xac, 0x02])
    assert.deepEqual([...encodeVarint(16384)], [0x80, 0x80, 0x01])
  })
})

describe('readFrames (in-memory stream)', () => {
  it('yields the same frames for any chunking of the byte stream', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 50 }),
      async (frames, cuts) => {
        const bytes = encodeFrames(frames)
        const s = new FakeStream()
        const reading = collect(readFrames(s as unknown as FramedStream, { maxFrameBytes: 1024 }))
        let o = 0
        let i = 0
        while (o < bytes.byteLength) {
          const n = cuts[i++ % cuts.length]
          s.feed(bytes.subarray(o, o + n))
          o += n
          await Promise.resolve()
        }
        s.end()
        const got = await reading
        assert.deepEqual(got.map(f => Buffer.from(f).toString('hex')), frames.map(f => Buffer.from(f).toString('hex')))
      }), { numRuns: 200 })
  })

  it('rejects a declared length above maxFrameBytes before its body arrives', async () => {
    const s = new FakeStream()
    const reading = collect(readFrames(s as unknown as FramedStream, { maxFrameBytes: 1000 }))
    s.feed(encodeVarint(1001)) // the prefix only: no body byte is ever sent
    await assert.rejects(reading, { name: 'FrameTooLargeError' })
    assert.equal(s.aborted?.name, 'FrameTooLargeError')
  })

  it('rejects a huge declared length from its first prefix bytes', async () => {
    const s = new FakeStream()
    const reading = collect(readFrames(s as unknown as FramedStream, { maxFrameBytes: 1000 }))
    s.feed(Uint8Array.from([0xff, 0xff, 0xff])) // incomplete varint already > 1000
    await assert.rejects(reading, { name: 'FrameTooLargeError' })
  })

  it('rejects a varint longer than 9 bytes', async () => {
    const s = new FakeStream()
    const reading = collect(readFrames(s as unknown as FramedStream, { maxFrameBytes: 64 * 1024 * 1024 }))
    s.feed(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]))
    await assert.rejects(reading, { name: 'InvalidFrameError' })
  })

  it('rejects a non-minimal varint', async () => {
    const s = new FakeStream()
    const reading = collect(readFrames(s as unknown as FramedStream))
    s.feed(Uint8Array.from([0x85, 0x00, 1, 2, 3, 4, 5]))
    await assert.rejects(reading, { name: 'InvalidFrameError' })
  })

  it('rejects a stream that ends inside a frame', async () => {
    const s = new FakeStream()
    const reading = collect(readFrames(s as unknown as FramedStream))
    s.feed(Uint8Array.from([5, 1, 2]))
    s.end()
    await assert.rejects(reading, { name: 'InvalidFrameError' })
  })

  it('pauses the stream once the consumer falls behind and resumes when it catches up', async () => {
    const s = new FakeStream()
    const it = readFrames(s as unknown as FramedStream, { highWaterBytes: 1000 })
    const first = it.next()
    for (let i = 0; i < 10; i++) s.feed(encodeFrames([new Uint8Array(200)]))
    assert.equal((await first).value?.byteLength, 200)
    assert.equal(s.readStatus, 'paused')
    let n = 1
    for await (const f of { [Symbol.asyncIterator]: () => it }) {
      assert.equal(f.byteLength, 200)
      if (++n === 10) break
    }
    assert.equal(s.readStatus, 'readable')
  })

  it('takes frames delivered synchronously by resume() without waiting for another event', async () => {
    // libp2p's streams dispatch what they buffered during a pause from inside resume(), and
    // only then tell the muxer to resume: a reader that missed that dispatch waited for an
    // event that never came (the stall that held TCP fetches at 10-15 MB/s)
    const s = new ResumeDeliversStream()
    const it = readFrames(s as unknown as FramedStream, { highWaterBytes: 1000 })
    const a = encodeFrames([new Uint8Array(100)])
    const b = encodeFrames([new Uint8Array(5000).fill(7)])
    const first = it.next()
    // frame a plus the start of frame b: above the high-water mark before b's length is parsed
    s.feed(Uint8Array.from([...a, ...b.subarray(0, 1000)]))
    assert.equal(s.readStatus, 'paused')
    s.feed(b.subarray(1000)) // held by the paused stream
    assert.equal((await first).value?.byteLength, 100)
    const second = await Promise.race([
      it.next(),
      new Promise<'stalled'>(resolve => setTimeout(() => resolve('stalled'), 1000))
    ])
    assert.notEqual(second, 'stalled', 'reader waited for an event after resume() delivered the frame')
    assert.equal((second as IteratorResult<Uint8ArrayList>).value?.byteLength, 5000)
    assert.equal(s.pausedInsideResume, 0, 'pausing inside resume() is undone by the muxer')
  })

  it('aborts the read and the stream when the signal aborts', async () => {
    const s = new FakeStream()
    const ac = new AbortController()
    const reading = collect(readFrames(s as unknown as FramedStream, { signal: ac.signal }))
    s.feed(Uint8Array.from([3, 1]))
    ac.abort(new DOMException('stop', 'AbortError'))
    await assert.rejects(reading, { name: 'AbortError' })
    assert.equal(s.aborted?.name, 'AbortError')
  })

  it('rejects maxFrameBytes above MAX_FRAME_BYTES', async () => {
    const s = new FakeStream()
    await assert.rejects(collect(readFrames(s as unknown as FramedStream, { maxFrameBytes: 2 ** 40 })), { name: 'RangeError' })
  })
})

describe('FrameWriter (in-memory stream)', () => {
  it('prefixes each frame with its varint length, in one send per write', async () => {
    const s = new FakeStream()
    const w = new FrameWriter(s as unknown as FramedStream)
    await w.write([Uint8Array.from([1, 2]), new Uint8Array(0), new Uint8Array(300)])
    assert.deepEqual([...s.sent.subarray(0, 7)], [2, 1, 2, 0, 0xac, 0x02, 0])
    assert.equal(s.sent.byteLength, 3 + 1 + 2 + 300)
    assert.equal(w.bytesWritten, s.sent.byteLength)
  })

  it('refuses a frame above maxFrameBytes and sends nothing', async () => {
    const s = new FakeStream()
    const w = new FrameWriter(s as unknown as FramedStream, { maxFrameBytes: 10 })
    await assert.rejects(w.write([new Uint8Array(1), new Uint8Array(11)]), { name: 'FrameTooLargeError' })
    assert.equal(s.sent.byteLength, 0)
  })

  it('waits for the drain event when send() returns false', async () => {
    const s = new FakeStream()
    s.fullAfter = 1
    const w = new FrameWriter(s as unknown as FramedStream)
    let done = false
    const p = w.write(new Uint8Array(5)).then(() => { done = true })
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(done, false)
    s.drain()
    await p
    assert.equal(done, true)
  })

  it('goes on waiting after a drain that leaves bytes in the write buffer, until it is empty or idle', async () => {
    // a yamux stream drains on every window update while its buffer still holds the message
    for (const end of ['drain', 'idle'] as const) {
      const s = new FakeStream() as FakeStream & { writeBufferLength: number }
      s.fullAfter = 1
      s.writeBufferLength = 5
      const w = new FrameWriter(s as unknown as FramedStream)
      let done = false
      const p = w.write(new Uint8Array(5)).then(() => { done = true })
      s.drain()
      await new Promise(resolve => setImmediate(resolve))
      assert.equal(done, false, 'a drain with 5 bytes still buffered')
      s.writeBufferLength = 0
      if (end === 'drain') s.drain()
      else s.dispatchEvent(new Event('idle'))
      await p
      assert.equal(done, true, `ended by ${end}`)
    }
  })

  it('rejects a pending write when the stream closes', async () => {
    const s = new FakeStream()
    s.fullAfter = 1
    const w = new FrameWriter(s as unknown as FramedStream)
    const p = w.write(new Uint8Array(5))
    s.abort(new Error('reset'))
    await assert.rejects(p, { name: 'StreamWriteClosedError' })
    await assert.rejects(w.write(new Uint8Array(1)), { name: 'StreamWriteClosedError' })
  })

  it('rejects a pending write when the signal aborts', async () => {
    const s = new FakeStream()
    s.fullAfter = 1
    const w = new FrameWriter(s as unknown as FramedStream)
    const ac = new AbortController()
    const p = w.write(new Uint8Array(5), { signal: ac.signal })
    ac.abort(new DOMException('stop', 'AbortError'))
    await assert.rejects(p, { name: 'AbortError' })
  })

  it('waits for a slow reader whose write buffer keeps shrinking (stallTimeoutMs)', async () => {
    const s = new FakeStream() as FakeStream & { writeBufferLength: number }
    s.fullAfter = 1
    s.writeBufferLength = 1000
    const w = new FrameWriter(s as unknown as FramedStream)
    const p = w.write(new Uint8Array(5), { stallTimeoutMs: 80 })
    // the reader takes 100 bytes every 30 ms: the wait lasts 300 ms, far past the 80 ms limit
    for (let i = 0; i < 10; i++) {
      await new Promise(resolve => setTimeout(resolve, 30))
      s.writeBufferLength -= 100
    }
    s.drain()
    await p
  })

  it('fails with SendStalledError when the write buffer stops shrinking', async () => {
    const s = new FakeStream() as FakeStream & { writeBufferLength: number }
    s.fullAfter = 1
    s.writeBufferLength = 1000
    const w = new FrameWriter(s as unknown as FramedStream)
    const started = Date.now()
    const p = w.write(new Uint8Array(5), { stallTimeoutMs: 80 })
    await new Promise(resolve => setTimeout(resolve, 30))
    s.writeBufferLength = 900 // some progress, then none
    await assert.rejects(p, { name: 'SendStalledError' })
    assert.ok(Date.now() - started >= 100, 'the clock restarted at the last progress')
  })
})

for (const t of TRANSPORTS) {
  describe(`framing over real libp2p nodes: ${t.name}`, () => {
    let pair: NodePair
    before(async () => { pair = await nodePair(t.init) })
    after(async () => { await pair.stop() })

    it('round-trips frames of many sizes byte-exact', { timeout: 20_000 }, async () => {
      const frames = [0, 1, 127, 128, 16_383, 16_384, 65_536, 1 << 20, 3 * (1 << 20) + 7].map(n => randomBytes(n))
      const { outbound, inbound } = await pair.open(PROTO)
      const reading = collect(readFrames(inbound))
      const w = new FrameWriter(outbound)
      for (const f of frames) await w.write(f)
      await w.write(frames.slice(0, 4))
      await outbound.close()
      const got = await reading
      assert.deepEqual(got.map(sha), [...frames, ...frames.slice(0, 4)].map(sha))
    })

    it('reads frames that arrived and ended before the reader attached', { timeout: 20_000 }, async () => {
      // the listener answers at once and closes; the dialer reads later. Over TCP+TLS the answer
      // and the close can arrive with the protocol negotiation, and libp2p 3 then reports
      // readableEnded while it still holds the bytes: the old reader returned no frames here
      const frames = [randomBytes(9), randomBytes(300)]
      const proto = `${PROTO}/answer`
      await pair.b.handle(proto, (stream) => {
        void new FrameWriter(stream).write(frames).then(async () => { await stream.close() })
      }, { force: true })
      try {
        for (let i = 0; i < 5; i++) {
          const stream = await pair.a.dialProtocol(pair.b.peerId, proto)
          await new Promise(resolve => setTimeout(resolve, 50))
          const got = await collect(readFrames(stream))
          assert.deepEqual(got.map(sha), frames.map(sha), `attempt ${i}`)
          await stream.close()
        }
      } finally {
        await pair.b.unhandle(proto)
      }
    })

    it('rejects an oversize frame and resets the stream', { timeout: 20_000 }, async () => {
      const { outbound, inbound } = await pair.open(PROTO)
      const reading = collect(readFrames(inbound, { maxFrameBytes: 1 << 20 }))
      reading.catch(() => {}) // asserted below
      const w = new FrameWriter(outbound, { maxFrameBytes: 4 << 20 })
      await w.write(randomBytes(100))
      await w.write(randomBytes((1 << 20) + 1)).catch(() => {})
      await assert.rejects(reading, { name: 'FrameTooLargeError' })
      // the writer learns of the reset on a later write (QUIC: STOP_SENDING; yamux: RST)
      let failure: Error | undefined
      for (let i = 0; i < 200 && failure == null; i++) {
        await w.write(randomBytes(1000)).catch((err: Error) => { failure = err })
        await new Promise(resolve => setTimeout(resolve, 10))
      }
      assert.equal(failure?.name, 'StreamWriteClosedError')
    })

    it('holds at most one write in the stream\'s buffer when frames are larger than the window updates', { timeout: 30_000 }, async () => {
      // 1 MiB frames to a reader taking 8 MB/s: yamux drains on each window update, smaller
      // than a frame; a writer that went on at each drain left 8.65 MB in the stream's buffer
      // here (TCP+TLS)
      const frameBytes = 1 << 20
      const frames = 16
      const { outbound, inbound } = await pair.open(`${PROTO}/big-frames`)
      const reading = (async () => {
        const started = Date.now()
        let got = 0
        for await (const f of readFrames(inbound, { maxFrameBytes: 2 * frameBytes })) {
          got += f.byteLength
          const wait = started + got / 8000 - Date.now()
          if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
        }
        return got
      })()
      const w = new FrameWriter(outbound, { maxFrameBytes: 2 * frameBytes })
      const payload = randomBytes(frameBytes)
      let maxWriteBuffer = 0
      for (let i = 0; i < frames; i++) {
        await w.write(payload)
        maxWriteBuffer = Math.max(maxWriteBuffer, outbound.writeBufferLength)
      }
      await outbound.close()
      assert.equal(await reading, frames * frameBytes)
      assert.ok(maxWriteBuffer <= frameBytes + 16, `stream write buffer held ${maxWriteBuffer} bytes after a write returned`)
    })

    it('bounds buffered bytes when the reader stops consuming (back-pressure)', { timeout: 60_000 }, async () => {
      const frameBytes = 64 * 1024
      const totalBytes = 64 * (1 << 20)
      const { outbound, inbound } = await pair.open(PROTO)
      const reader = readFrames(inbound, { highWaterBytes: 256 * 1024 })
      const w = new FrameWriter(outbound)
      const payload = randomBytes(frameBytes)
      let written = 0
      let maxWriteBuffer = 0
      const writing = (async () => {
        while (written < totalBytes) {
          await w.write(payload)
          written += frameBytes
          maxWriteBuffer = Math.max(maxWriteBuffer, outbound.writeBufferLength)
        }
        await outbound.close()
      })()
      writing.catch(() => {}) // awaited below; keeps a failure from being unhandled meanwhile
      const first = await reader.next()
      let consumed = first.value?.byteLength ?? 0
      // let the writer run until it stops making progress (or finishes: the failure case)
      let last = -1
      while (written !== last && written < totalBytes) {
        last = written
        await new Promise(resolve => setTimeout(resolve, 250))
      }
      const outstanding = written - consumed
      // bound: reader high water + one frame + the transport's flow-control windows
      // (yamux 16 MiB max stream window; QUIC 10 MB stream window) + one write queued
      assert.ok(written < totalBytes, `writer buffered all ${totalBytes} bytes: no back-pressure`)
      assert.ok(outstanding <= 20 * (1 << 20), `outstanding ${outstanding} bytes`)
      assert.ok(maxWriteBuffer <= 2 * frameBytes + 16, `stream write buffer reached ${maxWriteBuffer} bytes`)
      assert.equal(inbound.status, 'open', 'the paused reader must not be reset')

      for await (const f of { [Symbol.asyncIterator]: () => reader }) {
        assert.equal(f.byteLength, frameBytes)
        consumed += f.byteLength
      }
      await writing
      assert.equal(consumed, totalBytes)
    })
  })
}

/**
 * Reproductions of upstream defects we work around or patch. Each test PASSES while the
 * defect is present (or our patch is in place) and fails with a message saying what to do
 * when upstream changes — so an upgrade tells us which workaround to drop.
 *
 * 1. `@libp2p/utils` 7.4.1 `AbstractMessageStream.onDrain()` keeps its first promise: once
 *    it has resolved, later calls return it at once although `writableNeedsDrain` is true,
 *    so `if (!send(buf)) await onDrain()` stops applying back-pressure. Workaround:
 *    `waitForDrain` in src/framing.ts waits for the `drain` event instead.
 * 2. `@chainsafe/libp2p-quic` 2.1.1 reads 4 KiB per native call (CHUNK_SIZE) and keeps
 *    reading while the stream is paused (a paused reader is reset once 4 MiB pile up).
 *    patches/@chainsafe+libp2p-quic+2.1.1.patch (repo root) sets 64 KiB and honours pause/resume.
 * 3. `libp2p` 3.3.11's address manager debounces its peer-store update by 1 s and is not a
 *    startable component: stopping the transports ('transport:close') arms that timer after the
 *    node stopped, which kept every listening `tensorswap get` alive for a second after its work
 *    and then wrote to a closed repo ("Database is not open"). patches/libp2p+3.3.11.patch gives
 *    the address manager an `afterStop` that clears the timer.
 * 4. `@libp2p/tls` 3.1.10 calls `generateCertificate` on every handshake (a new P-256 key pair,
 *    an identity signature and an X.509 certificate built in JS, ~7 ms) and parses and checks
 *    every peer certificate in full (~3 ms); in a swarm of six leechers that was 7.6 % of their
 *    CPU. patches/@libp2p+tls+3.1.10.patch makes one certificate per identity key and remembers
 *    each verified peer certificate by its DER bytes (the bulk lane shares both), and gives every
 *    connection one TLS secure context instead of parsing the PEM certificate and key each time.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { tls } from '@libp2p/tls'
import { generateCertificate, verifyPeerCertificate } from '@libp2p/tls/utils'
import { defaultLogger } from '@libp2p/logger'
import { X509Certificate } from 'node:crypto'
import { waitForDrain } from '../src/framing.js'
import { createTestNode, nodePair, TRANSPORTS } from './helpers.js'
import type { NodePair } from './helpers.js'
import type { Stream } from '@libp2p/interface'

const tick = async (ms = 0): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** send() 64 KiB buffers until the stream reports full; returns bytes sent. */
function fill (stream: Stream): number {
  const buf = new Uint8Array(64 * 1024)
  let sent = 0
  for (let i = 0; i < 1024; i++) {
    sent += buf.byteLength
    if (!stream.send(buf)) return sent
  }
  throw new Error('stream never reported full')
}

describe('upstream defect 1: @libp2p/utils onDrain() resolves once and never resets', () => {
  let pair: NodePair
  before(async () => { pair = await nodePair(TRANSPORTS.find(t => t.name === 'TCP+TLS+yamux')!.init) })
  after(async () => { await pair.stop() })

  it('reproduces: a second onDrain() resolves while writableNeedsDrain is still true', { timeout: 20_000 }, async () => {
    const { outbound, inbound } = await pair.open('/tensorswap-test/drain/1.0.0')
    inbound.pause() // yamux withholds window updates: the sender's 256 KiB window runs out

    // first cycle: full -> onDrain() -> the reader resumes -> drain
    fill(outbound)
    assert.equal(outbound.writableNeedsDrain, true)
    const firstDrain = outbound.onDrain()
    inbound.resume()
    await firstDrain

    // second cycle: full again and the reader paused, so no drain can legitimately come
    inbound.pause()
    await tick(50) // let window updates already in flight land
    while (!outbound.writableNeedsDrain) { fill(outbound); await tick(10) }
    const outcome = await Promise.race([
      outbound.onDrain().then(() => 'resolved'),
      tick(100).then(() => 'pending')
    ])
    const defectPresent = outcome === 'resolved' && outbound.writableNeedsDrain
    assert.equal(defectPresent, true,
      'upstream fixed: remove workaround in framing.ts (waitForDrain may use stream.onDrain()) and drop this test')

    // our workaround waits for the real event: still pending while the reader is paused
    const ours = await Promise.race([waitForDrain(outbound).then(() => 'resolved'), tick(100).then(() => 'pending')])
    assert.equal(ours, 'pending')
    inbound.resume()
    await waitForDrain(outbound)
    outbound.abort(new Error('test done'))
  })
})

describe('upstream defect 2: @chainsafe/libp2p-quic 2.1.1 read loop (patched)', () => {
  it('reads 64 KiB per native call (CHUNK_SIZE patched from 4096)', async () => {
    const url = new URL('./stream.js', import.meta.resolve('@chainsafe/libp2p-quic'))
    const mod = await import(url.href) as { CHUNK_SIZE: number }
    assert.equal(mod.CHUNK_SIZE, 65536,
      'patch not applied: run `npx patch-package` in the repo root (patches/@chainsafe+libp2p-quic+2.1.1.patch); if the package was upgraded, re-measure and re-create the patch')
  })

  describe('pause() over QUIC', () => {
    let pair: NodePair
    before(async () => { pair = await nodePair(TRANSPORTS.find(t => t.name === 'QUIC')!.init) })
    after(async () => { await pair.stop() })

    it('a paused reader stops reading and is not reset however much the sender offers', { timeout: 20_000 }, async () => {
      const { outbound, inbound } = await pair.open('/tensorswap-test/pause/1.0.0')
      inbound.pause()
      const chunk = new Uint8Array(256 * 1024)
      let offered = 0
      const sending = (async () => {
        while (offered < 64 * (1 << 20)) {
          offered += chunk.byteLength
          if (!outbound.send(chunk)) await waitForDrain(outbound)
        }
      })()
      sending.catch(() => {})
      let last = -1
      while (offered !== last) { last = offered; await tick(250) }
      assert.equal(inbound.status, 'open', 'unpatched @chainsafe/libp2p-quic: a paused stream is reset at maxReadBufferLength; run `npx patch-package`')
      assert.ok(inbound.readBufferLength <= 64 * 1024, `paused stream buffered ${inbound.readBufferLength} bytes`)
      assert.ok(offered < 64 * (1 << 20), 'the sender was never throttled')
      outbound.abort(new Error('test done'))
    })
  })
})

describe('upstream defect 3: libp2p 3.3.11 address manager debounce outlives stop (patched)', () => {
  it('a stopped listening node arms no peer-store update (no timer keeps the process alive)', { timeout: 20_000 }, async () => {
    const node = await createTestNode(TRANSPORTS.find(t => t.name === 'TCP+TLS+yamux')!.init)
    await node.start()
    // let the start-up updates settle, then stop (which closes the listener)
    await tick(1_200)
    await node.stop()
    let updates = 0
    node.addEventListener('self:peer:update', () => { updates++ })
    await tick(1_300)
    assert.equal(updates, 0,
      'unpatched libp2p: the address manager updated the peer store 1 s after stop; run `npx patch-package` (patches/libp2p+3.3.11.patch); if libp2p was upgraded and still does, re-create the patch, else drop it and this test')
  })
})

describe('upstream defect 4: @libp2p/tls 3.1.10 makes a certificate per connection (patched)', () => {
  const unpatched = 'unpatched @libp2p/tls: run `npx patch-package` (patches/@libp2p+tls+3.1.10.patch); if @libp2p/tls was upgraded and now reuses its certificate, drop the patch and this test'

  it('one certificate per identity key, another for another key', async () => {
    const key = await generateKeyPair('Ed25519')
    const first = await generateCertificate(key)
    const second = await generateCertificate(key)
    assert.equal(second.cert, first.cert, unpatched)
    assert.equal(second.key, first.key, unpatched)
    const other = await generateCertificate(await generateKeyPair('Ed25519'))
    assert.notEqual(other.cert, first.cert)
  })

  it('one secure context for every connection of an encrypter', async () => {
    const encrypter = tls()({ privateKey: await generateKeyPair('Ed25519'), logger: defaultLogger(), upgrader: { getStreamMuxers: () => new Map() } } as any) as unknown as { _secureContext: () => Promise<unknown> }
    assert.equal(typeof encrypter._secureContext, 'function', unpatched)
    const [first, second] = await Promise.all([encrypter._secureContext(), encrypter._secureContext()])
    assert.equal(second, first, unpatched)
    assert.equal(await encrypter._secureContext(), first, unpatched)
  })

  it('a remembered peer certificate still names its peer and still refuses the wrong one', async () => {
    const key = await generateKeyPair('Ed25519')
    const otherKey = await generateKeyPair('Ed25519')
    const certificateOf = async (k: typeof key): Promise<Uint8Array> =>
      new Uint8Array(new X509Certificate((await generateCertificate(k)).cert).raw)
    const der = await certificateOf(key)
    const wrong = await verifyPeerCertificate(await certificateOf(otherKey))
    const peer = await verifyPeerCertificate(der) // checked in full
    assert.equal(peer.publicKey?.equals(key.publicKey), true)
    for (let round = 0; round < 2; round++) { // remembered from here on
      assert.equal((await verifyPeerCertificate(der, peer)).toString(), peer.toString())
      await assert.rejects(verifyPeerCertificate(der, wrong), { name: 'UnexpectedPeerError' })
    }
    // a tampered certificate is a different key in the cache: checked in full, and refused
    const tampered = der.slice()
    tampered[tampered.length - 5] ^= 0xff
    await assert.rejects(verifyPeerCertificate(tampered, peer))
  })
})

/**
 * A misbehaving exchange peer in its own process, for the hostile-input and fail-over tests.
 * It is a plain libp2p node (`createLibp2pNode` of `tensorswap/transport`) that speaks the
 * exchange protocols just enough to misbehave: messages are crafted with the wire codec
 * (`encodeMessage`), malformed and oversize input is written as raw bytes behind the framing's
 * varint prefix. It prints one JSON line per event on stdout and exits on SIGTERM after a
 * `summary` line.
 *
 *   node hostile-peer.js --mode MODE [--dial MULTIADDR] [--blocks DIR] [--count N]
 *     [--per-message N] [--hold-after N] [--probe CID] [--transport quic|tcp] [--listen IP]
 *     [--say-have] [--random]
 *
 * `--listen IP` listens on that address (a namespaced host's) instead of 127.0.0.1;
 * `--say-have` makes `bad-bytes` answer want-haves with HAVE first (a liar that lures wants);
 * `--random` makes it send random bytes of the right size instead of altered real ones.
 *
 * Attacks on a serving victim (`--dial` its address; each ends with a probe of the ban):
 *   oversize-frame   one frame declaring 5 MiB (over the 4 MiB cap)
 *   malformed        frames that do not decode as a Bitswap protobuf, one per stream, `--count` at most
 *   huge-wantlist    100,000 want-block entries for blocks nobody has, `--per-message` per message
 *                    (default: all in one message)
 *   want-flood       `--count` messages (default 20,000) written back to back, one new want each
 *   no-read          `--count` identities (default 8) each want every block of `--blocks` and
 *                    never read the answers (slow-reader / stuck-writer attack)
 *   streams          `--count` exchange streams (default 1000) opened on one connection, each
 *                    carrying one want-have and left open
 * Attacks that need no libp2p identity (`--dial` is a plain address here):
 *   idle-tcp         `--count` TCP sockets (default 500) to `--dial HOST:PORT` (the victim's
 *                    libp2p TCP port) that never send a byte, from `--from` (a local address,
 *                    e.g. 127.0.0.2: another host on loopback); each one the victim closes is
 *                    reopened until SIGTERM (a persistent attacker)
 *   slow-gateway     `--count` HTTP readers (default 200) of `--dial URL` (a gateway URL), each
 *                    reading `--rate` bytes per second (default 1024) from `--from` (IPv4); a
 *                    reader counts as cut off when its connection is gone from
 *                    `/proc/net/tcp` (reset; Linux) or its socket closes before the end
 *   probe-only       no attack: the probe alone (a control for the probe)
 * The probe (`--probe CID`, a block the victim has) redials and sends a want-have on a fresh
 * stream; it reports whether that stream was reset and whether a HAVE came back.
 *
 * Roles towards a fetching victim (the victim dials us; we answer its wants):
 *   unrequested-blocks  push `--count` (default 20) random blocks nobody asked for
 *   bad-bytes           answer each want-block with the block's bytes altered (real bytes with
 *                       one flipped byte when `--blocks` holds the block, else random bytes);
 *                       with `--random`, random bytes of the block's size (from `--blocks`,
 *                       else 1 MiB) for every want: nothing of the real block at all
 *   stall               take every want, never answer
 *   have-silence        answer every want-have with HAVE (block or not), then never send a
 *                       block nor a DONT_HAVE: a provider that lures wants and sits on them
 *   dont-have           answer every want with DONT_HAVE
 *   no-exchange         register no exchange protocol at all (neither /ipfs/bitswap/* nor
 *                       /tensorswap/*, nor GraphSync): a plain libp2p node with identify and
 *                       ping only, so every exchange stream the victim opens is refused
 *   serve               answer wants with real blocks from `--blocks` (a FsBlockstore dir);
 *                       after `--hold-after N` blocks, go silent at the next want-block (so
 *                       the victim has wants outstanding here; the test then kills us)
 *
 * Events: `ready {peerId, addrs}`, `cut-off {index, afterMs, ...}` (idle-tcp, slow-gateway: the
 * victim closed one of ours), `connected`/`disconnected {peer}`, `wants {entries, total}`,
 * `sent {what, count, cids?}`, `stream-reset {phase}`, `probe {streamReset, haveReceived}`,
 * `held {blocks}`, `attack-done {...}`, `summary {...}`.
 */
import { createHash, randomBytes } from 'node:crypto'
import { get as httpGet } from 'node:http'
import { readFileSync } from 'node:fs'
import { connect as tcpConnect, type Socket } from 'node:net'
import { parseArgs } from 'node:util'
import { FsBlockstore, getBlockUnverified } from '@tensorswap/blockstore'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { PROTOCOLS, decodeMessage, encodeMessage } from 'tensorswap'
import { createLibp2pNode, encodeVarint, readFrames } from 'tensorswap/transport'
import type { BitswapMessage, Block, WantEntry } from 'tensorswap'
import type { Connection, PeerId, Stream } from '@libp2p/interface'

const { values } = parseArgs({
  options: {
    mode: { type: 'string' },
    dial: { type: 'string' },
    blocks: { type: 'string' },
    count: { type: 'string' },
    'per-message': { type: 'string' },
    'hold-after': { type: 'string' },
    probe: { type: 'string' },
    transport: { type: 'string', default: 'tcp' },
    from: { type: 'string' },
    rate: { type: 'string' },
    listen: { type: 'string' },
    'say-have': { type: 'boolean' },
    random: { type: 'boolean' }
  }
})
const mode = values.mode ?? ''
const MiB = 1024 * 1024
const RAW = 0x55
const SHA2_256 = 0x12

function emit (obj: Record<string, unknown>): void { process.stdout.write(JSON.stringify(obj) + '\n') }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** A raw sha2-256 CIDv1 of `bytes`, as the receiver computes it. */
function cidOfBytes (bytes: Uint8Array, codec = RAW): CID {
  return CID.createV1(codec, Digest.create(SHA2_256, createHash('sha256').update(bytes).digest()))
}

/** A CID of a block nobody has. */
function randomCid (): CID { return cidOfBytes(randomBytes(32)) }

/** One varint-prefixed frame. */
function frame (body: Uint8Array): Uint8Array {
  const prefix = encodeVarint(body.byteLength)
  const out = new Uint8Array(prefix.byteLength + body.byteLength)
  out.set(prefix)
  out.set(body, prefix.byteLength)
  return out
}

/** Resolves with the close error (or undefined) when `stream` closes. */
function closed (stream: Stream): Promise<Error | undefined> {
  if (stream.status === 'reset' || stream.status === 'aborted') return Promise.resolve(new Error(`stream ${stream.status}`))
  if (stream.status !== 'open') return Promise.resolve(undefined)
  return new Promise(resolve => {
    stream.addEventListener('close', (evt: Event & { error?: Error }) => { resolve(evt.error) }, { once: true })
  })
}

/** Write `bytes` and wait until the stream can take more (or is gone). */
async function write (stream: Stream, bytes: Uint8Array): Promise<boolean> {
  if (stream.writeStatus !== 'writable') return false
  if (stream.send(bytes)) return true
  return await drained(stream)
}

/** Wait for `drain` (or close); whether the stream is still writable. */
async function drained (stream: Stream): Promise<boolean> {
  if (stream.writeStatus !== 'writable' || !stream.writableNeedsDrain) return stream.writeStatus === 'writable'
  await new Promise<void>(resolve => {
    const done = (): void => {
      stream.removeEventListener('drain', done)
      stream.removeEventListener('close', done)
      resolve()
    }
    stream.addEventListener('drain', done)
    stream.addEventListener('close', done)
  })
  return stream.writeStatus === 'writable'
}

const libp2p = await createLibp2pNode({
  listen: values.transport === 'quic' ? [`/ip4/${values.listen ?? '127.0.0.1'}/udp/0/quic-v1`] : [`/ip4/${values.listen ?? '127.0.0.1'}/tcp/0`],
  transports: [values.transport === 'quic' ? 'quic' : 'tcp']
})
const store = values.blocks != null ? new FsBlockstore(values.blocks) : undefined

const stats = {
  wantsReceived: 0,
  wantBlocksReceived: 0,
  cancelsReceived: 0,
  haveReceived: 0,
  dontHaveReceived: 0,
  blocksSent: 0,
  presencesSent: 0,
  disconnects: 0,
  presencesAfterBan: 0,
  streamResets: 0
}
/** CIDs (as the receiver computes them) of every bad block we sent. */
const badCids: string[] = []

libp2p.addEventListener('peer:connect', (evt) => { emit({ event: 'connected', peer: evt.detail.toString() }) })
libp2p.addEventListener('peer:disconnect', (evt) => {
  stats.disconnects++
  emit({ event: 'disconnected', peer: evt.detail.toString() })
})

// --- answering side: one outbound stream per peer, as the protocol wants ------------------

const outbound = new Map<string, Promise<Stream>>()

async function replyStream (peer: PeerId): Promise<Stream> {
  const key = peer.toString()
  let s = outbound.get(key)
  if (s != null) {
    const stream = await s
    if (stream.status === 'open' && stream.writeStatus === 'writable') return stream
  }
  s = libp2p.dialProtocol(peer, [...PROTOCOLS]).then(stream => {
    stream.closeRead().catch(() => {})
    return stream
  })
  outbound.set(key, s)
  return await s
}

async function reply (peer: PeerId, message: BitswapMessage): Promise<void> {
  try {
    const stream = await replyStream(peer)
    await write(stream, frame(encodeMessage(message, stream.protocol)))
  } catch (err: any) {
    emit({ event: 'reply-failed', name: err?.name })
  }
}

// messages are handled one at a time per process, in arrival order
let queue = Promise.resolve()
let pushedUnrequested = false

/** Push `--count` random blocks nobody asked for (once). */
async function pushJunk (peer: PeerId): Promise<void> {
  if (pushedUnrequested) return
  pushedUnrequested = true
  const count = Number(values.count ?? 20)
  const cids: string[] = []
  for (let i = 0; i < count; i++) {
    // once the victim has hung up, stop: `reply` would redial it for every block left, and
    // those refused redials from 127.0.0.1 used up the victim's per-host connection rate (5 a
    // second) that the honest `get` beside us, from the same host, needed (a flaky
    // test/exchange/hostile.test.ts). The probe still redials once to check the ban.
    if (i > 0 && libp2p.getConnections(peer).length === 0) break
    const bytes = randomBytes(1024)
    const cid = cidOfBytes(bytes)
    cids.push(cid.toString())
    badCids.push(cid.toString())
    stats.blocksSent++
    await reply(peer, { blocks: [{ cid, bytes }], presences: [], pendingBytes: 0 })
  }
  emit({ event: 'sent', what: 'unrequested-blocks', count: cids.length, cids })
}

// a fetching victim dials us: push junk as soon as it says it speaks the protocol
libp2p.addEventListener('peer:identify', (evt) => {
  if (mode !== 'unrequested-blocks' || values.dial != null) return
  if (!evt.detail.protocols.some(p => PROTOCOLS.includes(p))) return
  queue = queue.then(async () => { await pushJunk(evt.detail.peerId) }).catch((err: any) => { emit({ event: 'error', name: err?.name, message: err?.message }) })
})
let served = 0
let held = false
const holdAfter = values['hold-after'] != null ? Number(values['hold-after']) : Infinity

async function onWants (peer: PeerId, entries: WantEntry[]): Promise<void> {
  const wants = entries.filter(e => !e.cancel)
  if (mode === 'stall') return
  if (mode === 'have-silence') {
    const presences = wants.filter(e => e.wantType === 'have').map(e => ({ cid: e.cid, type: 'have' as const }))
    if (presences.length === 0) return
    stats.presencesSent += presences.length
    await reply(peer, { blocks: [], presences, pendingBytes: 0 })
    return
  }
  if (mode === 'dont-have') {
    const presences = wants.map(e => ({ cid: e.cid, type: 'dont-have' as const }))
    if (presences.length === 0) return
    stats.presencesSent += presences.length
    await reply(peer, { blocks: [], presences, pendingBytes: 0 })
    emit({ event: 'sent', what: 'dont-have', count: presences.length })
    return
  }
  if (mode === 'unrequested-blocks') {
    await pushJunk(peer)
    return
  }
  if (mode === 'bad-bytes') {
    const haves = values['say-have'] === true ? wants.filter(e => e.wantType === 'have').map(e => ({ cid: e.cid, type: 'have' as const })) : []
    if (haves.length > 0) {
      stats.presencesSent += haves.length
      await reply(peer, { blocks: [], presences: haves, pendingBytes: 0 })
    }
    const blocks: Block[] = []
    for (const e of wants) {
      if (e.wantType !== 'block') continue
      let bytes: Uint8Array
      const real = store != null && await store.has(e.cid) ? new Uint8Array(await getBlockUnverified(store, e.cid)) : undefined
      if (values.random === true) {
        // right-size noise: the size check of a corrupt copy passes, only the hash can tell
        bytes = randomBytes(real?.byteLength ?? MiB)
      } else if (real != null) {
        bytes = real
        bytes[bytes.byteLength >> 1] ^= 0xff
      } else {
        bytes = randomBytes(1024)
      }
      // the prefix is the wanted CID's: only the bytes lie
      blocks.push({ cid: e.cid, bytes })
      badCids.push(cidOfBytes(bytes, e.cid.code).toString())
    }
    if (blocks.length === 0) return
    stats.blocksSent += blocks.length
    for (let i = 0; i < blocks.length; i += 4) {
      await reply(peer, { blocks: blocks.slice(i, i + 4), presences: [], pendingBytes: 0 })
    }
    emit({ event: 'sent', what: 'bad-bytes', count: blocks.length, cids: badCids.slice(-blocks.length) })
    return
  }
  if (mode === 'serve') {
    if (store == null) throw new Error('serve needs --blocks')
    for (const e of wants) {
      if (held) return
      if (!await store.has(e.cid)) {
        if (e.sendDontHave) await reply(peer, { blocks: [], presences: [{ cid: e.cid, type: 'dont-have' }], pendingBytes: 0 })
        continue
      }
      if (e.wantType === 'have') {
        await reply(peer, { blocks: [], presences: [{ cid: e.cid, type: 'have' }], pendingBytes: 0 })
        continue
      }
      if (served >= holdAfter) {
        // this want (and any after it) stays unanswered: the victim has wants outstanding here
        held = true
        emit({ event: 'held', blocks: served })
        return
      }
      await reply(peer, { blocks: [{ cid: e.cid, bytes: await getBlockUnverified(store, e.cid) }], presences: [], pendingBytes: 0 })
      stats.blocksSent++
      served++
    }
  }
}


if (mode !== 'no-exchange') await libp2p.handle([...PROTOCOLS], (stream: Stream, connection: Connection) => {
  const peer = connection.remotePeer
  void (async () => {
    try {
      await stream.close()
      for await (const f of readFrames(stream, { maxFrameBytes: 8 * MiB })) {
        const message = decodeMessage(f, { maxMessageBytes: 8 * MiB, maxWantlistSize: 1 << 20, maxPresences: 1 << 20 })
        for (const p of message.presences) {
          if (p.type === 'have') stats.haveReceived++
          else stats.dontHaveReceived++
          // anything the victim tells us after it hung up on us (it should not talk to a banned peer)
          if (stats.disconnects > 0) stats.presencesAfterBan++
        }
        if (message.presences.length > 0) emit({ event: 'presences', have: stats.haveReceived, dontHave: stats.dontHaveReceived })
        // a want-have for a small block (<= 1024 bytes) is answered with the block: that is a HAVE too
        if (message.blocks.length > 0) stats.haveReceived += message.blocks.length
        const entries = message.wantlist?.entries ?? []
        if (entries.length === 0) continue
        stats.wantsReceived += entries.filter(e => !e.cancel).length
        stats.wantBlocksReceived += entries.filter(e => !e.cancel && e.wantType === 'block').length
        stats.cancelsReceived += entries.filter(e => e.cancel).length
        emit({ event: 'wants', entries: entries.length, total: stats.wantsReceived })
        queue = queue.then(async () => { await onWants(peer, entries) }).catch((err: any) => { emit({ event: 'error', name: err?.name, message: err?.message }) })
      }
    } catch (err: any) {
      emit({ event: 'inbound-ended', name: err?.name })
    }
  })()
}, { maxInboundStreams: 1024, maxOutboundStreams: 1024 })

emit({ event: 'ready', peerId: libp2p.peerId.toString(), addrs: libp2p.getMultiaddrs().map(a => a.toString()) })

// --- attacking side: we dial a serving victim ---------------------------------------------

/** Wait until `pred` holds, polling; false after `ms`. */
async function until (pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!pred()) {
    if (Date.now() > end) return false
    await sleep(25)
  }
  return true
}

async function openStream (target: ReturnType<typeof multiaddr>, phase: string, quiet = false): Promise<Stream | undefined> {
  try {
    // the read half stays open: over QUIC a refusal (RESET_STREAM) shows up on the read side
    const stream = await libp2p.dialProtocol(target, [...PROTOCOLS], { signal: AbortSignal.timeout(10_000) })
    void closed(stream).then(err => {
      if (err != null) {
        stats.streamResets++
        if (!quiet) emit({ event: 'stream-reset', phase, name: err.name })
      }
    })
    return stream
  } catch (err: any) {
    if (!quiet) emit({ event: 'open-failed', phase, name: err?.name })
    return undefined
  }
}

function wantMessage (cids: CID[], wantType: 'block' | 'have' = 'block'): BitswapMessage {
  return {
    wantlist: { full: false, entries: cids.map(cid => ({ cid, priority: 1, cancel: false, wantType, sendDontHave: true })) },
    blocks: [],
    presences: [],
    pendingBytes: 0
  }
}

async function attack (target: ReturnType<typeof multiaddr>): Promise<void> {
  const disconnectsBefore = stats.disconnects
  const victim = await libp2p.dial(target)
  const victimId = victim.remotePeer.toString()
  const isConnected = (): boolean => libp2p.getConnections(victim.remotePeer).length > 0
  const result: Record<string, unknown> = { mode }
  if (mode === 'oversize-frame') {
    const stream = await openStream(target, 'attack')
    if (stream != null) {
      // a prefix declaring 5 MiB, then the start of the body: the cap is 4 MiB (+64 KiB slack)
      const body = new Uint8Array(64 * 1024)
      const prefix = encodeVarint(5 * MiB)
      const bytes = new Uint8Array(prefix.byteLength + body.byteLength)
      bytes.set(prefix)
      bytes.set(body, prefix.byteLength)
      await write(stream, bytes)
      result.declaredBytes = 5 * MiB
    }
  } else if (mode === 'malformed') {
    const count = Number(values.count ?? 5)
    let sent = 0
    for (let i = 0; i < count && isConnected(); i++) {
      const stream = await openStream(target, 'attack')
      if (stream == null) break
      // field 1 (wantlist), wire type 2, with a length running past the end; then wire type 7
      await write(stream, frame(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02, 0x0f, 0xff])))
      sent++
      await Promise.race([closed(stream), sleep(3_000)])
    }
    result.sent = sent
  } else if (mode === 'huge-wantlist') {
    const total = 100_000
    const perMessage = Number(values['per-message'] ?? total)
    const stream = await openStream(target, 'attack')
    let entries = 0
    let messages = 0
    let largest = 0
    if (stream != null) {
      for (let i = 0; i < total && stream.writeStatus === 'writable' && isConnected(); i += perMessage) {
        const cids = Array.from({ length: Math.min(perMessage, total - i) }, randomCid)
        const body = encodeMessage(wantMessage(cids), stream.protocol)
        largest = Math.max(largest, body.byteLength)
        entries += cids.length
        messages++
        if (!await write(stream, frame(body))) break
      }
    }
    Object.assign(result, { entries, messages, largestMessageBytes: largest })
  } else if (mode === 'unrequested-blocks') {
    await pushJunk(victim.remotePeer)
  } else if (mode === 'no-read') {
    // `--count` identities each want every block and never read the answers: each holds
    // whatever the victim has in flight to it, forever
    if (store == null) throw new Error('no-read needs --blocks')
    const cids: CID[] = []
    for await (const { cid } of store.getAll()) cids.push(cid)
    const identities = Number(values.count ?? 8)
    let answering = 0
    for (let n = 0; n < identities; n++) {
      // libp2p's connection manager accepts 5 inbound connections per second per host
      await sleep(250)
      const node = await createLibp2pNode({ listen: [], transports: [values.transport === 'quic' ? 'quic' : 'tcp'] })
      let seen = false
      await node.handle([...PROTOCOLS], (stream: Stream) => {
        stream.pause()
        if (!seen) {
          seen = true
          answering++
        }
      }, { maxInboundStreams: 1024, maxOutboundStreams: 1024 })
      const stream = await node.dialProtocol(target, [...PROTOCOLS])
      for (let i = 0; i < cids.length; i += 512) {
        await write(stream, frame(encodeMessage(wantMessage(cids.slice(i, i + 512)), stream.protocol)))
      }
    }
    // every identity has an answer stream open from the victim (which it never reads)
    await until(() => answering === identities, 30_000)
    Object.assign(result, { identities, answering, wantsEach: cids.length })
  } else if (mode === 'streams') {
    // every stream stays open with one want-have on it: what a peer costs that opens streams
    // and never ends them
    const count = Number(values.count ?? 1000)
    const held: Stream[] = []
    let failed = 0
    const resetsBefore = stats.streamResets
    for (let i = 0; i < count && isConnected(); i++) {
      const stream = await openStream(target, 'attack', true)
      if (stream == null) {
        failed++
        continue
      }
      held.push(stream)
      await write(stream, frame(encodeMessage(wantMessage([randomCid()], 'have'), stream.protocol)))
    }
    // let the victim's answers (resets, a hang-up) arrive
    await until(() => !isConnected(), 3_000)
    Object.assign(result, { opened: held.length, failed, reset: stats.streamResets - resetsBefore, open: held.filter(s => s.status === 'open').length })
  } else if (mode === 'want-flood') {
    const count = Number(values.count ?? 20_000)
    const stream = await openStream(target, 'attack')
    let messages = 0
    if (stream != null) {
      for (let i = 0; i < count && stream.writeStatus === 'writable'; i++) {
        // back to back: only wait when the stream asks us to
        if (!stream.send(frame(encodeMessage(wantMessage([randomCid()]), stream.protocol)))) {
          if (!await drained(stream)) break
        }
        messages++
      }
    }
    result.messages = messages
  }
  if (mode !== 'probe-only' && mode !== 'no-read') {
    // the victim hung up at least once (we may have redialled since, e.g. to send more)
    result.disconnected = await until(() => stats.disconnects > disconnectsBefore, 15_000)
  }
  emit({ event: 'attack-done', victim: victimId, ...result })

  if (values.probe != null) {
    const cid = CID.parse(values.probe)
    const haveBefore = stats.haveReceived
    const resetsBefore = stats.streamResets
    const disconnectsBefore = stats.disconnects
    let streamReset = false
    let redialed = false
    try {
      await libp2p.dial(target)
      redialed = true
      const stream = await openStream(target, 'probe')
      if (stream != null) {
        await write(stream, frame(encodeMessage(wantMessage([cid], 'have'), stream.protocol)))
        // wait for an outcome: the victim resets the stream or hangs up (refused), or answers HAVE
        await until(() => stats.streamResets > resetsBefore || stats.disconnects > disconnectsBefore || stats.haveReceived > haveBefore, 10_000)
        streamReset = stats.streamResets > resetsBefore
      } else {
        streamReset = true
      }
    } catch (err: any) {
      emit({ event: 'probe-dial-failed', name: err?.name })
    }
    emit({ event: 'probe', redialed, streamReset, disconnected: stats.disconnects > disconnectsBefore, haveReceived: stats.haveReceived > haveBefore })
  }
}

// --- attacks below the exchange: raw TCP sockets, HTTP readers -----------------------------

/** What the victim did to our sockets/requests (idle-tcp, slow-gateway). */
const cut = { opened: 0, refused: 0, cutOff: 0, completed: 0, bytesRead: 0, afterMs: [] as number[], statuses: {} as Record<string, number> }
let stopping = false

/** One idle socket to `host:port`; reopened once the victim closes it, until we stop. */
function idleSocket (index: number, host: string, port: number): void {
  const opened = Date.now()
  let connected = false
  const socket: Socket = tcpConnect({ host, port, ...(values.from != null ? { localAddress: values.from } : {}) })
  socket.on('connect', () => {
    connected = true
    cut.opened++
  })
  socket.on('data', () => {}) // whatever the victim says, we never answer
  socket.on('error', () => {})
  socket.on('close', () => {
    if (stopping) return
    if (connected) {
      cut.cutOff++
      cut.afterMs.push(Date.now() - opened)
      if (cut.cutOff <= 3 || cut.cutOff % 100 === 0) emit({ event: 'cut-off', index, afterMs: Date.now() - opened, total: cut.cutOff })
    } else {
      cut.refused++
    }
    // a persistent attacker: take the slot again (not faster than 20 sockets a second each)
    setTimeout(() => { if (!stopping) idleSocket(index, host, port) }, 1_000).unref()
  })
}

async function idleTcp (address: string): Promise<void> {
  const m = /^(.*):(\d+)$/.exec(address)
  if (m == null) throw new Error(`idle-tcp: --dial HOST:PORT, got ${address}`)
  const count = Number(values.count ?? 500)
  for (let i = 0; i < count; i++) {
    idleSocket(i, m[1], Number(m[2]))
    if (i % 50 === 49) await sleep(10)
  }
  await until(() => cut.opened + cut.refused >= count, 15_000)
  emit({ event: 'attack-done', mode, sockets: count, opened: cut.opened, refused: cut.refused })
}

/**
 * Readers' connections to watch for a cut, by their local end as `/proc/net/tcp` spells it
 * (`0300007F:1F90`): a reader taking 1 KiB/s does not see the victim's FIN (it waits behind
 * megabytes of unread data) nor, while its socket is paused, a reset; the kernel does. Linux only.
 */
const watchedReaders = new Map<string, () => void>()
let readerWatch: ReturnType<typeof setInterval> | undefined

/** `127.0.0.3`, 8080 -> `0300007F:1F90` (the address in host byte order, little-endian here). */
function procTcpKey (address: string, port: number): string {
  const hex = address.split('.').map(b => Number(b).toString(16).toUpperCase().padStart(2, '0')).reverse().join('')
  return `${hex}:${port.toString(16).toUpperCase().padStart(4, '0')}`
}

/** Every second: a watched reader whose connection is gone from `/proc/net/tcp` was reset by the victim. */
function watchReaders (): void {
  if (readerWatch != null) return
  readerWatch = setInterval(() => {
    if (watchedReaders.size === 0) return
    const states = new Map<string, string>()
    for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length > 3) states.set(f[1], f[3])
    }
    // gone from the table: reset (the victim's cut). CLOSE_WAIT (`08`) is a FIN, which queues
    // behind the data: the response's end, or a cut we see once we read up to it (socket 'close')
    for (const [key, onCut] of [...watchedReaders]) {
      if (!states.has(key)) onCut()
    }
  }, 1_000)
  readerWatch.unref()
}

/** One HTTP reader of `url` taking `rate` bytes per second. */
function slowReader (index: number, url: string, rate: number): void {
  const started = Date.now()
  const req = httpGet(url, { agent: false, ...(values.from != null ? { localAddress: values.from } : {}) }, (res) => {
    const status = String(res.statusCode)
    cut.statuses[status] = (cut.statuses[status] ?? 0) + 1
    if (res.statusCode !== 200) {
      res.resume()
      return
    }
    res.pause()
    let ended = false
    let gone = false
    const tick = setInterval(() => {
      // read at most `rate` bytes a second: the rest waits in our buffers, then in the kernel's
      const chunk = res.read(Math.min(rate, res.readableLength)) as Buffer | null
      if (chunk != null) cut.bytesRead += chunk.byteLength
      else res.read(0) // let the stream refill its buffer
    }, 1_000)
    const socket = res.socket
    const key = procTcpKey(socket.localAddress ?? '', socket.localPort ?? 0)
    /** The victim cut us (seen by the kernel or by the socket, whichever first). */
    const onGone = (): void => {
      if (gone) return
      gone = true
      clearInterval(tick)
      watchedReaders.delete(key)
      if (stopping || ended) return
      cut.cutOff++
      cut.afterMs.push(Date.now() - started)
      // the first few, every 50th and the last of the readers that got a response
      if (cut.cutOff <= 3 || cut.cutOff % 50 === 0 || cut.cutOff === cut.statuses['200']) emit({ event: 'cut-off', index, afterMs: Date.now() - started, total: cut.cutOff })
      socket.destroy()
    }
    watchedReaders.set(key, onGone)
    watchReaders()
    res.on('end', () => {
      ended = true
      cut.completed++
    })
    // the socket, not the response: a paused response with unread bytes may never emit 'close'
    socket.on('close', onGone)
    res.on('error', () => {})
  })
  req.on('error', () => {
    if (!stopping) cut.refused++
  })
}

async function slowGateway (url: string): Promise<void> {
  const count = Number(values.count ?? 200)
  const rate = Number(values.rate ?? 1024)
  for (let i = 0; i < count; i++) {
    slowReader(i, url, rate)
    if (i % 20 === 19) await sleep(10)
  }
  await until(() => Object.values(cut.statuses).reduce((a, b) => a + b, 0) + cut.refused >= count, 15_000)
  emit({ event: 'attack-done', mode, readers: count, statuses: cut.statuses, refused: cut.refused })
}

if (mode === 'idle-tcp' && values.dial != null) {
  idleTcp(values.dial).catch((err: any) => { emit({ event: 'error', name: err?.name, message: err?.message }) })
} else if (mode === 'slow-gateway' && values.dial != null) {
  slowGateway(values.dial).catch((err: any) => { emit({ event: 'error', name: err?.name, message: err?.message }) })
} else if (values.dial != null) {
  attack(multiaddr(values.dial)).catch((err: any) => { emit({ event: 'error', name: err?.name, message: err?.message }) })
}

const stop = (): void => {
  stopping = true
  const afterMs = [...cut.afterMs].sort((a, b) => a - b)
  emit({ event: 'summary', ...stats, badCids, cut: { ...cut, afterMs: undefined, firstCutMs: afterMs[0], medianCutMs: afterMs[afterMs.length >> 1], lastCutMs: afterMs[afterMs.length - 1] } })
  Promise.resolve(libp2p.stop()).finally(() => process.exit(0))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

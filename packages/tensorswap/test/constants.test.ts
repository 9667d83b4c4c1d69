import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import * as c from '../src/constants.js'
import * as tc from '../src/transport/constants.js'
import { PENALTY } from '../src/penalties.js'

const here = dirname(fileURLToPath(import.meta.url))
const ROOT = join(here, '../../../..')
const MiB = 1024 * 1024
const KiB = 1024

/** The rows of the first markdown table after `heading`: first cell -> second cell. */
function table (md: string, heading: string): Map<string, string> {
  const start = md.indexOf(heading)
  assert.ok(start >= 0, `no "${heading}"`)
  const rows = new Map<string, string>()
  let inTable = false
  for (const line of md.slice(start).split('\n').slice(1)) {
    if (line.startsWith('|')) {
      inTable = true
      const cells = line.split('|').slice(1, -1).map(s => s.trim())
      if (cells[0] != null && cells[1] != null && !/^-+$/.test(cells[0])) rows.set(cells[0], cells[1])
    } else if (inTable) {
      break
    }
  }
  return rows
}

describe('documented defaults', () => {
  it('spec/tensorswap.md "Limits" states the constants', async () => {
    const spec = await readFile(join(ROOT, 'spec/tensorswap.md'), 'utf8')
    const limits = table(spec, '## 3. Limits')
    const cell = (name: string): string => {
      const v = limits.get(name)
      assert.ok(v != null, `no row "${name}"`)
      return v
    }
    assert.equal(c.DEFAULT_MAX_MESSAGE_BYTES, 4 * MiB)
    assert.equal(c.FRAME_SLACK_BYTES, 64 * KiB)
    assert.match(cell('encoded message'), /^4 MiB \(frames up to 4 MiB \+ 64 KiB accepted\)/)
    assert.equal(c.DEFAULT_MAX_BLOCK_BYTES, 2 * MiB)
    assert.equal(cell('block'), '2 MiB')
    assert.equal(cell('want-list entries per message and per peer'), String(c.DEFAULT_MAX_WANTLIST_SIZE))
    assert.equal(cell('presences per message'), String(c.DEFAULT_MAX_PRESENCES))
    assert.equal(c.DEFAULT_MAX_BYTES_IN_FLIGHT, 32 * MiB)
    assert.match(cell('want-blocks in flight, all peers'), /^32 MiB /)
    assert.equal(c.DEFAULT_MAX_PEER_BYTES_IN_FLIGHT, 16 * MiB)
    assert.equal(cell('want-blocks in flight, one peer'), `16 MiB and ${c.DEFAULT_MAX_PEER_WANTS_IN_FLIGHT} wants`)
    assert.equal(cell('want timeout'), `peer silent ${c.DEFAULT_PEER_IDLE_TIMEOUT_MS / 1000} s, or ${c.DEFAULT_WANT_TIMEOUT_MS / 1000} s in any case`)
    assert.equal(cell('unavailable retry'), `${c.DEFAULT_UNAVAILABLE_RETRY_MS / 1000} s`)
    assert.match(cell('fetch progress deadline'), new RegExp(`^${c.DEFAULT_FETCH_PROGRESS_TIMEOUT_MS / 1000} s `))
    assert.equal(cell('redial of a stalled fetch'), `back-off ${c.DEFAULT_FETCH_REDIAL_BACKOFF_MS} ms doubling, at most ${c.DEFAULT_FETCH_REDIAL_ATTEMPTS} attempts, within one deadline`)
    assert.equal(c.DEFAULT_MAX_INBOUND_STREAMS, c.DEFAULT_MAX_OUTBOUND_STREAMS)
    assert.equal(cell('inbound/outbound streams per connection'), String(c.DEFAULT_MAX_INBOUND_STREAMS))
    assert.match(cell('inbound exchange streams per peer'), new RegExp(`^${c.DEFAULT_MAX_INBOUND_STREAMS_PER_PEER} open at once`))
    assert.equal(cell('want-list messages per peer'), `${c.DEFAULT_INBOUND_MESSAGES_PER_SECOND}/s, burst ${c.DEFAULT_INBOUND_MESSAGE_BURST} (token bucket, \`inboundRateLimit\`)`)
    assert.equal(cell('bytes buffered per peer, serving'), `one batch: ${c.DEFAULT_ENGINE_BLOCKS_PER_BATCH} blocks (${c.DEFAULT_ENGINE_BLOCKS_PER_BATCH * c.DEFAULT_MAX_BLOCK_BYTES / MiB} MiB read) and ${c.DEFAULT_ENGINE_PRESENCES_PER_BATCH} presences, at most ${c.DEFAULT_ENGINE_CONCURRENCY} batches in total`)
    assert.equal(cell('inbound connections pending upgrade'), String(tc.DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS))
    assert.equal(cell('inbound connections per second per host'), String(tc.DEFAULT_INBOUND_CONNECTION_THRESHOLD))
    assert.equal(tc.DEFAULT_MAX_INCOMING_PENDING_PER_HOST, 4)
    assert.ok(tc.DEFAULT_MAX_INCOMING_PENDING_PER_HOST < tc.DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS, 'one host never holds every pending slot')
    assert.match(cell('inbound connections pending upgrade per host'), new RegExp(`^${tc.DEFAULT_MAX_INCOMING_PENDING_PER_HOST}$`))
    assert.equal(cell('connections'), String(tc.DEFAULT_MAX_CONNECTIONS))
  })

  it('spec/tensorswap.md "Behaviour" and "Penalties" state the constants', async () => {
    const spec = (await readFile(join(ROOT, 'spec/tensorswap.md'), 'utf8')).replace(/\s+/g, ' ')
    assert.equal(c.SESSION_ROOT_PRIORITY, 2 ** 30)
    assert.ok(spec.includes("a session's first block has priority 2^30"))
    assert.ok(spec.includes(`alpha ${c.DEFAULT_EWMA_ALPHA}`))
    assert.ok(spec.includes(`at most ${c.DEFAULT_ENGINE_BLOCKS_PER_BATCH} blocks and ${c.DEFAULT_ENGINE_PRESENCES_PER_BATCH} presences per message`))
    assert.ok(spec.includes(`every ${c.DEFAULT_LEDGER_FLUSH_INTERVAL_MS / 1000} s and at stop`))
    assert.ok(spec.includes(`under \`${c.LEDGER_KEY_PREFIX}<peerId>\``))
    assert.equal(c.TIT_FOR_TAT_GRACE_BYTES, 64 * MiB)
    assert.ok(spec.includes(`serve the first 64 MiB, then while \`r <= ${c.TIT_FOR_TAT_MAX_RATIO}\``))
    assert.ok(spec.includes(`points halve every ${c.PENALTY_HALF_LIFE_MS / 1000} s; at ${c.DEFAULT_PENALTY_THRESHOLD} points`))
    assert.ok(spec.includes(`refused for ${c.DEFAULT_BAN_MS / 60_000} minutes`))
    assert.ok(spec.includes(`none of its bytes taken for ${c.DEFAULT_SEND_STALL_MS / 1000} s (\`sendStallMs\``))
    assert.ok(spec.includes(`(${c.SEND_LATENCY_MS / 1000} s + size at ${c.MIN_SEND_RATE_BYTES_PER_S * 8 / 1000} kbit/s, ${c.MIN_SEND_TIMEOUT_MS / 1000} s .. ${c.MAX_SEND_TIMEOUT_MS / 60_000} min)`))
    const raw = await readFile(join(ROOT, 'spec/tensorswap.md'), 'utf8')
    const points = table(raw, '## 5. Penalties')
    const byOffence: Record<keyof typeof PENALTY, string> = {
      oversized: 'frame or message over a limit',
      malformed: 'message that does not decode',
      unrequestedBlock: 'block we did not request (this is also how a hash mismatch shows)',
      unverifiableBlock: 'block with a hash function we cannot verify',
      tooManyStreams: `exchange stream opened over the per-peer limit (${c.DEFAULT_MAX_INBOUND_STREAMS_PER_PEER} open at once): reset unread; one overshoot is never banned, eleven in a row are`,
      wantOverflow: `want-list message with entries dropped (over ${c.DEFAULT_MAX_WANTLIST_SIZE} in the message, truncated; or past the per-peer cap): one large want-list is never banned, eleven in a row are`,
      rateLimited: `want-list message dropped over the message rate (${c.DEFAULT_INBOUND_MESSAGES_PER_SECOND}/s, burst ${c.DEFAULT_INBOUND_MESSAGE_BURST}): a burst is never banned, a flood of ${c.DEFAULT_PENALTY_THRESHOLD} excess messages within a half-life is`,
      slowReader: `a serving batch the peer stopped reading: none of its bytes taken for ${c.DEFAULT_SEND_STALL_MS / 1000} s (\`sendStallMs\`; a slow reader whose bytes keep leaving is waited for), or the whole send over boxo's \`sendTimeout\` (${c.SEND_LATENCY_MS / 1000} s + size at ${c.MIN_SEND_RATE_BYTES_PER_S * 8 / 1000} kbit/s, ${c.MIN_SEND_TIMEOUT_MS / 1000} s .. ${c.MAX_SEND_TIMEOUT_MS / 60_000} min): the send is abandoned, its stream reset, the engine slot freed`,
      pushRefused: 'a push refused because the pusher is not accepted or its announced DAG is over the limit (§8)'
    }
    for (const [offence, row] of Object.entries(byOffence)) {
      const cell = points.get(row)
      assert.ok(cell != null, `no penalty row "${row}"`)
      assert.equal(Number.parseInt(cell, 10), PENALTY[offence as keyof typeof PENALTY], offence)
    }
  })

  it('spec/tensorswap.md "Serving" states the swarm serving constants', async () => {
    const spec = (await readFile(join(ROOT, 'spec/tensorswap.md'), 'utf8')).replace(/\s+/g, ' ')
    assert.ok(spec.includes(`\`DEFAULT_ENGINE_BATCH_MS\` = ${c.DEFAULT_ENGINE_BATCH_MS} ms`))
    assert.ok(spec.includes(`\`ENGINE_FIRST_SINGLE_WRITES\` = ${c.ENGINE_FIRST_SINGLE_WRITES} writes`))
    assert.ok(spec.includes(`\`DEFAULT_ENGINE_SENT_WINDOW_MS\` = ${c.DEFAULT_ENGINE_SENT_WINDOW_MS / 1000} s`))
    assert.ok(spec.includes(`at most ${c.DEFAULT_ENGINE_PRESENCES_PER_BATCH}, one such batch in progress per peer`))
  })

  it('the package README states the session and serving bounds', async () => {
    const readme = (await readFile(join(ROOT, 'packages/tensorswap/README.md'), 'utf8')).replace(/\s+/g, ' ')
    assert.ok(readme.includes('(`maxBytesInFlight`, 32 MiB)'))
    assert.equal(c.DEFAULT_MAX_PUT_BYTES_IN_FLIGHT, 8 * MiB)
    assert.ok(readme.includes(`puts in flight are capped at ${c.DEFAULT_MAX_CONCURRENT_PUTS} and 8 MiB`))
    assert.ok(readme.includes(`at most ${c.DEFAULT_ENGINE_CONCURRENCY} messages being prepared at once`))
    assert.ok(readme.includes(`once ${c.LANE_MIN_BLOCK_WANTS} want-blocks went to the peer`))
    assert.ok(readme.includes(`Stream opens are time-boxed (${c.DEFAULT_STREAM_OPEN_TIMEOUT_MS / 1000} s)`))
  })

  it('docstrings name the constants the code defaults to', async () => {
    const read = async (f: string): Promise<string> => await readFile(join(ROOT, 'packages/tensorswap/src', f), 'utf8')
    const session = await read('session.ts')
    assert.match(session, /maxWantsAhead\?: number/)
    assert.match(session, /@default \{@link DEFAULT_MAX_WANTS_AHEAD\}/)
    assert.match(session, /this\.#init\.maxWantsAhead \?\? DEFAULT_MAX_WANTS_AHEAD/)
    assert.match(session, /this\.#init\.maxConcurrentPuts \?\? DEFAULT_MAX_CONCURRENT_PUTS/)
    assert.match(session, /this\.#init\.maxPutBytes \?\? DEFAULT_MAX_PUT_BYTES_IN_FLIGHT/)
    const core = await read('session-core.ts')
    assert.match(core, /init\.maxWantsAhead \?\? DEFAULT_MAX_WANTS_AHEAD/)
    assert.match(core, /init\.maxBytesAhead \?\? DEFAULT_MAX_BYTES_IN_FLIGHT/)
    // every `@default {@link X}` in the package's modules names an exported constant
    for (const f of ['exchange.ts', 'network.ts', 'engine.ts', 'session.ts', 'session-core.ts', 'peer-selector.ts', 'ledger.ts', 'penalties.ts', 'want-list.ts']) {
      for (const [, name] of (await read(f)).matchAll(/@default \{@link ([A-Z][A-Z0-9_]+)\}/g)) {
        assert.ok(name in c, `${f}: @default names ${name}, which is not a constant`)
      }
    }
  })
})

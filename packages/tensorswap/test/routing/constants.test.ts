/**
 * The content routing defaults in `src/constants.ts` are the figures spec/tensorswap.md §9
 * states.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import * as c from '../../src/constants.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../../../..')

describe('documented routing defaults', () => {
  it('spec/tensorswap.md "Content routing" states the constants', async () => {
    const md = await readFile(join(ROOT, 'spec/tensorswap.md'), 'utf8')
    const spec = md.slice(md.indexOf('## 9. Content routing')).replace(/\s+/g, ' ')
    assert.equal(c.DHT_PROTOCOL, '/ipfs/kad/1.0.0')
    assert.ok(spec.includes(`**\`${c.DHT_PROTOCOL}\`**`))
    assert.equal(c.DEFAULT_REPROVIDE_INTERVAL_MS, 22 * 3600_000)
    assert.ok(spec.includes('`DEFAULT_REPROVIDE_INTERVAL_MS` = **22 h**'))
    assert.ok(spec.includes(`after ${c.DEFAULT_FIND_PROVIDERS_TIMEOUT_MS / 1000} s`))
    assert.ok(spec.includes(`${c.DEFAULT_PROVIDER_GRACE_MS / 1000} s after the first peer answered, at ${c.DEFAULT_MAX_PROVIDERS} peers`))
    assert.ok(spec.includes(`${c.DEFAULT_PROVIDER_DIAL_ATTEMPTS} rounds of at most ${c.DEFAULT_PROVIDER_DIAL_TIMEOUT_MS / 1000} s, the back-off between them ${c.DEFAULT_PROVIDER_DIAL_BACKOFF_MS} ms ±50 % jitter`))
    assert.ok(spec.includes(`(a want-block to each in turn, ${c.DEFAULT_CONNECTED_PROBE_TIMEOUT_MS / 1000} s each)`))
    assert.ok(spec.includes(`(1 s, ×${c.DEFAULT_RECONNECT_BACKOFF_FACTOR}, ${c.DEFAULT_RECONNECT_RETRIES} retries)`))
    assert.equal(c.DEFAULT_RECONNECT_RETRY_INTERVAL_MS, 1000)
    assert.ok(spec.includes(`\`${c.PROVIDED_ROOTS_KEY_PREFIX}<cid>\``))
    // swarm sessions
    assert.ok(spec.includes(`\`DEFAULT_SESSION_REQUERY_MS\` = ${c.DEFAULT_SESSION_REQUERY_MS / 1000} s`))
    assert.ok(spec.includes(`\`DEFAULT_SESSION_FIRST_REQUERY_MS\` = ${c.DEFAULT_SESSION_FIRST_REQUERY_MS} ms`))
    assert.ok(spec.includes(`\`DEFAULT_PROVIDER_RETRY_MS\` = ${c.DEFAULT_PROVIDER_RETRY_MS / 1000} s`))
    assert.ok(spec.includes(`\`DEFAULT_PEER_QUEUE_MS\` = ${c.DEFAULT_PEER_QUEUE_MS / 1000} s (at least ${c.DEFAULT_MIN_PEER_BYTES_IN_FLIGHT / 2 ** 20} MiB`))
    assert.ok(spec.includes(`\`DEFAULT_HAVE_WAIT_MS\` = ${c.DEFAULT_HAVE_WAIT_MS / 1000} s`))
    assert.ok(spec.includes(`\`MIN_THROUGHPUT_INTERVAL_MS\` = ${c.MIN_THROUGHPUT_INTERVAL_MS} ms`))
    assert.ok(spec.includes(`\`DEFAULT_UNPROVEN_PEER_MAX_TIMEOUT_MS\` = ${c.DEFAULT_UNPROVEN_PEER_MAX_TIMEOUT_MS / 1000} s`))
    assert.ok(spec.includes(`\`DEFAULT_SWARM_PRIORITY_JITTER\` = ${c.DEFAULT_SWARM_PRIORITY_JITTER} positions`))
  })
  it('the public bootstrap list is named, never a default', () => {
    assert.equal(c.AMINO_BOOTSTRAP_NAME, 'amino')
    assert.ok(c.AMINO_BOOTSTRAP.length > 0 && c.AMINO_BOOTSTRAP.every(a => a.includes('/p2p/')))
    assert.ok(Object.isFrozen(c.AMINO_BOOTSTRAP))
  })
})

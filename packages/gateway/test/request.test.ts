/**
 * Request parsing and content negotiation (no I/O): format vs Accept precedence, CAR
 * parameters, dag-scope/entity-bytes, Range, and their resolution against a size.
 */

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { parseAccept, parseEntityBytes, parseGatewayRequest, parseRange, resolveEntityBytes, resolveRange } from '../src/index.js'

const CID_TEXT = 'bafkreig7rs66itia6uz4zrernj6g5paxgfstf6z7vwwrctwgm77pekds5e'

function parse (url: string, headers: Record<string, string> = {}, method = 'GET'): ReturnType<typeof parseGatewayRequest> {
  return parseGatewayRequest({ method, url, headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])) })
}

function throwsNamed (fn: () => unknown, name: string): void {
  assert.throws(fn, (err: any) => err?.name === name)
}

describe('gateway request parsing', () => {
  it('format takes precedence over Accept; Accept picks the highest q we serve', () => {
    assert.equal(parse(`/ipfs/${CID_TEXT}?format=raw`, { Accept: 'application/vnd.ipld.car' }).format, 'raw')
    assert.equal(parse(`/ipfs/${CID_TEXT}`).format, 'deserialized')
    assert.equal(parse(`/ipfs/${CID_TEXT}`, { Accept: 'text/html,*/*;q=0.8' }).format, 'deserialized')
    assert.equal(parse(`/ipfs/${CID_TEXT}`, { Accept: 'application/vnd.ipld.raw;q=0.5, application/vnd.ipld.car;q=0.9' }).format, 'car')
    assert.equal(parse(`/ipfs/${CID_TEXT}`, { Accept: 'application/vnd.ipld.car;version=2, application/vnd.ipld.raw;q=0.1' }).format, 'raw')
    assert.equal(parse(`/ipfs/${CID_TEXT}`, { Accept: 'application/vnd.ipld.raw;q=0, */*' }).format, 'deserialized')
    throwsNamed(() => parse(`/ipfs/${CID_TEXT}`, { Accept: 'application/x-tar, application/json' }), 'NotAcceptableError')
    throwsNamed(() => parse(`/ipfs/${CID_TEXT}`, { Accept: 'application/vnd.ipld.car;order=foo' }), 'NotAcceptableError')
  })

  it('negotiates CAR dups from Accept, overridden by car-dups; rejects unknown CAR query values', () => {
    assert.equal(parse(`/ipfs/${CID_TEXT}`, { Accept: 'application/vnd.ipld.car; version=1; order=dfs; dups=y' }).car?.dups, true)
    assert.equal(parse(`/ipfs/${CID_TEXT}?format=car`, { Accept: 'application/vnd.ipld.car;dups=y' }).car?.dups, true)
    assert.equal(parse(`/ipfs/${CID_TEXT}?format=car&car-dups=n`, { Accept: 'application/vnd.ipld.car;dups=y' }).car?.dups, false)
    assert.equal(parse(`/ipfs/${CID_TEXT}?format=car`).car?.dups, false)
    throwsNamed(() => parse(`/ipfs/${CID_TEXT}?format=car&car-order=bfs`), 'BadRequestError')
    throwsNamed(() => parse(`/ipfs/${CID_TEXT}?format=car&car-version=2`), 'BadRequestError')
  })

  it('parses paths, rejecting bad CIDs, unsafe segments and paths on raw requests', () => {
    const r = parse(`/ipfs/${CID_TEXT}/a%20b/c/`)
    assert.deepEqual(r.segments, ['a b', 'c'])
    assert.equal(r.trailingSlash, true)
    assert.equal(r.ipfsPath, `/ipfs/${CID_TEXT}/a%20b/c/`)
    throwsNamed(() => parse('/ipfs/zzz'), 'BadRequestError')
    throwsNamed(() => parse(`/ipfs/${CID_TEXT}/a%2Fb`), 'BadRequestError')
    throwsNamed(() => parse(`/ipfs/${CID_TEXT}/a//b`), 'BadRequestError')
    throwsNamed(() => parse(`/ipfs/${CID_TEXT}/%E0%A4%A`), 'BadRequestError')
    throwsNamed(() => parse(`/ipfs/${CID_TEXT}/x?format=raw`), 'BadRequestError')
    throwsNamed(() => parse(`/ipfs/${CID_TEXT}/${'a/'.repeat(65)}`), 'BadRequestError')
    throwsNamed(() => parse('/ipns/example.com'), 'NotImplementedError')
    throwsNamed(() => parse('/ipfs/'), 'ContentNotFoundError')
    assert.equal(parse(`/ipfs/${CID_TEXT}`, {}, 'HEAD').method, 'HEAD')
    assert.equal(parse(`/ipfs/${CID_TEXT}`, { 'Cache-Control': 'max-age=0, only-if-cached' }).onlyIfCached, true)
  })

  it('dag-scope and entity-bytes: valid only on CAR requests, entity-bytes implies entity', () => {
    assert.equal(parse(`/ipfs/${CID_TEXT}?format=car&dag-scope=block`).dagScope, 'block')
    const eb = parse(`/ipfs/${CID_TEXT}?format=car&entity-bytes=-10:*`)
    assert.equal(eb.dagScope, 'entity')
    assert.deepEqual(eb.entityBytes, { from: -10, to: '*' })
    throwsNamed(() => parse(`/ipfs/${CID_TEXT}?format=raw&dag-scope=block`), 'BadRequestError')
    throwsNamed(() => parse(`/ipfs/${CID_TEXT}?entity-bytes=0:1`), 'BadRequestError')
    for (const bad of ['', ':', '1', '1:', 'a:b', '1.5:2', '5:3', '99999999999999999:*', '0x10:*', '1:2:3']) {
      throwsNamed(() => parseEntityBytes(bad), 'BadRequestError')
    }
    assert.deepEqual(parseEntityBytes('499:-1000'), { from: 499, to: -1000 })
  })

  it('equal q goes in header order, not by specificity; unknown parameters do not hide a type (spec/gateway.md)', () => {
    assert.equal(parse(`/ipfs/${CID_TEXT}`, { Accept: '*/*, application/vnd.ipld.raw' }).format, 'deserialized')
    assert.equal(parse(`/ipfs/${CID_TEXT}`, { Accept: 'application/vnd.ipld.raw, application/vnd.ipld.car;dups=y' }).format, 'raw')
    assert.equal(parse(`/ipfs/${CID_TEXT}`, { Accept: 'application/vnd.ipld.car; foo=bar' }).format, 'car')
    assert.equal(parse(`/ipfs/${CID_TEXT}`, { Accept: 'text/html;charset=utf-8' }).format, 'deserialized')
  })

  it('parseAccept sorts by q and keeps order for ties', () => {
    assert.deepEqual(parseAccept('a/b;q=0.1, c/d, e/f;q=0.1').map(r => r.type), ['c/d', 'a/b', 'e/f'])
  })

  it('Range: single ranges parse; other units, lists and junk are ignored', () => {
    assert.deepEqual(parseRange('bytes=0-99'), { kind: 'range', first: 0, last: 99 })
    assert.deepEqual(parseRange('bytes=10-'), { kind: 'range', first: 10 })
    assert.deepEqual(parseRange('bytes=-5'), { kind: 'suffix', length: 5 })
    for (const ignored of ['bytes=1-2,3-4', 'items=0-1', 'bytes=5-1', 'bytes=-', 'bytes=a-b']) {
      assert.equal(parseRange(ignored), undefined, ignored)
    }
  })

  it('property: a resolved Range or entity-bytes is a non-empty span inside the file', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e7 }), fc.integer({ min: 0, max: 2e7 }), fc.option(fc.integer({ min: 0, max: 2e7 })), fc.boolean(), (size, a, b, suffix) => {
      const spec = suffix ? { kind: 'suffix' as const, length: a } : { kind: 'range' as const, first: a, ...(b != null && b >= a ? { last: b } : {}) }
      const r = resolveRange(spec, size)
      if (r === undefined) {
        assert.ok(size === 0 || (suffix ? a === 0 : a >= size))
        return
      }
      assert.ok(r.start >= 0 && r.start < r.end && r.end <= size)
      if (!suffix) assert.equal(r.start, a)
      else assert.equal(r.end - r.start, Math.min(a, size))
    }))
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e7 }), fc.integer({ min: -2e7, max: 2e7 }), fc.oneof(fc.constant('*' as const), fc.integer({ min: -2e7, max: 2e7 })), (size, from, to) => {
      const r = resolveEntityBytes({ from, to }, size)
      if (r !== undefined) assert.ok(r.start >= 0 && r.start < r.end && r.end <= size)
      if (from >= 0 && from < size && to === '*') assert.deepEqual(r, { start: from, end: size })
    }))
  })
})

describe('gateway documented defaults', () => {
  it('spec/gateway.md states the constants the code uses', async () => {
    const { readFile } = await import('node:fs/promises')
    const { join } = await import('node:path')
    const { REPO_ROOT } = await import('./helpers.js')
    const { DEFAULT_FETCH_TIMEOUT_MS, MAX_LISTING_ENTRIES, MAX_PATH_SEGMENTS, RETRY_AFTER_SECONDS, CACHE_CONTROL_IMMUTABLE, DIR_INDEX_VERSION, DEFAULT_MAX_CONCURRENT_RESPONSES, BUSY_RETRY_AFTER_SECONDS, DEFAULT_MIN_CLIENT_BYTES_PER_SECOND, DEFAULT_SEND_GRACE_MS, DEFAULT_MAX_RESPONSES_PER_CLIENT, DEFAULT_CLIENT_QUEUE_WAIT_MS, DEFAULT_MAX_QUEUED_PER_CLIENT } = await import('../src/index.js')
    const spec = await readFile(join(REPO_ROOT, 'spec/gateway.md'), 'utf8')
    assert.ok(spec.includes(`default ${DEFAULT_FETCH_TIMEOUT_MS / 1000} s`))
    assert.ok(spec.includes(MAX_LISTING_ENTRIES.toLocaleString('en-US')))
    assert.ok(spec.includes(`> ${MAX_PATH_SEGMENTS} segments`))
    assert.ok(spec.includes(`Retry-After: ${RETRY_AFTER_SECONDS}`))
    assert.ok(spec.includes(CACHE_CONTROL_IMMUTABLE))
    assert.ok(spec.includes(`DirIndex-${DIR_INDEX_VERSION}_CID-`))
    // the limits table: one row per limit, its default as the code has it
    const row = (name: string): string => spec.split('\n').find(l => l.includes(`| \`${name}\` |`)) ?? ''
    assert.match(row('DEFAULT_MAX_CONCURRENT_RESPONSES'), new RegExp(`\\| ${DEFAULT_MAX_CONCURRENT_RESPONSES} \\|.*Retry-After: ${BUSY_RETRY_AFTER_SECONDS}\\b`))
    const perClient = row('DEFAULT_MAX_RESPONSES_PER_CLIENT')
    assert.match(perClient, new RegExp(`\\| ${DEFAULT_MAX_RESPONSES_PER_CLIENT} \\|.*Retry-After: ${BUSY_RETRY_AFTER_SECONDS}\\b`))
    assert.ok(perClient.includes(`\`DEFAULT_CLIENT_QUEUE_WAIT_MS\`, ${DEFAULT_CLIENT_QUEUE_WAIT_MS} ms`), perClient)
    assert.ok(perClient.includes(`\`DEFAULT_MAX_QUEUED_PER_CLIENT\`, ${DEFAULT_MAX_QUEUED_PER_CLIENT})`), perClient)
    assert.match(row('DEFAULT_FETCH_TIMEOUT_MS'), new RegExp(`\\| ${DEFAULT_FETCH_TIMEOUT_MS} ms \\|.*Retry-After: ${RETRY_AFTER_SECONDS}\\b`))
    const slowRow = spec.split('\n').find(l => l.includes('| `DEFAULT_MIN_CLIENT_BYTES_PER_SECOND`, `DEFAULT_SEND_GRACE_MS` |')) ?? ''
    assert.match(slowRow, new RegExp(`\\| ${DEFAULT_MIN_CLIENT_BYTES_PER_SECOND} bytes/s, ${DEFAULT_SEND_GRACE_MS} ms \\|`))
    assert.match(row('MAX_PATH_SEGMENTS'), new RegExp(`\\| ${MAX_PATH_SEGMENTS} \\|`))
    assert.match(row('MAX_LISTING_ENTRIES'), new RegExp(`\\| ${MAX_LISTING_ENTRIES} \\|`))
    assert.ok(spec.includes(`Retry-After: ${BUSY_RETRY_AFTER_SECONDS}`))
  })
})

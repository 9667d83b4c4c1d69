/**
 * The daemon API's pure parts (spec/api.md): option checks, command names, the `api` file,
 * event encoding, progress events of a bar (throttled, final `done`) and the documented defaults.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import * as constants from '../src/constants.js'
import { checkOptions, decodeEvent, encodeEvent, encodeStdoutFrame, isCommandName, MAX_STDOUT_FRAME_BYTES, parseApiFile, type ApiLine } from '../src/api/protocol.js'
import { eventBar } from '../src/command.js'

const here = dirname(fileURLToPath(import.meta.url))

describe('api protocol', () => {
  it('command names: lowercase words, at most two; no dots, slashes at the ends or escapes', () => {
    for (const ok of ['ls', 'car/export', 'dag/walk']) assert.equal(isCommandName(ok), true, ok)
    for (const bad of ['', '../x', 'a/b/c', '%2e%2e', 'ls/', '/ls', 'LS', 'ls?x=1', 'car/../dag']) assert.equal(isCommandName(bad), false, bad)
  })

  it('options: a JSON object of known options with their types, else ApiRequestError naming the problem', () => {
    const types = { cid: 'string', peer: 'string[]', files: 'boolean' } as const
    assert.deepEqual(checkOptions('x', '{"cid":"a","peer":["p"],"files":true}', types), { cid: 'a', peer: ['p'], files: true })
    assert.deepEqual(checkOptions('x', '', types), {})
    const bad: Array<[string, RegExp]> = [
      ['{"cid":', /not JSON/], ['null', /JSON object/], ['[]', /JSON object/], ['"s"', /JSON object/],
      ['{"rm":1}', /unknown option "rm"/], ['{"cid":1}', /"cid" must be a string/],
      ['{"peer":"p"}', /"peer" must be a string\[\]/], ['{"peer":[1]}', /"peer" must be a string\[\]/],
      ['{"files":"yes"}', /"files" must be a boolean/], ['{"__proto__":{}}', /unknown option "__proto__"/],
      ['{"toString":"x"}', /unknown option "toString"/]
    ]
    for (const [text, pattern] of bad) {
      assert.throws(() => checkOptions('x', text, types), (err: Error) => err.name === 'ApiRequestError' && pattern.test(err.message), text)
    }
  })

  it('the api file: parsed when whole, ApiRequestError otherwise', () => {
    const api = { address: '/r/api.sock', pid: 12, peerId: '12D3KooW', version: '0.1.0' }
    assert.deepEqual(parseApiFile(JSON.stringify(api) + '\n'), api)
    for (const bad of ['', '{', '{"address":"/r","pid":"12","peerId":"p","version":"v"}', '{"pid":1}']) {
      assert.throws(() => parseApiFile(bad), { name: 'ApiRequestError' })
    }
  })

  it('events round-trip as one line each; a line that is not an event is refused', () => {
    const events: ApiLine[] = [
      { type: 'progress', bar: 0, label: 'get', moved: 1, local: 2, total: 3, fields: { peers: 1 } },
      { type: 'log', line: 'x' }, { type: 'stdout', bytes: 2 }, { type: 'result', result: { a: 1 } },
      { type: 'error', error: { name: 'UsageError', message: 'm' }, exitCode: 2 }
    ]
    for (const e of events) {
      const line = encodeEvent(e)
      assert.equal(line.indexOf('\n'), line.length - 1)
      assert.deepEqual(decodeEvent(line.trimEnd()), e)
    }
    assert.throws(() => decodeEvent('{"type":"nope"}'), TypeError)
    for (const bytes of [0, -1, 1.5, '3', MAX_STDOUT_FRAME_BYTES + 1]) assert.throws(() => decodeEvent(JSON.stringify({ type: 'stdout', bytes })), TypeError, String(bytes))
  })

  it('stdout goes as binary frames: a header line, then the raw bytes; a large chunk as several frames', () => {
    const data = Buffer.from([0, 10, 255, 10, 13])
    const [header, raw, ...rest] = encodeStdoutFrame(data)
    assert.equal(rest.length, 0)
    assert.deepEqual(decodeEvent(Buffer.from(header).toString('utf8').trimEnd()), { type: 'stdout', bytes: 5 })
    assert.ok(Buffer.from(raw).equals(data), 'the bytes as they are, newlines included, no base64')
    const big = Buffer.alloc(MAX_STDOUT_FRAME_BYTES * 2 + 3, 7)
    const frames = encodeStdoutFrame(big)
    assert.equal(frames.length, 6)
    assert.deepEqual([frames[1], frames[3], frames[5]].map(f => f.byteLength), [MAX_STDOUT_FRAME_BYTES, MAX_STDOUT_FRAME_BYTES, 3])
    assert.deepEqual(encodeStdoutFrame(new Uint8Array(0)), [])
  })

  it('a bar sends its state at most every API_PROGRESS_INTERVAL_MS, its last change, and done on stop', async () => {
    const sent: any[] = []
    const bar = eventBar(3, 'get', ' | peers {peers}', { peers: 0 }, (e) => { sent.push(e) })
    assert.equal(sent.length, 1) // the start
    bar.setTotal(1000)
    for (let i = 0; i < 100; i++) bar.add(10, { peers: 2 }, i < 20)
    assert.equal(sent.length, 1, 'changes within the interval are held back')
    await new Promise(resolve => setTimeout(resolve, constants.API_PROGRESS_INTERVAL_MS + 50))
    assert.equal(sent.length, 2, 'the last change is sent after the interval')
    assert.deepEqual({ ...sent[1], fields: undefined }, { type: 'progress', bar: 3, label: 'get', extra: ' | peers {peers}', moved: 800, local: 200, total: 1000, fields: undefined })
    assert.deepEqual(sent[1].fields, { peers: 2 })
    bar.stop()
    bar.stop()
    assert.equal(sent.length, 3)
    assert.equal(sent[2].done, true)
    bar.add(5)
    await new Promise(resolve => setTimeout(resolve, constants.API_PROGRESS_INTERVAL_MS + 50))
    assert.equal(sent.length, 3, 'nothing after stop')
  })

  it('documented defaults equal the constants (README table, spec/api.md)', async () => {
    const readme = await readFile(join(here, '../../README.md'), 'utf8')
    const rows = [...readme.matchAll(/^\| `([A-Z_]+)` \| (\d+) \|/gm)]
    // every numeric default is in the table, and nothing else
    const numeric = Object.entries(constants).filter(([, v]) => typeof v === 'number').map(([k]) => k).sort()
    assert.deepEqual(rows.map(r => r[1]).sort(), numeric)
    for (const [, name, value] of rows) assert.equal((constants as Record<string, unknown>)[name], Number(value), name)
    const spec = await readFile(join(here, '../../../../spec/api.md'), 'utf8')
    assert.ok(spec.includes('At most **1 MiB**') && constants.MAX_API_REQUEST_BYTES === 1024 * 1024)
    assert.ok(spec.includes(`every ${constants.API_PROGRESS_INTERVAL_MS} ms`))
    assert.ok(spec.includes(`within ${constants.API_CONNECT_TIMEOUT_MS / 1000} s`))
    assert.ok(spec.includes(`\`<repo>/${constants.API_SOCKET}\``) && spec.includes(`\`<repo>/${constants.API_FILE}\``))
  })
})

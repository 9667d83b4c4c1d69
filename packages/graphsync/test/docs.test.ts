import { it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as c from '../src/constants.js'

it('README and spec state the same limits as src/constants.ts', () => {
  const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8')
  const spec = readFileSync(fileURLToPath(new URL('../../../../spec/graphsync.md', import.meta.url)), 'utf8')
  for (const [name, value] of Object.entries({
    MAX_SELECTOR_DEPTH: c.MAX_SELECTOR_DEPTH,
    MAX_UNION_MEMBERS: c.MAX_UNION_MEMBERS,
    MAX_EXPLORE_FIELDS: c.MAX_EXPLORE_FIELDS,
    MAX_SELECTOR_NODES: c.MAX_SELECTOR_NODES,
    MAX_RUNTIME_SELECTOR_NODES: c.MAX_RUNTIME_SELECTOR_NODES,
    DEFAULT_MAX_TRAVERSAL_DEPTH: c.DEFAULT_MAX_TRAVERSAL_DEPTH
  })) {
    assert.match(readme, new RegExp(`${name}\` = ${value}\\b`), `README ${name}`)
  }
  for (const name of ['MAX_SELECTOR_DEPTH', 'MAX_UNION_MEMBERS', 'MAX_EXPLORE_FIELDS', 'MAX_SELECTOR_NODES', 'MAX_RUNTIME_SELECTOR_NODES'] as const) {
    assert.match(spec, new RegExp(`\`${name}\` \\| ${c[name]} \\|`), `spec ${name}`)
  }
  for (const name of ['DEFAULT_RESPONDER_MAX_BLOCKS', 'DEFAULT_RESPONDER_MAX_BYTES', 'DEFAULT_MAX_REQUESTS_PER_PEER', 'DEFAULT_MAX_REQUESTS',
    'DEFAULT_RESPONSE_FLUSH_BYTES', 'MAX_METADATA_PER_MESSAGE', 'DEFAULT_MAX_DEDUP_CIDS', 'DEFAULT_MAX_RESUME_CIDS'] as const) {
    assert.match(spec, new RegExp(`\`${name}\` \\| ${c[name]} \\|`), `spec ${name}`)
  }
  assert.equal(c.MAX_MESSAGE_SIZE, 4 * 1024 * 1024)
  assert.match(readme, /`MAX_MESSAGE_SIZE` = 4 MiB/)
  assert.match(spec, /`MAX_MESSAGE_SIZE` = 4 MiB/)
  assert.match(spec, /default 1024 path segments/)
})

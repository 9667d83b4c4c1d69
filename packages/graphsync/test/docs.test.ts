import { it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as dagCbor from '@ipld/dag-cbor'
import { FsBlockstore, getBlockUnverified, hashBlock } from '@tensorswap/blockstore'
import * as c from '../src/constants.js'
import * as gs from '../src/index.js'
import type { CID } from 'multiformats/cid'

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
    'DEFAULT_RESPONSE_FLUSH_BYTES', 'MAX_METADATA_PER_MESSAGE', 'DEFAULT_MAX_DEDUP_CIDS', 'DEFAULT_MAX_RESUME_CIDS',
    'DEFAULT_MAX_TRAVERSAL_DEPTH', 'DEFAULT_MAX_MEMORY_RESPONDER', 'DEFAULT_MAX_MEMORY_PER_PEER_RESPONDER', 'DEFAULT_MAX_GRAPHSYNC_STREAMS'] as const) {
    assert.match(spec, new RegExp(`\`${name}\` \\| ${c[name]} \\|`), `spec ${name}`)
  }
  for (const [name, text] of [['DEFAULT_MAX_REQUESTS_PER_PEER', `${c.DEFAULT_MAX_REQUESTS_PER_PEER}`], ['DEFAULT_MAX_REQUESTS', `${c.DEFAULT_MAX_REQUESTS}`],
    ['DEFAULT_MAX_MEMORY_RESPONDER', `${c.DEFAULT_MAX_MEMORY_RESPONDER / 2 ** 20} MiB`], ['DEFAULT_MAX_MEMORY_PER_PEER_RESPONDER', `${c.DEFAULT_MAX_MEMORY_PER_PEER_RESPONDER / 2 ** 20} MiB`],
    ['DEFAULT_MAX_GRAPHSYNC_STREAMS', `${c.DEFAULT_MAX_GRAPHSYNC_STREAMS}`]] as const) {
    assert.match(readme, new RegExp(`${name}\` = ${text}\\b`), `README ${name}`)
  }
  assert.equal(c.MAX_MESSAGE_SIZE, 4 * 1024 * 1024)
  assert.match(readme, /`MAX_MESSAGE_SIZE` = 4 MiB/)
  assert.match(spec, /`MAX_MESSAGE_SIZE` = 4 MiB/)
  assert.match(spec, /default 1024 path segments/)
})

it('the package @example runs as written against a real blockstore (its loader resolves to whole blocks)', async () => {
  const source = readFileSync(fileURLToPath(new URL('../../src/index.ts', import.meta.url)), 'utf8')
  const m = /```typescript\n([\s\S]*?)```/.exec(source)
  assert.ok(m != null, 'index.ts has a typescript @example')
  // the example without its doc-comment stars and import lines: plain JavaScript over the names it imports
  const body = m[1].split('\n').map(l => l.replace(/^ \* ?/, '')).filter(l => !l.startsWith('import ')).join('\n')
  const dir = await mkdtemp(join(tmpdir(), 'gs-docs-'))
  const blockstore = new FsBlockstore(dir, { fsync: false })
  await blockstore.open()
  try {
    const tensors: CID[] = []
    for (let i = 0; i < 3; i++) {
      const bytes = new TextEncoder().encode(`tensor ${i}`)
      const cid = hashBlock(bytes)
      await blockstore.put(cid, bytes)
      tensors.push(cid)
    }
    const rootBytes = dagCbor.encode({ format: 'example', tensors })
    const root = hashBlock(rootBytes, dagCbor.code)
    await blockstore.put(root, rootBytes)
    const logged: string[] = []
    const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor
    const run = new AsyncFunction('s', 'traverse', 'selectorToDagCbor', 'getBlockUnverified', 'blockstore', 'root', 'console', body)
    await run(gs.s, gs.traverse, gs.selectorToDagCbor, getBlockUnverified, blockstore, root, { log: (...a: unknown[]) => logged.push(a.join(' ')) })
    // the root block (path ''), then the first two tensors, each under its path
    assert.deepEqual(logged, [` ${root}`, `tensors/0 ${tensors[0]}`, `tensors/1 ${tensors[1]}`])
  } finally {
    await blockstore.close()
    await rm(dir, { recursive: true, force: true })
  }
})

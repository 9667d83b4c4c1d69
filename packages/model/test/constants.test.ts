import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import * as model from '../src/index.js'

const here = dirname(fileURLToPath(import.meta.url))

describe('documented defaults', () => {
  it('the README defaults table equals the exported constants', async () => {
    const readme = await readFile(join(here, '../../README.md'), 'utf8')
    const rows = [...readme.matchAll(/^\| `([A-Z_]+)` \| (\d+) \|/gm)]
    assert.ok(rows.length >= 10)
    for (const [, name, value] of rows) {
      assert.equal((model as Record<string, unknown>)[name], Number(value), name)
    }
  })

  it('the spec states the same leaf size, fan-out and limits', async () => {
    const spec = (await readFile(join(here, '../../../../spec/model-dag.md'), 'utf8')).replace(/\s+/g, ' ')
    assert.ok(spec.includes(`at most ${model.MAX_LEAF_SIZE.toLocaleString('en-US')} bytes`))
    assert.ok(spec.includes(`at most ${model.DEFAULT_MAX_CHILDREN_PER_NODE}`))
    assert.ok(spec.includes(`exceeds ${model.MAX_FLAT_DIRECTORY_BYTES.toLocaleString('en-US')}`))
    assert.ok(spec.includes(`at most ${model.MAX_MANIFEST_SIZE.toLocaleString('en-US')} bytes`))
  })
})

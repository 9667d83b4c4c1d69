import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { describe, it } from 'node:test'
import { DEFAULT_LISTEN_ADDRS, DEFAULT_STORE_BATCH_BLOCKS, DEFAULT_STORE_BATCH_BYTES, DEFAULT_STORE_BATCH_MS, DEFAULT_STORE_OPEN_FILES, DEFAULT_STORE_RECHECK_MS, MAX_CAR_HEADER_SIZE, MAX_CAR_SECTION_SIZE, defaultRepoConfig } from '../src/index.js'
import { ROOT } from './helpers.js'

describe('documented defaults', () => {
  it('README and docs state the limits the code uses', async () => {
    const readme = await fs.readFile(path.join(ROOT, 'packages/blockstore/README.md'), 'utf8')
    assert.equal(MAX_CAR_SECTION_SIZE, 8 * 1024 * 1024)
    assert.match(readme, /section <= 8 MiB/)
    assert.equal(MAX_CAR_HEADER_SIZE, 32 * 1024 * 1024)
    assert.match(readme, /header <= 32 MiB/)
    assert.deepEqual(defaultRepoConfig().listen, [...DEFAULT_LISTEN_ADDRS])
    // the store's batching and trust defaults, as the README states them
    assert.match(readme, new RegExp(`DEFAULT_STORE_BATCH_MS\` = ${DEFAULT_STORE_BATCH_MS} ms`))
    assert.match(readme, new RegExp(`DEFAULT_STORE_BATCH_BYTES\` = ${DEFAULT_STORE_BATCH_BYTES / 1024 / 1024} MiB`))
    assert.match(readme, new RegExp(`DEFAULT_STORE_BATCH_BLOCKS\` = ${DEFAULT_STORE_BATCH_BLOCKS} blocks`))
    assert.match(readme, new RegExp(`DEFAULT_STORE_RECHECK_MS\` = ${DEFAULT_STORE_RECHECK_MS} ms`))
    assert.match(readme, new RegExp(`DEFAULT_STORE_OPEN_FILES\` = ${DEFAULT_STORE_OPEN_FILES} data file`))
    const src = await fs.readFile(path.join(ROOT, 'packages/blockstore/src/car-import.ts'), 'utf8')
    assert.match(src, new RegExp(`@default ${MAX_CAR_SECTION_SIZE} `))
    assert.match(src, new RegExp(`@default ${MAX_CAR_HEADER_SIZE} `))
  })
})

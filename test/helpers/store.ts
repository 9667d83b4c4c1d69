/**
 * Test helpers: look into a repo's model-shaped store (packages/blockstore/src/model-store.ts)
 * from outside the process that uses it.
 */
import { readFile, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { FsBlockstore, openRepo } from '@tensorswap/blockstore'

/**
 * Blocks in the repo's index (committed: what a kill -9 leaves). Opens the repo, so the process
 * that used it must have exited.
 */
export async function storedBlocks (repo: string): Promise<number> {
  const r = await openRepo(repo, { create: false }).catch((err: Error) => {
    if (err.name === 'RepoNotFoundError') return undefined
    throw err
  })
  if (r == null) return 0
  try {
    return r.blockstore.store.blocks
  } finally {
    await r.close()
  }
}

/**
 * Bytes in the store's files (data files and the small-block log), indexed or not, plus the
 * files under `output` (a `get -o` writes leaves straight into them): readable while another
 * process holds the repo.
 */
export async function storeBytes (repo: string, output?: string): Promise<number> {
  let n = 0
  if (output != null) {
    for (const e of await readdir(output, { recursive: true, withFileTypes: true }).catch(() => [])) {
      if (e.isFile()) n += (await stat(join(e.parentPath, e.name)).catch(() => ({ size: 0 }))).size
    }
  }
  const dir = join(repo, 'store')
  for (const name of ['small.log', ...(await readdir(join(dir, 'data')).catch(() => [] as string[])).map(f => join('data', f))]) {
    n += (await stat(join(dir, name)).catch(() => ({ size: 0 }))).size
  }
  return n
}

/** Key prefix of the store's block entries in the repo's leveldb (`BLOCK_PREFIX`, packages/blockstore/src/model-store.ts). */
const BLOCK_KEY = Buffer.from('/store/block/')

/**
 * Block entries the store's index has committed since its leveldb log was last compacted: the
 * times a block key occurs in the repo's leveldb write-ahead logs (`datastore/*.log`; leveldb
 * writes each batch's keys there verbatim before the batch returns, and the store commits a
 * block only after its bytes are durable). Readable while another process holds the repo. A key
 * split across two of the log's 32 KiB blocks is missed, so this may count a few short.
 */
export async function committedBlockRecords (repo: string): Promise<number> {
  let n = 0
  const dir = join(repo, 'datastore')
  for (const f of (await readdir(dir).catch(() => [] as string[])).filter(f => f.endsWith('.log'))) {
    const bytes = await readFile(join(dir, f)).catch(() => Buffer.alloc(0))
    for (let at = bytes.indexOf(BLOCK_KEY); at !== -1; at = bytes.indexOf(BLOCK_KEY, at + BLOCK_KEY.length)) n++
  }
  return n
}

/**
 * Wait until a running fetch (`child`) has committed at least `blocks` block entries to its
 * repo's index ({@link committedBlockRecords}), so a kill or Ctrl-C after it leaves those blocks
 * durable. Returns early if `child` exits.
 *
 * @throws Error when `timeoutMs` pass first (the fetch made no durable progress)
 */
export async function waitForCommittedBlocks (child: { exitCode: number | null }, repo: string, blocks: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (let n = await committedBlockRecords(repo); child.exitCode == null && n < blocks; n = await committedBlockRecords(repo)) {
    if (Date.now() > deadline) throw new Error(`no ${blocks} block entries committed to ${repo} within ${timeoutMs} ms (${n} so far)`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** Copy every block of a (closed) repo into a flat FsBlockstore at `dir` (for helpers that read blocks while the repo is served). */
export async function copyBlocks (repo: string, dir: string): Promise<string> {
  const r = await openRepo(repo, { create: false })
  const out = new FsBlockstore(dir, { fsync: false })
  await out.open()
  try {
    for await (const { cid, bytes } of r.blockstore.getAll()) await out.put(cid, bytes)
  } finally {
    await r.close()
  }
  return dir
}

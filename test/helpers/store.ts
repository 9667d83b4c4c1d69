/**
 * Test helpers: look into a repo's model-shaped store (packages/blockstore/src/model-store.ts)
 * from outside the process that uses it.
 */
import { readdir, stat } from 'node:fs/promises'
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

/** Bytes of the repo's leveldb write-ahead logs: they grow with each commit of the store's index (readable while another process holds the repo). */
export async function indexLogBytes (repo: string): Promise<number> {
  let n = 0
  const dir = join(repo, 'datastore')
  for (const f of (await readdir(dir).catch(() => [] as string[])).filter(f => f.endsWith('.log'))) {
    n += (await stat(join(dir, f)).catch(() => ({ size: 0 }))).size
  }
  return n
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

/**
 * The shim's glibc malloc tuning (packages/cli/bin/malloc-tuning.js): which commands re-execute
 * with GLIBC_TUNABLES, that the re-executed process is the same process (same PID: kill and
 * Ctrl-C reach it, as before), and that a user's own malloc tunables or
 * TENSORSWAP_MALLOC_TUNING=0 are left alone.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ROOT } from '../helpers/cli.js'
import { startServe } from '../helpers/processes.js'

interface MallocTuning {
  GLIBC_TUNABLES_FOR_BULK: string
  mallocTuningEnv: (args: string[], env: Record<string, string | undefined>, platform: string) => Record<string, string | undefined> | undefined
}
const tuning = await import(`${ROOT}packages/cli/bin/malloc-tuning.js`) as MallocTuning

/**
 * GLIBC_TUNABLES as a running process holds it. glibc splits the variable in place at start-up
 * (a NUL for each `:`), so the entries after it are re-joined up to the next `NAME=` entry.
 */
async function tunablesOf (pid: number): Promise<string | undefined> {
  const entries = (await readFile(`/proc/${pid}/environ`, 'latin1')).split('\0')
  const i = entries.findIndex(e => e.startsWith('GLIBC_TUNABLES='))
  if (i < 0) return undefined
  const parts = [entries[i].slice('GLIBC_TUNABLES='.length)]
  for (let j = i + 1; j < entries.length && /^glibc\.[a-z_.]+=/.test(entries[j]); j++) parts.push(entries[j])
  return parts.join(':')
}

describe('glibc malloc tuning of bulk commands', () => {
  let work: string
  before(async () => { work = await mkdtemp(join(tmpdir(), 'ts-malloc-')) })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('re-executes only bulk commands, appends to other tunables, respects the user\'s malloc tunables and the opt-out', () => {
    const ours = tuning.GLIBC_TUNABLES_FOR_BULK
    assert.match(ours, /glibc\.malloc\.hugetlb=1/)
    assert.equal(tuning.mallocTuningEnv(['--repo', '/r', 'get', 'bafy'], {}, 'linux')?.GLIBC_TUNABLES, ours)
    for (const cmd of ['add', 'serve', 'push', 'export', 'car', 'verify']) assert.ok(tuning.mallocTuningEnv([cmd], {}, 'linux'), cmd)
    for (const cmd of [['stat'], ['pin', 'ls'], ['--version'], ['providers', 'bafy']]) assert.equal(tuning.mallocTuningEnv(cmd, {}, 'linux'), undefined, cmd.join(' '))
    assert.equal(tuning.mallocTuningEnv(['get'], { GLIBC_TUNABLES: 'glibc.rtld.optional_static_tls=512' }, 'linux')?.GLIBC_TUNABLES, `glibc.rtld.optional_static_tls=512:${ours}`)
    assert.equal(tuning.mallocTuningEnv(['get'], { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }, 'linux'), undefined)
    assert.equal(tuning.mallocTuningEnv(['get'], { TENSORSWAP_MALLOC_TUNING: '0' }, 'linux'), undefined)
    assert.equal(tuning.mallocTuningEnv(['get'], {}, 'darwin'), undefined)
    // the re-executed process sees its own variable and stops there
    assert.equal(tuning.mallocTuningEnv(['get'], { GLIBC_TUNABLES: ours }, 'linux'), undefined)
  })

  it('a spawned `serve` is the re-executed process itself, with the tunables set', async () => {
    const node = await startServe(join(work, 'a'), ['/ip4/127.0.0.1/tcp/0'], [], { GLIBC_TUNABLES: '' })
    try {
      assert.equal(await tunablesOf(node.child.pid as number), tuning.GLIBC_TUNABLES_FOR_BULK, 'the PID we spawned serves, with GLIBC_TUNABLES set')
    } finally { await node.stop() }
    const user = 'glibc.malloc.arena_max=2'
    const own = await startServe(join(work, 'b'), ['/ip4/127.0.0.1/tcp/0'], [], { GLIBC_TUNABLES: user })
    try {
      assert.equal(await tunablesOf(own.child.pid as number), user, 'the user\'s malloc tunables are kept as they are')
    } finally { await own.stop() }
    const off = await startServe(join(work, 'c'), ['/ip4/127.0.0.1/tcp/0'], [], { GLIBC_TUNABLES: '', TENSORSWAP_MALLOC_TUNING: '0' })
    try {
      assert.equal(await tunablesOf(off.child.pid as number), '', 'TENSORSWAP_MALLOC_TUNING=0: nothing added')
    } finally { await off.stop() }
  })
})

/**
 * A newcomer's first minutes: in a fresh copy of the repository (its tracked files only, in a
 * folder whose name has nothing to do with the project), `npm ci` must leave a working
 * `npx tensorswap`, and the README's usage lines for `--help`, `add` and `ls` must run as
 * written (placeholders filled in with a real model and the CID `add` printed).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HUMAN_MODELS, ROOT } from '../helpers/cli.js'

interface Run { code: number | null, stdout: string, stderr: string }

/** Run a shell command line in `cwd`, as a user at a terminal would (PATH as given). */
async function sh (line: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  const child = spawn('bash', ['-c', line], { cwd, env })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const code = await new Promise<number | null>((resolve, reject) => { child.on('error', reject); child.on('close', resolve) })
  return { code, stdout, stderr }
}

/** The README's `npx tensorswap ...` usage lines, comments stripped. */
async function readmeUsageLines (): Promise<string[]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  return readme.split('\n')
    .filter(l => l.startsWith('npx tensorswap '))
    .map(l => l.replace(/\s+#.*$/, '').trim())
}

describe('fresh clone', () => {
  let dir: string
  let clone: string
  let env: NodeJS.ProcessEnv

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ts-newcomer-'))
    clone = join(dir, 'some-folder')
    // the tracked files as they are in the working tree: what a clone of this commit holds
    execFileSync('bash', ['-c', `mkdir -p "${clone}" && git ls-files -z | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "${clone}"`], { cwd: ROOT })
    // a user's PATH: no project node_modules/.bin from the outer `npm test`
    const path = (process.env.PATH ?? '').split(':').filter(p => !p.includes('node_modules')).join(':')
    env = { HOME: dir, PATH: path, TENSORSWAP_PATH: join(dir, 'repo'), npm_config_cache: process.env.npm_config_cache ?? join(process.env.HOME ?? dir, '.npm') }
    const ci = await sh('npm ci --prefer-offline --no-audit --no-fund', clone, env)
    assert.equal(ci.code, 0, `npm ci failed:\n${ci.stderr.slice(-4000)}`)
  })

  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('links the bin: `npx tensorswap --help` and `--version` work', async () => {
    const help = await sh('npx tensorswap --help', clone, env)
    assert.equal(help.code, 0, help.stderr)
    assert.match(help.stdout, /Usage: tensorswap/)
    const version = await sh('npx tensorswap --version', clone, env)
    assert.equal(version.code, 0, version.stderr)
    const pkg = JSON.parse(await readFile(join(clone, 'packages/cli/package.json'), 'utf8')) as { version: string }
    assert.equal(version.stdout.trim(), pkg.version)
  })

  it('runs the README usage lines for add and ls on a real model', async () => {
    const lines = await readmeUsageLines()
    const add = lines.find(l => l.startsWith('npx tensorswap add '))
    const ls = lines.find(l => l.startsWith('npx tensorswap ls '))
    assert.ok(add != null && ls != null, 'README lists add and ls usage lines')
    const model = join(dir, 'model-dir')
    execFileSync('mkdir', ['-p', model])
    execFileSync('cp', [join(HUMAN_MODELS, 'blazeface.json'), join(HUMAN_MODELS, 'blazeface.bin'), model])
    const added = await sh(add.replace('./model-dir', model), clone, env)
    assert.equal(added.code, 0, added.stderr)
    const cid = added.stdout.trim().split('\n').at(-1) ?? ''
    assert.match(cid, /^bafy/)
    const listed = await sh(ls.replace('<cid>', cid), clone, env)
    assert.equal(listed.code, 0, listed.stderr)
    assert.match(listed.stdout, /blazeface\.bin/)
  })

  it('exits quietly when stdout closes early', async () => {
    // the whole human-models set: `ls` prints ~1.4 MB, far past a pipe's buffer, so the
    // writes after `head` exits really fail with EPIPE
    const added = await sh(`npx tensorswap add -q "${HUMAN_MODELS}"`, clone, env)
    assert.equal(added.code, 0, added.stderr)
    const cid = added.stdout.trim().split('\n').at(-1) ?? ''
    for (const cmd of [`ls ${cid} --json`, `ls ${cid}`]) {
      const r = await sh(`npx tensorswap ${cmd} | head -c 10; exit \${PIPESTATUS[0]}`, clone, env)
      assert.ok(r.code === 0 || r.code === 141, `${cmd}: status ${r.code}`)
      assert.doesNotMatch(r.stderr, /EPIPE|at .*\.js:\d+/, `${cmd}: ${r.stderr}`)
    }
  })
})

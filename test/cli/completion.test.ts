/**
 * `tensorswap completion` prints a bash completion script generated from the command tree:
 * loaded into a real bash, it completes command names, subcommand names and each command's own
 * long options, and falls back to file names for positional arguments.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'

describe('shell completion', () => {
  let work: string
  let script: string

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-completion-'))
    const r = await runCli(['completion'])
    assert.equal(r.code, 0, r.stderr)
    script = join(work, 'tensorswap.bash')
    await writeFile(script, r.stdout)
    await writeFile(join(work, 'model.safetensors'), '')
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  /** What bash offers for the command line `words` (the last word is the one being completed). */
  function complete (words: string[]): string[] {
    const line = ['tensorswap', ...words].map(w => `'${w}'`).join(' ')
    const r = spawnSync('bash', ['--norc', '-c', `source '${script}'; COMP_WORDS=(${line}); COMP_CWORD=${words.length}; _tensorswap_complete; printf '%s\\n' "\${COMPREPLY[@]}"`], { cwd: work, encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    return r.stdout.split('\n').filter(l => l !== '').sort()
  }

  it('completes commands, subcommands and the chosen command\'s options', () => {
    assert.deepEqual(complete(['ge']), ['get'])
    assert.deepEqual(complete(['p']), ['peers', 'pin', 'providers', 'push'])
    assert.deepEqual(complete(['car', '']), ['export', 'import'])
    assert.deepEqual(complete(['pin', 'l']), ['ls'])
    const get = complete(['get', '--max-'])
    assert.deepEqual(get, ['--max-download-rate', '--max-download-rate-per-peer', '--max-upload-rate', '--max-upload-rate-per-peer'])
    assert.ok(complete(['get', '--']).includes('--include'), 'get has --include')
    assert.ok(!complete(['add', '--']).includes('--include'), 'add has no --include')
    assert.ok(complete(['--repo', 'x', 'serve', '--']).includes('--bootstrap'), 'a global option with its value before the command')
    assert.ok(complete(['serve', '--']).includes('--repo'), 'global options everywhere')
  })

  it('falls back to file names for a positional argument', () => {
    assert.deepEqual(complete(['add', 'mod']), ['model.safetensors'])
  })
})

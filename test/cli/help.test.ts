/**
 * Every command's `--help` ends with an example (issue: "help text with an example for every
 * command"). The commands are read from `tensorswap --help` and each group's help, so a command
 * added without an example fails here.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'

/** Command names listed under "Commands:" in a help text (without `help` itself). */
function commandsOf (help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? ''
  return section.split('\n')
    .map(l => /^ {2}([a-z][a-z-]*)/.exec(l)?.[1])
    .filter((c): c is string => c != null && c !== 'help')
}

describe('help text', () => {
  it('every command and subcommand has an example', async () => {
    const top = await runCli(['--help'])
    assert.equal(top.code, 0, top.stderr)
    const commands = commandsOf(top.stdout)
    assert.ok(commands.length >= 15, top.stdout)
    const missing: string[] = []
    let checked = 0
    for (const c of commands) {
      const h = await runCli([c, '--help'])
      assert.equal(h.code, 0, `${c}: ${h.stderr}`)
      const subs = commandsOf(h.stdout)
      for (const s of subs) {
        const sh = await runCli([c, s, '--help'])
        checked++
        if (!/\nExample:\n {2}tensorswap /.test(sh.stdout)) missing.push(`${c} ${s}`)
      }
      if (subs.length === 0) {
        checked++
        if (!/\nExample:\n {2}tensorswap /.test(h.stdout)) missing.push(c)
      }
    }
    assert.deepEqual(missing, [], `commands without an example (of ${checked})`)
  })
})

/**
 * Children a test file started are killed when the file's process exits, however it exits: a
 * failed assertion that skips a test's `stop()` must not leave a `serve` running (it would hold
 * the test file's event loop open until test/helpers/exit-after-tests.ts exits it, and outlive it
 * as an orphan).
 */
import type { ChildProcess } from 'node:child_process'

const children = new Set<ChildProcess>()
let hooked = false

/** Kill `child` (SIGKILL) when this process exits, unless it exited first. @returns `child` */
export function reapOnExit<T extends ChildProcess> (child: T): T {
  children.add(child)
  child.once('exit', () => { children.delete(child) })
  if (!hooked) {
    hooked = true
    process.once('exit', () => {
      for (const c of children) if (c.exitCode == null && c.signalCode == null) c.kill('SIGKILL')
    })
  }
  return child
}

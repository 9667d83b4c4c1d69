#!/usr/bin/env node
// Make sure Debian's `chromium` is installed for the status page test (test/status/page.test.ts,
// driven by playwright-core at /usr/bin/chromium). Run by `npm test`'s pretest step.
// - /usr/bin/chromium exists: nothing to do.
// - missing and we are root on Debian (CI): apt-get install -y chromium.
// - missing otherwise: say how to install it; the test then fails with the same message (it is
//   never skipped in CI).
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

const CHROMIUM = '/usr/bin/chromium'
if (existsSync(CHROMIUM)) process.exit(0)
const root = typeof process.getuid === 'function' && process.getuid() === 0
if (!root || !existsSync('/usr/bin/apt-get')) {
  console.error(`ensure-chromium: ${CHROMIUM} is missing; install Debian's chromium (as root: apt-get install -y chromium) for test/status/page.test.ts`)
  process.exit(0)
}
console.error('ensure-chromium: installing Debian chromium for the status page test (apt-get install -y chromium)')
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
try {
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env })
} catch {
  // a fresh machine may have no package lists yet
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env })
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env })
}

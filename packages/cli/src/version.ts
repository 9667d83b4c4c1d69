/**
 * This package's version, from its package.json (two levels above dist/src/version.js).
 */
import { readFileSync } from 'node:fs'

/** The `@tensorswap/cli` version (`0.1.0`). */
export function cliVersion (): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

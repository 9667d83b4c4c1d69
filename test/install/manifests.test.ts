/**
 * The workspace packages' manifests (issue 14, deviation 9): every `exports`/`main`/`bin` target
 * exists after the build and imports, and every runtime dependency is imported by the
 * package's sources (an unused dependency is a download and an audit surface for nothing).
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const PACKAGES = readdirSync(join(ROOT, 'packages')).filter(d => existsSync(join(ROOT, 'packages', d, 'package.json')))

interface Manifest { name: string, main?: string, exports?: Record<string, { import?: string, types?: string } | string>, bin?: Record<string, string>, dependencies?: Record<string, string> }

const manifest = (dir: string): Manifest => JSON.parse(readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8'))

/** Every file under `dir` ending in `.ts` (no declaration files). */
function sources (dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir)) {
    const p = join(dir, e)
    if (statSync(p).isDirectory()) out.push(...sources(p))
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p)
  }
  return out
}

describe('workspace package manifests', () => {
  it('has the seven packages', () => {
    assert.deepEqual(PACKAGES.sort(), ['blockstore', 'cli', 'gateway', 'graphsync', 'model', 'tensorswap', 'transport'])
  })

  for (const dir of PACKAGES) {
    it(`${dir}: every exports, main and bin target exists and imports`, async () => {
      const m = manifest(dir)
      const targets: string[] = []
      if (m.main != null) targets.push(m.main)
      for (const v of Object.values(m.exports ?? {})) {
        if (typeof v === 'string') targets.push(v)
        else for (const t of [v.import, v.types]) if (t != null) targets.push(t)
      }
      for (const b of Object.values(m.bin ?? {})) targets.push(b)
      assert.ok(targets.length > 0, `${m.name} has an entry point`)
      for (const t of targets) assert.ok(existsSync(join(ROOT, 'packages', dir, t)), `${m.name}: ${t} does not exist`)
      for (const [key, v] of Object.entries(m.exports ?? {})) {
        const file = typeof v === 'string' ? v : v.import
        if (file == null) continue
        const mod = await import(join(ROOT, 'packages', dir, file))
        assert.ok(Object.keys(mod).length > 0, `${m.name} ${key} exports something`)
      }
    })

    it(`${dir}: every runtime dependency is imported by src/`, () => {
      const m = manifest(dir)
      const text = sources(join(ROOT, 'packages', dir, 'src')).map(f => readFileSync(f, 'utf8')).join('\n')
      for (const dep of Object.keys(m.dependencies ?? {})) {
        const imported = new RegExp(`(from|import)\\s*\\(?\\s*'${dep.replace(/[/.]/g, '\\$&')}(/[^']*)?'`).test(text)
        assert.ok(imported, `${m.name} depends on ${dep} but src/ never imports it`)
      }
    })
  }
})

#!/usr/bin/env node
// Bundle the compiled CLI (packages/cli/dist/src/bin.js and every command it loads lazily) into
// packages/cli/dist/bundle/ with esbuild: a few ES module chunks instead of ~1,200 files, so a
// whole `tensorswap get` does not spend a second resolving and reading modules at start-up
// (bench/README.md "Start-up"). Run by the root `build` and `prepare` scripts after `tsc -b`.
// Packages with native bindings stay external (they locate their `.node` files from their own
// directory). The bin shim (packages/cli/bin/tensorswap.js) runs the bundle only while it is
// newer than every package's tsbuildinfo, so a `tsc -b` alone never runs stale code.
import { build } from 'esbuild'
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(root, 'packages/cli')
const outdir = join(cli, 'dist/bundle')

await rm(outdir, { recursive: true, force: true })
await mkdir(outdir, { recursive: true })
await build({
  entryPoints: [join(cli, 'dist/src/bin.js')],
  outdir,
  bundle: true,
  splitting: true, // the lazy `import()` of each command stays a separate chunk
  format: 'esm',
  platform: 'node',
  target: 'node22',
  // native bindings: loaded from node_modules as before
  external: ['@chainsafe/libp2p-quic', 'classic-level'],
  // CommonJS dependencies inside an ES module bundle call require() for Node's built-ins
  banner: { js: 'import { createRequire as __tensorswapCreateRequire } from "node:module"; const require = __tensorswapCreateRequire(import.meta.url);' },
  logLevel: 'warning',
  legalComments: 'none',
  keepNames: true // error classes and logs keep their names
})
// what the shim compares against the packages' tsbuildinfo (mtime of this file)
const chunks = (await readdir(outdir)).filter(f => f.endsWith('.js')).length
await writeFile(join(outdir, 'stamp.json'), JSON.stringify({ builtAt: new Date().toISOString(), chunks }) + '\n')

#!/usr/bin/env node
// The `tensorswap` command's committed entry point. npm links a workspace's `bin` only when its
// target exists at install time, so the link points here (always present in a clone) and this
// file loads the compiled command, which `npm ci` builds (the root `prepare` script).
//
// It runs the bundle (dist/bundle/, scripts/bundle-cli.mjs: a few chunks instead of ~1,200
// module files, ~0.5 s less start-up) while the bundle is newer than every package's build
// (their tsbuildinfo), else dist/src/bin.js; TENSORSWAP_BUNDLE=0 always takes dist/src.
// Commands that move bulk data first re-execute in place with glibc malloc tuning
// (./malloc-tuning.js; TENSORSWAP_MALLOC_TUNING=0 turns it off).
import { statSync } from 'node:fs'
import module from 'node:module'
import { reexecWithMallocTuning } from './malloc-tuning.js'

reexecWithMallocTuning()

const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  process.stderr.write(`tensorswap: needs Node >= 22 (this is ${process.versions.node}); run it through npx or npm scripts, which use the project's own Node\n`)
  process.exit(1)
}
// V8's compiled code cached on disk across runs (os.tmpdir()/node-compile-cache)
module.enableCompileCache?.()

const PACKAGES = ['blockstore', 'transport', 'model', 'graphsync', 'tensorswap', 'gateway', 'cli']

/** Whether dist/bundle/ was built after the last `tsc -b` of every package. */
function bundleFresh () {
  if (process.env.TENSORSWAP_BUNDLE === '0') return false
  let built
  try {
    built = statSync(new URL('../dist/bundle/stamp.json', import.meta.url)).mtimeMs
  } catch (err) {
    if (err?.code === 'ENOENT') return false // never bundled (or removed): dist/src
    throw err
  }
  for (const name of PACKAGES) {
    let compiled
    try {
      compiled = statSync(new URL(`../../${name}/dist/tsconfig.tsbuildinfo`, import.meta.url)).mtimeMs
    } catch (err) {
      if (err?.code === 'ENOENT') continue // not compiled here (the cli package installed alone)
      throw err
    }
    if (compiled > built) return false
  }
  return true
}

const entry = new URL(bundleFresh() ? '../dist/bundle/bin.js' : '../dist/src/bin.js', import.meta.url)
try {
  await import(entry.href)
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/bin.js')) {
    process.stderr.write('tensorswap: not built yet; run `npm run build` in the project root\n')
    process.exit(1)
  }
  throw err
}

#!/usr/bin/env node
// Bundle the compiled CLI (packages/cli/dist/src/bin.js and every command it loads lazily) into
// packages/cli/dist/bundle/ with esbuild: a few ES module chunks instead of ~1,200 files, so a
// whole `tensorswap get` does not spend a second resolving and reading modules at start-up
// (bench/README.md "Start-up"). Run by the root `build` and `prepare` scripts after `tsc -b`.
// Only the two files that locate native bindings from their own directory stay external
// (NATIVE_LOADERS below). The bin shim (packages/cli/bin/tensorswap.js) runs the bundle only while it is
// newer than every package's tsbuildinfo, so a `tsc -b` alone never runs stale code.
import { build } from 'esbuild'
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(root, 'packages/cli')
const outdir = join(cli, 'dist/bundle')

/**
 * The two files that find a native binding from their own directory: `@chainsafe/libp2p-quic`'s
 * napi-rs loader and `classic-level`'s `node-gyp-build(__dirname)`. They stay external, imported
 * from where they are installed by a path relative to the bundle; everything around them (the
 * QUIC transport's and leveldb's JS and their dependencies, ~300 module files once loaded one by
 * one) is bundled.
 */
const NATIVE_LOADERS = [/[\\/]@chainsafe[\\/]libp2p-quic[\\/]dist[\\/]src[\\/]napi\.js$/, /[\\/]classic-level[\\/]binding\.js$/]
const nativeLoadersExternal = {
  name: 'native-loaders-external',
  setup (b) {
    b.onResolve({ filter: /(^|[\\/])(napi\.js|binding)$/ }, async args => {
      if (args.pluginData?.native === true) return undefined
      const resolved = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { native: true } })
      if (resolved.errors.length > 0 || !NATIVE_LOADERS.some(re => re.test(resolved.path))) return undefined
      let path = relative(outdir, resolved.path).split(sep).join('/')
      if (!path.startsWith('.')) path = `./${path}`
      return { path, external: true }
    })
  }
}

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
  // native bindings: only the files that locate and load the `.node` stay outside the bundle
  plugins: [nativeLoadersExternal],
  // CommonJS dependencies inside an ES module bundle call require() for Node's built-ins
  banner: { js: 'import { createRequire as __tensorswapCreateRequire } from "node:module"; const require = __tensorswapCreateRequire(import.meta.url);' },
  logLevel: 'warning',
  legalComments: 'none',
  keepNames: true // error classes and logs keep their names
})
// what the shim compares against the packages' tsbuildinfo (mtime of this file)
const chunks = (await readdir(outdir)).filter(f => f.endsWith('.js')).length
await writeFile(join(outdir, 'stamp.json'), JSON.stringify({ builtAt: new Date().toISOString(), chunks }) + '\n')

#!/usr/bin/env node
// The `tensorswap` command's committed entry point. npm links a workspace's `bin` only when its
// target exists at install time, so the link points here (always present in a clone) and this
// file loads the compiled command from dist/, which `npm ci` builds (the root `prepare` script).
const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  process.stderr.write(`tensorswap: needs Node >= 22 (this is ${process.versions.node}); run it through npx or npm scripts, which use the project's own Node\n`)
  process.exit(1)
}
const entry = new URL('../dist/src/bin.js', import.meta.url)
try {
  await import(entry.href)
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/bin.js')) {
    process.stderr.write('tensorswap: not built yet; run `npm run build` in the project root\n')
    process.exit(1)
  }
  throw err
}

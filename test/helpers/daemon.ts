/**
 * Test helpers for the daemon's local API (spec/api.md): run the CLI with stdin and a working
 * directory, send raw HTTP requests to a repo's API socket, normalise output for comparisons.
 */
import { spawn } from 'node:child_process'
import { reapOnExit } from './reap.js'
import { request } from 'node:http'
import { connect } from 'node:net'
import { BIN } from './cli.js'

/** Result of one CLI run, stdout as bytes too. */
export interface RunResult { code: number | null, stdout: string, stdoutBytes: Buffer, stderr: string }

/** Run `tensorswap ...args` in `cwd`, writing `stdin` (then closing it). */
export async function run (args: string[], options: { cwd?: string, stdin?: Uint8Array | string, signal?: AbortSignal } = {}): Promise<RunResult> {
  const child = reapOnExit(spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, signal: options.signal, stdio: ['pipe', 'pipe', 'pipe'] }))
  const out: Buffer[] = []
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { out.push(d) })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  child.stdin.on('error', () => {}) // the command may exit before reading stdin (EPIPE): its exit code says what happened
  child.stdin.end(options.stdin ?? '')
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  const stdoutBytes = Buffer.concat(out)
  return { code, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr }
}

/** One raw API exchange: HTTP status and the NDJSON events of the answer. */
export interface RawAnswer { status: number, events: any[], text: string }

/** Send `body` to `POST|method path` on the socket and read the whole answer. */
export async function rawApi (socketPath: string, path: string, body: string | Uint8Array, method = 'POST'): Promise<RawAnswer> {
  return await new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (d: string) => { text += d })
      res.on('end', () => {
        const events = text.split('\n').filter(l => l !== '').map(l => JSON.parse(l))
        resolve({ status: res.statusCode ?? 0, events, text })
      })
      res.on('error', reject)
    })
    // the server may answer (413) and close before reading a large body
    req.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err) })
    req.end(body)
  })
}

/** Write raw bytes on a new connection to the socket and return what comes back before it closes. */
export async function rawSocket (socketPath: string, bytes: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const sock = connect({ path: socketPath })
    let text = ''
    sock.setEncoding('utf8').on('data', (d: string) => { text += d })
    sock.on('error', reject)
    sock.on('close', () => { resolve(text) })
    sock.end(bytes)
  })
}

/**
 * Output made comparable between two runs: `dirs` replaced by `<W>`, timings (`seconds`,
 * `MBps`, `searchedMs`, ` in N.NN s`) replaced by `#`.
 */
export function normalise (text: string, dirs: string[]): string {
  let s = text
  for (const d of dirs) s = s.split(d).join('<W>')
  return s
    .replace(/"(seconds|MBps|searchedMs)":[0-9.e+-]+/g, '"$1":#')
    .replace(/ in [0-9.]+ s/g, ' in # s')
}

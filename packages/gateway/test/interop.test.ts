/**
 * Interop with the real other implementations, gateway in its own process: Helia's
 * trustless-gateway block broker (`@helia/http` + `@helia/unixfs`) fetches and verifies model
 * files; `curl` gets exact byte ranges; `ipfs-car unpack` reads our CAR responses byte-exact.
 */

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { withHTTP } from '@helia/http'
import { unixfs } from '@helia/unixfs'
import { multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { MODEL_FILES, REPO_ROOT, startGatewayProcess } from './helpers.js'
import type { GatewayProcess } from './helpers.js'

const run = promisify(execFile)

function sha (b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

describe('gateway interop (gateway in a child process)', () => {
  let gw: GatewayProcess
  const cidOf = (path: string): string => gw.listing.find(f => f.path === path)!.cid

  before(async () => { gw = await startGatewayProcess() })
  after(async () => { await gw.stop() })

  it('Helia (trustless-gateway block broker) fetches and verifies model files through our gateway', async () => {
    // Helia's own broker with our gateway as the only provider: no delegated routing, no public gateways
    const helia = withHTTP(createHeliaLight({}), { delegatedRouters: [], recursiveGateways: [], allowInsecure: true, allowLocal: true })
    const u = new URL(gw.url)
    const provider = {
      id: CID.createV1(0x0920, identity.digest(new TextEncoder().encode(gw.url))),
      multiaddrs: [multiaddr(`/ip4/${u.hostname}/tcp/${u.port}/http`)],
      protocols: ['transport-ipfs-gateway-http']
    }
    helia.addRouter({ name: 'explicit-gateway', async * findProviders () { yield provider } } as any)
    await helia.start()
    try {
      const fs = unixfs(helia)
      const catAll = async (cid: CID, path?: string): Promise<Buffer> => {
        const chunks: Uint8Array[] = []
        for await (const c of fs.cat(cid, { signal: AbortSignal.timeout(30_000), ...(path !== undefined ? { path } : {}) })) chunks.push(c)
        return Buffer.concat(chunks)
      }
      const bin = await catAll(CID.parse(cidOf('movenet-lightning.bin')))
      assert.equal(sha(bin), sha(await readFile(join(gw.modelDir, 'movenet-lightning.bin'))))
      const json = await catAll(CID.parse(gw.files), 'blazeface.json')
      assert.equal(sha(json), sha(await readFile(join(gw.modelDir, 'blazeface.json'))))
    } finally {
      await helia.stop()
    }
  })

  it('curl gets exact byte ranges of a model file', async () => {
    const disk = await readFile(join(gw.modelDir, 'movenet-lightning.bin'))
    const url = `${gw.url}/ipfs/${gw.root}/movenet-lightning.bin`
    const curl = async (...args: string[]): Promise<Buffer> => (await run('curl', ['-sS', '--fail', ...args], { encoding: 'buffer', maxBuffer: 64 << 20 })).stdout
    const cases: Array<[string, number, number]> = [
      ['0-0', 0, 0],
      ['1000-1999', 1000, 1999],
      ['1048570-2097160', 1048570, 2097160],
      [`${disk.byteLength - 100}-`, disk.byteLength - 100, disk.byteLength - 1],
      ['-4096', disk.byteLength - 4096, disk.byteLength - 1]
    ]
    for (const [range, first, last] of cases) {
      const body = await curl('-r', range, url)
      assert.equal(Buffer.compare(body, disk.subarray(first, last + 1)), 0, range)
    }
    const headers = (await curl('-D', '-', '-o', '/dev/null', '-r', '10-19', url)).toString('latin1')
    assert.match(headers, /^HTTP\/1\.1 206 /)
    assert.match(headers, new RegExp(`content-range: bytes 10-19/${disk.byteLength}`, 'i'))
    const whole = await curl(url)
    assert.equal(sha(whole), sha(disk))
  })

  it('ipfs-car unpacks our CAR responses byte-exact (directory and a file under the manifest path)', async () => {
    const out = join(gw.tmp, 'unpack')
    await mkdir(out)
    const bin = join(REPO_ROOT, 'node_modules/ipfs-car/bin.js')
    const download = async (path: string, file: string): Promise<string> => {
      const res = await fetch(gw.url + path)
      assert.equal(res.status, 200)
      const p = join(out, file)
      await writeFile(p, new Uint8Array(await res.arrayBuffer()))
      return p
    }
    const dirCar = await download(`/ipfs/${gw.files}?format=car`, 'files.car')
    await run(process.execPath, [bin, 'unpack', dirCar, '--output', join(out, 'model')])
    assert.deepEqual((await readdir(join(out, 'model'))).sort(), [...MODEL_FILES].sort())
    for (const f of MODEL_FILES) {
      assert.equal(sha(await readFile(join(out, 'model', f))), sha(await readFile(join(gw.modelDir, f))), f)
    }
    // the CAR root is the path's terminal, so a file fetched by manifest path unpacks directly
    const fileCar = await download(`/ipfs/${gw.root}/movenet-lightning.bin?format=car&car-dups=y`, 'file.car')
    await run(process.execPath, [bin, 'unpack', fileCar, '--output', join(out, 'movenet.bin')])
    assert.equal(sha(await readFile(join(out, 'movenet.bin'))), sha(await readFile(join(gw.modelDir, 'movenet-lightning.bin'))))
  })
})

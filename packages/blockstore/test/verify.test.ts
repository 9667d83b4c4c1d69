import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { hashBlock, verifyBlock } from '../src/index.js'

describe('verifyBlock', () => {
  const bytes = new TextEncoder().encode('hello tensors')

  it('accepts a sha2-256 block and hashBlock agrees with multiformats', async () => {
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    verifyBlock(cid, bytes)
    assert.equal(hashBlock(bytes).toString(), cid.toString())
    assert.equal(hashBlock(bytes, 0x71).code, 0x71)
  })

  it('accepts a CIDv0 (dag-pb sha2-256)', async () => {
    const cid = CID.createV0(await sha256.digest(bytes))
    verifyBlock(cid, bytes)
  })

  it('rejects a sha2-256 mismatch with BlockHashMismatchError', () => {
    const cid = hashBlock(bytes)
    const bad = bytes.slice()
    bad[0] ^= 1
    assert.throws(() => { verifyBlock(cid, bad) }, { name: 'BlockHashMismatchError' })
  })

  it('accepts identity blocks and rejects identity mismatch', () => {
    const cid = CID.createV1(raw.code, identity.digest(bytes))
    verifyBlock(cid, bytes)
    assert.throws(() => { verifyBlock(cid, bytes.subarray(1)) }, { name: 'BlockHashMismatchError' })
  })

  it('rejects other hash functions with UnsupportedHashError', async () => {
    const cid = CID.createV1(raw.code, await sha512.digest(bytes))
    assert.throws(() => { verifyBlock(cid, bytes) }, (err: any) => err.name === 'UnsupportedHashError' && err.hashCode === 0x13)
  })
})

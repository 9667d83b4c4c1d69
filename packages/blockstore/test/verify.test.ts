import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { identity } from 'multiformats/hashes/identity'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { BlockVerificationError, HASHERS, canVerify, cidOf, digestOf, hashBlock, verifyBlock } from '../src/index.js'

describe('verifyBlock and the HASHERS table', () => {
  const bytes = new TextEncoder().encode('hello tensors')

  it('the table: identity (any length), sha2-256 (32 bytes), sha2-512 (64 bytes), nothing else', () => {
    assert.deepEqual([...HASHERS.keys()].sort((a, b) => a - b), [0x00, 0x12, 0x13])
    assert.equal(HASHERS.get(0x12)?.digestLength, 32)
    assert.equal(HASHERS.get(0x13)?.digestLength, 64)
    assert.equal(HASHERS.get(0x00)?.digestLength, undefined)
    assert.equal(canVerify(0x12, 32), true)
    assert.equal(canVerify(0x13, 64), true)
    assert.equal(canVerify(0x00, 0), true)
    assert.equal(canVerify(0x00, 300), true)
    assert.equal(canVerify(0x12, 20), false) // truncated
    assert.equal(canVerify(0x13, 32), false)
    assert.equal(canVerify(0x16, 32), false) // sha3-256
  })

  it('accepts a sha2-256 block and hashBlock agrees with multiformats', async () => {
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    verifyBlock(cid, bytes)
    assert.equal(hashBlock(bytes).toString(), cid.toString())
    assert.equal(hashBlock(bytes, 0x71).code, 0x71)
    assert.deepEqual(digestOf(0x12, bytes), (await sha256.digest(bytes)).digest)
  })

  it('accepts a CIDv0 (dag-pb sha2-256)', async () => {
    const cid = CID.createV0(await sha256.digest(bytes))
    verifyBlock(cid, bytes)
    assert.equal(cidOf(0, 0x70, 0x12, bytes)?.toString(), cid.toString())
  })

  it('rejects a sha2-256 mismatch with BlockHashMismatchError (a BlockVerificationError)', () => {
    const cid = hashBlock(bytes)
    const bad = bytes.slice()
    bad[0] ^= 1
    assert.throws(() => { verifyBlock(cid, bad) }, (err: any) => err.name === 'BlockHashMismatchError' && err.cid.equals(cid) && err instanceof BlockVerificationError)
  })

  it('accepts sha2-512 blocks; hashBlock, cidOf and digestOf agree with multiformats', async () => {
    const cid = CID.createV1(raw.code, await sha512.digest(bytes))
    verifyBlock(cid, bytes)
    assert.equal(hashBlock(bytes, raw.code, 0x13).toString(), cid.toString())
    assert.equal(cidOf(1, raw.code, 0x13, bytes)?.toString(), cid.toString())
    assert.deepEqual(digestOf(0x13, bytes), (await sha512.digest(bytes)).digest)
    assert.throws(() => { verifyBlock(cid, bytes.subarray(1)) }, { name: 'BlockHashMismatchError' })
  })

  it('accepts identity blocks and rejects identity mismatch', () => {
    const cid = CID.createV1(raw.code, identity.digest(bytes))
    verifyBlock(cid, bytes)
    assert.equal(hashBlock(bytes, raw.code, 0x00).toString(), cid.toString())
    assert.deepEqual(digestOf(0x00, bytes), bytes)
    assert.throws(() => { verifyBlock(cid, bytes.subarray(1)) }, { name: 'BlockHashMismatchError' })
  })

  it('rejects other hash functions with UnsupportedHashError (a BlockVerificationError)', () => {
    const cid = CID.createV1(raw.code, Digest.create(0x16, new Uint8Array(32))) // sha3-256
    assert.throws(() => { verifyBlock(cid, bytes) }, (err: any) => err.name === 'UnsupportedHashError' && err.hashCode === 0x16 && err instanceof BlockVerificationError)
    assert.equal(digestOf(0x16, bytes), undefined)
    assert.equal(cidOf(1, raw.code, 0x16, bytes), undefined)
    assert.throws(() => hashBlock(bytes, raw.code, 0x16), { name: 'UnsupportedHashError' })
  })

  it('rejects a truncated digest of a known function with UnsupportedHashError, even when the prefix matches', async () => {
    const full = (await sha256.digest(bytes)).digest
    const cid = CID.createV1(raw.code, Digest.create(0x12, full.subarray(0, 20)))
    assert.throws(() => { verifyBlock(cid, bytes) }, (err: any) => err.name === 'UnsupportedHashError' && err.hashCode === 0x12)
  })
})

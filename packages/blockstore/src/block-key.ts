/**
 * The store's key of a block: RFC 4648 base32 (upper case, no padding, no multibase prefix) of
 * its multihash, as flatfs and `FsBlockstore` name block files and as the model store's index
 * keys are written on disk (`/store/block/<key>`). The same text as multiformats'
 * `base32upper.baseEncode`, computed with a table into a reused buffer: the store derives a key
 * for every `has`, `put` and `get` and for every placement hint, which made the generic
 * encoder ~2 % of a small-block fetch (bench/README.md, "The model-shaped store").
 *
 * @module
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
const CODES = Uint8Array.from(ALPHABET, c => c.charCodeAt(0))
let scratch = Buffer.allocUnsafe(128)

/**
 * Base32 (RFC 4648, upper case, unpadded) of `bytes`.
 *
 * @param bytes - e.g. a multihash (`cid.multihash.bytes`)
 * @returns ceil(8 * length / 5) characters of `A-Z2-7`
 */
export function base32Key (bytes: Uint8Array): string {
  const n = Math.ceil(bytes.byteLength * 8 / 5)
  if (scratch.byteLength < n) scratch = Buffer.allocUnsafe(2 * n)
  const out = scratch
  let bits = 0
  let value = 0
  let j = 0
  for (let i = 0; i < bytes.byteLength; i++) {
    value = ((value << 8) | (bytes[i] as number)) & 0xfff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out[j++] = CODES[(value >>> bits) & 31] as number
    }
  }
  if (bits > 0) out[j++] = CODES[(value << (5 - bits)) & 31] as number
  return out.toString('latin1', 0, j)
}

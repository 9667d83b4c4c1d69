/**
 * Unsigned varints (multiformats unsigned-varint spec: LEB128, minimal, at most 9 bytes), as used
 * in CAR framing and Bitswap/GraphSync length prefixes. Encoding and decoding are multiformats'
 * `varint` (`encodeTo`, `encodingLength`, `decode`, which also rejects non-minimal and over-long
 * encodings); this module only adds the range check and a fresh buffer.
 *
 * @module
 */

import { varint } from 'multiformats'

/**
 * Encode a non-negative safe integer as an unsigned varint.
 *
 * @param value - integer in [0, 2^53)
 * @returns the minimal encoding, 1-8 bytes
 * @throws RangeError - value negative, fractional or unsafe
 */
export function encodeVarint (value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`cannot varint-encode ${value}`)
  return varint.encodeTo(value, new Uint8Array(varint.encodingLength(value)))
}

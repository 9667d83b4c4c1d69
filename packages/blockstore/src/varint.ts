/**
 * Unsigned LEB128 varint encoding (multiformats unsigned-varint spec), as used in CAR framing.
 */

/**
 * Encode a non-negative safe integer as an unsigned varint.
 *
 * @param value - integer in [0, 2^53)
 * @returns the minimal encoding, 1-8 bytes
 * @throws RangeError - value negative, fractional or unsafe
 */
export function encodeVarint (value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`cannot varint-encode ${value}`)
  const out: number[] = []
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80)
    value = Math.floor(value / 0x80)
  }
  out.push(value)
  return Uint8Array.from(out)
}

/**
 * Tensor-aligned chunking: turns a file's layout into the byte ranges of its leaves.
 *
 * Rules (spec/model-dag.md, "Chunking"): the header is its own leaf (or leaves), each
 * tensor is its own run of leaves, bytes not covered by the header or a tensor (padding,
 * gaps, trailing bytes) are their own run of leaves, and every run is cut into leaves of
 * `chunkSize` bytes from its start (the last one shorter). A file without tensors is one run,
 * so it is chunked exactly as a fixed-size chunker does; an empty file is one empty leaf,
 * as `ipfs-unixfs-importer` does.
 *
 * @module
 */

/** A run of bytes that leaves never cross. `piece` indexes the caller's piece list. */
export interface Segment {
  start: number
  end: number
  kind: 'header' | 'tensor' | 'gap'
  piece?: number
}

/** A byte range of a file that becomes one raw leaf. `piece` as in {@link Segment}. */
export interface LeafRange {
  start: number
  end: number
  piece?: number
}

/** A tensor (or part of a tensor) occupying `[offset, offset + length)` of the file. */
export interface Piece {
  offset: number
  length: number
}

/**
 * Splits `[0, size)` into header, tensor pieces and gaps. `pieces` must be within the file,
 * at or after the header, and not overlap (parsers guarantee it); empty pieces get no segment.
 *
 * @throws RangeError - a piece violates those preconditions (a parser bug, not bad input)
 */
export function planSegments (size: number, headerLength: number, pieces: Piece[]): Segment[] {
  const header = Math.min(headerLength, size)
  const order = pieces
    .map((p, i) => ({ p, i }))
    .filter(({ p }) => p.length > 0)
    .sort((a, b) => a.p.offset - b.p.offset)
  const segments: Segment[] = []
  if (header > 0) {
    segments.push({ start: 0, end: header, kind: 'header' })
  }
  let at = header
  for (const { p, i } of order) {
    if (p.offset < at || p.offset + p.length > size) {
      throw new RangeError(`piece ${i} [${p.offset}, +${p.length}) overlaps byte ${at} or leaves the file (${size} bytes)`)
    }
    if (p.offset > at) {
      segments.push({ start: at, end: p.offset, kind: 'gap' })
    }
    segments.push({ start: p.offset, end: p.offset + p.length, kind: 'tensor', piece: i })
    at = p.offset + p.length
  }
  if (at < size) {
    segments.push({ start: at, end: size, kind: 'gap' })
  }
  return segments
}

/**
 * The leaves of a file, in file order: each segment cut into `chunkSize`-byte leaves. An
 * empty file yields one empty leaf (what `ipfs-unixfs-importer`'s fixed-size chunker does).
 */
export function * planLeaves (segments: Segment[], chunkSize: number): Generator<LeafRange> {
  if (segments.length === 0) {
    yield { start: 0, end: 0 }
    return
  }
  for (const s of segments) {
    for (let at = s.start; at < s.end; at += chunkSize) {
      const leaf: LeafRange = { start: at, end: Math.min(at + chunkSize, s.end) }
      if (s.piece !== undefined) {
        leaf.piece = s.piece
      }
      yield leaf
    }
  }
}

/**
 * Checkpoint deltas: which tensors of manifest B differ from manifest A, and how many chunk
 * bytes B has that A has not (what a peer holding A must fetch to hold B; spec/model-dag.md:
 * chunks are cut at tensor boundaries, so an unchanged tensor is the same blocks). Pure.
 *
 * @module
 */
import type { Manifest, ManifestTensor } from './manifest.js'
import type { CID } from 'multiformats/cid'

/** A tensor in a {@link ManifestDiff}: its name and size (in B for added/changed, in A for removed), bytes. */
export interface TensorDelta {
  name: string
  bytes: number
}

/** What {@link diffManifests} found. */
export interface ManifestDiff {
  /** Tensors in B only (B's computation order). */
  added: TensorDelta[]
  /** Tensors in A only (A's order). */
  removed: TensorDelta[]
  /** Tensors in both whose chunks, dtype or shape differ (B's order, B's size). */
  changed: TensorDelta[]
  /** Tensors in both with the same chunks, dtype and shape. */
  unchanged: number
  /** Bytes of B's tensor chunks whose CIDs A does not have (each distinct chunk once), bytes. */
  newChunkBytes: number
  /** Bytes of B's tensors, bytes. */
  totalBytes: number
}

function sameTensor (a: ManifestTensor, b: ManifestTensor): boolean {
  return a.dtype === b.dtype &&
    a.length === b.length &&
    a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]) &&
    a.chunks.length === b.chunks.length && a.chunks.every((c, i) => c.equals(b.chunks[i]))
}

/**
 * Compare two manifests tensor by tensor (by name) and chunk by chunk.
 *
 * @param chunkBytes - the size of a chunk of B, bytes (e.g. the blockstore's `blockSize`); when it
 *   returns `undefined`, the chunk's share of its tensor (the tensor's bytes spread evenly over its
 *   chunks) is counted
 */
export async function diffManifests (a: Manifest, b: Manifest, chunkBytes: (cid: CID) => Promise<number | undefined> = async () => undefined): Promise<ManifestDiff> {
  const inA = new Map(a.tensors.map(t => [t.name, t]))
  const inB = new Set(b.tensors.map(t => t.name))
  const aChunks = new Set<string>()
  for (const t of a.tensors) for (const c of t.chunks) aChunks.add(c.toString())
  const added: TensorDelta[] = []
  const changed: TensorDelta[] = []
  let unchanged = 0
  let totalBytes = 0
  let newChunkBytes = 0
  const counted = new Set<string>()
  for (const t of b.tensors) {
    totalBytes += t.length
    const old = inA.get(t.name)
    if (old == null) added.push({ name: t.name, bytes: t.length })
    else if (sameTensor(old, t)) unchanged++
    else changed.push({ name: t.name, bytes: t.length })
    for (const c of t.chunks) {
      const key = c.toString()
      if (aChunks.has(key) || counted.has(key)) continue
      counted.add(key)
      newChunkBytes += (await chunkBytes(c)) ?? Math.ceil(t.length / t.chunks.length)
    }
  }
  const removed = a.tensors.filter(t => !inB.has(t.name)).map(t => ({ name: t.name, bytes: t.length }))
  return { added, removed, changed, unchanged, newChunkBytes, totalBytes }
}

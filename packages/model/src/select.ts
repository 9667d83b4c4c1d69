/**
 * Selecting tensors from a manifest and listing leaves in computation order, for fetchers
 * that want "the first k layers" or "tensors matching a glob" first.
 *
 * @module
 */

import { globToRegExp } from './order.js'
import type { Manifest, ManifestTensor } from './manifest.js'
import type { CID } from 'multiformats/cid'

/**
 * Tensors whose name matches any of `patterns` (globs, see {@link globToRegExp}), in
 * manifest (computation) order.
 */
export function selectTensors (manifest: Manifest, patterns: string | string[]): ManifestTensor[] {
  const res = (Array.isArray(patterns) ? patterns : [patterns]).map(globToRegExp)
  return manifest.tensors.filter(t => res.some(r => r.test(t.name)))
}

/**
 * The leaf CIDs of the tensors in computation order, each CID once (identical tensors share
 * leaves). With `tensors`, only those matching the globs.
 */
export function dagOrder (manifest: Manifest, options: { tensors?: string | string[] } = {}): CID[] {
  const tensors = options.tensors === undefined ? manifest.tensors : selectTensors(manifest, options.tensors)
  const seen = new Set<string>()
  const out: CID[] = []
  for (const t of tensors) {
    for (const c of t.chunks) {
      const key = c.toString()
      if (!seen.has(key)) {
        seen.add(key)
        out.push(c)
      }
    }
  }
  return out
}

/**
 * The TensorSwap manifest's walk order for sessions: a manifest's tensor chunks first, in
 * computation order, then its UnixFS tree (whose leaves are the same chunks, so they are not
 * fetched twice); every other block by its links ({@link linkChildren}). The model-specific
 * part of a fetch, kept out of the generic walk (`session.ts`, `session-core.ts`); the
 * exchange and the node pass it to their sessions as the {@link ChildrenFn}.
 *
 * @module
 */

import { manifestOfBlock } from '@tensorswap/model'
import { linkChildren } from '../session.js'
import type { Child, ChildrenFn } from '../session.js'
import type { CID } from 'multiformats/cid'

const DAG_CBOR = 0x71

/**
 * {@link ChildrenFn} of TensorSwap fetches: a TensorSwap manifest (dag-cbor, `format` =
 * `MANIFEST_FORMAT` of `@tensorswap/model`, spec/tensorswap.md) yields its tensors' chunks
 * (computation order; size hint: the tensor's length over its chunk count, rounded up) then its
 * `files` root; anything else is {@link linkChildren}.
 *
 * @throws the model package's manifest error `NotAManifestError` for a corrupt
 *   manifest; the codec's decode error for a block that does not decode;
 *   `UnsupportedCodecError` for codecs `links()` does not know
 */
export const manifestChildren: ChildrenFn = (cid: CID, bytes: Uint8Array): Child[] => {
  if (cid.code === DAG_CBOR) {
    // decoded once per fetch: the store's placement hints read the same manifest
    const manifest = manifestOfBlock(cid, bytes)
    if (manifest != null) {
      const out: Child[] = []
      for (const t of manifest.tensors) {
        const hint = t.chunks.length > 0 ? Math.ceil(t.length / t.chunks.length) : undefined
        for (const c of t.chunks) out.push({ cid: c, sizeHint: hint })
      }
      out.push({ cid: manifest.files })
      return out
    }
  }
  return linkChildren(cid, bytes)
}

/**
 * The exchange's and the node's default {@link ChildrenFn}: {@link manifestChildren}.
 * (Kept under its old name; `Session` on its own defaults to {@link linkChildren}.)
 */
export const defaultChildren: ChildrenFn = manifestChildren

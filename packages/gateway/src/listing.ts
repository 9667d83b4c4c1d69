/**
 * Minimal HTML listings for deserialized directory and model-manifest responses. Plain HTML, no
 * scripts or styles from elsewhere; every name is escaped.
 *
 * @module
 */

import type { CID } from 'multiformats/cid'

/** One row of a listing. */
export interface ListingRow {
  name: string
  /** Absolute URL path the name links to. */
  href: string
  cid: CID
  type: 'file' | 'directory' | 'other'
  /** File size in bytes, when known. */
  size?: number
}

/** What a listing shows. */
export interface Listing {
  /** `X-Ipfs-Path` of the listed entity. */
  ipfsPath: string
  cid: CID
  /** e.g. `UnixFS directory`, `TensorSwap model "name" (n tensors)`. */
  description: string
  rows: ListingRow[]
  /** Rows left out past the limit. */
  omitted: number
}

/** Escape text for HTML element content and double-quoted attributes. */
export function escapeHtml (s: string): string {
  return s.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string)
}

/** Percent-encode each `/`-separated segment of a path. */
export function encodePath (path: string): string {
  return path.split('/').map(encodeURIComponent).join('/')
}

/** Render a listing as a UTF-8 HTML document. */
export function renderListing (listing: Listing): string {
  const rows = listing.rows.map(r =>
    `<tr><td>${r.type === 'directory' ? 'dir' : r.type}</td><td><a href="${escapeHtml(r.href)}">${escapeHtml(r.name)}${r.type === 'directory' ? '/' : ''}</a></td>` +
    `<td>${r.size !== undefined ? String(r.size) : ''}</td><td><a href="/ipfs/${r.cid.toString()}?format=raw">${r.cid.toString()}</a></td></tr>`
  ).join('\n')
  const more = listing.omitted > 0 ? `<p>${listing.omitted} more entries not shown.</p>\n` : ''
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escapeHtml(listing.ipfsPath)}</title></head>
<body>
<h1>${escapeHtml(listing.ipfsPath)}</h1>
<p>${escapeHtml(listing.description)}: ${listing.cid.toString()} (<a href="/ipfs/${listing.cid.toString()}?format=car">CAR</a>)</p>
<table>
<tr><th>type</th><th>name</th><th>bytes</th><th>CID</th></tr>
${rows}
</table>
${more}</body></html>
`
}

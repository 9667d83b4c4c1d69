/**
 * The status page served at `/` (spec/gateway.md "Status"): one self-contained HTML document
 * (inline CSS and script, no framework, no external asset) that polls `/api/v0/status` every
 * `STATUS_POLL_MS` and renders this node's peer id and addresses, connected peers with health
 * and throughput, fetches in progress with a progress bar, the roots held with their files and
 * tensors, and a throughput-over-time plot (inline SVG). Text from the node (peer ids, names)
 * is only ever set as `textContent`, never parsed as HTML.
 *
 * @module
 */

import { STATUS_API_PATH, STATUS_POLL_MS } from './constants.js'

const SCRIPT = String.raw`
'use strict'
const $ = (id) => document.getElementById(id)
function el (tag, attrs, ...kids) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v))
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)))
  return e
}
function bytes (n) {
  if (!(n >= 0)) return '?'
  const u = ['B', 'kB', 'MB', 'GB', 'TB']
  let i = 0
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++ }
  return (i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)) + ' ' + u[i]
}
const rate = (n) => bytes(n) + '/s'
function table (id, head, rows) {
  const t = $(id)
  t.replaceChildren(el('tr', {}, ...head.map(h => el('th', {}, h))), ...rows)
}
function plot (points) {
  const svg = $('plot')
  const W = 600, H = 120
  const max = Math.max(1, ...points.map(p => Math.max(p.sentBytesPerSecond, p.receivedBytesPerSecond)))
  const line = (key) => points.map((p, i) => (points.length < 2 ? 0 : (i * W / (points.length - 1))).toFixed(1) + ',' + (H - p[key] * H / max).toFixed(1)).join(' ')
  const ns = 'http://www.w3.org/2000/svg'
  const mk = (cls, key) => { const l = document.createElementNS(ns, 'polyline'); l.setAttribute('class', cls); l.setAttribute('points', line(key)); return l }
  const label = document.createElementNS(ns, 'text')
  label.setAttribute('x', '4'); label.setAttribute('y', '12'); label.textContent = 'max ' + rate(max)
  svg.replaceChildren(mk('recv', 'receivedBytesPerSecond'), mk('sent', 'sentBytesPerSecond'), label)
  svg.setAttribute('data-points', String(points.length))
}
function render (s) {
  $('peer-id').textContent = s.peerId
  $('addrs').replaceChildren(...s.addrs.map(a => el('li', {}, a)))
  const lim = Object.entries(s.limits || {}).filter(([, v]) => v != null)
  $('limits').textContent = lim.length === 0 ? 'none' : lim.map(([k, v]) => k + ' ' + rate(v)).join(', ')
  table('peers', ['peer', 'found', 'protocol', 'rtt', 'success', 'score', 'sent', 'received', 'up', 'down'], s.peers.map(p => el('tr', { 'data-peer': p.peerId },
    el('td', { title: p.addrs.join(' ') }, p.peerId), el('td', {}, p.source), el('td', {}, p.protocol || ''),
    el('td', {}, p.health && p.health.rttMs != null ? Math.round(p.health.rttMs) + ' ms' : ''),
    el('td', {}, p.health ? Math.round(p.health.successRate * 100) + '%' : ''),
    el('td', {}, p.health ? p.health.score.toFixed(2) : ''),
    el('td', {}, bytes(p.bytesSent)), el('td', {}, bytes(p.bytesReceived)),
    el('td', {}, rate(p.throughput.sentBytesPerSecond)), el('td', {}, rate(p.throughput.receivedBytesPerSecond)))))
  table('transfers', ['root', 'progress', 'fetched', 'already here', 'rate', 'peers'], s.transfers.map(t => el('tr', { 'data-root': t.root, 'data-bytes': t.bytes },
    el('td', {}, t.root),
    el('td', {}, t.totalBytes ? el('progress', { max: t.totalBytes, value: Math.min(t.totalBytes, t.bytes + t.bytesLocal) }) : ''),
    el('td', { class: 'fetched' }, bytes(t.bytes) + (t.totalBytes ? ' of ' + bytes(t.totalBytes) : '')),
    el('td', {}, bytes(t.bytesLocal)), el('td', {}, rate(t.bytesPerSecond)), el('td', {}, t.peers.length))))
  $('no-transfers').hidden = s.transfers.length > 0
  const roots = $('roots')
  const open = new Set([...roots.querySelectorAll('details[open]')].map(d => d.getAttribute('data-root')))
  roots.replaceChildren(...s.roots.map(r => {
    const files = el('table', { class: 'files' }, el('tr', {}, el('th', {}, 'file'), el('th', {}, 'bytes'), el('th', {}, 'cid')),
      ...r.files.map(f => el('tr', {}, el('td', {}, f.path || '(root)'), el('td', {}, bytes(f.bytes)), el('td', {}, f.cid))))
    const tensors = el('table', { class: 'tensors' }, el('tr', {}, ...['tensor', 'dtype', 'shape', 'bytes', 'file'].map(h => el('th', {}, h))),
      ...r.tensors.map(t => el('tr', { 'data-tensor': t.name }, el('td', {}, t.name), el('td', {}, t.dtype), el('td', {}, '[' + t.shape.join(', ') + ']'), el('td', {}, bytes(t.bytes)), el('td', {}, t.file))))
    const d = el('details', { 'data-root': r.root },
      el('summary', {}, (r.name ? r.name + ' ' : '') + r.root + ' (' + r.files.length + ' files, ' + (r.tensors.length + r.tensorsOmitted) + ' tensors)'),
      r.error ? el('p', { class: 'error' }, r.error) : '', files, tensors, r.tensorsOmitted > 0 ? el('p', {}, r.tensorsOmitted + ' more tensors not listed') : '')
    if (open.has(r.root)) d.setAttribute('open', '')
    return d
  }))
  plot(s.throughput)
  $('updated').textContent = new Date(s.now).toLocaleTimeString()
  document.body.setAttribute('data-updated', String(s.now))
}
async function poll () {
  try {
    const res = await fetch('${STATUS_API_PATH}', { cache: 'no-store' })
    if (!res.ok) throw new Error(res.status + ' ' + (await res.text()))
    render(await res.json())
    $('error').textContent = ''
  } catch (err) {
    $('error').textContent = 'status unavailable: ' + err.message
  }
  setTimeout(poll, ${STATUS_POLL_MS})
}
poll()
`

/** The status page, UTF-8 HTML. */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TensorSwap node</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222 }
h1 { font-size: 1.3em } h2 { font-size: 1.1em; margin-top: 1.5em }
code, td { font-family: ui-monospace, monospace; font-size: 12px }
table { border-collapse: collapse; margin: .3em 0 } th, td { text-align: left; padding: 2px 8px; border-bottom: 1px solid #ddd }
svg { border: 1px solid #ccc; background: #fafafa } polyline { fill: none; stroke-width: 1.5 }
.recv { stroke: #1565c0 } .sent { stroke: #c62828 } .error { color: #c62828 } text { font-size: 10px }
</style>
</head>
<body>
<h1>TensorSwap node <code id="peer-id">…</code></h1>
<p>Listening on:</p><ul id="addrs"></ul>
<p>Bandwidth limits: <span id="limits">…</span> · updated <span id="updated">never</span> <span id="error" class="error"></span></p>
<h2>Throughput</h2>
<svg id="plot" width="600" height="120" viewBox="0 0 600 120" role="img" aria-label="throughput over time: received blue, sent red"></svg>
<h2>Transfers in progress</h2>
<p id="no-transfers">none</p>
<table id="transfers"></table>
<h2>Connected peers</h2>
<table id="peers"></table>
<h2>Roots held and provided</h2>
<div id="roots"></div>
<script>${SCRIPT}</script>
</body>
</html>
`

/**
 * Computation order of tensors (spec/model-dag.md, "Computation order").
 *
 * - TF.js graph models: the order in which execution first needs each weight — a depth-first
 *   topological walk of `modelTopology.node` (inputs before the node, nodes started in listing
 *   order, weight `Const` nodes never started on their own) places a weight when the first op
 *   that consumes it is reached. Weights no op consumes follow in manifest order.
 * - Otherwise, when at least one name has a layer index (the first purely numeric
 *   `.`/`/`-separated component, as in `model.layers.3.mlp`, `blk.3.attn_q`, `h.3.attn`):
 *   embeddings first, then indexed tensors by (stack, index) — a stack is the name prefix before
 *   the index, stacks in first-appearance order with encoders before decoders — then the other
 *   unindexed tensors (final norms), then the head (`lm_head`, `head`, `output`, `classifier`,
 *   `score`). Ties keep file order.
 * - Otherwise file order.
 *
 * @module
 */

import type { TfjsNode } from './formats/tfjs.js'

const HEAD_COMPONENTS = new Set(['lm_head', 'head', 'output', 'classifier', 'score'])

/** How {@link nameOrder} classifies one tensor name. */
export interface NameClass {
  /** 0 embedding, 1 layer, 2 other, 3 head. */
  group: 0 | 1 | 2 | 3
  /** Name prefix before the layer index ('' when none). */
  stack: string
  /** Layer index, -1 when none. */
  index: number
}

/** Classifies a tensor name for {@link nameOrder}. */
export function classifyName (name: string): NameClass {
  const parts = name.split(/[./]/)
  for (let i = 1; i < parts.length; i++) {
    if (/^\d+$/.test(parts[i])) {
      return { group: 1, stack: parts.slice(0, i).join('.'), index: Number(parts[i]) }
    }
  }
  const lower = parts.map(p => p.toLowerCase())
  if (lower.some(p => p.includes('embed') || p.includes('embd') || p === 'wte' || p === 'wpe')) {
    return { group: 0, stack: '', index: -1 }
  }
  if (lower.some(p => HEAD_COMPONENTS.has(p))) {
    return { group: 3, stack: '', index: -1 }
  }
  return { group: 2, stack: '', index: -1 }
}

/**
 * Orders tensors, given in file order, by the names rule above.
 *
 * @returns indices into `names` in computation order (the identity when no name has a layer index)
 */
export function nameOrder (names: string[]): number[] {
  const classes = names.map(classifyName)
  const identity = names.map((_, i) => i)
  if (!classes.some(c => c.group === 1)) {
    return identity
  }
  const stackRank = new Map<string, number>()
  for (const c of classes) {
    if (c.group === 1 && !stackRank.has(c.stack)) {
      stackRank.set(c.stack, stackRank.size)
    }
  }
  const rank = (stack: string): [number, number] =>
    [/(^|\.)decoder/.test(stack) ? 1 : 0, stackRank.get(stack) ?? 0]
  return identity.sort((a, b) => {
    const ca = classes[a]
    const cb = classes[b]
    if (ca.group !== cb.group) return ca.group - cb.group
    if (ca.group === 1) {
      const [da, ra] = rank(ca.stack)
      const [db, rb] = rank(cb.stack)
      if (da !== db) return da - db
      if (ra !== rb) return ra - rb
      if (ca.index !== cb.index) return ca.index - cb.index
    }
    return a - b
  })
}

function nodeRef (input: string): string {
  const name = input.startsWith('^') ? input.slice(1) : input
  const colon = name.indexOf(':')
  return colon >= 0 ? name.slice(0, colon) : name
}

/**
 * Orders TF.js weights by first consumption in the graph (rule above).
 *
 * @param nodes - `modelTopology.node`
 * @param weights - weight names in manifest order
 * @returns indices into `weights` in computation order
 */
export function tfjsTopologyOrder (nodes: TfjsNode[], weights: string[]): number[] {
  const weightIndex = new Map<string, number>()
  weights.forEach((w, i) => { if (!weightIndex.has(w)) weightIndex.set(w, i) })
  const nodeIndex = new Map<string, number>()
  nodes.forEach((n, i) => { if (!nodeIndex.has(n.name)) nodeIndex.set(n.name, i) })
  const placed = new Set<number>()
  const order: number[] = []
  const place = (name: string): void => {
    const w = weightIndex.get(name)
    if (w !== undefined && !placed.has(w)) {
      placed.add(w)
      order.push(w)
    }
  }
  const visited = new Uint8Array(nodes.length)
  for (let start = 0; start < nodes.length; start++) {
    if (visited[start] !== 0 || weightIndex.has(nodes[start].name)) {
      continue
    }
    // iterative DFS: [node, next input to visit]
    const stack: Array<[number, number]> = [[start, 0]]
    visited[start] = 1
    while (stack.length > 0) {
      const top = stack[stack.length - 1]
      const node = nodes[top[0]]
      if (top[1] < node.input.length) {
        const ref = nodeRef(node.input[top[1]++])
        const next = nodeIndex.get(ref)
        if (next === undefined) {
          place(ref)
        } else if (visited[next] === 0) {
          visited[next] = 1
          stack.push([next, 0])
        }
        continue
      }
      place(node.name)
      stack.pop()
    }
  }
  weights.forEach((_, i) => {
    if (!placed.has(i)) {
      order.push(i)
    }
  })
  return order
}

/**
 * Converts a tensor-name glob to a RegExp: `*` any run of characters (dots included), `?`
 * one character, `[...]` a character class (`[0-3]`, `[!0-3]`), `{a,b}` alternatives;
 * everything else literal. Anchored at both ends.
 */
export function globToRegExp (glob: string): RegExp {
  let out = ''
  let inBrace = 0
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]
    if (ch === '*') {
      out += '.*'
    } else if (ch === '?') {
      out += '.'
    } else if (ch === '[') {
      const close = glob.indexOf(']', i + 2)
      if (close < 0) {
        out += '\\['
        continue
      }
      let body = glob.slice(i + 1, close)
      if (body.startsWith('!')) body = '^' + body.slice(1)
      out += '[' + body.replace(/[\\\]]/g, '\\$&') + ']'
      i = close
    } else if (ch === '{') {
      inBrace++
      out += '(?:'
    } else if (ch === '}' && inBrace > 0) {
      inBrace--
      out += ')'
    } else if (ch === ',' && inBrace > 0) {
      out += '|'
    } else {
      out += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
    }
  }
  out += ')'.repeat(inBrace)
  return new RegExp(`^${out}$`, 's')
}

/**
 * TensorSwap exchange, default protocols (`/tensorswap/1.0.0` negotiated): two
 * `createTensorSwap` nodes on temp repos; see bench/lib/tensorswap-node.ts.
 *
 * @module
 */

import { runRoles } from '../lib/child.js'
import { leecher, seeder } from '../lib/tensorswap-node.js'
import type { BenchCase } from '../lib/types.js'

export const cases: BenchCase[] = [
  { id: 'tensorswap/quic', label: 'TensorSwap /tensorswap/1.0.0, QUIC', family: 'tensorswap', params: { transport: 'quic' } },
  { id: 'tensorswap/tcp-tls', label: 'TensorSwap /tensorswap/1.0.0, TCP+TLS+yamux', family: 'tensorswap', params: { transport: 'tcp', encrypter: 'tls' } },
  { id: 'tensorswap/tcp-noise', label: 'TensorSwap /tensorswap/1.0.0, TCP+noise+yamux', family: 'tensorswap', params: { transport: 'tcp', encrypter: 'noise' } },
  // fixed payload: the human-models TF.js set, ~5,000 blocks of ~35 KB (per-block cost)
  { id: 'tensorswap-small-blocks/tcp-tls', label: 'TensorSwap, human-models set (4,995 small blocks), TCP+TLS+yamux', family: 'tensorswap-small-blocks', fixedSize: true, params: { transport: 'tcp', encrypter: 'tls', source: 'human-models' } },
  { id: 'tensorswap-small-blocks/quic', label: 'TensorSwap, human-models set (4,995 small blocks), QUIC', family: 'tensorswap-small-blocks', fixedSize: true, params: { transport: 'quic', source: 'human-models' } }
]

runRoles(import.meta.url, { seeder, leecher })

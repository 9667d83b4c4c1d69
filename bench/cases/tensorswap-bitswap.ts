/**
 * TensorSwap's exchange speaking only `/ipfs/bitswap/1.2.0` (ExchangeInit `protocols`, so
 * `/tensorswap/1.0.0` is neither handled nor dialled): what a TensorSwap node gets from a
 * plain Bitswap peer path. Same roles as `tensorswap/*` (bench/lib/tensorswap-node.ts).
 *
 * @module
 */

import { runRoles } from '../lib/child.js'
import { leecher, seeder } from '../lib/tensorswap-node.js'
import type { BenchCase } from '../lib/types.js'

const protocols = ['/ipfs/bitswap/1.2.0']

export const cases: BenchCase[] = [
  { id: 'tensorswap-bitswap/quic', label: 'TensorSwap exchange /ipfs/bitswap/1.2.0, QUIC', family: 'tensorswap-bitswap', params: { transport: 'quic', protocols } },
  { id: 'tensorswap-bitswap/tcp-tls', label: 'TensorSwap exchange /ipfs/bitswap/1.2.0, TCP+TLS+yamux', family: 'tensorswap-bitswap', params: { transport: 'tcp', encrypter: 'tls', protocols } },
  { id: 'tensorswap-bitswap/tcp-noise', label: 'TensorSwap exchange /ipfs/bitswap/1.2.0, TCP+noise+yamux', family: 'tensorswap-bitswap', params: { transport: 'tcp', encrypter: 'noise', protocols } }
]

runRoles(import.meta.url, { seeder, leecher })

/**
 * A fetching TensorSwap node (`createTensorSwap`, as `tensorswap get` builds it) in its own
 * process, for tests that need the fetcher's exchange statistics (penalties, unrequested and
 * duplicate blocks) rather than only the CLI summary.
 *
 *   node fetch-peer.js --repo DIR --root CID --peer MULTIADDR... [--output DIR] [--wire-compression off|auto]
 *     -> {"event":"block","peer"}                                            per block stored from a peer
 *     -> {"event":"done","fetch":{...},"export":{...},"stats":{...}}        exit 0
 *     -> {"event":"error","name","message","stats":{...}}                    exit 1
 *
 * `stats` is `exchange.stats()` (wire, ledger, penalties, counters) at the end of the fetch.
 */
import { parseArgs } from 'node:util'
import { CID } from 'multiformats/cid'
import { createTensorSwap } from 'tensorswap'

const { values } = parseArgs({
  options: {
    repo: { type: 'string' },
    root: { type: 'string' },
    peer: { type: 'string', multiple: true },
    output: { type: 'string' },
    'wire-compression': { type: 'string' }
  }
})

function emit (obj: Record<string, unknown>): void { process.stdout.write(JSON.stringify(obj) + '\n') }

const wireCompression = values['wire-compression'] as 'off' | 'auto' | undefined
const node = await createTensorSwap({ repo: values.repo, listen: [], ...(wireCompression != null ? { exchange: { wireCompression } } : {}) })
await node.start()
let code = 0
try {
  const result = await node.get(CID.parse(values.root as string), {
    peers: values.peer ?? [],
    output: values.output,
    onProgress: (evt) => {
      // one line per block stored from a peer
      if (evt.type === 'tensorswap:session:block' && (evt.detail as any)?.peer != null) emit({ event: 'block', peer: (evt.detail as any).peer })
    }
  })
  emit({ event: 'done', fetch: result.fetch, export: result.export, stats: node.exchange.stats() })
} catch (err: any) {
  code = 1
  emit({ event: 'error', name: err?.name, message: err?.message, stats: node.exchange.stats() })
}
await node.stop()
process.exit(code)

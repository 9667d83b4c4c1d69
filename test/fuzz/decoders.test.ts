/**
 * Every decoder under fast-check fuzzing (targets and seeds: ./targets.ts): no crash, no hang,
 * only typed errors. `npm test` runs FUZZ_RUNS cases per decoder (default 300, a smoke run);
 * `npm run fuzz` runs 100k each and prints cases/s and the peak RSS (bench/README.md "Fuzzing" keeps the
 * figures).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { TARGETS, inputs, validateAny } from './targets.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 300)
/** One case taking longer than this is a hang (the largest case is a few hundred bytes). */
const CASE_LIMIT_MS = 2_000

/** Run `fn`; true when it returned or threw one of `allowed`. Throws on anything else. */
async function typed (allowed: string[], fn: () => unknown): Promise<void> {
  const started = performance.now()
  try {
    await fn()
  } catch (err: any) {
    if (!(err instanceof Error) || !allowed.includes(err.name)) {
      throw new Error(`untyped error ${err?.name}: ${err?.message}`, { cause: err })
    }
  }
  const ms = performance.now() - started
  if (ms > CASE_LIMIT_MS) throw new Error(`one case took ${ms.toFixed(0)} ms`)
}

describe(`fuzz: every decoder, ${RUNS} cases each`, () => {
  for (const target of TARGETS) {
    it(target.name, async () => {
      const seeds = await target.seeds()
      for (const seed of seeds) await target.run(seed) // the seeds themselves decode
      const started = performance.now()
      await fc.assert(fc.asyncProperty(inputs(seeds), async (input) => { await typed(target.errors, () => target.run(input)) }), { numRuns: RUNS })
      const s = (performance.now() - started) / 1000
      if (process.env.FUZZ_REPORT != null) process.stdout.write(`# fuzz ${target.name}: ${RUNS} cases in ${s.toFixed(1)} s (${(RUNS / s).toFixed(0)}/s), rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB\n`)
    })
  }

  it('manifest validator on arbitrary values', async () => {
    await fc.assert(fc.asyncProperty(fc.anything({ maxDepth: 4 }), async (v) => { await typed(['InvalidManifestError', 'NotAManifestError'], () => validateAny(v)) }), { numRuns: RUNS })
  })

  it('a fuzz case that throws an untyped error is caught (the harness can fail)', async () => {
    await assert.rejects(typed(['InvalidMessageError'], () => { throw new TypeError('x') }), /untyped error TypeError/)
  })
})

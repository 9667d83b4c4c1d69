/**
 * Each attack mode of the hostile swarm (test/helpers/hostile-swarm.ts) against a real
 * `tensorswap serve --gateway`, every party in its own process: while the attack runs, an
 * honest `tensorswap get` of the whole DAG completes, `verify` finds its repo complete and
 * uncorrupted (nothing a hostile provider sent was stored), and the seeder is still running
 * with a bounded RSS; a provider that sends wrong bytes (flipped real ones, or right-size random
 * ones) stores nothing in the leecher's repo, is penalised for each bad block and credited with
 * none. Lean: 8 MiB of real weights; the figures (256 MiB, throughput next to the
 * same get alone) are bench/cases/hostile.ts's.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DEFAULT_MAX_RESPONSES_PER_CLIENT } from '@tensorswap/gateway'
import { blockKeyOf, killAll, verifiedBlockKeys } from '../helpers/hostile.js'
import { ALL_ATTACKS, prepareSeed, runPhase, type AttackName, type PhaseResult, type Seed } from '../helpers/hostile-swarm.js'

const MiB = 1024 * 1024
/** Far above what serving 8 MiB takes (~150 MiB) and far below what an unbounded buffer of 1000 streams or 200 readers would. */
const SEEDER_RSS_BOUND = 768 * MiB

describe('hostile swarm: each attack mode while an honest get runs (separate processes)', () => {
  let work: string
  let seed: Seed
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-hostile-attacks-'))
    seed = await prepareSeed(work, 8 * MiB)
  })
  after(async () => {
    await killAll()
    await rm(work, { recursive: true, force: true })
  })

  function assertHonestGetSurvived (r: PhaseResult): void {
    assert.equal(r.get.code, 0, `the honest get failed: ${r.get.stderr ?? ''}`)
    assert.ok(r.verify != null && r.verify.blocks > 0 && r.verify.missing === 0 && r.verify.corrupt === 0, `verify of the leecher's repo: ${JSON.stringify(r.verify)}`)
    assert.equal(r.seederAlive, true, 'tensorswap serve is still running')
    assert.ok(r.seederRss.peakSampled > 0 && r.seederRss.peakSampled < SEEDER_RSS_BOUND, `seeder peak RSS ${(r.seederRss.peakSampled / MiB).toFixed(0)} MiB`)
    for (const o of r.outcomes) assert.ok(o.summary != null, `attacker ${o.attack} ran to its summary: ${o.stderr ?? ''}`)
  }

  /**
   * A provider that answered want-blocks with bytes that are not the block: it was asked and
   * answered; none of what it sent is in the leecher's repo; the leecher penalised it for each
   * bad block it got (logged as not matching the want, or as unrequested when several wants at
   * the liar share the prefix: both are an `unrequestedBlock` offence, spec/tensorswap.md §5);
   * and nothing it sent counted: the get's summary credits it with no block.
   */
  async function assertLiarCut (r: PhaseResult, leechRepo: string, leechLog: string): Promise<void> {
    const o = r.outcomes[0]
    const s = o?.summary
    assert.ok(o != null && s != null && s.blocksSent > 0 && s.badCids.length > 0, `the liar was asked and answered with bad blocks: ${JSON.stringify(s)?.slice(0, 300)}`)
    const stored = await verifiedBlockKeys(leechRepo)
    for (const c of s.badCids as string[]) assert.ok(!stored.has(blockKeyOf(c)), `the liar's block ${c} is not in the leecher's repo`)
    const log = (await readFile(leechLog, 'utf8')).split('\n')
    const penalised = log.filter(l => l.includes(o.peerId) && (l.includes('its bytes do not match') || l.includes('dropped')))
    assert.ok(penalised.length > 0, `the leecher penalised the liar's blocks: ${log.filter(l => l.includes('tensorswap:exchange')).slice(-12).join('\n')}`)
    for (const l of penalised) assert.ok(s.badCids.some((c: string) => l.includes(c)), `a penalised block is one the liar sent: ${l}`)
    assert.equal(r.get.summary?.peers?.[o.peerId]?.blocksReceived ?? 0, 0, 'no block of the liar counted')
  }

  const expectations: Partial<Record<AttackName, (r: PhaseResult) => void>> = {
    streams: (r) => {
      // the attack was live while the get ran: its want-haves were answered (DONT_HAVE), its
      // streams reset, or the victim hung up on it
      const s = r.outcomes[0]?.summary
      assert.ok(s != null && s.dontHaveReceived + s.streamResets + s.disconnects > 0, `the victim answered the attacker's streams: ${JSON.stringify(s)?.slice(0, 500)}`)
    },
    'idle-tcp': (r) => {
      assert.ok((r.outcomes[0]?.done?.opened ?? 0) > 0, 'idle sockets were opened')
    },
    'slow-gateway': (r) => {
      // the readers' statuses when the attacker stopped: their host was served at most its
      // share of responses (the others wait for a slot, then 503, test/gateway/slow-readers.test.ts)
      const statuses = r.outcomes[0]?.summary?.cut?.statuses ?? {}
      const served = statuses['200'] ?? 0
      assert.ok(served > 0 && served <= DEFAULT_MAX_RESPONSES_PER_CLIENT, `the slow readers' host got 1..${DEFAULT_MAX_RESPONSES_PER_CLIENT} responses: ${JSON.stringify(statuses)}`)
    },

    'have-silence': (r) => {
      assert.ok((r.outcomes[0]?.wants?.total ?? 0) > 0, 'the lure was asked (it took wants and sat on them)')
    }
  }

  /** The providers that send bytes that are not the block: flipped real bytes, right-size random bytes. */
  const LIARS = new Set<AttackName>(['wrong-blocks', 'random-blocks'])

  for (const attack of ALL_ATTACKS) {
    const liar = LIARS.has(attack)
    it(`${attack}: the honest get completes and verifies, the seeder survives with bounded RSS${liar ? '; nothing the liar sent is stored, it is penalised and credited with nothing' : ''}`, async () => {
      const leechLog = join(work, `${attack}.leech.log`)
      const r = await runPhase({ seed, phase: attack, attacks: [attack], warmupMs: 1500, getTimeoutMs: 120_000, ...(liar ? { leechLog, leechEnv: { DEBUG: 'tensorswap:exchange:exchange' } } : {}) })
      assertHonestGetSurvived(r)
      expectations[attack]?.(r)
      if (liar) await assertLiarCut(r, join(seed.work, `leech-${attack}`), leechLog)
    })
  }
})

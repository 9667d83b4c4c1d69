/**
 * `tensorswap dag put|get|walk`: IPLD blocks in the repo.
 *
 * - `dag put [file]`: read DAG-JSON (a file, or stdin), store it as one DAG-CBOR block
 *   (CIDv1, sha2-256), print its CID.
 * - `dag get <cid>`: print a block (dag-cbor, dag-json, dag-pb or raw) as DAG-JSON, after
 *   checking it against its CID.
 * - `dag walk <cid> --selector <dag-json>`: traverse the repo's blocks with an IPLD selector
 *   and print one JSON line per visited node, in the selector fixtures' form
 *   `{"path", "node": {"<kind>": value|null}, "matched"}` (spec/graphsync.md §2).
 */
import { readFile } from 'node:fs/promises'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import { getBlockUnverified, hashBlock, verifyBlock } from '@tensorswap/blockstore'
import { decodeBlock, selectorFromDagJson, traverse, visitToFixtureJson } from '@tensorswap/graphsync'
import { parseCid } from '../args.js'
import { UsageError } from '../errors.js'
import { defineCommand } from '../command.js'
import { printResult } from '../output.js'

/**
 * Largest block `dag put` stores, bytes: Bitswap peers reject blocks over 2 MiB (boxo
 * `bitswap` maxBlockSize), so a bigger block could never be fetched by them.
 */
const MAX_DAG_PUT_BLOCK = 2 * 1024 * 1024

/** Largest DAG-JSON input `dag put` reads, bytes (DAG-JSON is larger than its DAG-CBOR; 4x the block cap). */
const MAX_DAG_PUT_INPUT = 4 * MAX_DAG_PUT_BLOCK

async function readInput (file: string | undefined, stdin: AsyncIterable<Uint8Array> | undefined): Promise<Uint8Array> {
  if (file !== undefined) {
    const bytes = await readFile(file)
    if (bytes.byteLength > MAX_DAG_PUT_INPUT) throw new UsageError(`${file}: ${bytes.byteLength} bytes, more than ${MAX_DAG_PUT_INPUT}`)
    return bytes
  }
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of stdin ?? []) {
    total += chunk.byteLength
    if (total > MAX_DAG_PUT_INPUT) throw new UsageError(`stdin: more than ${MAX_DAG_PUT_INPUT} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/** Options of `dag put`. */
export interface DagPutOptions {
  /** DAG-JSON file (absolute through the daemon); stdin when absent. */
  file?: string
}

/**
 * `dag put`: DAG-JSON from `file` (stdin when absent) → one DAG-CBOR block; prints its CID
 * (`{"root"}` with `--json`).
 *
 * @throws UsageError - the input is not DAG-JSON, or its DAG-CBOR block exceeds 2 MiB
 */
export const dagPutCommand = defineCommand<DagPutOptions, { root: string }>({
  name: 'dag/put',
  options: { file: 'string' },
  paths: ['file'],
  stdin: (o) => o.file == null,
  async execute (ctx, o) {
    const input = await readInput(o.file, ctx.stdin)
    let value: unknown
    try {
      value = dagJson.decode(input)
    } catch (err: any) {
      throw new UsageError(`${o.file ?? 'stdin'}: not DAG-JSON: ${String(err?.message ?? err)}`)
    }
    const bytes = dagCbor.encode(value)
    if (bytes.byteLength > MAX_DAG_PUT_BLOCK) throw new UsageError(`${o.file ?? 'stdin'}: the DAG-CBOR block is ${bytes.byteLength} bytes, more than ${MAX_DAG_PUT_BLOCK}`)
    const cid = hashBlock(bytes, dagCbor.code)
    await ctx.repo.blockstore.put(cid, bytes)
    ctx.stored(cid)
    return { root: cid.toString() }
  },
  render (r, opts) { printResult(opts, r, [r.root]) }
})

/** Options of `dag get`. */
export interface DagGetOptions { cid: string }

/**
 * `dag get`: the block `cid` as DAG-JSON (one line; with `--json` the same DAG-JSON, which is
 * JSON). The result is `{dagJson}`, the text.
 *
 * @throws UsageError - not a CID
 * @throws NotFoundError (blockstore) - the block is not in the repo
 * @throws BlockHashMismatchError - the stored bytes do not match the CID
 * @throws UnsupportedHashError - the CID's multihash cannot be verified (not identity, sha2-256, sha2-512)
 * @throws UnsupportedCodecError, BlockDecodeError - a codec we cannot decode, or invalid data
 */
export const dagGetCommand = defineCommand<DagGetOptions, { dagJson: string }>({
  name: 'dag/get',
  options: { cid: 'string' },
  validate: (o) => { parseCid(o.cid) },
  async execute (ctx, o) {
    const cid = parseCid(o.cid)
    const bytes = await getBlockUnverified(ctx.repo.blockstore, cid, { signal: ctx.signal })
    verifyBlock(cid, bytes)
    return { dagJson: new TextDecoder().decode(dagJson.encode(decodeBlock(cid, bytes))) }
  },
  render (r) { process.stdout.write(r.dagJson + '\n') }
})

/** Options of `dag walk`. */
export interface DagWalkOptions { cid: string, selector: string }

/** Parse `--selector`. @throws {UsageError} not a valid DAG-JSON selector */
function parseSelector (text: string): ReturnType<typeof selectorFromDagJson> {
  try {
    return selectorFromDagJson(text)
  } catch (err: any) {
    throw new UsageError(`--selector: ${String(err?.name)}: ${String(err?.message ?? err)}`)
  }
}

/**
 * `dag walk`: traverse from `cid` with the DAG-JSON selector over the repo's blocks and write
 * one fixture-form JSON line per visited node on stdout as it goes (the same with `--json`).
 * The result is `{visits}`, their number.
 *
 * @throws UsageError - not a CID, or the selector is not a valid DAG-JSON selector
 * @throws the traversal's errors: a block missing from the repo (NotFoundError), BlockHashMismatchError,
 *   TraversalBudgetError, UnsupportedSelectorError, ...
 */
export const dagWalkCommand = defineCommand<DagWalkOptions, { visits: number }>({
  name: 'dag/walk',
  options: { cid: 'string', selector: 'string' },
  validate: (o) => { parseCid(o.cid); parseSelector(o.selector) },
  async execute (ctx, o) {
    const cid = parseCid(o.cid)
    const selector = parseSelector(o.selector)
    let visits = 0
    const out = ctx.stdout
    for await (const visit of traverse(cid, selector, async (c, opt) => await getBlockUnverified(ctx.repo.blockstore, c, { signal: opt.signal ?? ctx.signal }))) {
      visits++
      if (!out.write(JSON.stringify(visitToFixtureJson(visit)) + '\n')) await new Promise<void>(resolve => out.once('drain', () => { resolve() }))
    }
    return { visits }
  },
  render () {}
})

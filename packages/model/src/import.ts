/**
 * `importModel`: files on disk -> tensor-aligned UnixFS DAG + DAG-CBOR manifest, as
 * {@link planImport} (`plan.ts`: walk, detect, parse headers, lay out; writes nothing) then
 * {@link writeImport} (`write.ts`: stream, hash, put). If the plan fails, not a single block
 * is written.
 *
 * @module
 */

import { planImport } from './plan.js'
import { writeImport } from './write.js'
import type { BlockSink } from './blocks.js'
import type { PlanOptions } from './plan.js'
import type { ImportResult, WriteOptions } from './write.js'

export { planImport } from './plan.js'
export type { ImportPlan, PlanOptions, PlannedFile, PlannedPiece, PlannedTensor } from './plan.js'
export { writeImport } from './write.js'
export type { ImportBytesDetail, ImportFileDetail, ImportProgressEvents, ImportResult, WriteOptions } from './write.js'
export type { FileFormat } from './formats/types.js'

/**
 * Options of {@link importModel}: those of {@link planImport} (`order`, `name`, `chunkSize`,
 * `maxChildrenPerNode`, `formats`) and of {@link writeImport} (`onProgress`), and `signal`
 * for both.
 */
export interface ImportOptions extends PlanOptions, WriteOptions {
  signal?: AbortSignal
}

/**
 * Imports a model file or directory into `blockstore`: `writeImport(await planImport(path,
 * options), blockstore, options)`.
 *
 * Directories are imported recursively (symlinks followed); formats are detected by the
 * format registry (spec/model-dag.md section 2.1): `options.formats` first, then
 * `*.safetensors`, `*.gguf` or the `GGUF` magic, `*.json` with a `weightsManifest` (TF.js;
 * `model.json` must be one) and its shards; anything else is chunked as a plain file. A single
 * `model.json` imported alone is a plain file.
 *
 * @param path - a file or a directory
 * @returns `root` (the manifest CID), `files` (the UnixFS root), the manifest, `bytes`
 *   (file bytes imported) and `blocks` (blocks written)
 * @throws InvalidSafetensorsError, InvalidGgufError, InvalidTfjsModelError - malformed input;
 *   thrown before any block is written
 * @throws InvalidOrderError - `order` names an unknown tensor or repeats one
 * @throws DirectoryTooLargeError, ManifestTooLargeError - limits (spec/model-dag.md); before writing
 * @throws UnsupportedFileTypeError - a special file or a symlink loop
 * @throws FileChangedError - a file changed between the two steps
 * @throws InvalidOptionError - `chunkSize` / `maxChildrenPerNode` out of range
 * @throws AbortError - `signal` aborted
 */
export async function importModel (blockstore: BlockSink, path: string, options: ImportOptions = {}): Promise<ImportResult> {
  const plan = await planImport(path, options)
  return writeImport(plan, blockstore, options)
}

/**
 * The format registry: the {@link ModelFormat}s an import tries on each file, in order
 * (spec/model-dag.md section 2.1).
 *
 * Built in, in the order they are tried: safetensors (`*.safetensors`), GGUF (`*.gguf` or the
 * `GGUF` magic), TF.js (`model.json` and other `*.json` with a `weightsManifest`, directory
 * imports only; claims its weight shards), then the any-file fallback `raw` (no tensor
 * layout: chunked like a fixed-size 1 MiB chunker). A caller's formats
 * (`ImportOptions.formats`) are tried before the built-in ones, so they can take over a name
 * the built-ins would claim; the fallback is always last, so every file gets a format.
 *
 * @module
 */

import { ggufFormat } from './gguf.js'
import { safetensorsFormat } from './safetensors.js'
import { tfjsFormat } from './tfjs.js'
import type { FormatFile, ModelFormat, ParsedFile } from './types.js'
import type { ByteReader, ReadOptions } from '../reader.js'

/** The any-file fallback: every file matches; no header, no tensors. */
export const rawFormat: ModelFormat = {
  name: 'raw',
  detect () {
    return true
  },
  async parse (): Promise<ParsedFile> {
    return { headerLength: 0, tensors: [] }
  }
}

/** The built-in formats in the order they are tried: safetensors, GGUF, TF.js, then {@link rawFormat}. */
export const MODEL_FORMATS: readonly ModelFormat[] = Object.freeze([safetensorsFormat, ggufFormat, tfjsFormat, rawFormat])

/**
 * The formats an import tries, in order: `extra` (a caller's, in the given order), the
 * built-in safetensors, GGUF and TF.js, and {@link rawFormat} last. A caller's format named
 * like a built-in one is simply tried first.
 */
export function modelFormats (extra: readonly ModelFormat[] = []): readonly ModelFormat[] {
  return extra.length === 0 ? MODEL_FORMATS : [...extra, ...MODEL_FORMATS]
}

/**
 * The first of `formats` whose `detect` accepts `file` ({@link rawFormat} when none does).
 *
 * @param reader - reads `file` (detectors read at most a magic number, or a small JSON file)
 * @throws whatever a detector throws (e.g. `InvalidTfjsModelError` for an oversize `model.json`)
 */
export async function detectFormat (file: FormatFile, reader: ByteReader, formats: readonly ModelFormat[] = MODEL_FORMATS, options: ReadOptions = {}): Promise<ModelFormat> {
  for (const format of formats) {
    if (await format.detect(file, reader, options)) {
      return format
    }
  }
  return rawFormat
}

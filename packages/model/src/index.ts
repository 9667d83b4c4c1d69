/**
 * @packageDocumentation
 *
 * The TensorSwap tensor DAG: import model files (safetensors, GGUF, TF.js graph models, any
 * other file) into tensor-aligned UnixFS DAGs with a DAG-CBOR manifest listing the tensors in
 * computation order; list them; export them byte for byte. The format is specified in
 * `spec/model-dag.md`.
 *
 * Every file is a valid UnixFS file (CIDv1, sha2-256, raw leaves of at most 1 MiB, balanced
 * layout, 1024 links per node); a file with no tensor layout gets the same CID as Helia /
 * `ipfs-car --no-wrap`. Leaves never span two tensors, so identical tensors dedupe.
 *
 * @example
 * ```ts
 * import { MemoryBlockstore } from 'blockstore-core'
 * import { importModel, listModel, exportModel } from '@tensorswap/model'
 *
 * const blockstore = new MemoryBlockstore()
 * const { root } = await importModel(blockstore, './llama-3b/')
 * const { files, tensors } = await listModel(blockstore, root)
 * console.log(files.length, tensors[0].name, tensors[0].dtype, tensors[0].shape)
 * await exportModel(blockstore, root, './llama-3b-copy/')
 * ```
 */

export { importModel, planImport, writeImport } from './import.js'
export type { ImportOptions, ImportResult, ImportProgressEvents, ImportFileDetail, ImportBytesDetail, FileFormat, ImportPlan, PlanOptions, PlannedFile, PlannedPiece, PlannedTensor, WriteOptions } from './import.js'
export { planSegments, planLeaves } from './layout.js'
export type { Segment, LeafRange, Piece } from './layout.js'
export { MODEL_FORMATS, modelFormats, detectFormat, rawFormat } from './formats/registry.js'
export type { ModelFormat, FormatFile, ParseContext, ParsedFile, ParsedTensor, ImportFileInfo } from './formats/types.js'
export { listModel } from './list.js'
export type { ModelListing } from './list.js'
export { exportModel, singleFile, streamFile, PART_SUFFIX } from './export.js'
export type { ExportOptions, ExportProgressEvents, ExportFileDetail, ExportBytesDetail } from './export.js'
export { readManifest, decodeManifest, encodeManifest, validateManifest, buildManifest, manifestOfBlock } from './manifest.js'
export type { Manifest, ManifestTensor, ManifestTensorDraft, TensorSpan } from './manifest.js'
export { diffManifests } from './diff.js'
export type { ManifestDiff, TensorDelta } from './diff.js'
export { dagOrder, selectTensors } from './select.js'
export { nameOrder, classifyName, tfjsTopologyOrder, globToRegExp } from './order.js'
export type { NameClass } from './order.js'
export { parseSafetensors, safetensorsFormat, SAFETENSORS_DTYPE_BITS } from './formats/safetensors.js'
export type { SafetensorsHeader } from './formats/safetensors.js'
export { parseGguf, ggufFormat, GGML_TYPES, GgufValueType } from './formats/gguf.js'
export type { GgufHeader, GgufValue } from './formats/gguf.js'
export { parseTfjsModelJson, locateTfjsWeights, tfjsFormat, TFJS_DTYPE_BYTES, TFJS_QUANTIZED_BYTES } from './formats/tfjs.js'
export type { TfjsModel, TfjsGroup, TfjsWeight, TfjsNode, TfjsLocatedWeight, TfjsPiece } from './formats/tfjs.js'
export type { TensorInfo, TfjsQuantization } from './formats/types.js'
export { bufferReader, openFileReader, ShortReadError } from './reader.js'
export type { ByteReader, FileReader, ReadOptions } from './reader.js'
export { walkUnixfs, fileContent, verifiedSource, decodeUnixfs, entityKind, directoryEntries, hamtShardBlocks, walkFileRange, isSafeName } from './unixfs-read.js'
export type { UnixfsEntry, UnixfsFileEntry, VerifiedBlockSource, UnixfsNode, EntityKind, DirEntry, FileRangeStep } from './unixfs-read.js'
export { modelPlacement, outputFileKey, singleFileName } from './placement.js'
export type { ModelPlacementInit } from './placement.js'
export { getVerifiedBlock } from './blocks.js'
export type { BlockSink, BlockSource } from './blocks.js'
export * from './errors.js'
export * from './constants.js'

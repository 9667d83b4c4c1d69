/**
 * Command-line bandwidth limits shared by `serve` and `get` (spec/tensorswap.md §11):
 * `--max-upload-rate`, `--max-download-rate`, `--max-upload-rate-per-peer`,
 * `--max-download-rate-per-peer`, each in bytes per second (`2500000`, `2.5M`, `10MiB/s`); a
 * flag overrides the repo config's key of the same name (`maxUploadRate`, ...).
 */
// the subpath, not the package root: bin.ts loads this module for --help, and the root loads libp2p
import { parseRate, type BandwidthLimits } from 'tensorswap/rate-limit'
import { UsageError } from './errors.js'

/** The limit flags as commander parsed them. */
export interface LimitFlags {
  maxUploadRate?: string
  maxDownloadRate?: string
  maxUploadRatePerPeer?: string
  maxDownloadRatePerPeer?: string
}

/** Flag (camelCase, as commander names it) -> its spelling on the command line. */
const FLAGS: Record<keyof LimitFlags, string> = {
  maxUploadRate: '--max-upload-rate',
  maxDownloadRate: '--max-download-rate',
  maxUploadRatePerPeer: '--max-upload-rate-per-peer',
  maxDownloadRatePerPeer: '--max-download-rate-per-peer'
}

/**
 * Validate the flags and build `TensorSwapInit.limits`: each flag given, else the repo
 * config's value (already validated by `openRepo`).
 *
 * @param config - the repo config's limits, when a repo is open
 * @throws {UsageError} - a rate that does not parse or is below 1 byte/s (0, negative, garbage)
 */
export function limitsInit (flags: LimitFlags, config: BandwidthLimits = {}): BandwidthLimits {
  const out: BandwidthLimits = {}
  for (const key of Object.keys(FLAGS) as Array<keyof LimitFlags>) {
    const text = flags[key]
    if (text != null) {
      try {
        out[key] = parseRate(text, FLAGS[key])
      } catch (err: any) {
        throw new UsageError(err.message)
      }
    } else if (config[key] != null) {
      out[key] = config[key]
    }
  }
  return out
}

/** Add the four limit options to a commander command. */
export function addLimitOptions<T extends { option: (flags: string, description: string) => T }> (cmd: T): T {
  return cmd
    .option('--max-upload-rate <rate>', 'upload limit of the node, bytes/s (2500000, 2.5M, 10MiB/s; default: config, else none)')
    .option('--max-download-rate <rate>', 'download limit of the node, bytes/s')
    .option('--max-upload-rate-per-peer <rate>', 'upload limit to each peer, bytes/s')
    .option('--max-download-rate-per-peer <rate>', 'download limit from each peer, bytes/s')
}

/**
 * Errors raised by the `tensorswap` command line itself (not by the libraries it drives).
 */

/** The command line was wrong: unknown option, missing argument, bad CID. Exit code 2. */
export class UsageError extends Error {
  static override name = 'UsageError'
  override name = 'UsageError'
}

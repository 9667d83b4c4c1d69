/**
 * Errors raised by the `tensorswap` command line itself (not by the libraries it drives).
 */

/** The command line was wrong: unknown option, missing argument, bad CID. Exit code 2. */
export class UsageError extends Error {
  static override name = 'UsageError'
  override name = 'UsageError'
}

/** A listen address is taken by another process (`EADDRINUSE`). Exit code 1. */
export class AddressInUseError extends Error {
  static override name = 'AddressInUseError'
  override name = 'AddressInUseError'
}

/** The user interrupted the command (SIGINT, Ctrl-C); what was stored stays. Exit code 130. */
export class InterruptedError extends Error {
  static override name = 'InterruptedError'
  override name = 'InterruptedError'
}

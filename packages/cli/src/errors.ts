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

/**
 * An API request the daemon cannot run (spec/api.md §4): not JSON, larger than
 * `MAX_API_REQUEST_BYTES`, an unknown command or option, an option of the wrong type. Exit code 2.
 */
export class ApiRequestError extends UsageError {
  static override name = 'ApiRequestError'
  override name = 'ApiRequestError'
}

/** `serve` on a repo a live daemon already serves; the message names its pid and API address. Exit code 1. */
export class DaemonRunningError extends Error {
  static override name = 'DaemonRunningError'
  override name = 'DaemonRunningError'
}

/**
 * The repo's API socket is not safe to use: owned by another user, or reachable by group or
 * others (mode other than 0600), or not a socket. Client and `serve` refuse it. Exit code 1.
 */
export class ApiSocketRefusedError extends Error {
  static override name = 'ApiSocketRefusedError'
  override name = 'ApiSocketRefusedError'
}

/** The daemon's connection failed or ended before the command's result (e.g. the daemon was killed). Exit code 1. */
export class DaemonConnectionError extends Error {
  static override name = 'DaemonConnectionError'
  override name = 'DaemonConnectionError'
}

/**
 * An error the daemon reported for a command (`{"type":"error"}`, spec/api.md §3): carries the
 * daemon-side error's `name`, `message` and exit code, so the client prints and exits as a
 * local run would.
 */
export class RemoteCommandError extends Error {
  static override name = 'RemoteCommandError'
  /** The exit code the daemon computed for the error (1 runtime, 2 usage, 130 interrupted). */
  readonly exitCode: number
  constructor (name: string, message: string, exitCode: number) {
    super(message)
    this.name = name
    this.exitCode = exitCode
  }
}

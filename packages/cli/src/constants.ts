/**
 * Defaults of the `tensorswap` command line (packages/cli/README.md, spec/api.md).
 */

/** Name of the file in the repo that holds the running daemon's API address and pid (spec/api.md §1). */
export const API_FILE = 'api'

/** Name of the daemon's Unix socket in the repo, mode 0600 (spec/api.md §1). */
export const API_SOCKET = 'api.sock'

/** URL prefix of every API command: `POST /api/v1/<command>` (spec/api.md §2). */
export const API_PREFIX = '/api/v1/'

/** Largest options document of an API request, bytes (spec/api.md §2): 1 MiB. */
export const MAX_API_REQUEST_BYTES = 1024 * 1024

/** Progress events of one bar are sent at most this often, ms (spec/api.md §3). */
export const API_PROGRESS_INTERVAL_MS = 100

/** How long a client waits for the daemon's socket to accept a connection, ms. */
export const API_CONNECT_TIMEOUT_MS = 2000

/** How long the daemon tries to dial one `--bootstrap` peer a command gave, ms. */
export const DAEMON_BOOTSTRAP_DIAL_MS = 8000

/** How often `push` reads the ledger for its progress bar, ms. */
export const PUSH_PROGRESS_POLL_MS = 250

/** `get --include/--exclude`: how many of the chosen files are fetched at once. */
export const GET_FILES_CONCURRENCY = 4

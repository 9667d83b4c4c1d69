/**
 * Command-line content routing options shared by `serve`, `get` and `providers`:
 * `--bootstrap <multiaddr|amino>` (repeatable, added to the repo config's `bootstrap`),
 * `--mdns`, `--dht-mode`, `--find-timeout`, `--reprovide-interval`.
 */
import { parseBootstrapList, type DhtMode, type RoutingInit } from 'tensorswap/routing'
import { UsageError } from './errors.js'
import type { TensorSwapNode } from 'tensorswap'
import { DAEMON_BOOTSTRAP_DIAL_MS } from './constants.js'

/** The routing flags as commander parsed them. */
export interface RoutingFlags {
  /** `--bootstrap` values (repeatable). */
  bootstrap?: string[]
  /** `--mdns`: discover peers on the LAN with mDNS (opt-in). */
  mdns?: boolean
  /** `--dht-mode auto|client|server`. */
  dhtMode?: string
  /** `--find-timeout <ms>`: provider search budget. */
  findTimeout?: string
  /** `--reprovide-interval <ms>` (`serve`). */
  reprovideInterval?: string
}

/** Parse a positive integer flag (ms). @throws {UsageError} */
export function parseMs (flag: string, text: string | undefined): number | undefined {
  if (text == null) return undefined
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${flag} ${JSON.stringify(text)}: expected a positive integer (ms)`)
  return n
}

/**
 * Validate the flags (before any repo is opened) and build `TensorSwapInit.routing`. The repo
 * config's `bootstrap` entries are added when the node is created (`createTensorSwap`).
 *
 * @param flags - parsed flags
 * @param configBootstrap - the repo config's `bootstrap` (added after the flags)
 * @throws {UsageError} - a `--bootstrap` that is not a multiaddr ending in /p2p/<id> (or `amino`), a bad `--dht-mode` or number
 */
export function routingInit (flags: RoutingFlags, configBootstrap: string[] = []): RoutingInit {
  const given = flags.bootstrap ?? []
  try {
    parseBootstrapList(given)
  } catch (err: any) {
    throw new UsageError(`--bootstrap: ${String(err.message)}`)
  }
  const mode = flags.dhtMode
  if (mode != null && mode !== 'auto' && mode !== 'client' && mode !== 'server') throw new UsageError(`--dht-mode ${JSON.stringify(mode)}: expected auto, client or server`)
  const init: RoutingInit = { bootstrap: [...given, ...configBootstrap], mdns: flags.mdns === true }
  if (mode != null) init.dhtMode = mode as DhtMode
  const findProvidersTimeoutMs = parseMs('--find-timeout', flags.findTimeout)
  if (findProvidersTimeoutMs != null) init.findProvidersTimeoutMs = findProvidersTimeoutMs
  const reprovideIntervalMs = parseMs('--reprovide-interval', flags.reprovideInterval)
  if (reprovideIntervalMs != null) init.reprovideIntervalMs = reprovideIntervalMs
  return init
}

/** Whether the node will have anyone to ask: a bootstrap list (flags or config) or mDNS. */
export function canDiscover (init: RoutingInit): boolean {
  return (init.bootstrap?.length ?? 0) > 0 || init.mdns === true
}

/**
 * Through the daemon, whose routing was set by its own `serve` flags: dial the `--bootstrap`
 * peers a command gave (so its DHT learns them) and say on `log` which flags it cannot apply
 * (`--mdns`, `--dht-mode` are the daemon's). A bootstrap peer that cannot be dialled is logged,
 * not fatal (as at start-up).
 * @returns whether the daemon has someone to ask: a bootstrap list, mDNS, a connection, or a dialled bootstrap peer
 */
export async function daemonRouting (node: TensorSwapNode, flags: RoutingFlags, log: (line: string) => void, signal: AbortSignal): Promise<boolean> {
  let dialled = 0
  for (const ma of parseBootstrapList(flags.bootstrap ?? [])) {
    try {
      await node.libp2p.dial(ma, { signal: AbortSignal.any([signal, AbortSignal.timeout(DAEMON_BOOTSTRAP_DIAL_MS)]) })
      dialled++
    } catch (err) {
      signal.throwIfAborted()
      log(`bootstrap ${ma.toString()}: not dialled (${(err as Error).message.split('\n')[0]})`)
    }
  }
  if (flags.mdns === true && node.routing?.config.mdns !== true) log('--mdns: the daemon runs without mDNS (start serve with --mdns)')
  if (flags.dhtMode != null) log('--dht-mode: the daemon keeps its own DHT mode')
  return dialled > 0 || (node.routing?.config.bootstrap.length ?? 0) > 0 || node.routing?.config.mdns === true || node.libp2p.getConnections().length > 0
}

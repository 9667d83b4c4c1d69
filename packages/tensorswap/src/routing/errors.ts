/**
 * Errors of content routing (spec/tensorswap.md "Content routing"). Identified by `.name`.
 *
 * @module
 */

/**
 * `get` found no peer to fetch from: no given peer answered and the DHT (and connected peers)
 * named no reachable provider within the search time. `.cid` is the root, `.searchedMs` how long
 * the search ran (ms).
 */
export class NoProvidersError extends Error {
  static override name = 'NoProvidersError'
  override name = 'NoProvidersError'
  /** The root CID searched for (string form). */
  readonly cid: string
  /** How long the search ran, ms. */
  readonly searchedMs: number

  constructor (cid: string, searchedMs: number, detail = '') {
    super(`no provider of ${cid} found in ${(searchedMs / 1000).toFixed(1)} s${detail !== '' ? ` (${detail})` : ''}`)
    this.cid = cid
    this.searchedMs = searchedMs
  }
}

/**
 * A bootstrap entry is neither a multiaddr ending in `/p2p/<peer id>` nor the name `amino`.
 * `.entry` is the text given.
 */
export class InvalidBootstrapAddressError extends Error {
  static override name = 'InvalidBootstrapAddressError'
  override name = 'InvalidBootstrapAddressError'
  /** The entry as given. */
  readonly entry: string

  constructor (entry: string, why: string) {
    super(`bootstrap address ${JSON.stringify(entry)}: ${why}`)
    this.entry = entry
  }
}

/** Content routing was asked for on a node created without `routing` (or with `dht: false`). */
export class RoutingDisabledError extends Error {
  static override name = 'RoutingDisabledError'
  override name = 'RoutingDisabledError'
}

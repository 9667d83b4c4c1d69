/**
 * The peer set of a swarm session (spec/tensorswap.md §9 "Swarm sessions"): which peers a
 * fetch may ask, and how each was found. It grows while the fetch runs — providers the DHT
 * names during the fetch, peers given on the command line, connected peers that answered HAVE
 * for the root — and the exchange hears of each addition at once.
 *
 * Pure bookkeeping (no I/O).
 *
 * @module
 */

/**
 * How a peer of a fetch was found: `given` (by the user: `--peer`, `options.peers`), `dht` (a provider
 * record on the DHT), `connected` (a connected peer that answered HAVE, or the block, to the
 * root want-have broadcast at session start or when it connected).
 */
export type PeerSource = 'given' | 'dht' | 'connected'

/** Which source is reported when a peer was found more than one way (the most specific first). */
const RANK: Record<PeerSource, number> = { given: 3, dht: 2, connected: 1 }

/** A listener of {@link SessionPeers.onAdded}. */
export type SessionPeerListener = (peer: string, source: PeerSource) => void

/**
 * A growing set of peer ids (strings) with the way each was found. When a peer is found again
 * another way, the more specific source is kept (`given`, then `dht`, then `connected`).
 */
export class SessionPeers {
  readonly #peers = new Map<string, PeerSource>()
  readonly #listeners = new Set<SessionPeerListener>()

  /**
   * Add `peer` (found via `source`); listeners hear of a new peer.
   *
   * @returns whether the peer is new to the set
   */
  add (peer: string, source: PeerSource): boolean {
    const known = this.#peers.get(peer)
    if (known != null) {
      if (RANK[source] > RANK[known]) this.#peers.set(peer, source)
      return false
    }
    this.#peers.set(peer, source)
    for (const l of [...this.#listeners]) l(peer, source)
    return true
  }

  /** Whether `peer` is in the set. */
  has (peer: string): boolean { return this.#peers.has(peer) }

  /** How `peer` was found, or `undefined`. */
  source (peer: string): PeerSource | undefined { return this.#peers.get(peer) }

  /** Number of peers. */
  get size (): number { return this.#peers.size }

  /** Every peer with its source, in the order added. */
  entries (): Array<[string, PeerSource]> { return [...this.#peers] }

  /**
   * Call `listener` for every peer added from now on.
   *
   * @returns a function that removes the listener
   */
  onAdded (listener: SessionPeerListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }
}

/**
 * The receiver's push policy (spec/tensorswap.md §8 "Push"): who may push, how many pushes of
 * one peer run at once, how large a DAG may be announced. Pure: no I/O, no clock; the driver
 * ({@link PushService}) asks {@link PushPolicy.admit} per request and calls
 * {@link PushPolicy.release} when an admitted push ends.
 *
 * @module
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidPeerIdError } from './errors.js'
import { DEFAULT_MAX_PENDING_PUSHES_PER_PEER, DEFAULT_MAX_PUSH_DAG_BYTES } from './constants.js'
import type { PushRequest } from './messages.js'

/** Options of {@link PushPolicy}. */
export interface PushPolicyInit {
  /**
   * Peers whose pushes are accepted: `'any'`, or peer id strings. @default [] (refuse every push)
   */
  accept?: 'any' | Iterable<string>
  /** Pushes of one peer admitted and not yet released. @default {@link DEFAULT_MAX_PENDING_PUSHES_PER_PEER} (2) */
  maxPendingPerPeer?: number
  /** Largest announced DAG, bytes. @default {@link DEFAULT_MAX_PUSH_DAG_BYTES} (64 GiB) */
  maxDagBytes?: number
}

/**
 * What {@link PushPolicy.admit} decided: admitted (call `release` later) or refused with a
 * reason. `offence`: the refusal is one the pusher is penalised for (spec/tensorswap.md §8 "Bad
 * input": a pusher not accepted, an announced DAG over the limit); a full pending queue is not.
 */
export type PushDecision = { ok: true } | { ok: false, reason: string, offence: boolean }

/** Who may push what; counts pending pushes per peer. */
export class PushPolicy {
  readonly #any: boolean
  readonly #allowed: Set<string>
  readonly #maxPending: number
  readonly #maxDagBytes: number
  readonly #pending = new Map<string, number>()

  /** @throws RangeError - `maxPendingPerPeer` < 1 or `maxDagBytes` < 0 */
  constructor (init: PushPolicyInit = {}) {
    this.#any = init.accept === 'any'
    this.#allowed = new Set(init.accept === 'any' || init.accept == null ? [] : init.accept)
    this.#maxPending = init.maxPendingPerPeer ?? DEFAULT_MAX_PENDING_PUSHES_PER_PEER
    this.#maxDagBytes = init.maxDagBytes ?? DEFAULT_MAX_PUSH_DAG_BYTES
    if (!(this.#maxPending >= 1)) throw new RangeError(`PushPolicy: maxPendingPerPeer ${this.#maxPending} < 1`)
    if (!(this.#maxDagBytes >= 0)) throw new RangeError(`PushPolicy: maxDagBytes ${this.#maxDagBytes} < 0`)
  }

  /** Whether any peer at all may push (a node that accepts none need not handle the protocol's work). */
  get acceptsAny (): boolean { return this.#any || this.#allowed.size > 0 }

  /** The largest announced DAG accepted, bytes. */
  get maxDagBytes (): number { return this.#maxDagBytes }

  /** Pushes of `peer` admitted and not released. */
  pending (peer: string): number { return this.#pending.get(peer) ?? 0 }

  /**
   * Decide on a request of `peer` (a peer id string). Checks in order: the peer is accepted,
   * the announced size is within the limit, the peer has fewer than `maxPendingPerPeer` pushes
   * pending. An admitted push counts as pending until {@link release}. The first two refusals
   * are offences (the driver penalises the pusher `pushRefused`), the third is not.
   */
  admit (peer: string, request: PushRequest): PushDecision {
    if (!this.#any && !this.#allowed.has(peer)) return { ok: false, reason: 'pushes from this peer are not accepted', offence: true }
    if (request.bytes > this.#maxDagBytes) {
      return { ok: false, reason: `announced DAG of ${request.bytes} bytes exceeds the limit of ${this.#maxDagBytes} bytes`, offence: true }
    }
    const pending = this.pending(peer)
    if (pending >= this.#maxPending) return { ok: false, reason: `too many pending pushes (${pending} of at most ${this.#maxPending})`, offence: false }
    this.#pending.set(peer, pending + 1)
    return { ok: true }
  }

  /** An admitted push of `peer` ended (done, failed or aborted). Extra calls are ignored. */
  release (peer: string): void {
    const n = this.pending(peer) - 1
    if (n > 0) this.#pending.set(peer, n)
    else this.#pending.delete(peer)
  }
}

/**
 * Parse the accepted pushers as a command line gives them: `any`, or peer id strings.
 *
 * @returns `'any'` when any entry is `any`, else the peer ids in their canonical string form
 * @throws InvalidPeerIdError - an entry is neither `any` nor a peer id (its message names it)
 */
export function parsePushAccept (entries: string[]): 'any' | string[] {
  if (entries.includes('any')) return 'any'
  return entries.map(e => {
    try {
      return peerIdFromString(e).toString()
    } catch (err: any) {
      throw new InvalidPeerIdError(`${JSON.stringify(e)} is not a peer id or 'any' (${String(err.message)})`)
    }
  })
}

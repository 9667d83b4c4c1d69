/**
 * Block sources for a session beyond the exchange: HTTP trustless gateways, alone or behind
 * libp2p peers. A source is the `want` function a {@link Session} calls; every source returns
 * bytes already verified against the CID.
 *
 * @module
 */
import { logger } from '@libp2p/logger'
import type { SessionComponents } from './session.js'
import type { TrustlessGatewaySource } from './gateway-source.js'
import type { CID } from 'multiformats/cid'

const log = logger('tensorswap:block-sources')

/** The `want` function of a session. */
export type WantFn = SessionComponents['want']

/**
 * A want function over trustless gateways: each block is asked of the gateways in turn
 * (starting round-robin so the load spreads), the first verified answer wins.
 *
 * @param gateways - at least one gateway client
 * @throws the last gateway's error (`GatewayRequestError`, `BlockHashMismatchError`, ...) when
 *   every gateway failed; `signal.reason` on abort
 */
export function gatewayWant (gateways: TrustlessGatewaySource[]): WantFn {
  if (gateways.length === 0) throw new TypeError('gatewayWant needs at least one gateway')
  let next = 0
  return async (cid: CID, options) => {
    const start = next++ % gateways.length
    let last: unknown
    for (let i = 0; i < gateways.length; i++) {
      const gw = gateways[(start + i) % gateways.length]
      try {
        return { bytes: await gw.getBlock(cid, { signal: options.signal }), peer: gw.url }
      } catch (err) {
        options.signal.throwIfAborted()
        log('gateway %s failed for %c - %e', gw.url, cid, err)
        last = err
      }
    }
    throw last
  }
}

/**
 * Ask `primary` first and fall back to `fallback` when it rejects (other than by abort): p2p
 * peers first, gateways for what no peer has.
 */
export function withFallback (primary: WantFn, fallback: WantFn): WantFn {
  return async (cid, options) => {
    try {
      return await primary(cid, options)
    } catch (err) {
      options.signal.throwIfAborted()
      log('falling back for %c - %e', cid, err)
      return await fallback(cid, options)
    }
  }
}

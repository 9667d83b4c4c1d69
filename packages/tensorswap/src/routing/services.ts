/**
 * The libp2p pieces of content routing: `@libp2p/kad-dht` on `/ipfs/kad/1.0.0`,
 * `@libp2p/bootstrap` and (opt-in) `@libp2p/mdns`, configured from {@link ResolvedRouting}.
 *
 * @module
 */

import { bootstrap } from '@libp2p/bootstrap'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper, type KadDHT } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { DEFAULT_BOOTSTRAP_DIAL_DELAY_MS, DEFAULT_DHT_INITIAL_SELF_QUERY_DELAY_MS, DHT_PROTOCOL } from '../constants.js'
import type { ResolvedRouting } from './config.js'
import type { PeerDiscovery } from '@libp2p/interface'

/** What {@link routingLibp2pOptions} adds to the `createLibp2p` options. */
export interface RoutingLibp2pOptions {
  /** `{ dht }` when the DHT is on. */
  services: { dht?: (components: any) => KadDHT }
  /** Bootstrap (when the list is not empty) and mDNS (when asked). */
  peerDiscovery: Array<(components: any) => PeerDiscovery>
}

/**
 * The libp2p services and peer discovery for `routing`:
 * - kad-dht with `protocol: '/ipfs/kad/1.0.0'`; `clientMode` from `dhtMode` (`auto` leaves it
 *   unset, so kad-dht switches to server once a public address is confirmed); on a LAN
 *   (`lan: true`) peer records keep every address (`passthroughMapper`), on the public network
 *   only public ones (`removePrivateAddressesMapper`, kad-dht's default);
 * - bootstrap: the list, dialled {@link DEFAULT_BOOTSTRAP_DIAL_DELAY_MS} after start (tagged
 *   `bootstrap`, not keep-alive: a persisted peer store must not redial a peer dropped from the
 *   list; the router dials the list again before each search and reprovide);
 * - mDNS only when `mdns: true`.
 *
 * @param routing - resolved settings
 */
export function routingLibp2pOptions (routing: ResolvedRouting): RoutingLibp2pOptions {
  const services: RoutingLibp2pOptions['services'] = {}
  if (routing.dht) {
    services.dht = kadDHT({
      protocol: DHT_PROTOCOL,
      ...(routing.dhtMode === 'auto' ? {} : { clientMode: routing.dhtMode === 'client' }),
      peerInfoMapper: routing.lan ? passthroughMapper : removePrivateAddressesMapper,
      // every query waits for the first self-query; kad-dht starts it 1 s after start, we at once
      // (it waits inside until the routing table has a peer)
      initialQuerySelfInterval: DEFAULT_DHT_INITIAL_SELF_QUERY_DELAY_MS,
      logPrefix: 'tensorswap:routing:dht'
    }) as (components: any) => KadDHT
  }
  const peerDiscovery: RoutingLibp2pOptions['peerDiscovery'] = []
  if (routing.bootstrap.length > 0) {
    peerDiscovery.push(bootstrap({ list: routing.bootstrap.map(ma => ma.toString()), timeout: DEFAULT_BOOTSTRAP_DIAL_DELAY_MS }))
  }
  if (routing.mdns) peerDiscovery.push(mdns())
  return { services, peerDiscovery }
}

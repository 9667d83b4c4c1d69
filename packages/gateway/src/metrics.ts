/**
 * Prometheus metrics of a TensorSwap node (`prom-client`), served as text at `GET /metrics`.
 *
 * One `Registry` per node: {@link createMetrics} makes it with every metric registered;
 * {@link gatewayMetrics} and {@link exchangeMetrics} return typed handles on a registry
 * (get-or-create, so any module can ask for them in any order). The metric names are listed in
 * {@link METRIC_NAMES} and documented in `spec/gateway.md`.
 *
 * @module
 */

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Every metric name, for documentation and tests. */
export const METRIC_NAMES = {
  gatewayRequests: 'tensorswap_gateway_requests_total',
  gatewayResponseBytes: 'tensorswap_gateway_response_bytes_total',
  gatewayBlocksServed: 'tensorswap_gateway_blocks_served_total',
  gatewayRequestDuration: 'tensorswap_gateway_request_duration_seconds',
  gatewayRequestsInFlight: 'tensorswap_gateway_requests_in_flight',
  gatewayRequestsAborted: 'tensorswap_gateway_requests_aborted_total',
  gatewaySlowClients: 'tensorswap_gateway_slow_clients_total',
  exchangeBytesSent: 'tensorswap_exchange_bytes_sent_total',
  exchangeBytesReceived: 'tensorswap_exchange_bytes_received_total',
  exchangeBlocksFetched: 'tensorswap_exchange_blocks_fetched_total',
  exchangeWantsInFlight: 'tensorswap_exchange_wants_in_flight',
  exchangePeers: 'tensorswap_exchange_peers',
  exchangePeersBanned: 'tensorswap_exchange_peers_banned',
  ledgerBytesSent: 'tensorswap_ledger_bytes_sent',
  ledgerBytesReceived: 'tensorswap_ledger_bytes_received'
} as const

/** Metrics the HTTP gateway updates. Labels: `route` (`ipfs`, `metrics`, `other`), `format` (`raw`, `car`, `file`, `listing`, `none`), `status`. */
export interface GatewayMetrics {
  /** Requests answered, by route, format and HTTP status. */
  requests: Counter<'route' | 'format' | 'status'>
  /** Response body bytes written to sockets, by route and format. */
  responseBytes: Counter<'route' | 'format'>
  /** Blocks read and served (CAR sections, raw blocks, file nodes), by format. */
  blocksServed: Counter<'format'>
  /** Time from request to the end of the response, seconds, by route and format. */
  requestDuration: Histogram<'route' | 'format'>
  /** Requests being answered now. */
  requestsInFlight: Gauge
  /** Responses cut short because the client went away, by format. */
  requestsAborted: Counter<'format'>
  /** Responses cut off because the client read below the rate floor (`minClientBytesPerSecond`), by format. */
  slowClients: Counter<'format'>
}

/**
 * Metrics the exchange is expected to update (the gateway does not touch them). Labels:
 * `protocol` is the libp2p protocol id or a short name (`bitswap-1.2.0`, `tensorswap-1.0.0`,
 * `graphsync-2.0.0`, `gateway`).
 */
export interface ExchangeMetrics {
  /** Block payload bytes sent to peers. */
  bytesSent: Counter<'protocol'>
  /** Block payload bytes received from peers (verified). */
  bytesReceived: Counter<'protocol'>
  /** Blocks fetched from peers and stored. */
  blocksFetched: Counter<'protocol'>
  /** Blocks wanted and not yet received. */
  wantsInFlight: Gauge
  /** Connected peers that speak an exchange protocol. */
  peers: Gauge
  /** Peers banned now (penalty score over the threshold, spec/tensorswap.md §5). */
  peersBanned: Gauge
  /** Ledger total of bytes sent to all peers (persisted, so a gauge set from the ledger). */
  ledgerBytesSent: Gauge
  /** Ledger total of bytes received from all peers. */
  ledgerBytesReceived: Gauge
}

/** Options of {@link createMetrics}. */
export interface CreateMetricsInit {
  /**
   * Also collect prom-client's default process metrics (CPU, RSS, heap, event-loop lag, GC).
   *
   * @default true
   */
  defaultMetrics?: boolean
}

/**
 * A new registry with every TensorSwap metric (gateway and exchange) registered, and by default
 * the Node process metrics.
 */
export function createMetrics (init: CreateMetricsInit = {}): Registry {
  const registry = new Registry()
  if (init.defaultMetrics ?? true) collectDefaultMetrics({ register: registry })
  gatewayMetrics(registry)
  exchangeMetrics(registry)
  return registry
}

function counter<L extends string> (registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter<L>({ name, help, labelNames, registers: [registry] })
}

function gauge (registry: Registry, name: string, help: string): Gauge {
  return (registry.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help, registers: [registry] })
}

/** The gateway's metric handles on `registry` (created on first call). */
export function gatewayMetrics (registry: Registry): GatewayMetrics {
  const n = METRIC_NAMES
  return {
    requests: counter(registry, n.gatewayRequests, 'HTTP gateway requests answered', ['route', 'format', 'status']),
    responseBytes: counter(registry, n.gatewayResponseBytes, 'HTTP gateway response body bytes sent', ['route', 'format']),
    blocksServed: counter(registry, n.gatewayBlocksServed, 'Blocks served by the HTTP gateway', ['format']),
    requestDuration: (registry.getSingleMetric(n.gatewayRequestDuration) as Histogram<'route' | 'format'> | undefined) ??
      new Histogram({
        name: n.gatewayRequestDuration,
        help: 'HTTP gateway request duration, from request to end of response, seconds',
        labelNames: ['route', 'format'],
        // 1 ms .. ~65 s: single blocks are milliseconds, a multi-GB CAR is tens of seconds
        buckets: [0.001, 0.004, 0.016, 0.064, 0.256, 1, 4, 16, 64],
        registers: [registry]
      }),
    requestsInFlight: gauge(registry, n.gatewayRequestsInFlight, 'HTTP gateway requests being answered'),
    requestsAborted: counter(registry, n.gatewayRequestsAborted, 'HTTP gateway responses cut short by the client going away', ['format']),
    slowClients: counter(registry, n.gatewaySlowClients, 'HTTP gateway responses cut off because the client read below the rate floor', ['format'])
  }
}

/** The exchange's metric handles on `registry` (created on first call). */
export function exchangeMetrics (registry: Registry): ExchangeMetrics {
  const n = METRIC_NAMES
  return {
    bytesSent: counter(registry, n.exchangeBytesSent, 'Block bytes sent to peers', ['protocol']),
    bytesReceived: counter(registry, n.exchangeBytesReceived, 'Verified block bytes received from peers', ['protocol']),
    blocksFetched: counter(registry, n.exchangeBlocksFetched, 'Blocks fetched from peers and stored', ['protocol']),
    wantsInFlight: gauge(registry, n.exchangeWantsInFlight, 'Blocks wanted and not yet received'),
    peers: gauge(registry, n.exchangePeers, 'Connected peers speaking an exchange protocol'),
    peersBanned: gauge(registry, n.exchangePeersBanned, 'Peers banned now for bad input'),
    ledgerBytesSent: gauge(registry, n.ledgerBytesSent, 'Debt ledger total of bytes sent to all peers'),
    ledgerBytesReceived: gauge(registry, n.ledgerBytesReceived, 'Debt ledger total of bytes received from all peers')
  }
}

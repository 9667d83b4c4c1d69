/**
 * Peer health (spec/tensorswap.md §10): the pure health score and throughput meter, the
 * ping driver, and the `node.peers()` records.
 *
 * @module
 */
export { PeerHealth } from './score.js'
export type { PeerHealthInit, HealthStats, HealthVerdict } from './score.js'
export { ThroughputMeter } from './throughput.js'
export type { ByteTotals, Throughput, ThroughputPoint, ThroughputMeterInit } from './throughput.js'
export { HealthMonitor } from './monitor.js'
export type { HealthMonitorInit, HealthMonitorComponents, HealthEvents, HealthPingDetail, HealthDisconnectDetail } from './monitor.js'
export { describePeers, wireTotals } from './peers.js'
export type { PeerInfo, PeerOrigin } from './peers.js'

/**
 * Connection set-up cost: two TensorSwap libp2p nodes in one process
 * (packages/tensorswap/src/transport/node.ts, TCP+TLS+yamux or TCP+noise+yamux) dial and hang
 * up `--rounds` times, one connection at a time, after 10 unmeasured rounds. Reports the wall ms
 * and the process CPU ms (user + system, both ends of each handshake) per connection. Where it
 * matters: every leecher of a swarm makes a connection to each peer it meets and a bulk lane to
 * most of them, and each attacker connection costs the victim one handshake. Not a harness case
 * (one process, no seeder/leecher pair); run it under the lock:
 *
 *   flock /tmp/heavy.lock node dist-bench/bench/cases/handshake.js [--rounds 150] [--encrypter tls|noise]
 *     -> {"event":"handshake","encrypter":"tls","rounds":150,"msPerConnection":..,"cpuMsPerConnection":..}
 *
 * @module
 */
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '150' }, encrypter: { type: 'string', default: 'tls' } } })
  const rounds = Number(values.rounds)
  const encrypter = values.encrypter as 'tls' | 'noise'
  const { createLibp2pNode } = await import('tensorswap/transport')
  // the inbound gate refuses a host's sixth socket in a second: off for a measurement from one host
  const init = { listen: ['/ip4/127.0.0.1/tcp/0'], transports: ['tcp' as const], encrypters: [encrypter], connectionManager: { inboundConnectionThreshold: 1_000_000 } }
  const dialer = await createLibp2pNode(init)
  const listener = await createLibp2pNode(init)
  await dialer.start()
  await listener.start()
  try {
    const addr = listener.getMultiaddrs()[0]
    const once = async (): Promise<void> => {
      await dialer.dial(addr)
      await dialer.hangUp(listener.peerId)
    }
    for (let i = 0; i < 10; i++) await once()
    const cpu = process.cpuUsage()
    const started = performance.now()
    for (let i = 0; i < rounds; i++) await once()
    const ms = performance.now() - started
    const used = process.cpuUsage(cpu)
    process.stdout.write(JSON.stringify({
      event: 'handshake',
      encrypter,
      rounds,
      msPerConnection: Number((ms / rounds).toFixed(2)),
      cpuMsPerConnection: Number(((used.user + used.system) / 1000 / rounds).toFixed(2))
    }) + '\n')
  } finally {
    await dialer.stop()
    await listener.stop()
  }
}

// run only as a script: the bench harness imports every file in cases/ to list its `cases`
if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`handshake bench failed: ${String(err?.stack ?? err)}\n`)
    process.exit(1)
  })
}

/**
 * Test networks of real hosts on one machine: each host is a Linux network namespace with one
 * veth into a shared bridge, an address from 198.18.0.0/15 (RFC 2544's benchmarking range) and
 * no route out, so nothing a test runs can reach beyond the hosts it made. Every link can be
 * capped with `tc ... tbf` in both directions (this kernel has no `netem`, so there is no delay
 * or loss qdisc). Needs root (CI runs as root).
 *
 * @example
 * ```ts
 * const net = await createTestNet(3, { rateMbit: 100 })
 * const child = net.hosts[0].spawn(process.execPath, [BIN, 'serve', '--listen', `/ip4/${net.hosts[0].ip}/tcp/4001`])
 * await net.destroy()
 * ```
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** One namespaced host. */
export interface TestHost {
  /** Network namespace name. */
  ns: string
  /** IPv4 address of its only interface (198.18.0.0/15). */
  ip: string
  /** Start `cmd args` inside the host's namespace. */
  spawn(cmd: string, args: string[], options?: SpawnOptions): ChildProcess
}

/** A bridge and the hosts on it. */
export interface TestNet {
  hosts: TestHost[]
  /** Delete every namespace, veth and the bridge; safe to call twice. */
  destroy(): Promise<void>
}

/** Options of {@link createTestNet}. */
export interface TestNetInit {
  /** Cap each host's link at this rate, Mbit/s, in both directions (`tc tbf`); uncapped if absent. */
  rateMbit?: number
  /** Name prefix of the bridge, namespaces and veths (2-4 letters; tests running at once pick distinct ones). @default 'ts' */
  prefix?: string
}

/** Whether this process can make namespaces (root with `ip` available). */
export function canMakeNamespaces (): boolean {
  return process.getuid?.() === 0
}

async function ip (...args: string[]): Promise<void> { await run('ip', args) }
async function tc (...args: string[]): Promise<void> { await run('tc', args) }

/** tbf for one direction of a link: `rate` Mbit/s, a burst of about 10 ms at that rate. */
async function cap (dev: string, rateMbit: number, ns?: string): Promise<void> {
  const burstBytes = Math.max(16 * 1024, Math.round(rateMbit * 1e6 / 8 / 100))
  const args = ['qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${rateMbit}mbit`, 'burst', String(burstBytes), 'latency', '50ms']
  if (ns != null) await run('ip', ['netns', 'exec', ns, 'tc', ...args])
  else await tc(...args)
}

/**
 * Create `n` hosts on one bridge (addresses 198.18.0.1 ... 198.18.0.n, /24, no gateway).
 *
 * @param n - number of hosts, 1..250
 * @throws Error when not root or a namespace command fails (after removing what was made)
 */
export async function createTestNet (n: number, init: TestNetInit = {}): Promise<TestNet> {
  if (!canMakeNamespaces()) throw new Error('network namespaces need root')
  const tag = `${process.pid % 10000}${Math.floor(Math.random() * 100)}`
  const prefix = init.prefix ?? 'ts'
  if (!/^[a-z]{2,4}$/.test(prefix)) throw new Error(`netns prefix ${prefix}: expected 2-4 lower-case letters`)
  const bridge = `${prefix}b${tag}`
  const hosts: TestHost[] = []
  const made: string[] = []
  const destroy = async (): Promise<void> => {
    for (const ns of made.splice(0)) await ip('netns', 'del', ns).catch(() => {})
    await ip('link', 'del', bridge).catch(() => {})
  }
  try {
    await ip('link', 'add', bridge, 'type', 'bridge')
    await ip('link', 'set', bridge, 'up')
    for (let i = 0; i < n; i++) {
      const ns = `${prefix}n${tag}h${i}`
      const outer = `${prefix}v${tag}h${i}`
      const hostIp = `198.18.0.${i + 1}`
      await ip('netns', 'add', ns)
      made.push(ns)
      await ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
      await ip('link', 'set', outer, 'master', bridge)
      await ip('link', 'set', outer, 'up')
      await ip('-n', ns, 'addr', 'add', `${hostIp}/24`, 'dev', 'eth0')
      await ip('-n', ns, 'link', 'set', 'eth0', 'up')
      await ip('-n', ns, 'link', 'set', 'lo', 'up')
      if (init.rateMbit != null) {
        await cap('eth0', init.rateMbit, ns) // host -> bridge (its uplink)
        await cap(outer, init.rateMbit) // bridge -> host (its downlink)
      }
      hosts.push({
        ns,
        ip: hostIp,
        spawn: (cmd, args, options = {}) => spawn('ip', ['netns', 'exec', ns, cmd, ...args], options)
      })
    }
  } catch (err) {
    await destroy()
    throw err
  }
  return { hosts, destroy }
}

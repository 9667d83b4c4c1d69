/**
 * Argument parsing shared by commands.
 */
import { CID } from 'multiformats/cid'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { AddressInUseError, UsageError } from './errors.js'

/**
 * Parse a CID given on the command line (`bafy...`, `Qm...`, or `/ipfs/<cid>`).
 * @throws {UsageError} if it is not a valid CID
 */
export function parseCid (text: string): CID {
  const s = text.startsWith('/ipfs/') ? text.slice(6).split('/')[0] : text
  try {
    return CID.parse(s)
  } catch (err) {
    throw new UsageError(`not a valid CID: ${JSON.stringify(text)} (${(err as Error).message})`)
  }
}

/**
 * Check a `--peer` value before any network work: a multiaddr whose last `/p2p/<id>` is a valid
 * peer id, e.g. `/ip4/1.2.3.4/udp/4001/quic-v1/p2p/12D3Koo...`.
 * @returns the same text
 * @throws {UsageError} naming the bad value: not a multiaddr, no `/p2p/`, or a bad peer id
 */
export function parsePeerAddr (text: string): string {
  let ma
  try {
    ma = multiaddr(text)
  } catch (err) {
    throw new UsageError(`--peer ${JSON.stringify(text)}: not a multiaddr (${(err as Error).message.split('\n')[0]})`)
  }
  const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
  if (id == null) throw new UsageError(`--peer ${JSON.stringify(text)}: the multiaddr must end in /p2p/<peer id>`)
  try {
    peerIdFromString(id)
  } catch (err) {
    throw new UsageError(`--peer ${JSON.stringify(text)}: ${JSON.stringify(id)} is not a peer id (${(err as Error).message.split('\n')[0]})`)
  }
  return text
}

/**
 * Turn libp2p's "failed to listen" error into one naming the address taken:
 * `address already in use: <multiaddr>`; other errors are returned as they are.
 */
export function listenError (err: unknown): unknown {
  const message = (err as Error | undefined)?.message ?? ''
  const busy = [...message.matchAll(/^\s*(\/\S+): .*(?:EADDRINUSE|address already in use)/gm)].map(m => m[1])
  if (busy.length === 0) return err
  return new AddressInUseError(`address already in use: ${busy.join(', ')}`, { cause: err })
}

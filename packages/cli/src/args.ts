/**
 * Argument parsing shared by commands.
 */
import { CID } from 'multiformats/cid'
import { UsageError } from './errors.js'

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

/**
 * GraphSync 2.0.0 message types (`/ipfs/graphsync/2.0.0`).
 *
 * Wire schema (go-graphsync v0.13 `message/ipldbind/schema.ipldsch`, DAG-CBOR):
 *
 * ```ipldsch
 * type GraphSyncMessageRoot union { | GraphSyncMessage "gs2" } representation keyed
 * type GraphSyncMessage struct {
 *   requests  optional [GraphSyncRequest]  (rename "req")
 *   responses optional [GraphSyncResponse] (rename "rsp")
 *   blocks    optional [GraphSyncBlock]    (rename "blk")
 * } representation map
 * type GraphSyncRequest struct {
 *   id          Bytes                           # 16-byte UUID
 *   requestType GraphSyncRequestType (rename "type")   # "n" | "c" | "u"
 *   priority    optional Int         (rename "pri")
 *   root        optional Link
 *   selector    optional Any         (rename "sel")
 *   extensions  optional {String:Any} (rename "ext")
 * } representation map
 * type GraphSyncResponse struct {
 *   id         Bytes              (rename "reqid")
 *   status     Int                (rename "stat")
 *   metadata   optional [GraphSyncMetadatum] (rename "meta")
 *   extensions optional {String:Any}         (rename "ext")
 * } representation map
 * type GraphSyncMetadatum struct { link Link  action String } representation tuple  # "p" | "d" | "m" | "s"
 * type GraphSyncBlock struct { prefix Bytes  data Bytes } representation tuple
 * ```
 */
import type { CID } from 'multiformats/cid'
import type { Selector } from '../selector/types.js'

/** Request types: new, cancel, update (extensions only). */
export const RequestType = {
  New: 'n',
  Cancel: 'c',
  Update: 'u'
} as const

/** A request type code. */
export type RequestType = typeof RequestType[keyof typeof RequestType]

/**
 * Response status codes (GraphSync spec "Response Status Codes"; 35 RequestCancelled
 * from go-graphsync's schema). 1x: in progress; 2x: success, terminal; 3x: error, terminal.
 */
export const ResponseStatusCode = {
  RequestAcknowledged: 10,
  AdditionalPeers: 11,
  NotEnoughGas: 12,
  OtherProtocol: 13,
  PartialResponse: 14,
  RequestPaused: 15,
  RequestCompletedFull: 20,
  RequestCompletedPartial: 21,
  RequestRejected: 30,
  RequestFailedBusy: 31,
  RequestFailedUnknown: 32,
  RequestFailedLegal: 33,
  RequestFailedContentNotFound: 34,
  RequestCancelled: 35
} as const

/** A response status code. */
export type ResponseStatusCode = typeof ResponseStatusCode[keyof typeof ResponseStatusCode]

/** Is `status` terminal (2x success or 3x error)? */
export function isTerminalStatus (status: ResponseStatusCode): boolean {
  return status >= 20
}

/** Is `status` a success (2x)? */
export function isSuccessStatus (status: ResponseStatusCode): boolean {
  return status >= 20 && status < 30
}

/** Link actions in response metadata (go-graphsync `LinkAction`). */
export const LinkAction = {
  /** The block was present and is sent in this or an earlier message. */
  Present: 'p',
  /** The block was present but not sent (a duplicate). */
  DuplicateNotSent: 'd',
  /** The responder does not have the block; it skipped this part of the traversal. */
  Missing: 'm',
  /** The DAG under this link was already traversed in this request; skipped. */
  DuplicateDAGSkipped: 's'
} as const

/** A link action code. */
export type LinkAction = typeof LinkAction[keyof typeof LinkAction]

/** Well-known extension names (ipld specs `graphsync/known_extensions.md`, go-graphsync `graphsync.go`). */
export const Extension = {
  /** Value: a list of links the requestor already has; the responder does not send their blocks. */
  DoNotSendCids: 'graphsync/do-not-send-cids',
  /** Value: an int, how many blocks (in traversal order) the responder skips sending (resume). */
  DoNotSendFirstBlocks: 'graphsync/do-not-send-first-blocks',
  /** Value: a string key; the responder deduplicates blocks only across requests with the same key. */
  DedupByKey: 'graphsync/dedup-by-key'
} as const

/** Extension data: name to any IPLD data model value. */
export type Extensions = Record<string, unknown>

/** A request (wire keys in brackets). */
export interface GraphSyncRequest {
  /** [`id`] 16-byte UUID chosen by the requestor. */
  id: Uint8Array
  /** [`type`] new, cancel or update. */
  type: RequestType
  /** [`pri`] priority, int32; higher is more urgent. */
  priority?: number
  /** [`root`] root of the traversal; required for new requests. */
  root?: CID
  /** [`sel`] the selector; required for new requests. */
  selector?: Selector
  /** [`ext`] extensions. */
  extensions?: Extensions
}

/** One metadata entry: a link the responder's traversal reached and what it did with it. */
export interface GraphSyncMetadatum {
  link: CID
  action: LinkAction
}

/** A response (wire keys in brackets). */
export interface GraphSyncResponse {
  /** [`reqid`] the request id answered. */
  requestId: Uint8Array
  /** [`stat`] status code. */
  status: ResponseStatusCode
  /** [`meta`] links traversed, in traversal order. */
  metadata?: GraphSyncMetadatum[]
  /** [`ext`] extensions. */
  extensions?: Extensions
}

/** A block on the wire: CID prefix (version, codec, multihash code, digest length as varints) and bytes. */
export interface GraphSyncBlock {
  prefix: Uint8Array
  data: Uint8Array
}

/** A whole message; empty lists are omitted on the wire. */
export interface GraphSyncMessage {
  requests: GraphSyncRequest[]
  responses: GraphSyncResponse[]
  blocks: GraphSyncBlock[]
}

/**
 * Defaults of the push protocol (spec/tensorswap.md §8 "Push").
 *
 * @module
 */

const KiB = 1024
const GiB = 1024 * 1024 * 1024

/** The protocol id a pusher dials: one request frame, one response frame. */
export const PUSH_PROTOCOL = '/tensorswap/push/1.0.0'

/**
 * Pushes of one peer the receiver works on at once (accepted and still fetching); one more is
 * refused with the reason `too many pending pushes`.
 */
export const DEFAULT_MAX_PENDING_PUSHES_PER_PEER = 2

/**
 * Largest DAG a receiver accepts to fetch, as the pusher announces it (`bytes`), bytes: 64 GiB,
 * a large checkpoint. Above it the push is refused (no penalty: the pusher may not know our
 * limit). A fetch that moves more than the announced bytes is aborted.
 */
export const DEFAULT_MAX_PUSH_DAG_BYTES = 64 * GiB

/**
 * Largest push request or response frame, bytes: a CID and two numbers need under 100; a
 * longer declared frame is an `oversized` offence.
 */
export const DEFAULT_MAX_PUSH_FRAME_BYTES = 4 * KiB

/** Time the receiver waits for the request frame after the stream opened, ms. */
export const DEFAULT_PUSH_REQUEST_TIMEOUT_MS = 10_000

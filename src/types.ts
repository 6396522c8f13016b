// Public data and option types of the client SDK (wire shapes of spec NODE/ACT/MEM/STATS and the
// options each call takes). Types only: nothing here runs.

/** The `action` of a keys response or watch event (spec ACT-1). */
export type Action =
  | 'get'
  | 'set'
  | 'create'
  | 'update'
  | 'compareAndSwap'
  | 'delete'
  | 'compareAndDelete'
  | 'expire'

/**
 * A node of the key tree (spec NODE-1). Values are strings. The root directory has no key or
 * indexes on the wire; the SDK reports it as key `/` with indexes 0.
 */
export interface Node {
  key: string
  /** Files only; absent on directories and in the `node` of delete/expire events. */
  value?: string
  /** Present (true) on directories only. */
  dir?: true
  /** RFC 3339 expiry time when the node has a TTL. */
  expiration?: string
  /** Remaining seconds, rounded up, when the node has a TTL. */
  ttl?: number
  /** Children of a directory in a GET (recursive GETs nest them). */
  nodes?: Node[]
  modifiedIndex: number
  createdIndex: number
}

/** Cluster headers that come with every successful keys response (spec HDR-1..3). */
export interface ResponseHeaders {
  /** X-Etcd-Index: the store index after the operation (for watches: when it was registered). */
  etcdIndex: number
  /** X-Raft-Index (opaque, >= etcdIndex). */
  raftIndex: number
  /** X-Raft-Term. */
  raftTerm: number
  /** X-Etcd-Cluster-Id, lowercase hex. */
  clusterId: string
}

/** A successful keys response. */
export interface Response extends ResponseHeaders {
  action: Action
  node: Node
  /** The node before the operation, when one was replaced or removed. */
  prevNode?: Node
}

/** A keys response whose value was parsed as JSON ({@link Client.getJSON}). */
export interface JSONResponse<T> extends Response {
  /** `JSON.parse(node.value)`. */
  data: T
}

/** Options every call takes. */
export interface CallOptions {
  /** Cancels the call (and any in-flight request); the call rejects with AbortError. */
  signal?: AbortSignal
  /** Overrides the client's per-request timeout (ms) for this call. */
  timeout?: number
}

export interface GetOptions extends CallOptions {
  /** Return the whole subtree of a directory. */
  recursive?: boolean
  /** Sort `nodes` by key at every depth. */
  sorted?: boolean
  /** Linearizable read through raft instead of the member's local store. */
  quorum?: boolean
}

/** Conditions of a write; prevExist:false (create) cannot be combined with the others (spec CAS-4). */
export type WriteConditions =
  | { prevExist?: true; prevValue?: string; prevIndex?: number }
  | { prevExist: false; prevValue?: never; prevIndex?: never }

interface SetBase extends CallOptions {
  /** Seconds until the node expires; omitted means permanent (also on update/CAS, spec TTL-4). */
  ttl?: number
  /** Create a directory instead of a file (the value is ignored). */
  dir?: boolean
}

/**
 * Options of {@link Client.set}. `refresh: true` needs a `ttl` and an empty value (spec TTL-5);
 * prefer {@link Client.refresh}.
 */
export type SetOptions = SetBase &
  WriteConditions &
  ({ refresh?: false } | { refresh: true; ttl: number; dir?: false })

/** Options of create/update/mkdir/post. */
export interface CreateOptions extends CallOptions {
  ttl?: number
  dir?: boolean
}

/** Options of compareAndSwap: at least one of prevValue / prevIndex. */
export type CompareAndSwapOptions = CallOptions & { ttl?: number } & (
  | { prevValue: string; prevIndex?: number }
  | { prevValue?: string; prevIndex: number }
)

/** Options of compareAndDelete: at least one of prevValue / prevIndex. */
export type CompareAndDeleteOptions = CallOptions & (
  | { prevValue: string; prevIndex?: number }
  | { prevValue?: string; prevIndex: number }
)

export interface DeleteOptions extends CallOptions {
  /** Allow deleting an empty directory. */
  dir?: boolean
  /** Delete a directory with everything below it (implies dir). */
  recursive?: boolean
  prevValue?: string
  prevIndex?: number
}

export interface WatchOptions {
  /** Also report events below the key. */
  recursive?: boolean
  /** First index to report; default: the current index + 1 (read with a GET). */
  waitIndex?: number
  /** Ends the iteration with AbortError and cancels the in-flight request. */
  signal?: AbortSignal
}

/** A change delivered by a watch. */
export interface WatchChange {
  type: 'change'
  action: Action
  node: Node
  prevNode?: Node
  /** The event's index (= node.modifiedIndex); the next one reported is larger. */
  index: number
}

/**
 * The watch could not resume (the server's history no longer holds the next index, error 401):
 * the SDK re-read the key and continues after `etcdIndex`. `node` is the current state
 * (recursive when the watch is), or undefined when the key does not exist.
 */
export interface WatchResync {
  type: 'resync'
  node: Node | undefined
  etcdIndex: number
}

/** The element type of a watch iterator. */
export type WatchEvent = WatchChange | WatchResync

/** A cluster member (spec MEM-1). */
export interface Member {
  id: string
  name: string
  peerURLs: string[]
  clientURLs: string[]
}

/** `/v2/stats/self` (spec STATS-1). */
export interface SelfStats {
  name: string
  id: string
  state: string
  startTime: string
  leaderInfo: { leader: string; uptime: string; startTime: string }
  recvAppendRequestCnt: number
  recvPkgRate?: number
  recvBandwidthRate?: number
  sendAppendRequestCnt: number
  sendPkgRate?: number
  sendBandwidthRate?: number
}

/** `/v2/stats/leader` (spec STATS-2). */
export interface LeaderStats {
  leader: string
  followers: Record<string, {
    latency: { current: number; average: number; standardDeviation: number; minimum: number; maximum: number }
    counts: { fail: number; success: number }
  }>
}

/** `/v2/stats/store` (spec STATS-3). */
export interface StoreStats {
  getsSuccess: number
  getsFail: number
  setsSuccess: number
  setsFail: number
  deleteSuccess: number
  deleteFail: number
  updateSuccess: number
  updateFail: number
  createSuccess: number
  createFail: number
  compareAndSwapSuccess: number
  compareAndSwapFail: number
  compareAndDeleteSuccess: number
  compareAndDeleteFail: number
  expireCount: number
  watchers: number
}

/** `/version` (spec MISC-1). */
export interface VersionInfo {
  etcdserver: string
  etcdcluster: string
}

/** The subset of the WHATWG fetch signature the SDK uses. */
export type FetchLike = (input: string, init: {
  method: string
  headers: Record<string, string>
  body?: string
  signal: AbortSignal
  redirect?: 'follow' | 'manual' | 'error'
}) => Promise<FetchResponseLike>

/** The subset of a fetch Response the SDK uses. */
export interface FetchResponseLike {
  status: number
  headers: { get(name: string): string | null }
  text(): Promise<string>
  /**
   * The body as a stream, for watches that stream (v3): a WHATWG ReadableStream (browsers, Node's
   * fetch) or an async iterable of byte chunks (node-fetch, used by cross-fetch on Node).
   */
  body?: unknown
}

/** Retry policy: jittered exponential backoff between rounds over all endpoints. */
export interface RetryOptions {
  /** Extra rounds after the first (default 3). */
  retries?: number
  /** First backoff in ms (default 100). */
  minTimeout?: number
  /** Largest backoff in ms (default 2000). */
  maxTimeout?: number
  /** Backoff growth (default 2). */
  factor?: number
  /**
   * Also fail over / retry guarded writes (prevIndex, non-empty prevValue, prevExist=false) whose
   * outcome is unknown. A retried guarded write can fail with CompareFailedError/NodeExistsError
   * although the first attempt was applied. Default false.
   */
  guardedWrites?: boolean
}

/** Endpoint, fetch and retry settings shared by the v2 {@link Client} and the v3 client. */
export interface TransportOptions {
  /** Base URLs of the members, e.g. `['http://127.0.0.1:2379']`. */
  endpoints: string[] | string
  /** fetch implementation; default: the runtime's fetch, else cross-fetch. */
  fetch?: FetchLike
  /** Per-request timeout in ms (default 10000). Watches use it only until response headers. */
  timeout?: number
  /** Overall deadline of one call including retries, ms (default 30000). */
  deadline?: number
  /** Retry policy, or false to try each endpoint once. */
  retry?: RetryOptions | false
  /**
   * Extra fields merged into every fetch call's init, for runtime-specific settings such as TLS
   * client certificates / private CAs: on Node with the default fetch (cross-fetch) pass
   * `{ agent: new https.Agent({ ca, cert, key }) }`; with Node's built-in fetch, an undici
   * `dispatcher`. Ignored by runtimes that do not know the field.
   */
  fetchOptions?: Record<string, unknown>
  /** Extra headers on every request. */
  headers?: Record<string, string>
}

export interface ClientOptions extends TransportOptions {
  /** Basic auth for the v2 auth API. */
  auth?: { username: string; password: string }
  /** Refresh the endpoint list from /v2/members: true (every 5 min) or an interval. */
  autoSync?: boolean | { intervalMs: number }
}

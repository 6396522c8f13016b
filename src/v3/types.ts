// Public data and option types of the etcd v3 client (the JSON gateway of etcd 3.4+). Types only:
// nothing here runs.
//
// Number representation (one rule everywhere): identifiers and revisions (revision, create/mod
// revision, lease IDs, member and cluster IDs, raft term and index, compact revision) are
// `bigint`, because etcd's IDs exceed 2^53. Sizes, counts, versions and TTLs are `number`; the
// decoder throws rather than round one that does not fit exactly. Inputs take `bigint`, a decimal
// string or a safe-integer number ({@link Int64}).

import type { CallOptions, TransportOptions } from '../types.js'
import type { KeyValue } from './kv.js'

/** A key or value: a string is sent as its UTF-8 bytes. */
export type Bytes = string | Uint8Array

/** An int64 input: bigint, a decimal string, or a number that is a safe integer. */
export type Int64 = bigint | string | number

/** The header of every v3 answer. */
export interface ResponseHeader {
  clusterId: bigint
  memberId: bigint
  /** The store revision when the request was served (0n where etcd sends none, e.g. member list). */
  revision: bigint
  raftTerm: bigint
}

/** Options of calls that may be repeated safely only when the caller says so. */
export interface WriteOptions extends CallOptions {
  /**
   * The request may be applied twice without harm (for example a put of the same value that
   * nothing else writes): retry and fail over like a read instead of failing with
   * OutcomeUnknownError when the answer is lost. Default false.
   */
  idempotent?: boolean
}

/** Which keys a range, delete or watch covers. At most one of `prefix`, `rangeEnd`, `fromKey`. */
export interface KeyRange {
  /** Every key that starts with the key (`etcdctl --prefix`). */
  prefix?: boolean
  /** Keys in [key, rangeEnd). */
  rangeEnd?: Bytes
  /** Every key >= key (`etcdctl --from-key`). */
  fromKey?: boolean
}

export type SortOrder = 'none' | 'ascend' | 'descend'
export type SortTarget = 'key' | 'version' | 'create' | 'mod' | 'value'

/** Options of {@link ClientV3.range}. */
export interface RangeOptions extends KeyRange {
  /** At most this many keys (0 or omitted: no limit); `more` tells whether some were left out. */
  limit?: number
  sortOrder?: SortOrder
  /** What to sort on (default 'key'). */
  sortTarget?: SortTarget
  /** Read the store as it was at this revision (error COMPACTED if compacted away). */
  revision?: Int64
  /** Answer from the member's local store without a quorum round (may be stale). */
  serializable?: boolean
  /** Return keys and metadata without values. */
  keysOnly?: boolean
  /** Return only the count. */
  countOnly?: boolean
  minModRevision?: Int64
  maxModRevision?: Int64
  minCreateRevision?: Int64
  maxCreateRevision?: Int64
}

export interface RangeResponse {
  header: ResponseHeader
  kvs: KeyValue[]
  /** True if `limit` left some keys out. */
  more: boolean
  /** Number of keys in the range (all of them, not only the ones returned). */
  count: number
}

/** Options of {@link ClientV3.put}. */
export interface PutOptions extends WriteOptions {
  /** Attach the key to this lease (0n or omitted: none). */
  lease?: Int64
  /** Return the previous key-value in `prevKv`. */
  prevKv?: boolean
  /** Keep the current value (the key must exist); the value argument must be empty. */
  ignoreValue?: boolean
  /** Keep the current lease (the key must exist); `lease` must be omitted. */
  ignoreLease?: boolean
}

export interface PutResponse {
  header: ResponseHeader
  prevKv?: KeyValue
}

/** Options of {@link ClientV3.delete}. */
export interface DeleteOptions extends WriteOptions, KeyRange {
  /** Return the deleted key-values in `prevKvs`. */
  prevKv?: boolean
}

export interface DeleteResponse {
  header: ResponseHeader
  /** Number of keys deleted. */
  deleted: number
  /** The deleted key-values (with `prevKv: true`). */
  prevKvs: KeyValue[]
}

/** Comparison of a txn compare. */
export type CompareOp = '==' | '!=' | '<' | '>'

interface CompareBase extends KeyRange {
  key: Bytes
  op: CompareOp
}

/**
 * One condition of a transaction. A key that does not exist has version, create and mod
 * revision 0 and lease 0. With a range (`prefix`/`rangeEnd`) every key in it must match.
 */
export type Compare =
  | (CompareBase & { target: 'value'; value: Bytes })
  | (CompareBase & { target: 'version'; version: Int64 })
  | (CompareBase & { target: 'create'; createRevision: Int64 })
  | (CompareBase & { target: 'mod'; modRevision: Int64 })
  | (CompareBase & { target: 'lease'; lease: Int64 })

/** One operation of a transaction branch. */
export type RequestOp =
  | { range: { key: Bytes } & RangeOptions }
  | { put: { key: Bytes; value: Bytes; lease?: Int64; prevKv?: boolean; ignoreValue?: boolean; ignoreLease?: boolean } }
  | { delete: { key: Bytes; prevKv?: boolean } & KeyRange }
  | { txn: TxnRequest }

/** If every compare holds, run `success`, else `failure` (atomically, at one revision). */
export interface TxnRequest {
  compare?: Compare[]
  success?: RequestOp[]
  failure?: RequestOp[]
}

/** The answer of one operation of the branch that ran, in order. */
export type ResponseOp =
  | { type: 'range'; range: RangeResponse }
  | { type: 'put'; put: PutResponse }
  | { type: 'delete'; delete: DeleteResponse }
  | { type: 'txn'; txn: TxnResponse }

export interface TxnResponse {
  header: ResponseHeader
  /** True if every compare held (the `success` branch ran). */
  succeeded: boolean
  responses: ResponseOp[]
}

/** Options of {@link ClientV3.txn}. */
export interface TxnOptions extends WriteOptions {}

export interface LeaseGrantResponse {
  header: ResponseHeader
  /** The lease ID; {@link leaseIdHex} gives the form Go programs put in key names. */
  id: bigint
  /** The TTL the server granted, seconds. */
  ttl: number
}

export interface LeaseKeepAliveResponse {
  header: ResponseHeader
  id: bigint
  /** The TTL the lease was renewed to, seconds. */
  ttl: number
}

export interface LeaseTimeToLiveResponse {
  header: ResponseHeader
  id: bigint
  /** Remaining seconds (-1 if the lease does not exist: expired or revoked). */
  ttl: number
  /** The TTL given at grant, seconds. */
  grantedTtl: number
  /** Keys attached to the lease (with `keys: true`). */
  keys: Uint8Array[]
}

/** A background keep-alive started by {@link ClientV3.keepAlive}. */
export interface LeaseKeeper {
  readonly id: bigint
  /** Resolves once the keeper stopped: `'closed'` (by close()) or `'lost'` (the lease is gone or could not be renewed before it expired). */
  readonly done: Promise<'closed' | 'lost'>
  /** The last TTL the server confirmed, seconds. */
  readonly lastTtl: number
  /** Stops renewing (does not revoke the lease). */
  close(): void
}

export interface KeepAliveOptions {
  /** Renew every this many ms (default: a third of the TTL). */
  intervalMs?: number
  /** Called once when the lease is lost (expired, revoked, or unreachable until its TTL ran out). */
  onLost?: (err: unknown) => void
}

/** Options of {@link ClientV3.watch}. */
export interface WatchOptions extends KeyRange {
  /** First revision to report (history since then is replayed); default: changes after the watch is created. */
  startRevision?: Int64
  /** Include the previous key-value in each event. */
  prevKv?: boolean
  /** Leave out put or delete events. */
  filters?: Array<'noPut' | 'noDelete'>
  /** Ask the server for periodic progress events (revision reached with no change). */
  progressNotify?: boolean
  /**
   * Reconnect (to the next endpoint if this one does not answer) when the stream stays silent
   * this long, ms. It finds a member that is frozen or cut off without closing the connection.
   * Use it with `progressNotify` and a value above the server's progress interval
   * (`--experimental-watch-progress-notify-interval`, 10 minutes by default), or a quiet key
   * reconnects needlessly (harmless: nothing is lost or repeated). Default: off.
   */
  idleTimeoutMs?: number
  /** Ends the iteration with AbortError and closes the stream. */
  signal?: AbortSignal
}

/** A put or delete seen by a watch. */
export interface WatchChange {
  type: 'put' | 'delete'
  /** The key after the change; on delete only `key` and `modRevision` are set. */
  kv: KeyValue
  /** The key before the change (with `prevKv: true`, when it existed and is not compacted). */
  prevKv?: KeyValue
  /** The revision of the change (= kv.modRevision). Events of one revision come in a row. */
  revision: bigint
}

/** Every change up to `revision` has been reported (progress notification). */
export interface WatchProgress {
  type: 'progress'
  revision: bigint
}

/**
 * The next revision to report was compacted away (the watch could not resume, or the start
 * revision was too old): the client read the current state of the watched range at `revision`
 * and continues after it. Changes between the last reported one and `revision` are folded into
 * `kvs`.
 */
export interface WatchResync {
  type: 'resync'
  kvs: KeyValue[]
  revision: bigint
  /** The compaction revision the server reported. */
  compactRevision: bigint
}

export type WatchEvent = WatchChange | WatchProgress | WatchResync

/** A cluster member. */
export interface Member {
  id: bigint
  /** Empty until a member added with member add has started. */
  name: string
  peerURLs: string[]
  clientURLs: string[]
  isLearner: boolean
}

export interface MemberListResponse {
  header: ResponseHeader
  members: Member[]
}

/** Maintenance status of the member that answered. */
export interface StatusResponse {
  header: ResponseHeader
  /** etcd version, e.g. '3.4.23'. */
  version: string
  dbSize: number
  dbSizeInUse: number
  /** Member ID of the leader (0n: none known). */
  leader: bigint
  raftIndex: bigint
  raftTerm: bigint
  raftAppliedIndex: bigint
  errors: string[]
  isLearner: boolean
}

export interface AuthenticateResponse {
  header: ResponseHeader
  token: string
}

/** Options of a {@link ClientV3}. */
export interface ClientV3Options extends TransportOptions {
  /**
   * etcd user: the client calls authenticate on first use, sends the token in `Authorization`
   * and authenticates again (once per call) when the server says the token is invalid/expired.
   */
  auth?: { username: string; password: string }
  /** Path prefix of the gateway (default '/v3'; etcd 3.3 served '/v3beta'). */
  apiPrefix?: string
}

// JSON encoding of v3 requests and decoding of answers, as the gateway speaks them: bytes in
// base64, int64 as decimal strings, enums by name. etcd 3.6 (and 3.4 in many places) leaves out
// fields whose value is zero, false or empty, so every decoder reads a missing field as its zero.
// Pure functions, no I/O.

import { base64ToBytes, bytesToBase64 } from '../bytes.js'
import { HttpError, ValidationError } from '../errors.js'
import { KeyValue, prefixRangeEnd, toBytes, toInt64 } from './kv.js'
import type {
  Bytes, Compare, DeleteResponse, Int64, KeyRange, LeaseGrantResponse, LeaseKeepAliveResponse,
  LeaseTimeToLiveResponse, Member, MemberListResponse, PutResponse, RangeOptions, RangeResponse, RequestOp,
  ResponseHeader, ResponseOp, StatusResponse, TxnRequest, TxnResponse,
} from './types.js'

/** A decoded JSON object (fields may be missing). */
export type Json = Record<string, unknown>

// ---- decoding primitives ------------------------------------------------------------------

/** Thrown when an answer does not have the expected shape. */
export function badAnswer(what: string, detail: string): HttpError {
  return new HttpError(502, `unexpected ${what} in a v3 answer: ${detail}`)
}

/** An int64 field (decimal string; a JSON number is accepted) as bigint; missing is 0n. */
export function big(x: unknown, what = 'int64'): bigint {
  if (x === undefined || x === null) return 0n
  if (typeof x === 'string' && /^-?\d+$/.test(x)) return BigInt(x)
  if (typeof x === 'number' && Number.isSafeInteger(x)) return BigInt(x)
  throw badAnswer(what, JSON.stringify(x))
}

/** An integer field as number; missing is 0. Throws rather than round a value beyond 2^53. */
export function num(x: unknown, what = 'integer'): number {
  if (x === undefined || x === null) return 0
  const n = typeof x === 'string' && /^-?\d+$/.test(x) ? Number(x) : x
  if (typeof n === 'number' && Number.isSafeInteger(n)) return n
  throw badAnswer(what, JSON.stringify(x))
}

/** A bytes field (base64); missing is empty. */
export function bytes(x: unknown, what = 'bytes'): Uint8Array {
  if (x === undefined || x === null || x === '') return new Uint8Array(0)
  if (typeof x !== 'string') throw badAnswer(what, JSON.stringify(x))
  try {
    return base64ToBytes(x)
  } catch {
    throw badAnswer(what, JSON.stringify(x))
  }
}

const obj = (x: unknown): Json => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Json) : {})
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : [])

export function decodeHeader(x: unknown): ResponseHeader {
  const h = obj(x)
  return { clusterId: big(h.cluster_id), memberId: big(h.member_id), revision: big(h.revision), raftTerm: big(h.raft_term) }
}

export function decodeKv(x: unknown): KeyValue {
  const k = obj(x)
  return new KeyValue(bytes(k.key), bytes(k.value), big(k.create_revision), big(k.mod_revision), num(k.version), big(k.lease))
}

export function decodeRange(x: unknown): RangeResponse {
  const r = obj(x)
  return { header: decodeHeader(r.header), kvs: arr(r.kvs).map(decodeKv), more: r.more === true, count: num(r.count) }
}

export function decodePut(x: unknown): PutResponse {
  const r = obj(x)
  const out: PutResponse = { header: decodeHeader(r.header) }
  if (r.prev_kv !== undefined && r.prev_kv !== null) out.prevKv = decodeKv(r.prev_kv)
  return out
}

export function decodeDelete(x: unknown): DeleteResponse {
  const r = obj(x)
  return { header: decodeHeader(r.header), deleted: num(r.deleted), prevKvs: arr(r.prev_kvs).map(decodeKv) }
}

export function decodeTxn(x: unknown): TxnResponse {
  const r = obj(x)
  return { header: decodeHeader(r.header), succeeded: r.succeeded === true, responses: arr(r.responses).map(decodeResponseOp) }
}

function decodeResponseOp(x: unknown): ResponseOp {
  const r = obj(x)
  if (r.response_range !== undefined) return { type: 'range', range: decodeRange(r.response_range) }
  if (r.response_put !== undefined) return { type: 'put', put: decodePut(r.response_put) }
  if (r.response_delete_range !== undefined) return { type: 'delete', delete: decodeDelete(r.response_delete_range) }
  if (r.response_txn !== undefined) return { type: 'txn', txn: decodeTxn(r.response_txn) }
  throw badAnswer('txn response op', JSON.stringify(x).slice(0, 200))
}

export function decodeLeaseGrant(x: unknown): LeaseGrantResponse {
  const r = obj(x)
  return { header: decodeHeader(r.header), id: big(r.ID), ttl: num(r.TTL) }
}

export function decodeKeepAlive(x: unknown): LeaseKeepAliveResponse {
  const r = obj(x)
  return { header: decodeHeader(r.header), id: big(r.ID), ttl: num(r.TTL) }
}

export function decodeTimeToLive(x: unknown): LeaseTimeToLiveResponse {
  const r = obj(x)
  return { header: decodeHeader(r.header), id: big(r.ID), ttl: num(r.TTL), grantedTtl: num(r.grantedTTL), keys: arr(r.keys).map((k) => bytes(k)) }
}

export function decodeLeases(x: unknown): { header: ResponseHeader; leases: bigint[] } {
  const r = obj(x)
  return { header: decodeHeader(r.header), leases: arr(r.leases).map((l) => big(obj(l).ID)) }
}

function decodeMember(x: unknown): Member {
  const m = obj(x)
  const strings = (v: unknown): string[] => arr(v).filter((s): s is string => typeof s === 'string')
  return { id: big(m.ID), name: typeof m.name === 'string' ? m.name : '', peerURLs: strings(m.peerURLs), clientURLs: strings(m.clientURLs), isLearner: m.isLearner === true }
}

export function decodeMemberList(x: unknown): MemberListResponse {
  const r = obj(x)
  return { header: decodeHeader(r.header), members: arr(r.members).map(decodeMember) }
}

export function decodeStatus(x: unknown): StatusResponse {
  const r = obj(x)
  return {
    header: decodeHeader(r.header),
    version: typeof r.version === 'string' ? r.version : '',
    dbSize: num(r.dbSize),
    dbSizeInUse: num(r.dbSizeInUse),
    leader: big(r.leader),
    raftIndex: big(r.raftIndex),
    raftTerm: big(r.raftTerm),
    raftAppliedIndex: big(r.raftAppliedIndex),
    errors: arr(r.errors).filter((s): s is string => typeof s === 'string'),
    isLearner: r.isLearner === true,
  }
}

// ---- encoding -------------------------------------------------------------------------------

export const b64 = (x: Bytes, what?: string): string => bytesToBase64(toBytes(x, what))
export const i64 = (x: Int64, what?: string): string => toInt64(x, what).toString()

/** `key` and `range_end` of a request for a key and a {@link KeyRange}. */
export function encodeKeyRange(key: Bytes, r: KeyRange): { key: string; range_end?: string } {
  const k = toBytes(key)
  const set = [r.prefix === true, r.rangeEnd !== undefined, r.fromKey === true].filter(Boolean).length
  if (set > 1) throw new ValidationError('use only one of prefix, rangeEnd and fromKey')
  if (k.length === 0 && set === 0) throw new ValidationError('key must not be empty')
  if (r.prefix) return { key: bytesToBase64(k.length ? k : new Uint8Array([0])), range_end: bytesToBase64(prefixRangeEnd(k)) }
  if (r.fromKey) return { key: bytesToBase64(k.length ? k : new Uint8Array([0])), range_end: bytesToBase64(new Uint8Array([0])) }
  if (r.rangeEnd !== undefined) return { key: bytesToBase64(k), range_end: b64(r.rangeEnd, 'rangeEnd') }
  return { key: bytesToBase64(k) }
}

const SORT_ORDER = { none: 'NONE', ascend: 'ASCEND', descend: 'DESCEND' } as const
const SORT_TARGET = { key: 'KEY', version: 'VERSION', create: 'CREATE', mod: 'MOD', value: 'VALUE' } as const

function checkCount(n: number | undefined, what: string): void {
  if (n !== undefined && (!Number.isSafeInteger(n) || n < 0)) throw new ValidationError(`${what} must be a non-negative integer, got ${String(n)}`)
}

export function encodeRange(key: Bytes, o: RangeOptions): Json {
  checkCount(o.limit, 'limit')
  if (o.sortOrder !== undefined && !(o.sortOrder in SORT_ORDER)) throw new ValidationError(`unknown sortOrder ${String(o.sortOrder)}`)
  if (o.sortTarget !== undefined && !(o.sortTarget in SORT_TARGET)) throw new ValidationError(`unknown sortTarget ${String(o.sortTarget)}`)
  const out: Json = encodeKeyRange(key, o)
  if (o.limit) out.limit = String(o.limit)
  if (o.sortOrder) out.sort_order = SORT_ORDER[o.sortOrder]
  if (o.sortTarget) out.sort_target = SORT_TARGET[o.sortTarget]
  if (o.revision !== undefined) out.revision = i64(o.revision, 'revision')
  if (o.serializable) out.serializable = true
  if (o.keysOnly) out.keys_only = true
  if (o.countOnly) out.count_only = true
  if (o.minModRevision !== undefined) out.min_mod_revision = i64(o.minModRevision, 'minModRevision')
  if (o.maxModRevision !== undefined) out.max_mod_revision = i64(o.maxModRevision, 'maxModRevision')
  if (o.minCreateRevision !== undefined) out.min_create_revision = i64(o.minCreateRevision, 'minCreateRevision')
  if (o.maxCreateRevision !== undefined) out.max_create_revision = i64(o.maxCreateRevision, 'maxCreateRevision')
  return out
}

export function encodePut(key: Bytes, value: Bytes, o: { lease?: Int64; prevKv?: boolean; ignoreValue?: boolean; ignoreLease?: boolean }): Json {
  const k = toBytes(key)
  if (k.length === 0) throw new ValidationError('key must not be empty')
  const v = toBytes(value, 'value')
  if (o.ignoreValue && v.length > 0) throw new ValidationError('ignoreValue needs an empty value')
  if (o.ignoreLease && o.lease !== undefined && toInt64(o.lease, 'lease') !== 0n) throw new ValidationError('ignoreLease cannot be combined with lease')
  const out: Json = { key: bytesToBase64(k), value: bytesToBase64(v) }
  if (o.lease !== undefined) out.lease = i64(o.lease, 'lease')
  if (o.prevKv) out.prev_kv = true
  if (o.ignoreValue) out.ignore_value = true
  if (o.ignoreLease) out.ignore_lease = true
  return out
}

export function encodeDelete(key: Bytes, o: KeyRange & { prevKv?: boolean }): Json {
  const out: Json = encodeKeyRange(key, o)
  if (o.prevKv) out.prev_kv = true
  return out
}

const OP = { '==': 'EQUAL', '!=': 'NOT_EQUAL', '<': 'LESS', '>': 'GREATER' } as const

function encodeCompare(c: Compare): Json {
  if (!(c.op in OP)) throw new ValidationError(`unknown compare op ${String(c.op)}`)
  const out: Json = { ...encodeKeyRange(c.key, c), result: OP[c.op] }
  switch (c.target) {
    case 'value': return { ...out, target: 'VALUE', value: b64(c.value, 'value') }
    case 'version': return { ...out, target: 'VERSION', version: i64(c.version, 'version') }
    case 'create': return { ...out, target: 'CREATE', create_revision: i64(c.createRevision, 'createRevision') }
    case 'mod': return { ...out, target: 'MOD', mod_revision: i64(c.modRevision, 'modRevision') }
    case 'lease': return { ...out, target: 'LEASE', lease: i64(c.lease, 'lease') }
    default: throw new ValidationError(`unknown compare target ${String((c as { target?: unknown }).target)}`)
  }
}

function encodeRequestOp(op: RequestOp): Json {
  if ('range' in op) return { request_range: encodeRange(op.range.key, op.range) }
  if ('put' in op) return { request_put: encodePut(op.put.key, op.put.value, op.put) }
  if ('delete' in op) return { request_delete_range: encodeDelete(op.delete.key, op.delete) }
  if ('txn' in op) return { request_txn: encodeTxn(op.txn) }
  throw new ValidationError('a txn operation needs one of range, put, delete, txn')
}

export function encodeTxn(t: TxnRequest): Json {
  return {
    compare: (t.compare ?? []).map(encodeCompare),
    success: (t.success ?? []).map(encodeRequestOp),
    failure: (t.failure ?? []).map(encodeRequestOp),
  }
}

/** True if any branch (at any depth) writes. */
export function txnWrites(t: TxnRequest): boolean {
  return [...(t.success ?? []), ...(t.failure ?? [])].some((op) => 'put' in op || 'delete' in op || ('txn' in op && txnWrites(op.txn)))
}

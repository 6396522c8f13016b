// Type tests of the v3 client's public API: int64 as bigint in results, bytes in KeyValue, the
// compare union (each target needs its operand), txn response narrowing, watch element types and
// v3 error narrowing by class and by code.

import { expectAssignable, expectError, expectNotAssignable, expectType } from 'tsd'
import {
  ClientV3, CompactedError, EtcdV3Error, KeyValue, LeaseNotFoundError, OutcomeUnknownError, RaftkvError, WatchV3,
  leaseIdHex,
  type Compare, type ErrorCode, type LeaseKeeper, type MemberV3, type RangeResponse, type ResponseHeader, type ResponseOp,
  type TxnResponse, type WatchEventV3,
} from '../../src/index.js'

const c = new ClientV3({ endpoints: 'http://127.0.0.1:2379', auth: { username: 'u', password: 'p' }, retry: { guardedWrites: true } })
expectError(new ClientV3({}))
expectError(new ClientV3({ endpoints: ['http://x'], autoSync: true }))

// ---- results: bigint for revisions and IDs, number for counts and TTLs ----
expectType<Promise<RangeResponse>>(c.range('k', { prefix: true, limit: 10, sortOrder: 'descend', sortTarget: 'mod', revision: 5n }))
expectType<Promise<KeyValue | undefined>>(c.get('k'))
expectType<Promise<KeyValue[]>>(c.getPrefix(new Uint8Array([1])))
declare const kv: KeyValue
expectType<Uint8Array>(kv.key)
expectType<Uint8Array>(kv.value)
expectType<string>(kv.valueString)
expectType<bigint>(kv.modRevision)
expectType<bigint>(kv.lease)
expectType<number>(kv.version)
expectType<{ n: number }>(kv.json<{ n: number }>())
declare const h: ResponseHeader
expectType<bigint>(h.revision)
expectType<bigint>((await c.grantLease(10)).id)
expectType<number>((await c.grantLease(10)).ttl)
expectType<number>((await c.delete('k', { prefix: true })).deleted)
expectType<bigint[]>(await c.leases())
expectType<MemberV3[]>((await c.memberList()).members)
expectType<bigint>((await c.status()).leader)
expectType<string>(leaseIdHex(1n))
expectType<LeaseKeeper>(c.keepAlive('123'))
expectType<Promise<'closed' | 'lost'>>(c.keepAlive(1).done)

// ---- arguments ----
expectError(c.put('k', 42))
expectError(c.range('k', { sortOrder: 'down' }))
expectError(c.put('k', 'v', { lease: { id: 1 } }))
expectError(c.grantLease('10'))
expectAssignable<Compare>({ key: 'k', target: 'create', op: '==', createRevision: 0 })
expectAssignable<Compare>({ key: 'k', target: 'value', op: '!=', value: new Uint8Array() })
// each target needs its own operand
expectNotAssignable<Compare>({ key: 'k', target: 'create', op: '==', value: 'x' })
expectNotAssignable<Compare>({ key: 'k', target: 'version', op: '>=', version: 1 })

// ---- txn answers narrow on `type` ----
declare const op: ResponseOp
if (op.type === 'range') expectType<RangeResponse>(op.range)
if (op.type === 'txn') expectType<TxnResponse>(op.txn)
expectType<boolean>((await c.txn({ compare: [], success: [{ put: { key: 'k', value: 'v' } }] })).succeeded)
expectError(c.txn({ success: [{ get: { key: 'k' } }] }))

// ---- watch ----
const w = c.watch('p/', { prefix: true, startRevision: 10n, filters: ['noDelete'], progressNotify: true, idleTimeoutMs: 15_000 })
expectType<WatchV3>(w)
expectType<bigint | undefined>(w.nextRevision)
expectError(c.watch('k', { filters: ['NOPUT'] }))
expectError(c.watch('k', { idleTimeoutMs: '15s' }))
for await (const ev of w) {
  expectType<WatchEventV3>(ev)
  if (ev.type === 'put' || ev.type === 'delete') {
    expectType<KeyValue>(ev.kv)
    expectType<KeyValue | undefined>(ev.prevKv)
    expectType<bigint>(ev.revision)
  } else if (ev.type === 'resync') {
    expectType<KeyValue[]>(ev.kvs)
    expectType<bigint>(ev.compactRevision)
  } else {
    expectType<'progress'>(ev.type)
  }
}

// ---- errors ----
declare const err: unknown
if (err instanceof LeaseNotFoundError) {
  expectType<'LEASE_NOT_FOUND'>(err.code)
  expectType<number>(err.grpcCode)
  expectType<string>(err.serverMessage)
}
if (err instanceof CompactedError) expectType<'COMPACTED'>(err.code)
if (err instanceof EtcdV3Error) expectType<ErrorCode>(err.code)
expectAssignable<ErrorCode>('INVALID_AUTH_TOKEN')
expectAssignable<RaftkvError>(new LeaseNotFoundError(5, 'etcdserver: requested lease not found', 404))
expectNotAssignable<EtcdV3Error>(new OutcomeUnknownError('m', 'http://x'))

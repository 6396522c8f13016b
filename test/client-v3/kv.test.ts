// ClientV3 KV calls against a real etcd 3.4 (JSON gateway): range in every form, put options,
// delete, txn with each compare target and op, compaction errors, int64 precision, member list
// and status. Every assertion is on what the server stored or answered.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  AuthNotEnabledError, ClientV3, CompactedError, FutureRevisionError, InvalidArgumentError, KeyValue, LeaseNotFoundError,
  ValidationError, leaseIdHex, utf8Bytes,
} from '../../src/index.js'
import type { Cluster } from '../client/fixtures.js'
import { withEtcdV3 } from './helpers.js'

const test = suite('client v3 kv [etcd]')
let cluster: Cluster
let c: ClientV3
withEtcdV3(test, (up, client) => { cluster = up; c = client })

const keys = (kvs: KeyValue[]): string[] => kvs.map((kv) => kv.keyString)

test('put then get: bytes, text and JSON; revisions and versions move', async () => {
  const first = await c.put('kv/a', 'one')
  const second = await c.put('kv/a', 'two', { prevKv: true })
  assert.is(second.header.revision, first.header.revision + 1n)
  assert.is(second.prevKv?.valueString, 'one')
  const kv = await c.get('kv/a')
  assert.ok(kv)
  assert.is(kv.valueString, 'two')
  assert.is(kv.version, 2)
  assert.is(kv.createRevision, first.header.revision)
  assert.is(kv.modRevision, second.header.revision)
  assert.is(kv.lease, 0n)
  assert.is(await c.get('kv/none'), undefined)
  await c.putJSON('kv/json', { n: 1, s: 'é' })
  assert.equal((await c.get('kv/json'))!.json(), { n: 1, s: 'é' })
  assert.throws(() => (kv as KeyValue).json(), (e: unknown) => e instanceof ValidationError)
})

test('keys and values are bytes: non-UTF-8 and 0xff bytes round-trip', async () => {
  const key = new Uint8Array([0x6b, 0x76, 0x2f, 0xff, 0x00, 0xfe])
  const value = new Uint8Array(300).map((_, i) => (i * 7) % 256)
  await c.put(key, value)
  const kv = await c.get(key)
  assert.equal(Array.from(kv!.key), Array.from(key))
  assert.equal(Array.from(kv!.value), Array.from(value))
  // A prefix ending in 0xff: the range end carries into the previous byte.
  const under = await c.getPrefix(new Uint8Array([0x6b, 0x76, 0x2f, 0xff]))
  assert.equal(under.map((k) => Array.from(k.key)), [Array.from(key)])
})

test('range: prefix, rangeEnd, fromKey, limit/more/count, sort, keysOnly, countOnly, serializable', async () => {
  for (const k of ['r/b', 'r/a', 'r/c', 'r/d']) await c.put(k, `v-${k}`)
  await c.put('r/a', 'v-r/a-2') // version 2, newest mod revision
  await c.put('s/x', 'outside')
  assert.equal(keys((await c.range('r/', { prefix: true })).kvs), ['r/a', 'r/b', 'r/c', 'r/d'])
  assert.equal(keys((await c.range('r/b', { rangeEnd: 'r/d' })).kvs), ['r/b', 'r/c'])
  assert.equal(keys((await c.range('r/c', { fromKey: true })).kvs).slice(0, 3), ['r/c', 'r/d', 's/x'])
  const limited = await c.range('r/', { prefix: true, limit: 2 })
  assert.equal(keys(limited.kvs), ['r/a', 'r/b'])
  assert.is(limited.more, true)
  assert.is(limited.count, 4)
  const all = await c.range('r/', { prefix: true, limit: 10 })
  assert.is(all.more, false)
  assert.equal(keys((await c.range('r/', { prefix: true, sortOrder: 'descend' })).kvs), ['r/d', 'r/c', 'r/b', 'r/a'])
  assert.equal(keys((await c.range('r/', { prefix: true, sortTarget: 'mod', sortOrder: 'descend', limit: 1 })).kvs), ['r/a'])
  assert.equal(keys((await c.range('r/', { prefix: true, sortTarget: 'create', sortOrder: 'ascend' })).kvs), ['r/b', 'r/a', 'r/c', 'r/d'])
  assert.equal(keys((await c.range('r/', { prefix: true, sortTarget: 'version', sortOrder: 'descend', limit: 1 })).kvs), ['r/a'])
  assert.equal(keys((await c.range('r/', { prefix: true, sortTarget: 'value', sortOrder: 'descend' })).kvs), ['r/d', 'r/c', 'r/b', 'r/a'])
  const ko = await c.range('r/', { prefix: true, keysOnly: true })
  assert.equal(keys(ko.kvs), ['r/a', 'r/b', 'r/c', 'r/d'])
  assert.ok(ko.kvs.every((kv) => kv.value.length === 0 && kv.modRevision > 0n))
  const co = await c.range('r/', { prefix: true, countOnly: true })
  assert.is(co.count, 4)
  assert.is(co.kvs.length, 0)
  const ser = await c.range('r/a', { serializable: true })
  assert.is(ser.kvs[0]!.valueString, 'v-r/a-2')
  const mod = await c.range('r/', { prefix: true, minModRevision: ser.kvs[0]!.modRevision })
  assert.equal(keys(mod.kvs), ['r/a'])
})

test('range at an older revision, a compacted one and a future one', async () => {
  const p1 = await c.put('hist/k', 'old')
  await c.put('hist/k', 'new')
  assert.is((await c.get('hist/k', { revision: p1.header.revision }))!.valueString, 'old')
  const now = (await c.put('hist/k', 'newest')).header.revision
  await c.compact(now)
  const err = await c.get('hist/k', { revision: p1.header.revision }).catch((e: unknown) => e)
  assert.ok(err instanceof CompactedError, String(err))
  assert.is(err.code, 'COMPACTED')
  assert.is(err.grpcCode, 11)
  const fut = await c.get('hist/k', { revision: now + 1000n }).catch((e: unknown) => e)
  assert.ok(fut instanceof FutureRevisionError, String(fut))
  assert.is(fut.code, 'FUTURE_REVISION')
})

test('put options: lease, ignoreValue, ignoreLease; an unknown lease is LEASE_NOT_FOUND', async () => {
  const lease = await c.grantLease(60)
  await c.put('opt/k', 'v1', { lease: lease.id })
  assert.is((await c.get('opt/k'))!.lease, lease.id)
  await c.put('opt/k', '', { ignoreValue: true, ignoreLease: true })
  const kv = await c.get('opt/k')
  assert.is(kv!.valueString, 'v1')
  assert.is(kv!.lease, lease.id)
  assert.is(kv!.version, 2)
  await c.put('opt/k', 'v2', { ignoreLease: true })
  assert.is((await c.get('opt/k'))!.lease, lease.id)
  await c.put('opt/k', 'v3')
  assert.is((await c.get('opt/k'))!.lease, 0n)
  const err = await c.put('opt/x', 'v', { lease: 12345 }).catch((e: unknown) => e)
  assert.ok(err instanceof LeaseNotFoundError, String(err))
  assert.is(err.code, 'LEASE_NOT_FOUND')
  assert.not.ok(await c.get('opt/x'))
  // ignoreValue on a key that does not exist: etcd refuses it.
  const missing = await c.put('opt/none', '', { ignoreValue: true }).catch((e: unknown) => e)
  assert.ok(missing instanceof InvalidArgumentError, String(missing))
  await c.revokeLease(lease.id)
})

test('arguments are checked before anything is sent', async () => {
  const refused = async (p: () => Promise<unknown>): Promise<void> => {
    const e = await p().catch((x: unknown) => x)
    assert.ok(e instanceof ValidationError, String(e))
  }
  await refused(() => c.put('', 'v'))
  await refused(() => c.put('k', 'v', { ignoreValue: true }))
  await refused(() => c.range('k', { prefix: true, rangeEnd: 'z' }))
  await refused(() => c.range('k', { revision: 2 ** 60 }))
  await refused(() => c.range('k', { limit: -1 }))
  await refused(() => c.put('k', 'v', { lease: '12x' }))
})

test('delete: one key, a prefix with prevKvs, a missing key', async () => {
  for (const k of ['d/1', 'd/2', 'd/3']) await c.put(k, k)
  const one = await c.delete('d/1')
  assert.is(one.deleted, 1)
  assert.equal(one.prevKvs, [])
  const rest = await c.delete('d/', { prefix: true, prevKv: true })
  assert.is(rest.deleted, 2)
  assert.equal(keys(rest.prevKvs), ['d/2', 'd/3'])
  assert.equal(rest.prevKvs.map((k) => k.valueString), ['d/2', 'd/3'])
  assert.is((await c.delete('d/none')).deleted, 0)
  assert.is((await c.range('d/', { prefix: true, countOnly: true })).count, 0)
})

test('txn: compares on value, version, create, mod and lease pick the branch', async () => {
  const lease = await c.grantLease(60)
  const put = await c.put('t/k', 'v', { lease: lease.id })
  const rev = put.header.revision
  const cases: Array<[Parameters<ClientV3['txn']>[0]['compare'], boolean]> = [
    [[{ key: 't/k', target: 'value', op: '==', value: 'v' }], true],
    [[{ key: 't/k', target: 'value', op: '!=', value: 'v' }], false],
    [[{ key: 't/k', target: 'value', op: '>', value: 'a' }], true],
    [[{ key: 't/k', target: 'version', op: '==', version: 1 }], true],
    [[{ key: 't/k', target: 'version', op: '>', version: 1 }], false],
    [[{ key: 't/k', target: 'create', op: '==', createRevision: rev }], true],
    [[{ key: 't/k', target: 'mod', op: '<', modRevision: rev }], false],
    [[{ key: 't/k', target: 'mod', op: '==', modRevision: rev.toString() }], true],
    [[{ key: 't/k', target: 'lease', op: '==', lease: lease.id }], true],
    [[{ key: 't/k', target: 'lease', op: '==', lease: 0 }], false],
    // A missing key has create revision 0: the "create if absent" guard of locks.
    [[{ key: 't/missing', target: 'create', op: '==', createRevision: 0 }], true],
    [[{ key: 't/', prefix: true, target: 'version', op: '>', version: 0 }], true],
    [[{ key: 't/k', target: 'value', op: '==', value: 'v' }, { key: 't/k', target: 'version', op: '==', version: 9 }], false],
  ]
  for (const [compare, expected] of cases) {
    const res = await c.txn({ compare, success: [{ range: { key: 't/k' } }], failure: [] })
    assert.is(res.succeeded, expected, JSON.stringify(compare, (_, v) => (typeof v === 'bigint' ? v.toString() : v)))
  }
  await c.revokeLease(lease.id)
})

test('txn: put, range, delete and a nested txn in both branches, answers in order', async () => {
  await c.put('tx/a', '1')
  const ok = await c.txn({
    compare: [{ key: 'tx/a', target: 'value', op: '==', value: '1' }],
    success: [
      { put: { key: 'tx/b', value: '2', prevKv: true } },
      { range: { key: 'tx/', prefix: true } },
      { delete: { key: 'tx/a', prevKv: true } },
      // Nested compares are evaluated with the outer ones, before any operation: tx/a still holds 1.
      { txn: { compare: [{ key: 'tx/a', target: 'value', op: '==', value: '1' }], success: [{ put: { key: 'tx/c', value: '3' } }] } },
    ],
    failure: [{ put: { key: 'tx/failed', value: 'x' } }],
  })
  assert.is(ok.succeeded, true)
  assert.equal(ok.responses.map((r) => r.type), ['put', 'range', 'delete', 'txn'])
  const [p, r, d, t] = ok.responses
  assert.ok(p!.type === 'put' && p.put.prevKv === undefined)
  assert.ok(r!.type === 'range' && keys(r.range.kvs).join() === 'tx/a,tx/b')
  assert.ok(d!.type === 'delete' && d.delete.deleted === 1 && d.delete.prevKvs[0]!.valueString === '1')
  assert.ok(t!.type === 'txn' && t.txn.succeeded && t.txn.responses[0]!.type === 'put')
  assert.equal(keys(await c.getPrefix('tx/')), ['tx/b', 'tx/c'])
  const no = await c.txn({
    compare: [{ key: 'tx/a', target: 'value', op: '==', value: '1' }],
    success: [{ put: { key: 'tx/never', value: 'x' } }],
    failure: [{ range: { key: 'tx/b' } }, { delete: { key: 'tx/c' } }],
  })
  assert.is(no.succeeded, false)
  assert.equal(no.responses.map((x) => x.type), ['range', 'delete'])
  assert.equal(keys(await c.getPrefix('tx/')), ['tx/b'])
  // One revision for the whole txn.
  assert.is((await c.get('tx/b'))!.modRevision, ok.header.revision)
  const dup = await c.txn({ success: [{ put: { key: 'tx/d', value: '1' } }, { put: { key: 'tx/d', value: '2' } }] }).catch((e: unknown) => e)
  assert.ok(dup instanceof InvalidArgumentError, String(dup))
  assert.is(dup.code, 'INVALID_ARGUMENT')
})

test('int64 fields keep every bit: a lease ID above 2^53 round-trips and its hex matches Go', async () => {
  const id = 2n ** 62n + 12345n // not representable as a double
  const granted = await c.grantLease(60, { id })
  assert.is(granted.id, id)
  await c.put('big/k', 'v', { lease: id })
  assert.is((await c.get('big/k'))!.lease, id)
  assert.equal(await c.leases().then((l) => l.filter((x) => x === id)), [id])
  const res = await c.txn({ compare: [{ key: 'big/k', target: 'lease', op: '==', lease: id.toString() }], success: [] })
  assert.ok(res.succeeded)
  // One off: must not match (a double would have rounded both to the same value).
  const off = await c.txn({ compare: [{ key: 'big/k', target: 'lease', op: '==', lease: id + 1n }], success: [] })
  assert.not.ok(off.succeeded)
  assert.is(leaseIdHex(id), '4000000000003039')
  assert.is(leaseIdHex(0x694d77aa9e38260fn), '694d77aa9e38260f')
  await c.revokeLease(id)
  assert.is((await c.get('big/k')), undefined)
})

test('apiPrefix: etcd 3.4 also serves the gateway under /v3beta (the 3.3 path)', async () => {
  const beta = new ClientV3({ endpoints: cluster.endpoints, apiPrefix: '/v3beta/' })
  await beta.put('beta/k', 'v')
  assert.is((await c.get('beta/k'))!.valueString, 'v')
})

test('member list, status and authenticate on a cluster without auth', async () => {
  const list = await c.memberList()
  assert.is(list.members.length, 1)
  const m = list.members[0]!
  assert.equal(m.clientURLs, [cluster.endpoints[0]])
  assert.is(m.name, cluster.members[0]!.name)
  assert.ok(m.id > 2n ** 32n, 'member IDs are 64-bit')
  const st = await c.status()
  assert.match(st.version, /^3\.\d+\.\d+/)
  assert.is(st.leader, m.id)
  assert.is(st.header.memberId, m.id)
  assert.ok(st.raftIndex > 0n && st.dbSize > 0)
  assert.ok(st.header.revision > 0n)
  const err = await c.authenticate('root', 'x').catch((e: unknown) => e)
  assert.ok(err instanceof AuthNotEnabledError, String(err))
  assert.is(err.code, 'AUTH_NOT_ENABLED')
  void utf8Bytes
})

test.run()

// The v3 decoder and encoder without a server: answer shapes as etcd 3.4 sends them (recorded
// from etcd 3.4.23) and as the 3.5/3.6 gateway documentation shows them (3.6 leaves out zero,
// false and empty fields; grpc-gateway v2 error bodies), the four error shapes, int64 precision,
// enum names, range ends, and the line reader of watch streams.

import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  AuthRequiredError, CompactedError, EtcdV3Error, HttpError, InvalidArgumentError, InvalidAuthTokenError,
  LeaseNotFoundError, ServerUnavailableError, prefixRangeEnd, utf8Bytes,
} from '../../src/index.js'
import {
  decodeDelete, decodeKv, decodeLeaseGrant, decodeMemberList, decodeRange, decodeStatus, decodeTimeToLive, decodeTxn,
  encodeKeyRange, encodeTxn, num,
} from '../../src/v3/codec.js'
import { errorFromV3Result, readErrorBody, v3Error } from '../../src/v3/errors.js'
import { readLines } from '../../src/v3/watch.js'

const res = (status: number, body: string) => ({ status, body, endpoint: 'http://e', headers: { get: () => null } })
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

// ---- recorded from etcd 3.4.23 --------------------------------------------------------------

test('3.4 range answer: int64 as strings, bytes as base64, lease left out when 0', () => {
  const r = decodeRange(JSON.parse('{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"3","raft_term":"2"},"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"3","version":"2","value":"YmF6"}],"count":"1"}'))
  assert.is(r.header.clusterId, 15118495548433857066n)
  assert.is(r.header.memberId, 13668033151171901709n)
  assert.is(r.header.revision, 3n)
  assert.is(r.count, 1)
  assert.is(r.more, false)
  const kv = r.kvs[0]!
  assert.is(kv.keyString, 'foo')
  assert.is(kv.valueString, 'baz')
  assert.is(kv.createRevision, 2n)
  assert.is(kv.modRevision, 3n)
  assert.is(kv.version, 2)
  assert.is(kv.lease, 0n)
})

test('3.4 answers without kvs/count, delete with prev_kvs, lease grant, time-to-live, status, members', () => {
  const empty = decodeRange(JSON.parse('{"header":{"cluster_id":"1","member_id":"2","revision":"2","raft_term":"2"}}'))
  assert.equal([empty.kvs, empty.count, empty.more], [[], 0, false])
  const del = decodeDelete(JSON.parse('{"header":{"revision":"5"},"deleted":"1","prev_kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"4","version":"3","value":"cXV4"}]}'))
  assert.is(del.deleted, 1)
  assert.is(del.prevKvs[0]!.valueString, 'qux')
  const g = decodeLeaseGrant(JSON.parse('{"header":{"revision":"2"},"ID":"4111120492426680328","TTL":"30"}'))
  assert.is(g.id, 4111120492426680328n)
  assert.is(g.ttl, 30)
  const ttl = decodeTimeToLive(JSON.parse('{"header":{"revision":"5"},"ID":"1234","TTL":"-1"}'))
  assert.equal([ttl.ttl, ttl.grantedTtl, ttl.keys], [-1, 0, []])
  const st = decodeStatus(JSON.parse('{"header":{"revision":"3"},"version":"3.4.23","dbSize":"20480","leader":"13668033151171901709","raftIndex":"8","raftTerm":"2","raftAppliedIndex":"8","dbSizeInUse":"16384"}'))
  assert.equal([st.version, st.dbSize, st.leader, st.raftIndex, st.isLearner, st.errors], ['3.4.23', 20480, 13668033151171901709n, 8n, false, []])
  const ml = decodeMemberList(JSON.parse('{"header":{"cluster_id":"1","member_id":"2","raft_term":"2"},"members":[{"ID":"13668033151171901709","name":"p","peerURLs":["http://127.0.0.1:23801"],"clientURLs":["http://127.0.0.1:23791"]}]}'))
  assert.is(ml.header.revision, 0n)
  assert.equal(ml.members[0], { id: 13668033151171901709n, name: 'p', peerURLs: ['http://127.0.0.1:23801'], clientURLs: ['http://127.0.0.1:23791'], isLearner: false })
})

test('3.4 error bodies map to typed errors by message, then by gRPC code', () => {
  const lease = errorFromV3Result(res(404, '{"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5}'))
  assert.ok(lease instanceof LeaseNotFoundError)
  assert.is(lease.grpcCode, 5)
  assert.is(lease.status, 404)
  assert.ok(errorFromV3Result(res(400, '{"error":"etcdserver: mvcc: required revision has been compacted","message":"etcdserver: mvcc: required revision has been compacted","code":11}')) instanceof CompactedError)
  assert.ok(errorFromV3Result(res(400, '{"error":"etcdserver: user name is empty","message":"etcdserver: user name is empty","code":3}')) instanceof AuthRequiredError)
  const bad = errorFromV3Result(res(400, '{"error":"invalid character \'g\' looking for beginning of value","message":"invalid character \'g\' looking for beginning of value","code":3}'))
  assert.ok(bad instanceof InvalidArgumentError)
  const other = errorFromV3Result(res(500, '{"error":"something new","message":"something new","code":13}'))
  assert.ok(other instanceof EtcdV3Error)
  assert.is(other.code, 'GRPC_ERROR')
  const notJson = errorFromV3Result(res(502, '<html>bad gateway</html>'))
  assert.ok(notJson instanceof HttpError)
  assert.is(notJson.status, 502)
})

// ---- written from the 3.5 / 3.6 gateway documentation ---------------------------------------

test('3.6 (grpc-gateway v2) error bodies: {code, message, details}, unary and in a stream', () => {
  const e = errorFromV3Result(res(404, '{"code":5,"message":"etcdserver: requested lease not found","details":[]}'))
  assert.ok(e instanceof LeaseNotFoundError)
  const tok = errorFromV3Result(res(401, '{"code":16,"message":"etcdserver: invalid auth token","details":[]}'))
  assert.ok(tok instanceof InvalidAuthTokenError)
  assert.equal(readErrorBody({ error: { code: 14, message: 'etcdserver: no leader', details: [] } }), { grpcCode: 14, message: 'etcdserver: no leader' })
  assert.equal(readErrorBody({ error: { grpc_code: 14, http_code: 503, message: 'etcdserver: no leader', http_status: 'Service Unavailable' } }), { grpcCode: 14, message: 'etcdserver: no leader' })
  const unavailable = errorFromV3Result(res(503, '{"code":14,"message":"etcdserver: leader changed","details":[]}'))
  assert.ok(unavailable instanceof ServerUnavailableError)
  assert.ok(unavailable.retryable)
  // Watch cancel reasons carry Go's status text.
  const cancel = v3Error(0, 'rpc error: code = Unauthenticated desc = etcdserver: invalid auth token', 200)
  assert.ok(cancel instanceof InvalidAuthTokenError)
  assert.equal([cancel.grpcCode, cancel.serverMessage], [16, 'etcdserver: invalid auth token'])
  assert.is(v3Error(0, 'rpc error: code = DeadlineExceeded desc = x', 200).grpcCode, 4)
  // A successful answer is not an error body.
  assert.is(readErrorBody({ header: { revision: '1' }, kvs: [] }), undefined)
})

test('3.6 leaves out zero/false fields: decoders read them as zero', () => {
  // A txn whose compare failed and whose failure branch was empty: only the header is sent.
  const t = decodeTxn(JSON.parse('{"header":{"cluster_id":"14841639068965178418","member_id":"10276657743932975437","revision":"7","raft_term":"2"}}'))
  assert.equal([t.succeeded, t.responses], [false, []])
  const t2 = decodeTxn(JSON.parse('{"header":{"revision":"8"},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"8"}}},{"response_range":{"header":{"revision":"8"},"kvs":[{"key":"YQ==","create_revision":"8","mod_revision":"8","version":"1"}],"count":"1"}},{"response_delete_range":{"header":{"revision":"8"}}},{"response_txn":{"header":{"revision":"8"}}}]}'))
  assert.equal(t2.responses.map((r) => r.type), ['put', 'range', 'delete', 'txn'])
  const r = t2.responses[1]!
  assert.ok(r.type === 'range')
  assert.is(r.range.kvs[0]!.value.length, 0, 'empty value left out')
  const d = t2.responses[2]!
  assert.ok(d.type === 'delete' && d.delete.deleted === 0)
  // A kv on a delete event: only key and mod_revision.
  const kv = decodeKv({ key: 'YQ==', mod_revision: '9' })
  assert.equal([kv.keyString, kv.modRevision, kv.createRevision, kv.version, kv.lease], ['a', 9n, 0n, 0, 0n])
  const st = decodeStatus({ header: {}, version: '3.6.0', dbSize: '24576', leader: '10276657743932975437', raftIndex: '5', raftTerm: '2', raftAppliedIndex: '5', dbSizeInUse: '24576', isLearner: true })
  assert.is(st.isLearner, true)
})

test('int64 values keep every bit; a count beyond 2^53 is refused, never rounded', () => {
  const kv = decodeKv({ key: 'YQ==', lease: '9223372036854775807', mod_revision: '9007199254740993' })
  assert.is(kv.lease, 9223372036854775807n)
  assert.is(kv.modRevision, 9007199254740993n)
  assert.throws(() => num('9007199254740993'), (e: unknown) => e instanceof HttpError)
  assert.throws(() => decodeRange({ count: '9007199254740993' }), (e: unknown) => e instanceof HttpError)
  assert.throws(() => decodeKv({ key: 'YQ==', lease: 1.5 }), (e: unknown) => e instanceof HttpError)
})

// ---- encoding ---------------------------------------------------------------------------------

test('range ends: prefix, 0xff carry, all keys, fromKey', () => {
  const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
  assert.is(hex(prefixRangeEnd(utf8Bytes('a/'))), '6130')
  assert.is(hex(prefixRangeEnd(new Uint8Array([0x61, 0xff, 0xff]))), '62')
  assert.is(hex(prefixRangeEnd(new Uint8Array([0xff]))), '00')
  assert.equal(encodeKeyRange('', { prefix: true }), { key: 'AA==', range_end: 'AA==' })
  assert.equal(encodeKeyRange('b', { fromKey: true }), { key: 'Yg==', range_end: 'AA==' })
  assert.equal(encodeKeyRange('a', { rangeEnd: 'c' }), { key: 'YQ==', range_end: 'Yw==' })
})

test('txn encoding: enum names, int64 as decimal strings, nested branches', () => {
  const big = 2n ** 62n + 1n
  const body = encodeTxn({
    compare: [
      { key: 'k', target: 'create', op: '==', createRevision: 0 },
      { key: 'k', target: 'lease', op: '!=', lease: big },
      { key: 'p/', prefix: true, target: 'mod', op: '<', modRevision: '12' },
      { key: 'k', target: 'value', op: '>', value: new Uint8Array([0xff]) },
    ],
    success: [{ put: { key: 'k', value: 'v', lease: big } }, { txn: { success: [{ delete: { key: 'p/', prefix: true } }] } }],
    failure: [{ range: { key: 'k', sortOrder: 'descend', sortTarget: 'mod', limit: 1 } }],
  })
  assert.equal(body.compare, [
    { key: 'aw==', result: 'EQUAL', target: 'CREATE', create_revision: '0' },
    { key: 'aw==', result: 'NOT_EQUAL', target: 'LEASE', lease: '4611686018427387905' },
    { key: 'cC8=', range_end: 'cDA=', result: 'LESS', target: 'MOD', mod_revision: '12' },
    { key: 'aw==', result: 'GREATER', target: 'VALUE', value: '/w==' },
  ])
  assert.equal(body.success, [
    { request_put: { key: 'aw==', value: 'dg==', lease: '4611686018427387905' } },
    { request_txn: { compare: [], success: [{ request_delete_range: { key: 'cC8=', range_end: 'cDA=' } }], failure: [] } },
  ])
  assert.equal(body.failure, [{ request_range: { key: 'aw==', limit: '1', sort_order: 'DESCEND', sort_target: 'MOD' } }])
})

// ---- watch stream lines -------------------------------------------------------------------------

test('stream lines: split anywhere (even inside a UTF-8 character), from a ReadableStream or an async iterable', async () => {
  const whole = utf8Bytes('{"result":{"a":"é"}}\n\n{"result":{"b":1}}\n{"result":{"c":2}}')
  const pieces = [whole.subarray(0, 17), whole.subarray(17, 30), whole.subarray(30)]
  const stream = new ReadableStream<Uint8Array>({ start(c) { for (const p of pieces) c.enqueue(p); c.close() } })
  const fromStream: string[] = []
  for await (const l of readLines(stream)) fromStream.push(l)
  const fromIter: string[] = []
  for await (const l of readLines((async function* () { yield* pieces })())) fromIter.push(l)
  const expected = ['{"result":{"a":"é"}}', '{"result":{"b":1}}', '{"result":{"c":2}}']
  assert.equal(fromStream, expected)
  assert.equal(fromIter, expected)
  assert.is(text(whole).split('\n').filter(Boolean).length, 3)
})

test.run()

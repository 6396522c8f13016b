// ClientV3 failover and retry safety with real etcd plus failure doubles (a port nothing listens
// on, a server that accepts and never answers): reads fail over; writes that may have been
// applied fail with OutcomeUnknownError unless idempotent or (txn with compares) guardedWrites;
// abort, deadline and "no endpoint" errors; and a member without quorum.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  AbortError, ClientV3, OutcomeUnknownError, ServerUnavailableError, TimeoutError, UnavailableError, isRetryable,
} from '../../src/index.js'
import { deadEndpoint, startCluster, startHangingServer, within, type Cluster } from '../client/fixtures.js'

const test = suite('client v3 failover [etcd]')
let cluster: Cluster
let live: string
let hanging: Awaited<ReturnType<typeof startHangingServer>>

test.before(async () => {
  cluster = await startCluster('etcd')
  live = cluster.endpoints[0]!
  hanging = await startHangingServer()
})
test.after(async () => {
  await hanging?.close()
  await cluster?.close()
})

test('a dead endpoint is skipped for reads and writes (nothing was sent), the live one is then preferred', async () => {
  const c = new ClientV3({ endpoints: [await deadEndpoint(), live], timeout: 2000 })
  await c.put('f/a', '1')
  assert.is((await c.get('f/a'))!.valueString, '1')
  assert.is(c.endpoints[0], live)
})

test('a read that gets no answer fails over to the next endpoint', async () => {
  const c = new ClientV3({ endpoints: [hanging.url, live], timeout: 500 })
  await new ClientV3({ endpoints: [live] }).put('f/b', '2')
  assert.is((await within(10_000, c.get('f/b'), 'read'))!.valueString, '2')
  assert.is(c.endpoints[0], live)
})

test('a put, delete or unguarded txn that got no answer is OUTCOME_UNKNOWN, not repeated elsewhere', async () => {
  const c = new ClientV3({ endpoints: [hanging.url, live], timeout: 500 })
  const before = hanging.connections()
  for (const call of [
    () => c.put('f/w', 'x'),
    () => c.delete('f/w'),
    () => c.txn({ success: [{ put: { key: 'f/w', value: 'y' } }] }),
  ]) {
    const err = await within(10_000, call(), 'write').catch((e: unknown) => e)
    assert.ok(err instanceof OutcomeUnknownError, String(err))
    assert.is(err.code, 'OUTCOME_UNKNOWN')
    assert.is(err.endpoint, hanging.url)
    assert.not.ok(isRetryable(err))
  }
  assert.ok(hanging.connections() > before)
  assert.is(await new ClientV3({ endpoints: [live] }).get('f/w'), undefined, 'never sent to the live member')
})

test('idempotent writes and (with guardedWrites) guarded txns fail over like reads', async () => {
  const c = new ClientV3({ endpoints: [hanging.url, live], timeout: 500, retry: { guardedWrites: true } })
  await within(10_000, c.put('f/i', 'same', { idempotent: true }), 'idempotent put')
  assert.is((await c.get('f/i'))!.valueString, 'same')
  const c2 = new ClientV3({ endpoints: [hanging.url, live], timeout: 500, retry: { guardedWrites: true } })
  const res = await within(10_000, c2.txn({
    compare: [{ key: 'f/lock', target: 'create', op: '==', createRevision: 0 }],
    success: [{ put: { key: 'f/lock', value: 'me' } }],
  }), 'guarded txn')
  assert.ok(res.succeeded)
  // Without guardedWrites the same txn is not repeated.
  const c3 = new ClientV3({ endpoints: [hanging.url, live], timeout: 500 })
  const err = await within(10_000, c3.txn({
    compare: [{ key: 'f/lock2', target: 'create', op: '==', createRevision: 0 }],
    success: [{ put: { key: 'f/lock2', value: 'me' } }],
  }), 'txn').catch((e: unknown) => e)
  assert.ok(err instanceof OutcomeUnknownError, String(err))
  // A read-only txn is a read.
  const ro = await within(10_000, c3.txn({ success: [{ range: { key: 'f/lock' } }] }), 'read txn')
  assert.ok(ro.responses[0]!.type === 'range' && ro.responses[0].range.kvs[0]!.valueString === 'me')
})

test('the caller signal aborts at once; the deadline bounds a call over unresponsive endpoints', async () => {
  const c = new ClientV3({ endpoints: [hanging.url], timeout: 10_000, deadline: 1500 })
  const ac = new AbortController()
  const started = Date.now()
  const p = c.get('f/x', { signal: ac.signal }).catch((e: unknown) => e)
  setTimeout(() => ac.abort(), 200)
  const err = await within(5000, p, 'abort')
  assert.ok(err instanceof AbortError, String(err))
  assert.ok(Date.now() - started < 3000)
  const pre = await c.get('f/x', { signal: AbortSignal.abort() }).catch((e: unknown) => e)
  assert.ok(pre instanceof AbortError, String(pre))
  const t0 = Date.now()
  const late = await within(10_000, c.get('f/x'), 'deadline').catch((e: unknown) => e)
  assert.ok(late instanceof TimeoutError, String(late))
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`)
  const perCall = await within(10_000, new ClientV3({ endpoints: [hanging.url], retry: false }).get('f/x', { timeout: 300 }), 'timeout').catch((e: unknown) => e)
  // Every endpoint timed out on its own: reported like unreachable endpoints, with the reason.
  assert.ok(perCall instanceof UnavailableError, String(perCall))
  assert.match(perCall.attempts[0]!, /no answer within 300 ms/)
})

test('no endpoint reachable: UnavailableError listing each attempt', async () => {
  const c = new ClientV3({ endpoints: [await deadEndpoint(), await deadEndpoint()], retry: { retries: 1, minTimeout: 10 } })
  const err = await c.get('f/x').catch((e: unknown) => e)
  assert.ok(err instanceof UnavailableError, String(err))
  assert.is(err.attempts.length, 2)
  assert.ok(isRetryable(err))
  // Nothing was sent: a write fails the same way, not with OutcomeUnknownError.
  const w = await c.put('f/x', 'v').catch((e: unknown) => e)
  assert.ok(w instanceof UnavailableError, String(w))
})

test.run()

// ---- a member that lost quorum ---------------------------------------------------------------

const quorum = suite('client v3 without quorum [etcd x3]')
let cl3: Cluster

quorum.before(async () => {
  cl3 = await startCluster('etcd', { size: 3 })
})
quorum.after(async () => {
  await cl3?.close()
})

quorum('a member alone: a write is OUTCOME_UNKNOWN (raft timeout), a read is a retryable server error', async () => {
  const [m0, m1, m2] = cl3.members
  const c = new ClientV3({ endpoints: [m0!.clientURL], timeout: 20_000, deadline: 25_000, retry: false })
  await c.put('q/k', 'v')
  await m1!.kill()
  await m2!.kill()
  const err = await within(30_000, c.put('q/k', 'w'), 'write without quorum').catch((e: unknown) => e)
  assert.ok(err instanceof OutcomeUnknownError, String(err))
  assert.ok(err.cause instanceof ServerUnavailableError, String(err.cause))
  assert.is((err.cause as ServerUnavailableError).grpcCode, 14)
  const read = await within(30_000, c.get('q/k'), 'read without quorum').catch((e: unknown) => e)
  assert.ok(read instanceof ServerUnavailableError, String(read))
  assert.ok(isRetryable(read))
  // A serializable read is answered from the member's own store.
  assert.is((await c.get('q/k', { serializable: true }))!.valueString, 'v')
})

quorum.run()

// TTL requirements (TTL-1..10) at the store level: expiration, refresh, sweeps, directory TTLs.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Store } from '../../server/store/index.js'
import { T0, ok, fail, getErr, json, set } from './helpers.js'

test('TTL-1 ttl=N gives expiration now+N and a counting-down ttl', () => {
  const s = new Store()
  const e = set(s, '/t/foo', 'bar', { ttlSeconds: 100 })
  assert.equal(e.node, { key: '/t/foo', value: 'bar', expiration: '2027-01-15T08:01:40Z', ttl: 100, modifiedIndex: 1, createdIndex: 1 })
  assert.is(s.get('/t/foo', {}, T0 + 10_000).node.ttl, 90)
  assert.ok(s.hasTtlKeys())
  assert.is(s.nextExpiryMs(), T0 + 100_000)
})

test('TTL-2 ttl=0 is already expired: expiration shown, no ttl; removed by the next sweep', () => {
  const s = new Store()
  const e = set(s, '/t/zero', 'v', { ttlSeconds: 0 })
  assert.equal(e.node, { key: '/t/zero', value: 'v', expiration: '2027-01-15T08:00:00Z', modifiedIndex: 1, createdIndex: 1 })
  assert.is(s.get('/t/zero', {}, T0).node.value, 'v', 'readable until swept')
  const [x] = s.expire(T0)
  assert.is(x.action, 'expire')
  assert.is(getErr(s, '/t/zero').errorCode, 100)
})

test('TTL-4 set without ttl makes a permanent new node; update/CAS without ttl remove the TTL', () => {
  const s = new Store()
  set(s, '/a', 'v', { ttlSeconds: 100 })
  assert.is(set(s, '/a', 'v').node.expiration, undefined)
  set(s, '/b', 'v', { ttlSeconds: 100 })
  const u = ok(s, { op: 'set', key: '/b', value: 'w', prevExist: true, ttlSeconds: null })
  assert.equal(json(u), { action: 'update', node: { key: '/b', value: 'w', modifiedIndex: 4, createdIndex: 3 }, prevNode: { key: '/b', value: 'v', expiration: '2027-01-15T08:01:40Z', ttl: 100, modifiedIndex: 3, createdIndex: 3 } })
  set(s, '/c', 'v', { ttlSeconds: 100 })
  assert.is(ok(s, { op: 'set', key: '/c', value: 'w', prevValue: 'v' }).node.ttl, undefined)
  assert.not.ok(s.hasTtlKeys())
  assert.equal(s.expire(T0 + 1e9), [])
})

test('TTL-4 update/CAS with ttl set a new expiration', () => {
  const s = new Store()
  set(s, '/a', 'v', { ttlSeconds: 100 })
  assert.is(ok(s, { op: 'set', key: '/a', value: 'v2', prevExist: true, ttlSeconds: 5 }, T0 + 1000).node.ttl, 5)
  assert.is(s.nextExpiryMs(), T0 + 6000)
  assert.is(ok(s, { op: 'set', key: '/a', value: 'v3', prevIndex: 2, ttlSeconds: 7 }, T0 + 1000).node.expiration, '2027-01-15T08:00:08Z')
  assert.is(s.nextExpiryMs(), T0 + 8000)
})

test('TTL-4 delete/replace removes the pending expiry of the old node', () => {
  const s = new Store()
  set(s, '/a', 'v', { ttlSeconds: 1 })
  set(s, '/a', 'w')
  set(s, '/b', 'v', { ttlSeconds: 1 })
  ok(s, { op: 'delete', key: '/b' })
  assert.not.ok(s.hasTtlKeys())
  assert.equal(s.expire(T0 + 5000), [])
  assert.is(s.get('/a', {}, T0 + 5000).node.value, 'w')
})

test('TTL-5 refresh with prevExist=true -> update, value and createdIndex kept', () => {
  const s = new Store()
  set(s, '/t/r', 'v', { ttlSeconds: 100 })
  const e = ok(s, { op: 'set', key: '/t/r', refresh: true, prevExist: true, ttlSeconds: 200 }, T0 + 1000)
  assert.equal(json(e), {
    action: 'update',
    node: { key: '/t/r', value: 'v', expiration: '2027-01-15T08:03:21Z', ttl: 200, modifiedIndex: 2, createdIndex: 1 },
    prevNode: { key: '/t/r', value: 'v', expiration: '2027-01-15T08:01:40Z', ttl: 99, modifiedIndex: 1, createdIndex: 1 },
  })
  assert.ok(e.refresh)
})

test('TTL-5 refresh without prevExist -> set, node re-created with prevNode (200)', () => {
  const s = new Store()
  set(s, '/t/r', 'v', { ttlSeconds: 100 })
  const e = ok(s, { op: 'set', key: '/t/r', refresh: true, ttlSeconds: 300 })
  assert.is(e.action, 'set')
  assert.is(e.status, 200)
  assert.equal(e.node, { key: '/t/r', value: 'v', expiration: '2027-01-15T08:05:00Z', ttl: 300, modifiedIndex: 2, createdIndex: 2 })
})

test('TTL-5 refresh with prevValue -> compareAndSwap, conditions checked', () => {
  const s = new Store()
  set(s, '/t/r', 'v', { ttlSeconds: 100 })
  assert.is(fail(s, { op: 'set', key: '/t/r', refresh: true, prevValue: 'x', ttlSeconds: 5 }, 101).cause, '[x != v]')
  const e = ok(s, { op: 'set', key: '/t/r', refresh: true, prevValue: 'v', ttlSeconds: 5 })
  assert.equal([e.action, e.node.value, e.node.ttl], ['compareAndSwap', 'v', 5])
})

test('TTL-5 refresh with prevExist=false -> create, 105 on an existing key', () => {
  const s = new Store()
  set(s, '/t/r', 'v', { ttlSeconds: 100 })
  fail(s, { op: 'set', key: '/t/r', refresh: true, prevExist: false, ttlSeconds: 5 }, 105)
})

test('TTL-5 refresh of a missing key -> 404/100', () => {
  const s = new Store()
  set(s, '/t/x', 'v')
  assert.equal(fail(s, { op: 'set', key: '/t/none', refresh: true, ttlSeconds: 5 }, 100).toJSON(), { errorCode: 100, message: 'Key not found', cause: '/t/none', index: 1 })
})

test('TTL-5 a directory TTL can be refreshed with prevExist=true', () => {
  const s = new Store()
  ok(s, { op: 'set', key: '/d', dir: true, ttlSeconds: 10 })
  const e = ok(s, { op: 'set', key: '/d', refresh: true, prevExist: true, ttlSeconds: 60 })
  assert.equal([e.action, e.node.dir, e.node.ttl], ['update', true, 60])
})

test('TTL-5 refresh consumes an index but no watcher sees it (WATCH-7)', async () => {
  const s = new Store()
  set(s, '/w/r', 'v', { ttlSeconds: 100 })
  const w = s.watch('/w/r', {})
  ok(s, { op: 'set', key: '/w/r', refresh: true, prevExist: true, ttlSeconds: 100 })
  assert.is(s.index, 2)
  set(s, '/w/r', 'after')
  const e = await w.next()
  assert.is(e!.node.value, 'after')
  assert.is(e!.prevNode!.modifiedIndex, 2)
})

test('TTL-6 a sweep removes every node expired at its time, earliest first, one index each', () => {
  const s = new Store()
  set(s, '/b', 'v', { ttlSeconds: 2 })
  set(s, '/a', 'v', { ttlSeconds: 1 })
  set(s, '/c', 'v', { ttlSeconds: 2 })
  set(s, '/later', 'v', { ttlSeconds: 10 })
  assert.equal(s.expire(T0 + 999), [])
  const evs = s.expire(T0 + 2000)
  assert.equal(evs.map((e) => [e.key, e.index]), [['/a', 5], ['/b', 6], ['/c', 7]])
  assert.equal(json(evs[0]), { action: 'expire', node: { key: '/a', modifiedIndex: 5, createdIndex: 2 }, prevNode: { key: '/a', value: 'v', expiration: '2027-01-15T08:00:01Z', ttl: -1, modifiedIndex: 2, createdIndex: 2 } })
  assert.is(s.index, 7)
  assert.is(s.nextExpiryMs(), T0 + 10_000)
  assert.is(getErr(s, '/a', T0 + 2000).errorCode, 100)
})

test('TTL-6 apply({op:"expire"}) is the replicated sweep; expired-but-unswept nodes stay readable', () => {
  const s = new Store()
  set(s, '/a', 'v', { ttlSeconds: 1 })
  assert.is(s.get('/a', {}, T0 + 5000).node.value, 'v')
  assert.is(s.apply({ op: 'expire' }, T0 + 5000), null)
  assert.is(getErr(s, '/a', T0 + 5000).errorCode, 100)
  assert.is(s.index, 2)
})

test('TTL-7 a directory expires with its subtree as one event; descendant watchers get it', async () => {
  const s = new Store()
  ok(s, { op: 'set', key: '/t/edir', dir: true, ttlSeconds: 1 })
  set(s, '/t/edir/child', 'c', { ttlSeconds: 100 })
  set(s, '/t/edir/sub/leaf', 'l')
  const w = s.watch('/t/edir/child', {})
  const w2 = s.watch('/t/edir/sub/leaf', {})
  const evs = s.expire(T0 + 1000)
  assert.is(evs.length, 1)
  const want = { action: 'expire', node: { key: '/t/edir', dir: true, modifiedIndex: 4, createdIndex: 1 }, prevNode: { key: '/t/edir', dir: true, expiration: '2027-01-15T08:00:01Z', modifiedIndex: 1, createdIndex: 1 } }
  assert.equal(json(evs[0]), want)
  assert.equal(json((await w.next())!), want)
  assert.equal(json((await w2.next())!), want)
  assert.not.ok(s.hasTtlKeys(), 'the child TTL went with the directory')
})

test('TTL-8 a directory TTL changes with prevExist=true and ttl; ttl absent makes it permanent; a value -> 102', () => {
  const s = new Store()
  ok(s, { op: 'set', key: '/t/dir', dir: true, ttlSeconds: 100 })
  const e = ok(s, { op: 'set', key: '/t/dir', dir: true, prevExist: true, ttlSeconds: 200 })
  assert.equal(e.node, { key: '/t/dir', dir: true, expiration: '2027-01-15T08:03:20Z', ttl: 200, modifiedIndex: 2, createdIndex: 1 })
  const p = ok(s, { op: 'set', key: '/t/dir', prevExist: true })
  assert.equal(p.node, { key: '/t/dir', dir: true, modifiedIndex: 3, createdIndex: 1 })
  assert.equal(fail(s, { op: 'set', key: '/t/dir', prevExist: true, value: 'x' }, 102).cause, '/t/dir')
})

test('TTL-9 each expiry increments expireCount', () => {
  const s = new Store()
  set(s, '/a', 'v', { ttlSeconds: 1 })
  ok(s, { op: 'set', key: '/d', dir: true, ttlSeconds: 1 })
  set(s, '/d/x', 'v', { ttlSeconds: 1 })
  s.expire(T0 + 1000)
  assert.is(s.stats().expireCount, 2)
})

test('TTL-10 expirations are absolute and survive snapshots; overdue nodes go at the first sweep', () => {
  const s = new Store()
  set(s, '/a', 'v', { ttlSeconds: 1 })
  set(s, '/b', 'v', { ttlSeconds: 100 })
  const r = Store.fromSnapshot(s.toSnapshot())
  assert.is(r.nextExpiryMs(), T0 + 1000)
  assert.is(r.get('/b', {}, T0 + 50_000).node.ttl, 50)
  const evs = r.expire(T0 + 60_000)
  assert.equal(evs.map((e) => [e.key, e.index]), [['/a', 3]])
})

test.run()

// WATCH requirements at the store level: history scans, live matching, streams, buffers, counts.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Store, StoreError, HISTORY_CAPACITY, WATCHER_BUFFER } from '../../server/store/index.js'
import { T0, ok, set } from './helpers.js'

/** Resolves to 'pending' if `p` has not settled once the microtask queue drained, else its value. */
async function peek(p: Promise<unknown>): Promise<unknown> {
  return Promise.race([p, new Promise((r) => setImmediate(() => r('pending')))])
}

test('WATCH-2 waitIndex <= current returns the first matching history event at once', async () => {
  const s = new Store()
  const e1 = set(s, '/w/key', '1')
  const e2 = set(s, '/w/key', '2')
  set(s, '/w/other', 'x')
  assert.is(await s.watch('/w/key', { sinceIndex: e1.index }).next(), e1)
  assert.is(await s.watch('/w/key', { sinceIndex: e1.index + 1 }).next(), e2)
  assert.is(s.stats().watchers, 0, 'satisfied from history: never registered')
})

test('WATCH-2 no match in history -> waits for a future event; absent/0 waitIndex = current+1', async () => {
  const s = new Store()
  set(s, '/w/key', '1')
  const w = s.watch('/w/key', { sinceIndex: 0 })
  const w2 = s.watch('/w/other', { sinceIndex: 1 })
  const p = w.next()
  assert.is(await peek(p), 'pending')
  assert.is(s.stats().watchers, 2)
  const e = set(s, '/w/key', '2')
  assert.is(await p, e)
  assert.is(await w.next(), null, 'one-shot: done after one event')
  assert.is(s.stats().watchers, 1)
  w2.remove()
})

test('WATCH-3 recursive watch sees descendants; non-recursive only the key itself', async () => {
  const s = new Store()
  const r = s.watch('/w/dir', { recursive: true })
  const n = s.watch('/w/dir', {})
  const e = set(s, '/w/dir/a/b', 'deep')
  assert.is(await r.next(), e)
  assert.is(await peek(n.next()), 'pending')
  n.remove()
})

test('WATCH-3 a recursive watch on /w does not match /wx (prefix is key + "/")', async () => {
  const s = new Store()
  const w = s.watch('/w', { recursive: true })
  set(s, '/wx', '1')
  assert.is(await peek(w.next()), 'pending')
  const h = s.watch('/w', { recursive: true, sinceIndex: 1 })
  assert.is(await peek(h.next()), 'pending')
  w.remove(); h.remove()
})

test('WATCH-3 delete/expire of an ancestor directory reaches the watcher with the ancestor key', async () => {
  const s = new Store()
  set(s, '/w/p/c/leaf', 'l')
  const w = s.watch('/w/p/c/leaf', {})
  const e = ok(s, { op: 'delete', key: '/w/p', recursive: true })
  const got = await w.next()
  assert.is(got, e)
  assert.is(got!.key, '/w/p')
  const h = await s.watch('/w/p/c/leaf', { sinceIndex: 2 }).next()
  assert.is(h, e, 'history scan matches the ancestor delete too')
})

test('WATCH-4 a non-recursive watch on a directory sees its own set/update/delete, not children', async () => {
  const s = new Store()
  ok(s, { op: 'set', key: '/w/dir', dir: true, ttlSeconds: 10 })
  const w = s.watch('/w/dir', { stream: true })
  set(s, '/w/dir/c', 'child')
  const u = ok(s, { op: 'set', key: '/w/dir', prevExist: true, ttlSeconds: 20 })
  const d = ok(s, { op: 'delete', key: '/w/dir', recursive: true })
  assert.is(await w.next(), u)
  assert.is(await w.next(), d)
  w.remove()
  assert.is(await w.next(), null)
})

test('WATCH-5 watching a key that does not exist is allowed; its creation is the event', async () => {
  const s = new Store()
  const w = s.watch('/w/nokey', {})
  const e = set(s, '/w/nokey', 'born')
  const got = await w.next()
  assert.is(got, e)
  assert.is(got!.body(), '{"action":"set","node":{"key":"/w/nokey","value":"born","modifiedIndex":1,"createdIndex":1}}\n')
})

test('WATCH-6 watchers get the same event (same JSON text) the write returned, expire included', async () => {
  const s = new Store()
  set(s, '/t/exp', 'v', { ttlSeconds: 1 })
  const w = s.watch('/t/exp', {})
  const [x] = s.expire(T0 + 1000)
  const got = await w.next()
  assert.is(got, x)
  assert.is(got!.body(), '{"action":"expire","node":{"key":"/t/exp","modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/t/exp","value":"v","expiration":"2027-01-15T08:00:01Z","modifiedIndex":1,"createdIndex":1}}\n')
})

test('WATCH-7 refresh writes are never delivered and are skipped by history scans', async () => {
  const s = new Store()
  set(s, '/w/r', 'v', { ttlSeconds: 100 })
  const live = s.watch('/w/r', { stream: true })
  const r = ok(s, { op: 'set', key: '/w/r', refresh: true, prevExist: true, ttlSeconds: 100 })
  const p = live.next()
  assert.is(await peek(p), 'pending')
  const after = set(s, '/w/r', 'after')
  assert.is(await p, after)
  assert.is(await s.watch('/w/r', { sinceIndex: r.index }).next(), after)
  live.remove()
})

test('WATCH-8 stream watchers receive every matching event until removed', async () => {
  const s = new Store()
  const w = s.watch('/w/s', { recursive: true, stream: true })
  const a = set(s, '/w/s/1', '1')
  const b = set(s, '/w/s/2', '2')
  assert.is(await w.next(), a)
  assert.is(await w.next(), b)
  const c = set(s, '/w/s/3', '3')
  assert.is(await w.next(), c)
  assert.not.ok(w.closed)
  const pending = w.next()
  w.remove()
  assert.is(await pending, null)
})

test('WATCH-8 a stream watch with waitIndex replays every matching history event, then goes live', async () => {
  const s = new Store()
  const a = set(s, '/w/s/1', '1')
  set(s, '/x', '1')
  const b = set(s, '/w/s/2', '2')
  const w = s.watch('/w/s', { recursive: true, stream: true, sinceIndex: 1 })
  assert.is(await w.next(), a)
  assert.is(await w.next(), b)
  const c = set(s, '/w/s/3', '3')
  assert.is(await w.next(), c)
  assert.is(s.stats().watchers, 1)
  w.remove()
})

test('WATCH-10 the history keeps the last 1000 events; older waitIndex -> 401 (HTTP 400) with etcd cause', async () => {
  const s = new Store()
  for (let i = 0; i < 1100; i++) set(s, '/w/burst', 'x')
  assert.is(HISTORY_CAPACITY, 1000)
  const oldest = s.index - 999
  const got = await s.watch('/w/burst', { sinceIndex: oldest }).next()
  assert.is(got!.index, oldest)
  try {
    s.watch('/w/key', { sinceIndex: oldest - 1 })
    assert.unreachable('expected 401')
  } catch (e) {
    assert.instance(e, StoreError)
    const err = e as StoreError
    assert.equal(err.toJSON(), { errorCode: 401, message: 'The event in requested index is outdated and cleared', cause: `the requested history has been cleared [${oldest}/${oldest - 1}]`, index: 1100 })
    assert.is(err.status, 400)
  }
  assert.is(s.stats().watchers, 0)
})

test('WATCH-12 a stream watcher that falls 100 events behind is dropped after delivering its buffer', async () => {
  const s = new Store()
  const w = s.watch('/w', { recursive: true, stream: true })
  for (let i = 0; i < WATCHER_BUFFER + 5; i++) set(s, '/w/k', String(i))
  assert.ok(w.closed)
  assert.ok(w.overflowed)
  assert.is(s.stats().watchers, 0)
  let n = 0
  while ((await w.next()) !== null) n++
  assert.is(n, WATCHER_BUFFER)
})

test('WATCH-12 a consumer that keeps up is never dropped', async () => {
  const s = new Store()
  const w = s.watch('/w', { recursive: true, stream: true })
  for (let i = 0; i < 500; i++) {
    const p = w.next()
    set(s, '/w/k', String(i))
    assert.is((await p)!.node.value, String(i))
  }
  assert.not.ok(w.closed)
  w.remove()
})

test('WATCH-12 a consumer that stays a few events behind for a long stream keeps working (ring buffer)', async () => {
  const s = new Store()
  const w = s.watch('/w', { recursive: true, stream: true })
  for (let i = 0; i < 50; i++) set(s, '/w/k', String(i))
  for (let i = 50; i < 5000; i++) {
    set(s, '/w/k', String(i))
    assert.is((await w.next())!.node.value, String(i - 50))
  }
  assert.not.ok(w.closed)
  for (let i = 4950; i < 5000; i++) assert.is((await w.next())!.node.value, String(i))
  w.remove()
  assert.is(await w.next(), null)
})

test('WATCH-13 watchers are counted while registered; remove() is idempotent', () => {
  const s = new Store()
  const ws = [s.watch('/a', {}), s.watch('/a', {}), s.watch('/b', { recursive: true, stream: true })]
  assert.is(s.stats().watchers, 3)
  ws[0].remove()
  ws[0].remove()
  assert.is(s.stats().watchers, 2)
  set(s, '/a', '1')
  assert.is(s.stats().watchers, 1)
  ws[2].remove()
  assert.is(s.stats().watchers, 0)
})

test('WATCH-14 a future waitIndex ignores earlier matching events', async () => {
  const s = new Store()
  set(s, '/w/key', '1')
  const w = s.watch('/w/key', { sinceIndex: 3 })
  set(s, '/w/key', '2')
  const e3 = set(s, '/w/key', '3')
  assert.is(await w.next(), e3)
})

test('WATCH-15 etcdIndex of a watcher is the store index at registration, also for history hits', async () => {
  const s = new Store()
  const e1 = set(s, '/w/key', '1')
  set(s, '/w/key', '2')
  const h = s.watch('/w/key', { sinceIndex: e1.index })
  assert.is(h.etcdIndex, 2)
  assert.is((await h.next())!.index, 1)
  const l = s.watch('/w/key', {})
  set(s, '/w/key', '3')
  assert.is(l.etcdIndex, 2)
})

test('WATCH-17 a recursive watch on the root sees every non-hidden event', async () => {
  const s = new Store()
  const w = s.watch('/', { recursive: true, stream: true })
  set(s, '/_hidden', 'x')
  set(s, '/a/_h/b', 'x')
  const e = set(s, '/w/fromroot', 'r')
  assert.is(await w.next(), e)
  assert.is(await peek(w.next()), 'pending')
  w.remove()
  assert.is((await s.watch('', { recursive: true, sinceIndex: 1 }).next())!.key, '/_hidden', 'history scan: no hidden filter')
})

test('WATCH-18 scan quirk: a directory delete matches keys sharing its string prefix; live does not', async () => {
  const s = new Store()
  set(s, '/a/x', '1')
  const live = s.watch('/ab', {})
  const d = ok(s, { op: 'delete', key: '/a', recursive: true })
  assert.is(await peek(live.next()), 'pending')
  assert.is(await s.watch('/ab', { sinceIndex: 1 }).next(), d)
  live.remove()
})

test('WATCH-18 scan: a file delete does not match other keys by prefix', async () => {
  const s = new Store()
  set(s, '/a', '1')
  ok(s, { op: 'delete', key: '/a' })
  const w = s.watch('/ab', { sinceIndex: 1 })
  assert.is(await peek(w.next()), 'pending')
  w.remove()
})

test('WATCH-16 events are those this store applied: two stores see the same events for the same log', async () => {
  const a = new Store()
  const b = new Store()
  const wa = a.watch('/k', {})
  const wb = b.watch('/k', {})
  for (const s of [a, b]) set(s, '/k', 'v')
  assert.is((await wa.next())!.body(), (await wb.next())!.body())
})

test('WATCH-8 next() called twice while pending returns the same promise: nothing lost or duplicated', async () => {
  const s = new Store()
  const w = s.watch('/k', { stream: true })
  const p1 = w.next()
  const p2 = w.next()
  assert.is(p1, p2)
  const a = set(s, '/k', '1')
  const b = set(s, '/k', '2')
  assert.is(await p1, a)
  assert.is(await w.next(), b)
  w.remove()
})

test.run()

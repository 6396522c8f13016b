// Determinism (same commands -> same results and snapshots) and snapshot round-trip (CONS-3,
// CONS-4, TTL-10): tree, TTL keys, hidden keys, history and index survive; indexes continue.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Store, StoreEvent, StoreError, type Command } from '../../server/store/index.js'
import { T0, ok, set } from './helpers.js'

/** mulberry32: a small seeded generator so the workload is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A random but reproducible log of commands with times. */
function workload(seed: number, n: number): [Command, number][] {
  const r = prng(seed)
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]
  const keys = ['/a', '/a/b', '/a/c', '/_h', '/_h/x', '/d/e/f', '/q', '/d', '/a/_y', '/z']
  const out: [Command, number][] = []
  let now = T0
  for (let i = 0; i < n; i++) {
    now += Math.floor(r() * 400)
    const key = pick(keys)
    const ttl = r() < 0.3 ? Math.floor(r() * 5) : null
    const x = r()
    let cmd: Command
    if (x < 0.3) cmd = { op: 'set', key, value: String(i), ttlSeconds: ttl, dir: r() < 0.1 }
    else if (x < 0.4) cmd = { op: 'set', key, value: String(i), prevExist: r() < 0.5, ttlSeconds: ttl }
    else if (x < 0.5) cmd = { op: 'set', key, value: String(i), prevIndex: Math.floor(r() * i) + 1, ttlSeconds: ttl }
    else if (x < 0.55) cmd = { op: 'set', key, refresh: true, prevExist: true, ttlSeconds: 3 }
    else if (x < 0.65) cmd = { op: 'post', key, value: String(i), ttlSeconds: ttl }
    else if (x < 0.8) cmd = { op: 'delete', key, recursive: r() < 0.5, dir: r() < 0.5 }
    else if (x < 0.85) cmd = { op: 'delete', key, prevIndex: Math.floor(r() * i) + 1 }
    else if (x < 0.9) cmd = { op: 'internal' }
    else cmd = { op: 'expire' }
    out.push([cmd, now])
  }
  return out
}

function describe(r: StoreEvent | StoreError | null): string {
  return r === null ? 'null' : r.body()
}

test('CONS-3 determinism: two stores fed the same commands give identical results and snapshots', () => {
  for (const seed of [1, 2, 3, 42]) {
    const log = workload(seed, 3000)
    const a = new Store()
    const b = new Store()
    const wa = a.watch('/', { recursive: true, stream: true })
    for (const [cmd, now] of log) {
      // Round-trip through JSON as the command would travel through Raft.
      assert.is(describe(a.apply(cmd, now)), describe(b.apply(JSON.parse(JSON.stringify(cmd)) as Command, now)))
    }
    assert.is(a.index, b.index)
    assert.is(a.toSnapshot(), b.toSnapshot(), `seed ${seed}`)
    wa.remove()
    assert.ok(a.index > 500, 'the workload made progress')
  }
})

test('CONS-4 snapshot round-trip: dirs, TTL keys, hidden keys and history; restored store equals the original', () => {
  const s = new Store()
  set(s, '/a/b/c', '1')
  ok(s, { op: 'set', key: '/d', dir: true, ttlSeconds: 50 })
  set(s, '/d/x', 'x', { ttlSeconds: 20 })
  set(s, '/_hidden/k', 'h')
  set(s, '/e', '')
  ok(s, { op: 'post', key: '/q', value: 'job' })
  ok(s, { op: 'set', key: '/d', prevExist: true, ttlSeconds: 60 }) // DIR-7: stored modifiedIndex stays 2
  set(s, '/v', 'quote " <&> é \n')
  const snap = s.toSnapshot()
  const r = Store.fromSnapshot(snap)
  assert.is(r.toSnapshot(), snap)
  assert.is(r.index, s.index)
  for (const key of ['/', '/a', '/d', '/_hidden', '/q', '/v', '/e']) {
    for (const opts of [{}, { recursive: true }, { recursive: true, sorted: true }]) {
      assert.is(r.get(key, opts, T0 + 1000).body(), s.get(key, opts, T0 + 1000).body(), key)
    }
  }
  assert.is(r.nextExpiryMs(), s.nextExpiryMs())
  assert.ok(r.hasTtlKeys())
})

test('CONS-4 a restored store continues indexes and in-order names', () => {
  const s = new Store()
  set(s, '/a', '1')
  set(s, '/a', '2')
  const r = Store.fromSnapshot(s.toSnapshot())
  assert.is(set(r, '/b', '1').index, 3)
  assert.is(ok(r, { op: 'post', key: '/q' }).key, '/q/00000000000000000004')
})

test('CONS-4 a restored store replays the same history to waitIndex watches and expires the same keys', async () => {
  const s = new Store()
  set(s, '/w/k', '1', { ttlSeconds: 2 })
  ok(s, { op: 'set', key: '/w/k', refresh: true, prevExist: true, ttlSeconds: 3 })
  set(s, '/w/j', '1', { ttlSeconds: 1 })
  ok(s, { op: 'delete', key: '/w/j' })
  const r = Store.fromSnapshot(s.toSnapshot())
  for (const since of [1, 2, 3, 4]) {
    const a = await s.watch('/w', { recursive: true, sinceIndex: since }).next()
    const b = await r.watch('/w', { recursive: true, sinceIndex: since }).next()
    assert.is(b!.body(), a!.body(), `since ${since}`)
    assert.is(b!.refresh, false)
  }
  assert.equal(r.expire(T0 + 10_000).map((e) => e.body()), s.expire(T0 + 10_000).map((e) => e.body()))
})

test('CONS-4 history in a snapshot is bounded (last 1000 events) and 401 boundaries survive', () => {
  const s = new Store()
  for (let i = 0; i < 1500; i++) set(s, '/k', String(i))
  const r = Store.fromSnapshot(s.toSnapshot())
  assert.throws(() => r.watch('/k', { sinceIndex: 500 }), (e: StoreError) => e.errorCode === 401 && e.cause === 'the requested history has been cleared [501/500]')
  const w = r.watch('/k', { sinceIndex: 501 })
  assert.ok(w.closed, 'satisfied from history')
})

test('CONS-4 snapshots are compact JSON with a version field; unknown versions are refused', () => {
  const snap = JSON.parse(new Store().toSnapshot())
  assert.equal(snap, { version: 1, index: 0, root: [], history: [] })
  assert.throws(() => Store.fromSnapshot('{"version":2}'), /unsupported/)
})

test('CONS-4 recover() installs a snapshot in place; registered watchers survive and see later events', async () => {
  const leader = new Store()
  for (let i = 0; i < 5; i++) set(leader, '/k', String(i))
  const follower = new Store()
  const w = follower.watch('/k', { stream: true })
  const before = follower.watch('/k', {})
  follower.recover(leader.toSnapshot())
  assert.is(follower.toSnapshot(), leader.toSnapshot())
  assert.is(follower.stats().watchers, 2)
  const e = set(follower, '/k', 'after')
  assert.is(e.index, 6)
  assert.is(await w.next(), e)
  assert.is(await before.next(), e)
  w.remove()
})

test.run()

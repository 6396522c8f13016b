// Determinism (same commands -> same results and snapshots) and snapshot round-trip (CONS-3,
// CONS-4, TTL-10): tree, TTL keys, hidden keys, history and index survive; indexes continue.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { SnapshotEncoder, Store, StoreEvent, StoreError, encodeCapture, type Command } from '../../server/store/index.js'
import { T0, ok, set } from './helpers.js'
import { mulberry32 as prng } from '../support/prng.js'

/** mulberry32: a small seeded generator so the workload is the same on every run. */
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

/** Runs the encoder to the end in slices of at most `items` nodes/events; returns the pieces. */
function encodeInSlices(enc: SnapshotEncoder, items: number, chars?: number): string[] {
  const out: string[] = []
  while (!enc.done) out.push(enc.next(items, chars))
  return out
}

/** A store with awkward content: nested and empty dirs, TTLs (fractional too), hidden keys, escapes. */
function awkwardStore(): Store {
  const s = new Store()
  set(s, '/a/b/c', '1')
  ok(s, { op: 'set', key: '/empty', dir: true })
  ok(s, { op: 'set', key: '/a/deep/er/est', dir: true })
  ok(s, { op: 'set', key: '/d', dir: true, ttlSeconds: 50 })
  set(s, '/d/x', 'x', { ttlSeconds: 20 }, T0 + 0.25)
  set(s, '/_hidden/k', 'h')
  set(s, '/a/_y', 'hidden file')
  set(s, '/e', '')
  ok(s, { op: 'post', key: '/q', value: 'job' })
  ok(s, { op: 'post', key: '/q', value: 'job2', ttlSeconds: 0 })
  set(s, '/v', 'quote " <&> é \n \u2028 \b \u0001 😀 \ud800 tail')
  set(s, '/é/😀"\\', 'name escapes')
  ok(s, { op: 'set', key: '/d', prevExist: true, ttlSeconds: 60 })
  ok(s, { op: 'delete', key: '/a/b', recursive: true })
  s.apply({ op: 'internal' }, T0)
  return s
}

test('incremental encoder: byte-equal to toSnapshot() on random stores, for any slice size', () => {
  const stores: Store[] = [new Store(), awkwardStore()]
  for (const seed of [5, 6, 7, 8]) {
    const st = new Store()
    for (const [cmd, now] of workload(seed, 2500)) st.apply(cmd, now)
    stores.push(st)
  }
  // Many keys in one directory and long runs of files, beyond the history's 1000 events.
  const wide = new Store()
  for (let i = 0; i < 3000; i++) set(wide, `/w/${i % 7}/k${i}`, `v${i}`, i % 5 === 0 ? { ttlSeconds: i } : {})
  stores.push(wide)
  for (const st of stores) {
    const want = st.toSnapshot()
    assert.is(encodeCapture(st.captureSnapshot()), want)
    for (const items of [1, 2, 3, 7, 64, 1000]) {
      const pieces = encodeInSlices(new SnapshotEncoder(st.captureSnapshot()), items)
      assert.is(pieces.join(''), want, `slices of ${items}`)
    }
    // A small character budget cuts slices early as well.
    assert.is(encodeInSlices(new SnapshotEncoder(st.captureSnapshot()), 1000, 100).join(''), want)
    // The parsed form restores to the same store.
    const r = new Store()
    r.recoverParsed(JSON.parse(want))
    assert.is(r.toSnapshot(), want)
  }
})

test('incremental encoder: slices are bounded by the node budget', () => {
  const st = new Store()
  for (let i = 0; i < 5000; i++) set(st, `/k/${i % 10}/${i}`, 'x')
  const enc = new SnapshotEncoder(st.captureSnapshot())
  let slices = 0
  let prev = 0
  while (!enc.done) {
    enc.next(100)
    assert.ok(enc.nodesWritten - prev <= 100, `a slice wrote ${enc.nodesWritten - prev} nodes`)
    prev = enc.nodesWritten
    slices++
  }
  // 5011 nodes and 1000 history events, 100 per slice.
  assert.ok(slices >= 60, `${slices} slices`)
  assert.is(enc.next(), '', 'nothing after done')
})

test('capture: unaffected by set/delete/expire/mkdir/overwrite applied while the encoding is in progress', () => {
  for (const seed of [11, 12, 13]) {
    const st = new Store()
    const log = workload(seed, 4000)
    for (const [cmd, now] of log.slice(0, 2000)) st.apply(cmd, now)
    for (let i = 0; i < 200; i++) set(st, `/bulk/${i % 9}/k${i}`, `v${i}`, i % 3 === 0 ? { ttlSeconds: 1 } : {})
    const want = st.toSnapshot()
    const enc = new SnapshotEncoder(st.captureSnapshot())
    const pieces: string[] = []
    let t = log[1999][1]
    let k = 2000
    while (!enc.done) {
      pieces.push(enc.next(5))
      // Between slices the store moves on: random commands, rewrites of captured keys, deletes of
      // captured directories, expiry of captured TTL keys, new directories, more than a full
      // history's worth of events.
      for (let j = 0; j < 4 && k < log.length; j++, k++) st.apply(log[k][0], (t = log[k][1]))
      const i = pieces.length
      if (i % 7 === 0) ok(st, { op: 'set', key: `/bulk/${i % 9}/k${i}`, value: 'changed' })
      if (i % 11 === 0) st.apply({ op: 'delete', key: `/bulk/${i % 9}`, recursive: true }, t)
      if (i % 13 === 0) st.expire(t + 5_000)
      if (i % 17 === 0) st.apply({ op: 'set', key: `/newdir${i}`, dir: true }, t)
    }
    assert.is(pieces.join(''), want, `seed ${seed}`)
    assert.is.not(st.toSnapshot(), want, 'the store did change meanwhile')
  }
})

test('capture of 100k keys is cheap (generous bound: < 100 ms; measured ~10-20 ms)', () => {
  const st = new Store()
  for (let i = 0; i < 100_000; i++) set(st, `/bench/k${i}`, 'v')
  let best = Infinity
  for (let r = 0; r < 3; r++) {
    const t = performance.now()
    const cap = st.captureSnapshot()
    best = Math.min(best, performance.now() - t)
    assert.is(cap.size, 100_001)
  }
  assert.ok(best < 100, `capture took ${best.toFixed(1)} ms`)
})

test('recoverParsed(): the parsed JSON of a snapshot; unknown versions are refused and change nothing', () => {
  const s = awkwardStore()
  const r = new Store()
  set(r, '/keep', 'me')
  const before = r.toSnapshot()
  assert.throws(() => r.recoverParsed({ version: 2 }), /unsupported/)
  assert.throws(() => r.recoverParsed(null), /unsupported/)
  assert.throws(() => r.recoverParsed({ version: 1 }), /malformed/)
  assert.is(r.toSnapshot(), before)
  r.recoverParsed(JSON.parse(s.toSnapshot()))
  assert.is(r.toSnapshot(), s.toSnapshot())
})

test.run()

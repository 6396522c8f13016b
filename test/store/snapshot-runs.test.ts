// The snapshot encoder's run cache: a store encoded again and again while it changes between (and
// during) encodings must give exactly toSnapshot()'s text every time, while most of the text comes
// from the cache.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RunCache, SnapshotEncoder, Store, encodeCapture, type Command } from '../../server/store/index.js'
import { T0, ok, set } from './helpers.js'
import { mulberry32 as prng } from '../support/prng.js'

/** Encodes a capture in slices of random size (1..2000 nodes, sometimes a small character budget). */
function encodeRandomSlices(st: Store, r: () => number): string {
  const enc = new SnapshotEncoder(st.captureSnapshot())
  let s = ''
  while (!enc.done) s += enc.next(1 + Math.floor(r() * 2000), r() < 0.2 ? 1 + Math.floor(r() * 5000) : undefined)
  return s
}

/**
 * Random changes to a store of a few wide directories: overwrite with a new or the same value, a
 * compare-and-swap, delete and re-create under the same name, TTLs set, refreshed and expired,
 * whole directories deleted, new files appended.
 */
function mutate(st: Store, r: () => number, now: number, names: number): void {
  const key = (): string => `/w/d${Math.floor(r() * 4)}/k${Math.floor(r() * names)}`
  const n = 1 + Math.floor(r() * 8)
  for (let j = 0; j < n; j++) {
    const x = r()
    const k = key()
    let cmd: Command
    if (x < 0.25) cmd = { op: 'set', key: k, value: `v${Math.floor(r() * 3)}` }
    else if (x < 0.35) cmd = { op: 'set', key: k, value: `v${Math.floor(r() * 3)}`, prevValue: `v${Math.floor(r() * 3)}` }
    else if (x < 0.5) cmd = { op: 'delete', key: k }
    else if (x < 0.6) cmd = { op: 'set', key: k, value: 'ttl', ttlSeconds: 1 + Math.floor(r() * 3) }
    else if (x < 0.65) cmd = { op: 'set', key: k, refresh: true, prevExist: true, ttlSeconds: 5 }
    else if (x < 0.7) cmd = { op: 'expire' }
    else if (x < 0.72) cmd = { op: 'delete', key: `/w/d${Math.floor(r() * 4)}`, recursive: true }
    else if (x < 0.8) cmd = { op: 'post', key: `/w/q${Math.floor(r() * 2)}`, value: 'job' }
    else cmd = { op: 'set', key: `/w/d${Math.floor(r() * 4)}/new${Math.floor(r() * 1e6)}`, value: 'n' }
    st.apply(cmd, now + j)
  }
}

test('an encoding from cached runs equals toSnapshot(), whatever changed since the last one', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const r = prng(seed)
    const st = new Store()
    const names = 800
    for (let i = 0; i < 3000; i++) set(st, `/w/d${i % 4}/k${i % names}`, `v${i % 3}`, i % 9 === 0 ? { ttlSeconds: 2 } : {}, T0 + i)
    let now = T0 + 10_000
    for (let round = 0; round < 40; round++) {
      const want = st.toSnapshot()
      assert.is(encodeRandomSlices(st, r), want, `seed ${seed} round ${round}`)
      now += Math.floor(r() * 1500)
      mutate(st, r, now, names)
    }
    assert.ok(st.snapshotRuns.hits > 3 * st.snapshotRuns.misses, `seed ${seed}: ${st.snapshotRuns.hits} runs reused, ${st.snapshotRuns.misses} encoded`)
  }
})

test('cached runs are checked against the capture, not against the store as it is now', () => {
  const r = prng(9)
  const st = new Store()
  for (let i = 0; i < 2000; i++) set(st, `/w/d${i % 3}/k${i}`, `v${i}`)
  encodeCapture(st.captureSnapshot())
  // Changes made while an encoding runs must not show in it, cached runs or not.
  const want = st.toSnapshot()
  const enc = new SnapshotEncoder(st.captureSnapshot())
  let s = ''
  let now = T0 + 100
  while (!enc.done) {
    s += enc.next(50)
    mutate(st, r, (now += 10), 2000)
    ok(st, { op: 'set', key: `/w/d${Math.floor(r() * 3)}/k${Math.floor(r() * 2000)}`, value: 'changed' }, now)
  }
  assert.is(s, want)
  assert.is(encodeCapture(st.captureSnapshot()), st.toSnapshot())
})

test('a value replaced by another of the same length under an unchanged index is re-encoded', () => {
  // The check compares every field of every file, values included: the cache never serves a run
  // whose files differ, even if an index did not move (as after a restore of another store).
  const st = new Store()
  for (let i = 0; i < 500; i++) set(st, `/w/k${i}`, 'aaaa')
  const first = encodeCapture(st.captureSnapshot())
  const other = new Store()
  other.recover(first.replaceAll('"aaaa"', '"bbbb"'))
  assert.is(encodeCapture(other.captureSnapshot()), other.toSnapshot())
  // Same indexes, other values, one shared cache: a cache keyed on indexes alone would answer 'aaaa'.
  const shared = new RunCache()
  const capA = { ...st.captureSnapshot(), runs: shared }
  assert.is(encodeCapture(capA), first)
  const capB = { ...other.captureSnapshot(), runs: shared }
  assert.is(encodeCapture(capB), other.toSnapshot())
  assert.ok(shared.misses >= 2 && shared.count > 0)
})

test('the cache is bounded by its character budget and drops runs an encoding did not use', () => {
  const st = new Store()
  for (let i = 0; i < 4000; i++) set(st, `/w/k${i}`, 'x'.repeat(100))
  encodeCapture(st.captureSnapshot())
  const full = st.snapshotRuns.chars
  assert.ok(full > 400_000, `${full} characters cached`)
  st.apply({ op: 'delete', key: '/w', recursive: true }, T0 + 1)
  set(st, '/other', 'x', {}, T0 + 2)
  encodeCapture(st.captureSnapshot())
  assert.ok(st.snapshotRuns.chars < 1000, `${st.snapshotRuns.chars} characters left after the files went`)
  const small = new RunCache(10_000)
  for (let i = 0; i < 4000; i++) set(st, `/v/k${i}`, 'y'.repeat(100))
  const cap = { ...st.captureSnapshot(), runs: small }
  assert.is(encodeCapture(cap), st.toSnapshot())
  assert.ok(small.chars <= 10_000, `${small.chars} characters in a cache of 10000`)
})

test('a restore empties the cache', () => {
  const st = new Store()
  for (let i = 0; i < 1000; i++) set(st, `/w/k${i}`, 'v')
  encodeCapture(st.captureSnapshot())
  assert.ok(st.snapshotRuns.count > 0)
  st.recover(st.toSnapshot())
  assert.is(st.snapshotRuns.count, 0)
  assert.is(encodeCapture(st.captureSnapshot()), st.toSnapshot())
})

test.run()

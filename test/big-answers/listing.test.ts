// Lazy directory listings (Store.list): the text equals the eagerly rendered get() body at the
// listing's index, however the store changes while the listing is produced a slice at a time,
// and the records kept for open listings go once they are closed.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Listing, Store, StoreEvent, type Command } from '../../server/store/index.js'
import { SlicedSort } from '../../server/store/sliced-sort.js'
import { Prng } from '../support/prng.js'
import { T0 } from '../store/helpers.js'

function drain(l: Listing, maxChars: number): string {
  let out = ''
  for (let guard = 0; !l.done; guard++) {
    out += l.next(maxChars)
    if (guard > 1e7) throw new Error('listing does not finish')
  }
  l.close()
  return out
}

function listed(s: Store, key: string, recursive: boolean, sorted: boolean, now: number): Listing {
  const l = s.list(key, { recursive, sorted }, now)
  if (!(l instanceof Listing)) throw new Error(`${key} is not a directory`)
  return l
}

const NAMES = ['a', 'b', '_h', 'c', 'é', 'Z', '\u{1F600}', '\uE000', '<&>']

function randomKey(p: Prng, depth = 3): string {
  let k = ''
  for (let d = 1 + p.intn(depth); d > 0; d--) k += '/' + NAMES[p.intn(NAMES.length)]
  return k
}

function randomCommand(p: Prng): Command {
  const key = randomKey(p)
  const ttl = p.chance(0.2) ? 1 + p.intn(5) : undefined
  switch (p.intn(8)) {
    case 0: return { op: 'set', key, value: 'v' + p.intn(3), ttlSeconds: ttl }
    case 1: return { op: 'set', key, dir: true, ttlSeconds: ttl }
    case 2: return { op: 'set', key, value: 'u' + p.intn(100), prevExist: true, ttlSeconds: ttl }
    case 3: return { op: 'set', key, value: 'c' + p.intn(3), prevValue: 'v' + p.intn(3) }
    case 4: return { op: 'post', key, value: 'q' }
    case 5: return { op: 'delete', key, recursive: true }
    case 6: return { op: 'delete', key, dir: true }
    default: return { op: 'set', key, value: '\u2028' + p.intn(10) }
  }
}

test('a listing is the state at its index while the store keeps changing', () => {
  const p = new Prng(11)
  for (let round = 0; round < 300; round++) {
    const s = new Store()
    let now = T0
    for (let i = 0; i < 60; i++) s.apply(randomCommand(p), now)
    // Several listings open at once, started at different indexes, stepped in tiny slices while
    // writes, deletes and expiries go on.
    const open: { l: Listing; want: string; text: string; size: number }[] = []
    for (let step = 0; step < 400; step++) {
      if (open.length < 4 && p.chance(0.1)) {
        const key = p.chance(0.5) ? '/' : randomKey(p, 1)
        const recursive = p.chance(0.7)
        const sorted = p.chance(0.5)
        let want: string
        try {
          want = s.get(key, { recursive, sorted }, now).body().slice(0, -1)
        } catch {
          continue
        }
        const l = s.list(key, { recursive, sorted }, now)
        if (l instanceof StoreEvent) {
          assert.is(l.body().slice(0, -1), want)
          continue
        }
        open.push({ l, want, text: '', size: 1 + p.intn(40) })
      }
      if (p.chance(0.5)) {
        now += p.intn(1500)
        s.apply(p.chance(0.1) ? { op: 'expire' } : randomCommand(p), now)
      }
      for (const o of open) if (p.chance(0.6)) o.text += o.l.next(o.size)
      for (let x = open.length - 1; x >= 0; x--) {
        if (!open[x].l.done) continue
        open[x].l.close()
        assert.is(open[x].text, open[x].want, `round ${round}`)
        open.splice(x, 1)
      }
    }
    for (const o of open) assert.is(o.text + drain(o.l, 1000), o.want, `round ${round} (drained)`)
    assert.is(s.listingRecords, 0, 'no records once every listing is closed')
  }
})

test('a big directory lists in slices, sorted and not, equal to get()', () => {
  const s = new Store()
  for (let i = 0; i < 20_000; i++) s.apply({ op: 'set', key: `/big/k${(i * 7919) % 20_000}`, value: 'x' }, T0)
  s.apply({ op: 'set', key: '/big/_hidden', value: 'x' }, T0)
  for (const sorted of [false, true]) {
    for (const key of ['/', '/big']) {
      const want = s.get(key, { recursive: true, sorted }, T0).body().slice(0, -1)
      assert.is(drain(listed(s, key, true, sorted, T0), 64 * 1024), want)
      const flat = s.get(key, { sorted }, T0).body().slice(0, -1)
      assert.is(drain(listed(s, key, false, sorted, T0), 4096), flat)
    }
  }
})

test('records are kept only for what changes while a listing is open, and pruned as listings close', () => {
  const s = new Store()
  for (let i = 0; i < 100; i++) s.apply({ op: 'set', key: `/d/k${i}`, value: 'x' }, T0)
  s.apply({ op: 'set', key: '/d/k0', value: 'y' }, T0)
  assert.is(s.listingRecords, 0, 'nothing is recorded without an open listing')
  const a = listed(s, '/d', true, false, T0)
  const aWant = s.get('/d', { recursive: true }, T0).body().slice(0, -1)
  s.apply({ op: 'set', key: '/d/k1', value: 'y', prevExist: true }, T0)
  s.apply({ op: 'delete', key: '/d/k2' }, T0)
  assert.is(s.listingRecords, 2)
  const b = listed(s, '/d', true, true, T0)
  const bWant = s.get('/d', { recursive: true, sorted: true }, T0).body().slice(0, -1)
  s.apply({ op: 'delete', key: '/d/k3' }, T0)
  assert.is(s.listingRecords, 3)
  assert.is(drain(a, 100), aWant)
  assert.is(s.listingRecords, 1, 'the changes before b began are dropped when a closes')
  assert.is(drain(b, 100), bWant)
  assert.is(s.listingRecords, 0)
})

test('a listing 5000 directories deep is produced without recursion', () => {
  const s = new Store()
  s.apply({ op: 'set', key: '/d'.repeat(5000) + '/leaf', value: 'x' }, T0)
  const text = drain(listed(s, '/', true, true, T0), 64 * 1024)
  assert.is(text.split('"nodes":[').length - 1, 5001)
  assert.ok(text.includes('"value":"x"'))
  assert.is(s.listingRecords, 0)
})

test('a listing held open across too many changes is cut off, the newer ones go on', () => {
  const s = new Store()
  for (let i = 0; i < 50; i++) s.apply({ op: 'set', key: `/d/k${i}`, value: 'x' }, T0)
  s.listingRecordLimit = 10
  const old = listed(s, '/d', true, false, T0)
  old.next(100)
  for (let i = 0; i < 6; i++) s.apply({ op: 'set', key: `/d/k${i}`, value: 'y', prevExist: true }, T0)
  const young = listed(s, '/d', true, false, T0)
  const youngWant = s.get('/d', { recursive: true }, T0).body().slice(0, -1)
  for (let i = 6; i < 12; i++) s.apply({ op: 'delete', key: `/d/k${i}` }, T0)
  assert.throws(() => old.next(100), /cut off/)
  assert.ok(s.listingRecords <= 10, `records stay within the limit (${s.listingRecords})`)
  assert.is(drain(young, 100), youngWant)
  old.close()
  assert.is(s.listingRecords, 0)
})

test('SlicedSort sorts like Array.prototype.sort for any size and budget', () => {
  const p = new Prng(3)
  for (const n of [0, 1, 2, 1023, 1024, 1025, 5000, 70_000]) {
    const items = Array.from({ length: n }, () => p.intn(1e6))
    const want = [...items].sort((x, y) => x - y)
    const sorter = new SlicedSort(items, (x, y) => x - y)
    let steps = 0
    while (!sorter.step(1 + p.intn(5000))) steps++
    assert.equal(sorter.result, want, `n=${n}`)
    if (n > 5000) assert.ok(steps > 10, 'the work is spread over many steps')
  }
})

test.run()

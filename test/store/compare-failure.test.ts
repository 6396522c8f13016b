// Store.compareFailure: the failed compares a member answers without a log entry must be exactly
// the answers applying the command would give (code, cause, index, fail counters), and every
// 101/105 that applying gives must be found. Checked on seeded random commands over a small key
// space (files, directories, TTLs, deletes), where compares fail and pass often.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Store, StoreError, type Command } from '../../server/store/index.js'
import { T0 } from './helpers.js'

/** mulberry32: a small seeded generator, so a failure names its seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const KEYS = ['/a', '/b', '/d', '/d/x', '/d/y', '/d/x/z', '/', '/a/']
const VALUES = ['', 'v1', 'v2', 'v3']

function randomCommand(rand: () => number, index: number): Command {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
  const key = pick(KEYS)
  const prevValue = rand() < 0.5 ? pick(VALUES) : undefined
  const prevIndex = rand() < 0.4 ? Math.max(0, index - Math.floor(rand() * 4)) : undefined
  switch (Math.floor(rand() * 6)) {
    case 0:
      return { op: 'set', key, value: pick(VALUES), dir: rand() < 0.15, ttlSeconds: rand() < 0.2 ? 1 : undefined }
    case 1:
      return { op: 'set', key, value: pick(VALUES), prevExist: false, dir: rand() < 0.2 }
    case 2:
      return { op: 'set', key, value: pick(VALUES), prevExist: rand() < 0.5 ? true : undefined, prevValue, prevIndex }
    case 3:
      return { op: 'delete', key, prevValue, prevIndex }
    case 4:
      return { op: 'delete', key, dir: rand() < 0.5, recursive: rand() < 0.5 }
    default:
      return { op: 'post', key: pick(['/d', '/q']), value: pick(VALUES) }
  }
}

test('compareFailure gives exactly the 101/105 answers apply gives, and counts like apply', () => {
  let found = 0
  for (let seed = 1; seed <= 40; seed++) {
    const rand = seeded(seed)
    const store = new Store()
    const twin = new Store()
    let now = T0
    for (let i = 0; i < 400; i++) {
      now += Math.floor(rand() * 400)
      if (rand() < 0.1) {
        store.apply({ op: 'expire' }, now)
        twin.apply({ op: 'expire' }, now)
      }
      const cmd = randomCommand(rand, store.index)
      const predicted = store.compareFailure(cmd)
      // The twin answers the predicted failures without applying; the store applies everything.
      const answered = predicted === undefined ? twin.apply(cmd, now) : twin.compareFailure(cmd, true)
      const applied = store.apply(cmd, now)
      const where = `seed ${seed} step ${i}: ${JSON.stringify(cmd)}`
      if (predicted !== undefined) {
        found++
        assert.ok(applied instanceof StoreError, `${where}: predicted ${predicted.errorCode}, apply succeeded`)
        assert.equal([predicted.errorCode, predicted.cause, predicted.index], [applied.errorCode, applied.cause, applied.index], where)
        assert.ok(answered instanceof StoreError && answered.errorCode === applied.errorCode, where)
      } else if (applied instanceof StoreError && (applied.errorCode === 101 || applied.errorCode === 105)) {
        assert.unreachable(`${where}: apply answered ${applied.errorCode} (${applied.cause}), compareFailure found nothing`)
      }
      assert.equal(twin.stats(), store.stats(), `${where}: counters`)
      assert.is(twin.index, store.index, where)
    }
  }
  assert.ok(found > 500, `only ${found} compare failures exercised`)
})

test('compareFailure changes nothing without count', () => {
  const s = new Store()
  s.apply({ op: 'set', key: '/k', value: 'a' }, T0)
  const before = JSON.stringify(s.stats())
  const e = s.compareFailure({ op: 'set', key: '/k', value: 'b', prevValue: 'x' })
  assert.is(e?.errorCode, 101)
  assert.is(e?.cause, '[x != a]')
  assert.is(s.compareFailure({ op: 'set', key: 'k', value: 'b', prevExist: false })?.errorCode, 105)
  assert.is(s.compareFailure({ op: 'delete', key: '/k', prevIndex: 7 })?.cause, '[7 != 1]')
  assert.is(s.compareFailure({ op: 'set', key: '/k', value: 'b', prevValue: 'a' }), undefined)
  assert.is(s.compareFailure({ op: 'set', key: '/missing', value: 'b', prevValue: 'a' }), undefined, 'a missing key takes the log (100)')
  assert.is(JSON.stringify(s.stats()), before)
  assert.is(s.index, 1)
})

test.run()

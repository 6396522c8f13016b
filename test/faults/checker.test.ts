// Unit tests of the CAS-register linearizability checker on small hand-written histories:
// it must accept correct concurrent histories and flag stale reads and lost writes.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { checkHistory, checkKey } from './checker.js'
import type { RegisterEntry, RegisterOp, Outcome } from './history.js'

let nextId = 0
/** Builds an entry; ret = null means unknown outcome (returns at +Infinity). */
function op(client: number, inv: number, ret: number | null, o: RegisterOp, outcome: Outcome = 'ok', readValue?: string | null, key = 'k'): RegisterEntry {
  return {
    id: nextId++,
    client,
    key,
    member: 'n1',
    op: o,
    invokeMs: inv,
    returnMs: ret === null ? Infinity : ret,
    outcome: ret === null ? 'unknown' : outcome,
    ...(readValue !== undefined ? { readValue } : {}),
  }
}
const w = (value: string) => ({ f: 'write', value }) as const
const r = { f: 'read' } as const
const cas = (expect: string, value: string) => ({ f: 'cas', expect, value }) as const

const lin = suite('linearizability checker')

lin('sequential write then read is linearizable', () => {
  const h = [op(1, 0, 1, w('a')), op(1, 2, 3, r, 'ok', 'a')]
  assert.ok(checkKey('k', h).ok)
})

lin('read of an absent key before any write returns null', () => {
  assert.ok(checkKey('k', [op(1, 0, 1, r, 'ok', null), op(1, 2, 3, w('a'))]).ok)
  assert.not.ok(checkKey('k', [op(1, 0, 1, r, 'ok', 'a'), op(1, 2, 3, w('a'))]).ok, 'read from the future')
})

lin('stale read is flagged', () => {
  // a then b written sequentially; a later read still sees a.
  const h = [op(1, 0, 1, w('a')), op(1, 2, 3, w('b')), op(2, 4, 5, r, 'ok', 'a')]
  const res = checkKey('k', h)
  assert.not.ok(res.ok)
  assert.not.ok(res.timedOut)
  assert.match(res.explanation ?? '', /not linearizable/)
})

lin('lost write is flagged', () => {
  // An acknowledged write of b is never seen: a later read returns the older a.
  const h = [op(1, 0, 1, w('a')), op(2, 2, 3, w('b')), op(3, 10, 11, r, 'ok', 'a'), op(3, 12, 13, r, 'ok', 'a')]
  assert.not.ok(checkKey('k', h).ok)
})

lin('concurrent ops may take effect in either order', () => {
  // Two overlapping writes; readers see b then a: fine if b linearized first, then a.
  const h = [op(1, 0, 10, w('a')), op(2, 0, 10, w('b')), op(3, 1, 2, r, 'ok', 'b'), op(4, 3, 4, r, 'ok', 'a'), op(3, 11, 12, r, 'ok', 'a')]
  assert.ok(checkKey('k', h).ok)
  // ...but not flipping back once both writes are done.
  const bad = [...h, op(4, 13, 14, r, 'ok', 'b')]
  assert.not.ok(checkKey('k', bad).ok)
})

lin('non-monotonic reads across clients during a write are flagged', () => {
  // A write of b is in flight; c1 sees b, then (strictly later) c2 sees a again.
  const h = [op(1, 0, 1, w('a')), op(2, 2, 20, w('b')), op(3, 3, 4, r, 'ok', 'b'), op(4, 5, 6, r, 'ok', 'a')]
  assert.not.ok(checkKey('k', h).ok)
})

lin('CAS: success needs the expected value; a definite failure needs a different one', () => {
  assert.ok(checkKey('k', [op(1, 0, 1, w('a')), op(1, 2, 3, cas('a', 'b')), op(1, 4, 5, r, 'ok', 'b')]).ok)
  assert.not.ok(checkKey('k', [op(1, 0, 1, w('a')), op(1, 2, 3, cas('x', 'b'))]).ok, 'cas succeeded on wrong value')
  assert.ok(checkKey('k', [op(1, 0, 1, w('a')), op(1, 2, 3, cas('x', 'b'), 'fail')]).ok)
  assert.not.ok(checkKey('k', [op(1, 0, 1, w('a')), op(1, 2, 3, cas('a', 'b'), 'fail')]).ok, 'cas failed although value matched')
  // Two CAS from the same value cannot both succeed.
  assert.not.ok(checkKey('k', [op(1, 0, 1, w('a')), op(2, 2, 5, cas('a', 'b')), op(3, 2, 5, cas('a', 'c'))]).ok)
})

lin('unknown ops may take effect late or never', () => {
  // Unknown write of b: later reads of a then b are fine (took effect late)...
  assert.ok(checkKey('k', [op(1, 0, 1, w('a')), op(2, 2, null, w('b')), op(3, 5, 6, r, 'ok', 'a'), op(3, 7, 8, r, 'ok', 'b')]).ok)
  // ...or never seen at all.
  assert.ok(checkKey('k', [op(1, 0, 1, w('a')), op(2, 2, null, w('b')), op(3, 50, 60, r, 'ok', 'a')]).ok)
  // But not before it was invoked.
  assert.not.ok(checkKey('k', [op(1, 0, 1, w('a')), op(3, 2, 3, r, 'ok', 'b'), op(2, 4, null, w('b'))]).ok)
  // And not flipping back: once b was read, a later read of a is stale even with b unknown.
  assert.not.ok(checkKey('k', [op(1, 0, 1, w('a')), op(2, 2, null, w('b')), op(3, 5, 6, r, 'ok', 'b'), op(3, 7, 8, r, 'ok', 'a')]).ok)
  // An unknown CAS explains a later failed CAS on the old value.
  assert.ok(checkKey('k', [op(1, 0, 1, w('a')), op(2, 2, null, cas('a', 'b')), op(3, 5, 6, cas('a', 'c'), 'fail')]).ok)
})

lin('history is partitioned per key', () => {
  const h = [op(1, 0, 1, w('a'), 'ok', undefined, 'x'), op(1, 0, 1, w('a'), 'ok', undefined, 'y'), op(2, 2, 3, r, 'ok', 'a', 'x'), op(2, 2, 3, r, 'ok', null, 'y')]
  const res = checkHistory(h)
  assert.not.ok(res.ok)
  assert.equal(res.keys.map((k) => [k.key, k.ok]), [['x', true], ['y', false]])
})

lin('a modifiedIndex naming two values is reported', () => {
  const a = op(1, 0, 1, w('a'))
  a.modifiedIndex = 7
  const b = op(1, 2, 3, r, 'ok', 'b')
  b.modifiedIndex = 7
  const res = checkHistory([a, op(1, 1.5, 1.8, w('b')), b])
  assert.equal(res.indexConflicts.length, 1)
  assert.not.ok(res.ok)
})

lin('a long concurrent history with many unknowns stays tractable', () => {
  // 6 clients, 400 ops, every 10th write unknown; a correct sequential register behind them.
  let state: string | null = null
  const h: RegisterEntry[] = []
  let t = 0
  for (let i = 0; i < 400; i++) {
    const c = i % 6
    const inv = t
    t += 1
    if (i % 3 === 0) {
      const v = `v${i}`
      if (i % 30 === 0) h.push(op(c, inv, null, w(v)))
      else {
        state = v
        h.push(op(c, inv - 0.5, t + 0.5, w(v)))
      }
    } else h.push(op(c, inv - 0.5, t + 0.5, r, 'ok', state))
  }
  const started = Date.now()
  const res = checkKey('k', h)
  assert.ok(res.ok, res.explanation)
  assert.ok(Date.now() - started < 5000)
})

lin.run()

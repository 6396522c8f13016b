// STATS-3 store counters: one per user operation kind, member-local, with the watcher count.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Store } from '../../server/store/index.js'
import { T0, ok, fail, getErr, set } from './helpers.js'

test('STATS-3 counters are in etcd field order and start at zero', () => {
  assert.equal(Object.keys(new Store().stats()), [
    'getsSuccess', 'getsFail', 'setsSuccess', 'setsFail', 'deleteSuccess', 'deleteFail', 'updateSuccess', 'updateFail',
    'createSuccess', 'createFail', 'compareAndSwapSuccess', 'compareAndSwapFail', 'compareAndDeleteSuccess',
    'compareAndDeleteFail', 'expireCount', 'watchers',
  ])
  assert.ok(Object.values(new Store().stats()).every((v) => v === 0))
})

test('STATS-3 each operation kind counts its successes and failures', () => {
  const s = new Store()
  set(s, '/a', '1')
  fail(s, { op: 'set', key: '/', value: 'x' }, 107)
  s.get('/a', {}, T0)
  getErr(s, '/missing')
  ok(s, { op: 'set', key: '/a', value: '2', prevExist: true })
  fail(s, { op: 'set', key: '/nope', value: '2', prevExist: true }, 100)
  ok(s, { op: 'set', key: '/b', value: '1', prevExist: false })
  ok(s, { op: 'post', key: '/q' })
  fail(s, { op: 'set', key: '/b', value: '1', prevExist: false }, 105)
  ok(s, { op: 'set', key: '/a', value: '3', prevValue: '2' })
  fail(s, { op: 'set', key: '/a', value: '3', prevValue: 'zz' }, 101)
  ok(s, { op: 'delete', key: '/a', prevValue: '3' })
  fail(s, { op: 'delete', key: '/b', prevValue: 'zz' }, 101)
  ok(s, { op: 'delete', key: '/b' })
  fail(s, { op: 'delete', key: '/b' }, 100)
  set(s, '/t', 'v', { ttlSeconds: 1 })
  s.expire(T0 + 1000)
  const w = s.watch('/x', {})
  assert.equal(s.stats(), {
    getsSuccess: 1, getsFail: 1, setsSuccess: 2, setsFail: 1, deleteSuccess: 1, deleteFail: 1, updateSuccess: 1, updateFail: 1,
    createSuccess: 2, createFail: 1, compareAndSwapSuccess: 1, compareAndSwapFail: 1, compareAndDeleteSuccess: 1,
    compareAndDeleteFail: 1, expireCount: 1, watchers: 1,
  })
  w.remove()
  assert.is(s.stats().watchers, 0)
})

test('STATS-3 counters are member-local: not part of snapshots', () => {
  const s = new Store()
  set(s, '/a', '1')
  s.get('/a', {}, T0)
  const r = Store.fromSnapshot(s.toSnapshot())
  assert.is(r.stats().getsSuccess, 0)
  assert.is(r.stats().setsSuccess, 0)
})

test('STATS-3 stats() returns a copy', () => {
  const s = new Store()
  const st = s.stats()
  st.getsSuccess = 99
  assert.is(s.stats().getsSuccess, 0)
})

test.run()

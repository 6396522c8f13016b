// CAS requirements (CAS-1..9): create, update, compareAndSwap, compareAndDelete.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Store } from '../../server/store/index.js'
import { T0, ok, fail, json, set } from './helpers.js'

test('CAS-1 prevExist=false creates (201, action create); existing file or dir -> 412/105 cause key', () => {
  const s = new Store()
  const e = ok(s, { op: 'set', key: '/c/new', value: 'x', prevExist: false, ttlSeconds: 5 })
  assert.equal([e.action, e.status, e.prevNode, e.node.ttl], ['create', 201, undefined, 5])
  const err = fail(s, { op: 'set', key: '/c/new', value: 'y', prevExist: false }, 105)
  assert.equal([err.status, err.message, err.cause, err.index], [412, 'Key already exists', '/c/new', 1])
  ok(s, { op: 'set', key: '/c/dir', dir: true })
  fail(s, { op: 'set', key: '/c/dir', dir: true, prevExist: false }, 105)
  assert.equal(ok(s, { op: 'set', key: '/c/d2', dir: true, prevExist: false }).node, { key: '/c/d2', dir: true, modifiedIndex: 3, createdIndex: 3 })
  assert.is(fail(s, { op: 'set', key: '/', prevExist: false }, 107).cause, '/')
})

test('CAS-2 prevExist=true updates: keeps createdIndex, new modifiedIndex, prevNode; missing -> 100', () => {
  const s = new Store()
  set(s, '/c/foo', 'four')
  const e = ok(s, { op: 'set', key: '/c/foo', value: 'five', prevExist: true })
  assert.equal(json(e), { action: 'update', node: { key: '/c/foo', value: 'five', modifiedIndex: 2, createdIndex: 1 }, prevNode: { key: '/c/foo', value: 'four', modifiedIndex: 1, createdIndex: 1 } })
  assert.is(ok(s, { op: 'set', key: '/c/foo', prevExist: true }).node.value, '', 'absent value is ""')
  assert.equal(fail(s, { op: 'set', key: '/c/missing', value: 'x', prevExist: true }, 100).cause, '/c/missing')
  assert.equal(fail(s, { op: 'set', key: '/', value: 'x', prevExist: true }, 107).toJSON(), { errorCode: 107, message: 'Root is read only', cause: '/', index: 3 })
})

test('CAS-2 update of a directory changes only the TTL; a value -> 403/102', () => {
  const s = new Store()
  ok(s, { op: 'set', key: '/c/dir', dir: true })
  const e = fail(s, { op: 'set', key: '/c/dir', value: 'x', prevExist: true }, 102)
  assert.equal([e.status, e.cause], [403, '/c/dir'])
})

test('CAS-3 compareAndSwap on prevValue mismatch -> 101 with cause [two != one]', () => {
  const s = new Store()
  set(s, '/c/foo', 'one')
  const e = fail(s, { op: 'set', key: '/c/foo', value: 'three', prevValue: 'two' }, 101)
  assert.equal(e.toJSON(), { errorCode: 101, message: 'Compare failed', cause: '[two != one]', index: 1 })
  assert.is(e.status, 412)
})

test('CAS-3 compareAndSwap on prevIndex mismatch -> 101 with cause [0 != 5] style [given != current]', () => {
  const s = new Store()
  for (let i = 0; i < 5; i++) set(s, '/c/foo', 'one')
  assert.is(fail(s, { op: 'set', key: '/c/foo', value: 'x', prevIndex: 105 }, 101).cause, '[105 != 5]')
})

test('CAS-3 both conditions fail -> both brackets; only one fails -> only that bracket', () => {
  const s = new Store()
  set(s, '/c/foo', 'one')
  assert.is(fail(s, { op: 'set', key: '/c/foo', value: 'x', prevValue: 'two', prevIndex: 101 }, 101).cause, '[two != one] [101 != 1]')
  assert.is(fail(s, { op: 'set', key: '/c/foo', value: 'x', prevValue: 'one', prevIndex: 101 }, 101).cause, '[101 != 1]')
  assert.is(fail(s, { op: 'set', key: '/c/foo', value: 'x', prevValue: 'two', prevIndex: 1 }, 101).cause, '[two != one]')
})

test('CAS-3 success: compareAndSwap, new value and modifiedIndex, createdIndex kept, prevNode', () => {
  const s = new Store()
  set(s, '/c/foo', 'one')
  const e = ok(s, { op: 'set', key: '/c/foo', value: 'two', prevValue: 'one' })
  assert.equal(json(e), { action: 'compareAndSwap', node: { key: '/c/foo', value: 'two', modifiedIndex: 2, createdIndex: 1 }, prevNode: { key: '/c/foo', value: 'one', modifiedIndex: 1, createdIndex: 1 } })
  assert.is(ok(s, { op: 'set', key: '/c/foo', value: 'three', prevIndex: 2, prevValue: 'two' }).node.modifiedIndex, 3)
})

test('CAS-3 missing key -> 100; directory -> 403/102 cause key', () => {
  const s = new Store()
  fail(s, { op: 'set', key: '/c/missing', value: 'x', prevValue: 'x' }, 100)
  ok(s, { op: 'set', key: '/c/dir', dir: true })
  assert.equal(fail(s, { op: 'set', key: '/c/dir', value: 'y', prevValue: 'x' }, 102).cause, '/c/dir')
})

test('CAS-3 prevIndex=0 means no condition: a plain set', () => {
  const s = new Store()
  set(s, '/c/foo', 'three')
  const e = ok(s, { op: 'set', key: '/c/foo', value: 'four', prevIndex: 0 })
  assert.equal([e.action, e.node.createdIndex], ['set', 2])
})

test('CAS-4 prevExist=true + prevValue -> compareAndSwap; prevExist=false + conditions -> create', () => {
  const s = new Store()
  set(s, '/c/foo', 'five')
  assert.is(ok(s, { op: 'set', key: '/c/foo', value: 'six', prevExist: true, prevValue: 'five' }).action, 'compareAndSwap')
  fail(s, { op: 'set', key: '/c/foo', value: 'x', prevExist: true, prevValue: 'nope' }, 101)
  fail(s, { op: 'set', key: '/c/foo', value: 'x', prevExist: false, prevValue: 'six' }, 105)
  assert.is(ok(s, { op: 'set', key: '/c/bar', value: 'x', prevExist: false, prevValue: 'zz' }).action, 'create')
})

test('CAS-5 compareAndSwap handles ttl like update: absent -> permanent', () => {
  const s = new Store()
  set(s, '/t/cas', 'v', { ttlSeconds: 100 })
  const e = ok(s, { op: 'set', key: '/t/cas', value: 'w', prevValue: 'v' })
  assert.equal(e.node, { key: '/t/cas', value: 'w', modifiedIndex: 2, createdIndex: 1 })
  assert.not.ok(s.hasTtlKeys())
})

test('CAS-6 compareAndDelete: mismatch 101, success node without value + prevNode, then 100', () => {
  const s = new Store()
  set(s, '/c/foo', 'six')
  assert.is(fail(s, { op: 'delete', key: '/c/foo', prevValue: 'wrong' }, 101).cause, '[wrong != six]')
  assert.is(fail(s, { op: 'delete', key: '/c/foo', prevIndex: 101 }, 101).cause, '[101 != 1]')
  const e = ok(s, { op: 'delete', key: '/c/foo', prevValue: 'six' })
  assert.equal(json(e), { action: 'compareAndDelete', node: { key: '/c/foo', modifiedIndex: 2, createdIndex: 1 }, prevNode: { key: '/c/foo', value: 'six', modifiedIndex: 1, createdIndex: 1 } })
  fail(s, { op: 'delete', key: '/c/foo', prevValue: 'six' }, 100)
})

test('CAS-6 compareAndDelete on a directory -> 403/102 even with recursive', () => {
  const s = new Store()
  ok(s, { op: 'set', key: '/c/dir', dir: true })
  assert.is(fail(s, { op: 'delete', key: '/c/dir', prevValue: 'x', recursive: true }, 102).cause, '/c/dir')
})

test('CAS-8 root: update/create/CAS -> 107 cause /; compareAndDelete -> 102 without cause', () => {
  const s = new Store()
  set(s, '/x', '1')
  for (const c of [{ prevExist: true }, { prevExist: false }, { prevValue: 'x' }, { prevIndex: 1 }]) {
    assert.is(fail(s, { op: 'set', key: '/', value: 'x', ...c }, 107).cause, '/')
  }
  const e = fail(s, { op: 'delete', key: '/', prevValue: 'x' }, 102)
  assert.is(e.body(), '{"errorCode":102,"message":"Not a file","index":1}\n')
})

test('CAS-9 conditions are evaluated at apply time in log order: only one of two racing creates wins', () => {
  const s = new Store()
  const a = s.apply({ op: 'set', key: '/lock', value: 'A', prevExist: false, ttlSeconds: 10 }, T0)
  const b = s.apply({ op: 'set', key: '/lock', value: 'B', prevExist: false, ttlSeconds: 10 }, T0)
  assert.is((a as { action?: string }).action, 'create')
  assert.is((b as { errorCode?: number }).errorCode, 105)
  assert.is(s.get('/lock', {}, T0).node.value, 'A')
})

test.run()

// DIR requirements (DIR-1..10): directories, delete rules, the read-only root, quirks.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Store } from '../../server/store/index.js'
import { T0, ok, fail, getErr, json, set } from './helpers.js'

test('DIR-1 create a directory by set dir=true (201 set), create (create) or post dir=true', () => {
  const s = new Store()
  const a = ok(s, { op: 'set', key: '/d/x', dir: true })
  assert.equal([a.action, a.status], ['set', 201])
  assert.equal(a.node, { key: '/d/x', dir: true, modifiedIndex: 1, createdIndex: 1 })
  assert.is(ok(s, { op: 'set', key: '/d/y', dir: true, prevExist: false }).action, 'create')
  const p = ok(s, { op: 'post', key: '/d', dir: true, ttlSeconds: 9 })
  assert.equal(p.node, { key: '/d/00000000000000000003', dir: true, expiration: '2027-01-15T08:00:09Z', ttl: 9, modifiedIndex: 3, createdIndex: 3 })
})

test('DIR-2 non-recursive GET lists children; child dirs have dir:true and indexes, no nodes', () => {
  const s = new Store()
  ok(s, { op: 'set', key: '/d/x', dir: true })
  set(s, '/d/x/a', '1')
  set(s, '/d/x/b/c', '2')
  assert.equal(json(s.get('/d/x', { sorted: true }, T0)), {
    action: 'get',
    node: { key: '/d/x', dir: true, nodes: [{ key: '/d/x/a', value: '1', modifiedIndex: 2, createdIndex: 2 }, { key: '/d/x/b', dir: true, modifiedIndex: 3, createdIndex: 3 }], modifiedIndex: 1, createdIndex: 1 },
  })
})

test('DIR-3 an empty directory, or one with only hidden children, has no nodes field', () => {
  const s = new Store()
  ok(s, { op: 'set', key: '/d/x', dir: true })
  assert.equal(s.get('/d/x', {}, T0).node, { key: '/d/x', dir: true, modifiedIndex: 1, createdIndex: 1 })
  set(s, '/d/x/_h', '1')
  assert.is(s.get('/d/x', { recursive: true }, T0).node.nodes, undefined)
})

test('DIR-4 delete rules: dir needs dir=true (102), non-empty needs recursive (108), recursive implies dir', () => {
  const s = new Store()
  set(s, '/d/x/a', '1')
  assert.equal(fail(s, { op: 'delete', key: '/d/x' }, 102).toJSON(), { errorCode: 102, message: 'Not a file', cause: '/d/x', index: 1 })
  const e108 = fail(s, { op: 'delete', key: '/d/x', dir: true }, 108)
  assert.equal([e108.status, e108.message, e108.cause], [403, 'Directory not empty', '/d/x'])
  const e = ok(s, { op: 'delete', key: '/d/x', recursive: true })
  assert.equal(json(e), { action: 'delete', node: { key: '/d/x', dir: true, modifiedIndex: 2, createdIndex: 1 }, prevNode: { key: '/d/x', dir: true, modifiedIndex: 1, createdIndex: 1 } })
  ok(s, { op: 'set', key: '/d/e', dir: true })
  assert.is(ok(s, { op: 'delete', key: '/d/e', dir: true }).node.dir, true)
})

test('DIR-4 a file is deleted whatever dir/recursive say', () => {
  const s = new Store()
  set(s, '/d/f', 'f')
  const e = ok(s, { op: 'delete', key: '/d/f', dir: true })
  assert.equal(e.node, { key: '/d/f', modifiedIndex: 2, createdIndex: 1 })
  set(s, '/d/g', 'g')
  ok(s, { op: 'delete', key: '/d/g', recursive: true })
})

test('DIR-4 a directory with only hidden children is not empty (108)', () => {
  const s = new Store()
  set(s, '/d/_h', '1')
  fail(s, { op: 'delete', key: '/d', dir: true }, 108)
})

test('DIR-4 removing a directory removes the pending expiries below it', () => {
  const s = new Store()
  set(s, '/d/a', '1', { ttlSeconds: 5 })
  ok(s, { op: 'set', key: '/d/b', dir: true, ttlSeconds: 5 })
  set(s, '/d/b/c', '1', { ttlSeconds: 5 })
  ok(s, { op: 'delete', key: '/d', recursive: true })
  assert.not.ok(s.hasTtlKeys())
  assert.equal(s.expire(T0 + 10_000), [])
})

test('DIR-5 nothing can be created below a file: 104 cause = file (set, create, post)', () => {
  const s = new Store()
  set(s, '/d/f2', 'f')
  assert.equal(fail(s, { op: 'post', key: '/d/f2', value: 'x' }, 104).toJSON(), { errorCode: 104, message: 'Not a directory', cause: '/d/f2', index: 1 })
  assert.is(fail(s, { op: 'set', key: '/d/f2/x', value: 'x' }, 104).cause, '/d/f2')
  assert.is(fail(s, { op: 'set', key: '/d/f2/x/y', value: 'x', prevExist: false }, 104).cause, '/d/f2')
  assert.is(s.index, 1)
})

test('DIR-6 the root is read-only: set and delete with any flags -> 400/107 cause /; GET and POST work', () => {
  const s = new Store()
  assert.equal(fail(s, { op: 'set', key: '/', value: 'x' }, 107).toJSON(), { errorCode: 107, message: 'Root is read only', cause: '/', index: 0 })
  fail(s, { op: 'set', key: '/', dir: true }, 107)
  assert.is(fail(s, { op: 'delete', key: '/', recursive: true }, 107).status, 400)
  fail(s, { op: 'delete', key: '/', dir: true }, 107)
  fail(s, { op: 'delete', key: '' }, 107)
  const p = ok(s, { op: 'post', key: '/', value: 'rootitem' })
  assert.is(p.node.key, '/00000000000000000001')
  assert.is(s.get('/', {}, T0).node.nodes?.length, 1)
})

test('DIR-7 quirk: updating a directory answers the new modifiedIndex but keeps the stored one', () => {
  const s = new Store()
  ok(s, { op: 'set', key: '/t/dir', dir: true, ttlSeconds: 100 })
  const u = ok(s, { op: 'set', key: '/t/dir', dir: true, prevExist: true, ttlSeconds: 200 })
  assert.is(u.node.modifiedIndex, 2)
  assert.equal(s.get('/t/dir', {}, T0).node, { key: '/t/dir', dir: true, expiration: '2027-01-15T08:03:20Z', ttl: 200, modifiedIndex: 1, createdIndex: 1 })
})

test('DIR-8 a value can never be written to a directory (set, update, CAS -> 102)', () => {
  const s = new Store()
  ok(s, { op: 'set', key: '/d', dir: true })
  fail(s, { op: 'set', key: '/d', value: 'v' }, 102)
  fail(s, { op: 'set', key: '/d', value: 'v', prevExist: true }, 102)
  fail(s, { op: 'set', key: '/d', value: 'v', prevValue: 'x' }, 102)
  fail(s, { op: 'set', key: '/d', value: 'v', prevIndex: 1 }, 102)
})

test('DIR-9 deleting a directory notifies watchers of every key below it with the directory event', async () => {
  const s = new Store()
  set(s, '/w/p/c/leaf', 'l')
  set(s, '/w/p/_h/x', 'l')
  const w1 = s.watch('/w/p/c/leaf', {})
  const w2 = s.watch('/w/p/c', {})
  const w3 = s.watch('/w/p/_h/x', {})
  const e = ok(s, { op: 'delete', key: '/w/p', recursive: true })
  for (const w of [w1, w2, w3]) {
    const got = await w.next()
    assert.is(got, e)
    assert.equal(got!.node, { key: '/w/p', dir: true, modifiedIndex: 3, createdIndex: 1 })
  }
  assert.is(s.stats().watchers, 0)
})

test('DIR-10 a directory modifiedIndex does not change when its children change', () => {
  const s = new Store()
  ok(s, { op: 'set', key: '/d', dir: true })
  set(s, '/d/a', '1')
  set(s, '/d/a', '2')
  ok(s, { op: 'delete', key: '/d/a' })
  assert.equal(s.get('/d', {}, T0).node, { key: '/d', dir: true, modifiedIndex: 1, createdIndex: 1 })
})

test('KEYS-6 after a recursive delete the subtree is gone', () => {
  const s = new Store()
  set(s, '/d/x/y', '1')
  ok(s, { op: 'delete', key: '/d', recursive: true })
  assert.is(getErr(s, '/d/x/y').cause, '/d')
})

test.run()

// ORD (in-order keys) and HID (hidden keys) requirements.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Store } from '../../server/store/index.js'
import { T0, ok, fail, json, set } from './helpers.js'

test('ORD-1 post creates a child named by the new index, 20 digits zero padded; create, 201', () => {
  const s = new Store()
  for (let i = 0; i < 61; i++) s.apply({ op: 'internal' }, T0)
  const e = ok(s, { op: 'post', key: '/q/jobs', value: 'Job1' })
  assert.equal(json(e), { action: 'create', node: { key: '/q/jobs/00000000000000000062', value: 'Job1', modifiedIndex: 62, createdIndex: 62 } })
  assert.is(e.status, 201)
})

test('ORD-2 the parent is created if missing (permanent); a file parent -> 104; root child works', () => {
  const s = new Store()
  ok(s, { op: 'post', key: '/new/q', value: 'a', ttlSeconds: 5 })
  assert.equal(s.get('/new', {}, T0).node.nodes?.[0], { key: '/new/q', dir: true, modifiedIndex: 1, createdIndex: 1 })
  set(s, '/f', 'x')
  assert.is(fail(s, { op: 'post', key: '/f', value: 'x' }, 104).cause, '/f')
  assert.is(ok(s, { op: 'post', key: '/', value: 'r' }).node.key, '/00000000000000000003')
})

test('ORD-3 post honours value, ttl, dir; prevExist/prevValue/prevIndex do not exist for post', () => {
  const s = new Store()
  assert.equal(ok(s, { op: 'post', key: '/q', value: 'Job3', ttlSeconds: 100 }).node, { key: '/q/00000000000000000001', value: 'Job3', expiration: '2027-01-15T08:01:40Z', ttl: 100, modifiedIndex: 1, createdIndex: 1 })
  assert.equal(ok(s, { op: 'post', key: '/q', dir: true }).node, { key: '/q/00000000000000000002', dir: true, modifiedIndex: 2, createdIndex: 2 })
  const nv = ok(s, { op: 'post', key: '/q', value: 'x', noValueOnSuccess: true })
  assert.is(nv.body(true), '{"action":"create"}\n')
})

test('ORD-4 names strictly increase and sorted=true lists a queue in FIFO order', () => {
  const s = new Store()
  const names: string[] = []
  for (let i = 0; i < 12; i++) {
    set(s, '/other', String(i))
    names.push(ok(s, { op: 'post', key: '/q', value: String(i) }).key)
  }
  const listed = s.get('/q', { sorted: true }, T0).node.nodes!.map((n) => n.key)
  assert.equal(listed, names)
  assert.equal([...names].sort(), names)
})

test('ORD-5 names are unique: an index is never reused, even after deletes and restore', () => {
  const s = new Store()
  const a = ok(s, { op: 'post', key: '/q' }).key
  ok(s, { op: 'delete', key: a })
  const r = Store.fromSnapshot(s.toSnapshot())
  const b = ok(r, { op: 'post', key: '/q' }).key
  assert.is.not(a, b)
  assert.is(b, '/q/00000000000000000003')
})

test('HID-1 hidden nodes are left out of listings, recursive or not, and so is everything below them', () => {
  const s = new Store()
  set(s, '/h/_secret', 's')
  set(s, '/h/visible', 'v')
  set(s, '/h/_hdir/child', 'c')
  set(s, '/h/d/_deep', 'c')
  const want = [{ key: '/h/d', dir: true, modifiedIndex: 4, createdIndex: 4 }, { key: '/h/visible', value: 'v', modifiedIndex: 2, createdIndex: 2 }]
  assert.equal(s.get('/h', { sorted: true }, T0).node.nodes, want)
  const rec = s.get('/h', { sorted: true, recursive: true }, T0).node.nodes!
  assert.equal(rec.map((n) => n.key), ['/h/d', '/h/visible'])
  assert.is(rec[0].nodes, undefined)
  assert.equal(s.get('/', { recursive: true }, T0).node.nodes!.map((n) => n.key), ['/h'])
})

test('HID-2 hidden nodes are otherwise normal: get, set, CAS, delete work', () => {
  const s = new Store()
  set(s, '/h/_secret', 's')
  assert.is(s.get('/h/_secret', {}, T0).node.value, 's')
  assert.is(ok(s, { op: 'set', key: '/h/_secret', value: 't', prevValue: 's' }).action, 'compareAndSwap')
  assert.is(ok(s, { op: 'delete', key: '/h/_secret', prevValue: 't' }).action, 'compareAndDelete')
})

test('HID-3 a recursive watch on /h does not see /h/_secret but sees /h/visible', async () => {
  const s = new Store()
  const w = s.watch('/h', { recursive: true })
  set(s, '/h/_secret', 's2')
  set(s, '/h/_hdir/x', 'x')
  const v = set(s, '/h/visible', 'v2')
  assert.is(await w.next(), v)
})

test('HID-3 a watcher on the hidden key itself, or a recursive one below a hidden dir, gets events', async () => {
  const s = new Store()
  const w1 = s.watch('/h/_secret', {})
  const w2 = s.watch('/h/_hdir', { recursive: true })
  const a = set(s, '/h/_secret', 's3')
  const b = set(s, '/h/_hdir/x', 'x')
  assert.is(await w1.next(), a)
  assert.is(await w2.next(), b)
})

test('HID-3 deleting a hidden directory still notifies watchers of its descendants', async () => {
  const s = new Store()
  set(s, '/h/_hdir/x', 'x')
  const w = s.watch('/h/_hdir/x', {})
  const e = ok(s, { op: 'delete', key: '/h/_hdir', recursive: true })
  assert.is(await w.next(), e)
})

test('HID-3 a waitIndex history scan does not apply the hidden filter', async () => {
  const s = new Store()
  const hs = set(s, '/h/_secret', 's')
  set(s, '/h/visible', 'v')
  const w = s.watch('/h', { recursive: true, sinceIndex: hs.index })
  assert.is(await w.next(), hs)
})

test('HID-4 listing a hidden directory by its own path shows its children', () => {
  const s = new Store()
  set(s, '/h/_hdir/child', 'c')
  assert.equal(s.get('/h/_hdir', {}, T0).node.nodes, [{ key: '/h/_hdir/child', value: 'c', modifiedIndex: 1, createdIndex: 1 }])
})

test.run()

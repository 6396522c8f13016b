// KEYS, NODE and ACT requirements (docs/v2-reference.md) at the store level.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Store, StoreEvent } from '../../server/store/index.js'
import { T0, ok, fail, getErr, json, set } from './helpers.js'

test('KEYS-1 keys are cleaned: repeated slashes, dot segments and trailing slash', () => {
  const s = new Store()
  set(s, '//a/./b/../c/', 'v')
  assert.equal(s.get('/a/c', {}, T0).node.key, '/a/c')
  assert.equal(s.get('a//c/', {}, T0).node.value, 'v')
  assert.equal(s.get('', {}, T0).node.dir, true)
})

test('KEYS-1 cleaning follows Go path.Clean: ".." above the root stays at the root, "..." is a name', () => {
  const s = new Store()
  assert.is(set(s, '/../a/f', '1').key, '/a/f')
  assert.is(set(s, '/a/...', '2').key, '/a/...')
  assert.is(set(s, '/a/.hidden', '3').key, '/a/.hidden')
  assert.is(set(s, 'b', '4').key, '/b')
  assert.is(s.get('/a/x/..', {}, T0).node.key, '/a')
  assert.equal(s.get('/a', { sorted: true }, T0).node.nodes!.map((n) => n.key), ['/a/...', '/a/.hidden', '/a/f'])
  assert.is(s.watch('/a//', {}).etcdIndex, 4)
})

test('KEYS-1 keys are case-sensitive', () => {
  const s = new Store()
  set(s, '/Foo', '1')
  assert.is(getErr(s, '/foo').errorCode, 100)
})

test('KEYS-2 GET a file -> get with value and indexes in etcd field order', () => {
  const s = new Store()
  set(s, '/k/m', 'Hello')
  const e = s.get('/k/m', {}, T0)
  assert.is(e.body(), '{"action":"get","node":{"key":"/k/m","value":"Hello","modifiedIndex":1,"createdIndex":1}}\n')
  assert.is(e.status, 200)
  assert.is(e.etcdIndex, 1)
})

test('KEYS-3 a fresh root is {"dir":true} without key or indexes', () => {
  const s = new Store()
  assert.is(s.get('/', {}, T0).body(), '{"action":"get","node":{"dir":true}}\n')
})

test('KEYS-3 a directory lists direct children; child dirs carry no nodes', () => {
  const s = new Store()
  set(s, '/k/a/b/c', 'deep')
  assert.equal(json(s.get('/k/a', {}, T0)), {
    action: 'get',
    node: { key: '/k/a', dir: true, nodes: [{ key: '/k/a/b', dir: true, modifiedIndex: 1, createdIndex: 1 }], modifiedIndex: 1, createdIndex: 1 },
  })
  assert.equal(json(s.get('/', {}, T0)), { action: 'get', node: { dir: true, nodes: [{ key: '/k', dir: true, modifiedIndex: 1, createdIndex: 1 }] } })
})

test('KEYS-4 recursive=true returns the whole subtree; on a file it changes nothing', () => {
  const s = new Store()
  set(s, '/k/a/b/c', 'deep')
  assert.equal(s.get('/k', { recursive: true }, T0).node.nodes?.[0].nodes?.[0].nodes?.[0], { key: '/k/a/b/c', value: 'deep', modifiedIndex: 1, createdIndex: 1 })
  assert.equal(s.get('/k/a/b/c', { recursive: true }, T0).node, s.get('/k/a/b/c', {}, T0).node)
})

test('KEYS-5 sorted=true sorts nodes at every depth by key (byte order)', () => {
  const s = new Store()
  for (const k of ['/d/b', '/d/a/z', '/d/a/y', '/d/C', '/d/é', '/d/~']) set(s, k, '1')
  const top = s.get('/d', { sorted: true, recursive: true }, T0).node.nodes!
  assert.equal(top.map((n) => n.key), ['/d/C', '/d/a', '/d/b', '/d/~', '/d/é'])
  assert.equal(top[1].nodes!.map((n) => n.key), ['/d/a/y', '/d/a/z'])
})

test('KEYS-6 missing key -> 100 with the first missing component as cause, index = current', () => {
  const s = new Store()
  set(s, '/k/x', '1')
  const e = getErr(s, '/k/miss1/miss2/miss3')
  assert.equal(e.toJSON(), { errorCode: 100, message: 'Key not found', cause: '/k/miss1', index: 1 })
  assert.is(e.status, 404)
  assert.is(getErr(s, '/nope').cause, '/nope')
})

test('KEYS-7 a path through a file -> 104 with the file as cause (reads and writes)', () => {
  const s = new Store()
  set(s, '/k/a/b/c', 'v')
  const g = getErr(s, '/k/a/b/c/d')
  assert.equal(g.toJSON(), { errorCode: 104, message: 'Not a directory', cause: '/k/a/b/c', index: 1 })
  assert.is(g.status, 400)
  assert.is(fail(s, { op: 'set', key: '/k/a/b/c/d', value: 'x' }, 104).cause, '/k/a/b/c')
  assert.is(fail(s, { op: 'set', key: '/k/a/b/c/d/e', value: 'x', prevExist: false }, 104).cause, '/k/a/b/c')
  assert.is(s.index, 1)
})

test('KEYS-10 set creates (201, no prevNode) then replaces with a new node (200, prevNode, new createdIndex)', () => {
  const s = new Store()
  const a = set(s, '/k/m', 'Hello world')
  assert.is(a.status, 201)
  assert.is(a.action, 'set')
  assert.is(a.prevNode, undefined)
  const b = set(s, '/k/m', 'Hello etcd')
  assert.is(b.status, 200)
  assert.equal(json(b), {
    action: 'set',
    node: { key: '/k/m', value: 'Hello etcd', modifiedIndex: 2, createdIndex: 2 },
    prevNode: { key: '/k/m', value: 'Hello world', modifiedIndex: 1, createdIndex: 1 },
  })
})

test('KEYS-11 absent value is the empty string and is still shown', () => {
  const s = new Store()
  const e = ok(s, { op: 'set', key: '/k/empty' })
  assert.is(e.body(), '{"action":"set","node":{"key":"/k/empty","value":"","modifiedIndex":1,"createdIndex":1}}\n')
})

test('KEYS-12 implicit parents are permanent with the creating index; later writes do not change them', () => {
  const s = new Store()
  set(s, '/a/b/c', '1', { ttlSeconds: 5 })
  set(s, '/a/b/d', '2')
  const a = s.get('/a', {}, T0).node
  assert.equal(a, { key: '/a', dir: true, nodes: [{ key: '/a/b', dir: true, modifiedIndex: 1, createdIndex: 1 }], modifiedIndex: 1, createdIndex: 1 })
})

test('KEYS-13 set on a directory -> 102; dir=true on a file replaces it with an empty dir', () => {
  const s = new Store()
  ok(s, { op: 'set', key: '/d/x', dir: true })
  assert.equal(fail(s, { op: 'set', key: '/d/x', dir: true }, 102).toJSON(), { errorCode: 102, message: 'Not a file', cause: '/d/x', index: 1 })
  assert.is(fail(s, { op: 'set', key: '/d/x', value: 'v' }, 102).status, 403)
  set(s, '/d/file', 'f')
  const e = ok(s, { op: 'set', key: '/d/file', dir: true })
  assert.is(e.status, 200)
  assert.equal(json(e), { action: 'set', node: { key: '/d/file', dir: true, modifiedIndex: 3, createdIndex: 3 }, prevNode: { key: '/d/file', value: 'f', modifiedIndex: 2, createdIndex: 2 } })
})

test('KEYS-14 dir=true with a value ignores the value', () => {
  const s = new Store()
  const e = ok(s, { op: 'set', key: '/d/vd', dir: true, value: 'ignored' })
  assert.equal(e.node, { key: '/d/vd', dir: true, modifiedIndex: 1, createdIndex: 1 })
})

test('KEYS-16 delete of a file: node without value, new modifiedIndex, full prevNode', () => {
  const s = new Store()
  set(s, '/k/m', 'v')
  const e = ok(s, { op: 'delete', key: '/k/m' })
  assert.is(e.status, 200)
  assert.equal(json(e), { action: 'delete', node: { key: '/k/m', modifiedIndex: 2, createdIndex: 1 }, prevNode: { key: '/k/m', value: 'v', modifiedIndex: 1, createdIndex: 1 } })
  assert.is(getErr(s, '/k/m').errorCode, 100)
})

test('KEYS-17 delete of a missing key -> 404/100', () => {
  const s = new Store()
  const e = fail(s, { op: 'delete', key: '/k/never' }, 100)
  assert.equal([e.status, e.cause, e.index], [404, '/k', 0])
})

test('KEYS-18 noValueOnSuccess trims set/create/update/CAS bodies only', () => {
  const s = new Store()
  const a = ok(s, { op: 'set', key: '/k/nv', value: 'v', noValueOnSuccess: true })
  assert.is(a.body(true), '{"action":"set"}\n')
  assert.is(a.status, 201)
  assert.ok(a.body().includes('"value":"v"'), 'watchers still get the full event')
  const d = ok(s, { op: 'delete', key: '/k/nv' })
  assert.ok(d.body(true).includes('prevNode'))
  assert.ok(s.get('/', {}, T0).body(true).includes('"node"'))
})

test('KEYS-19 values are byte-exact and JSON-encoded like Go (GEN-7)', () => {
  const s = new Store()
  const v = '<a&b> "q" é ✓\nline2\u2028\b'
  const e = set(s, '/k/enc', v)
  assert.is(s.get('/k/enc', {}, T0).node.value, v)
  assert.ok(e.body().includes('"value":"\\u003ca\\u0026b\\u003e \\"q\\" é ✓\\nline2\\u2028\\u0008"'), e.body())
})

test('KEYS-20 large values are stored unchanged', () => {
  const s = new Store()
  const v = 'x'.repeat(1 << 20)
  set(s, '/big', v)
  assert.is(s.get('/big', {}, T0).node.value, v)
})

test('NODE-1 field order key,value,dir,expiration,ttl,nodes,modifiedIndex,createdIndex', () => {
  const s = new Store()
  ok(s, { op: 'set', key: '/d', dir: true, ttlSeconds: 100 })
  set(s, '/d/f', 'v', { ttlSeconds: 50 })
  const body = s.get('/d', {}, T0).body()
  assert.is(body, '{"action":"get","node":{"key":"/d","dir":true,"expiration":"2027-01-15T08:01:40Z","ttl":100,"nodes":[{"key":"/d/f","value":"v","expiration":"2027-01-15T08:00:50Z","ttl":50,"modifiedIndex":2,"createdIndex":2}],"modifiedIndex":1,"createdIndex":1}}\n')
})

test('NODE-2 event object is action,node,prevNode; prevNode omitted when none', () => {
  const s = new Store()
  assert.equal(Object.keys(json(set(s, '/a', '1')) as object), ['action', 'node'])
  assert.equal(Object.keys(json(set(s, '/a', '2')) as object), ['action', 'node', 'prevNode'])
})

test('NODE-3 delete/CAD/expire nodes carry key, [dir], new modifiedIndex, createdIndex only', () => {
  const s = new Store()
  ok(s, { op: 'set', key: '/d', dir: true, ttlSeconds: 1 })
  set(s, '/f', 'v', { ttlSeconds: 100 })
  assert.equal(ok(s, { op: 'delete', key: '/f', prevValue: 'v' }).node, { key: '/f', modifiedIndex: 3, createdIndex: 2 })
  const [exp] = s.expire(T0 + 1000)
  assert.equal(exp.node, { key: '/d', dir: true, modifiedIndex: 4, createdIndex: 1 })
})

test('NODE-4 prevNode is non-recursive: a directory never has nodes; ttl computed at op time', () => {
  const s = new Store()
  ok(s, { op: 'set', key: '/d', dir: true, ttlSeconds: 100 })
  set(s, '/d/a', '1')
  const e = ok(s, { op: 'delete', key: '/d', recursive: true }, T0 + 30_500)
  assert.equal(e.prevNode, { key: '/d', dir: true, expiration: '2027-01-15T08:01:40Z', ttl: 70, modifiedIndex: 1, createdIndex: 1 })
})

test('NODE-5 ttl = ceil((expiration - now)/1s): 100 for the whole first second, 0 omitted, negative when late', () => {
  const s = new Store()
  set(s, '/t', 'v', { ttlSeconds: 100 })
  assert.is(s.get('/t', {}, T0 + 999).node.ttl, 100)
  assert.is(s.get('/t', {}, T0 + 1000).node.ttl, 99)
  assert.is(s.get('/t', {}, T0 + 99_001).node.ttl, 1)
  assert.is(s.get('/t', {}, T0 + 100_000).node.ttl, undefined)
  assert.is(s.get('/t', {}, T0 + 100_000).node.expiration, '2027-01-15T08:01:40Z')
  assert.is(s.get('/t', {}, T0 + 101_500).node.ttl, -1)
})

test('NODE-6 expiration is absolute (now + N s), formatted RFC3339Nano', () => {
  const s = new Store()
  const e = set(s, '/t', 'v', { ttlSeconds: 3 }, T0 + 123.456789)
  assert.is(e.node.expiration, '2027-01-15T08:00:03.123457Z')
})

test('ACT-1 statuses: create and new set 201; everything else 200', () => {
  const s = new Store()
  assert.is(ok(s, { op: 'set', key: '/a', value: '1', prevExist: false }).status, 201)
  assert.is(ok(s, { op: 'post', key: '/q' }).status, 201)
  assert.is(set(s, '/b', '1').status, 201)
  assert.is(set(s, '/b', '2').status, 200)
  assert.is(ok(s, { op: 'set', key: '/b', value: '3', prevExist: true }).status, 200)
  assert.is(ok(s, { op: 'set', key: '/b', value: '4', prevValue: '3' }).status, 200)
  assert.is(ok(s, { op: 'delete', key: '/b', prevIndex: 6 }).status, 200)
  assert.is(ok(s, { op: 'delete', key: '/a' }).status, 200)
})

test('ACT-2 dispatch: prevExist first, then prevValue/prevIndex, else set; DELETE with conditions is CAD', () => {
  const s = new Store()
  const acts = (cmds: Parameters<Store['apply']>[0][]) => cmds.map((c) => (s.apply(c, T0) as StoreEvent).action)
  assert.equal(acts([
    { op: 'set', key: '/a', value: '1' },
    { op: 'set', key: '/a', value: '2', prevExist: true },
    { op: 'set', key: '/a', value: '3', prevExist: true, prevIndex: 2 },
    { op: 'set', key: '/a', value: '4', prevValue: '3' },
    { op: 'set', key: '/a', value: '5', prevIndex: 0, prevValue: '' },
    { op: 'set', key: '/b', value: '1', prevExist: false, prevValue: 'zz', prevIndex: 99 },
    { op: 'delete', key: '/a', prevIndex: 5 },
    { op: 'delete', key: '/b' },
  ]), ['set', 'update', 'compareAndSwap', 'compareAndSwap', 'set', 'create', 'compareAndDelete', 'delete'])
})

test('CONS-1 one index for the store; failed writes consume none; reads none', () => {
  const s = new Store()
  set(s, '/a', '1')
  fail(s, { op: 'set', key: '/a', value: 'x', prevExist: false }, 105)
  s.get('/a', {}, T0)
  assert.is(s.index, 1)
  assert.is(set(s, '/b', '1').node.modifiedIndex, 2)
})

test('CONS-1 internal op consumes an index invisibly (reads, watches, scans)', () => {
  const s = new Store()
  assert.is(s.apply({ op: 'internal' }, T0), null)
  assert.is(s.index, 1)
  const w = s.watch('/', { recursive: true, sinceIndex: 1 })
  assert.not.ok(w.closed)
  assert.equal(s.get('/', {}, T0).node, { dir: true })
  w.remove()
})

test.run()

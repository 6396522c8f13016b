// Client SDK keys operations and typed errors, run against every backend from fixtures.ts
// (a real etcd 3.4 with --enable-v2, and an in-process raftkv member when server/index.ts exists).

import * as assert from 'uvu/assert'
import {
  AbortError, Client, CompareFailedError, DirNotEmptyError, EtcdError, KeyNotFoundError, NodeExistsError,
  NotDirError, NotFileError, RaftkvError, RootReadOnlyError, ValidationError, isRetryable,
} from '../../src/index.js'
import { backends, clientSuite, rejection, type Cluster } from './fixtures.js'

for (const backend of backends()) {
  let cluster: Cluster
  let client: Client
  const test = clientSuite('client keys', backend, (c, k) => { cluster = c; client = k })

  test('set creates then replaces; headers carry index, raft index/term and cluster id', async () => {
    const a = await client.set('/k/set', 'one')
    assert.is(a.action, 'set')
    assert.is(a.node.key, '/k/set')
    assert.is(a.node.value, 'one')
    assert.is(a.prevNode, undefined)
    assert.is(a.etcdIndex, a.node.modifiedIndex)
    assert.ok(a.raftIndex >= a.etcdIndex, 'raft index >= etcd index')
    assert.ok(a.raftTerm >= 1)
    assert.match(a.clusterId, /^[0-9a-f]+$/)
    const b = await client.set('/k/set', 'two')
    assert.is(b.action, 'set')
    assert.is(b.prevNode?.value, 'one')
    assert.ok(b.node.modifiedIndex > a.node.modifiedIndex)
    assert.is(b.node.createdIndex, b.node.modifiedIndex, 'set re-creates the node (KEYS-10)')
    const g = await client.get('/k/set')
    assert.is(g.action, 'get')
    assert.is(g.node.value, 'two')
    assert.ok(g.etcdIndex >= g.node.modifiedIndex)
  })

  test('keys and values are byte-exact (spaces, %, ?, #, unicode, newlines, empty)', async () => {
    const key = '/k/odd key %41?x#y+ü'
    const value = 'line1\nline2 "quoted" <&> ü 😀 %zz +'
    await client.set(key, value)
    const g = await client.get(key)
    assert.is(g.node.key, key)
    assert.is(g.node.value, value)
    await client.set('/k/empty', '')
    assert.is((await client.get('/k/empty')).node.value, '')
  })

  test('create / update / compareAndSwap / compareAndDelete semantics and errors', async () => {
    const c = await client.create('/k/cas', 'v1', { ttl: 100 })
    assert.is(c.action, 'create')
    assert.is(c.node.ttl, 100)
    const exists = await rejection(() => client.create('/k/cas', 'v2'))
    assert.instance(exists, NodeExistsError)
    assert.instance(exists, EtcdError)
    assert.instance(exists, RaftkvError)
    const e = exists as NodeExistsError
    assert.is(e.code, 'NODE_EXISTS')
    assert.is(e.errorCode, 105)
    assert.is(e.status, 412)
    assert.is(e.detail, '/k/cas')
    assert.ok(e.index >= c.node.modifiedIndex)
    assert.not.ok(isRetryable(e))

    const u = await client.update('/k/cas', 'v2')
    assert.is(u.action, 'update')
    assert.is(u.node.createdIndex, c.node.createdIndex, 'update keeps createdIndex')
    assert.is(u.node.ttl, undefined, 'update without ttl removes the TTL (TTL-4)')
    const missing = await rejection(() => client.update('/k/nope', 'x'))
    assert.instance(missing, KeyNotFoundError)
    assert.is((missing as KeyNotFoundError).code, 'KEY_NOT_FOUND')

    const cas = await client.compareAndSwap('/k/cas', 'v3', { prevValue: 'v2' })
    assert.is(cas.action, 'compareAndSwap')
    const bad = await rejection(() => client.compareAndSwap('/k/cas', 'v4', { prevValue: 'v2' }))
    assert.instance(bad, CompareFailedError)
    assert.is((bad as CompareFailedError).errorCode, 101)
    assert.is((bad as CompareFailedError).detail, '[v2 != v3]')
    const byIndex = await client.compareAndSwap('/k/cas', 'v4', { prevIndex: cas.node.modifiedIndex })
    assert.is(byIndex.node.value, 'v4')
    const viaSet = await rejection(() => client.set('/k/cas', 'v5', { prevIndex: cas.node.modifiedIndex }))
    assert.instance(viaSet, CompareFailedError)

    const cadBad = await rejection(() => client.compareAndDelete('/k/cas', { prevValue: 'nope' }))
    assert.instance(cadBad, CompareFailedError)
    const cad = await client.compareAndDelete('/k/cas', { prevValue: 'v4' })
    assert.is(cad.action, 'compareAndDelete')
    assert.is(cad.prevNode?.value, 'v4')
    assert.instance(await rejection(() => client.get('/k/cas')), KeyNotFoundError)
  })

  test('directories: mkdir, list (sorted, hidden excluded), rmdir and their errors', async () => {
    const d = await client.mkdir('/k/dir')
    assert.is(d.node.dir, true)
    assert.instance(await rejection(() => client.mkdir('/k/dir')), NodeExistsError)
    await client.set('/k/dir/b', '2')
    await client.set('/k/dir/a', '1')
    await client.set('/k/dir/_hidden', 'h')
    await client.set('/k/dir/sub/x', 'deep')
    const list = await client.list('/k/dir')
    assert.equal(list.map((n) => n.key), ['/k/dir/a', '/k/dir/b', '/k/dir/sub'])
    assert.is(list[2]!.dir, true)
    assert.is(list[2]!.nodes, undefined, 'non-recursive list has no grandchildren')
    const deep = await client.get('/k/dir', { recursive: true, sorted: true })
    assert.is(deep.node.nodes?.[2]?.nodes?.[0]?.value, 'deep')

    const notFile = await rejection(() => client.set('/k/dir', 'x'))
    assert.instance(notFile, NotFileError)
    assert.is((notFile as NotFileError).errorCode, 102)
    assert.instance(await rejection(() => client.delete('/k/dir')), NotFileError)
    const notEmpty = await rejection(() => client.rmdir('/k/dir'))
    assert.instance(notEmpty, DirNotEmptyError)
    assert.is((notEmpty as DirNotEmptyError).code, 'DIR_NOT_EMPTY')
    const notDir = await rejection(() => client.set('/k/dir/a/below', 'x'))
    assert.instance(notDir, NotDirError)
    assert.is((notDir as NotDirError).detail, '/k/dir/a')
    const root = await rejection(() => client.delete('/', { recursive: true }))
    assert.instance(root, RootReadOnlyError)
    assert.is((root as RootReadOnlyError).errorCode, 107)

    const rm = await client.rmdir('/k/dir', { recursive: true })
    assert.is(rm.action, 'delete')
    assert.is(rm.node.dir, true)
    const keyNotFound = await rejection(() => client.get('/k/dir/a'))
    assert.instance(keyNotFound, KeyNotFoundError)
    assert.is((keyNotFound as KeyNotFoundError).detail, '/k/dir')
  })

  test('post creates in-order keys that list in FIFO order', async () => {
    const names: string[] = []
    for (const job of ['first', 'second', 'third']) {
      const r = await client.post('/k/queue', job)
      assert.is(r.action, 'create')
      assert.match(r.node.key, /^\/k\/queue\/\d{20}$/)
      names.push(r.node.key)
    }
    const list = await client.list('/k/queue')
    assert.equal(list.map((n) => n.key), names)
    assert.equal(list.map((n) => n.value), ['first', 'second', 'third'])
  })

  test('refresh changes only the TTL and keeps value and createdIndex', async () => {
    const c = await client.set('/k/ttl', 'keep', { ttl: 5 })
    const r = await client.refresh('/k/ttl', 100)
    assert.is(r.action, 'update')
    assert.is(r.node.value, 'keep')
    assert.is(r.node.createdIndex, c.node.createdIndex)
    assert.is(r.node.ttl, 100)
    assert.ok(r.node.expiration)
    assert.instance(await rejection(() => client.refresh('/k/ttl-missing', 10)), KeyNotFoundError)
  })

  test('getJSON / setJSON round-trip; quorum reads', async () => {
    await client.setJSON('/k/json', { a: 1, b: ['x'] })
    const j = await client.getJSON<{ a: number; b: string[] }>('/k/json')
    assert.equal(j.data, { a: 1, b: ['x'] })
    assert.is(j.node.key, '/k/json')
    await client.set('/k/notjson', '{nope')
    assert.instance(await rejection(() => client.getJSON('/k/notjson')), ValidationError)
    const q = await client.get('/k/json', { quorum: true })
    assert.is(q.node.value, JSON.stringify({ a: 1, b: ['x'] }))
  })

  test('arguments are validated before anything is sent', async () => {
    for (const fn of [
      () => client.set('/k/v', 'x', { prevValue: '' }),
      () => client.set('/k/v', 'x', { ttl: -1 }),
      () => client.set('/k/v', 'x', { ttl: 1.5 }),
      () => client.set('/k/../etc', 'x'),
      () => client.set('/k/v', 'x', { refresh: true, ttl: 5 }),
      () => client.compareAndSwap('/k/v', 'x', {} as never),
    ]) {
      const pending = fn() // rejects; never throws synchronously
      assert.instance(pending, Promise)
      const err = await rejection(() => pending)
      assert.instance(err, ValidationError)
      assert.is((err as ValidationError).code, 'VALIDATION')
    }
  })

  test('an aborted signal rejects with AbortError', async () => {
    const ctl = new AbortController()
    ctl.abort()
    const err = await rejection(() => client.get('/k/set', { signal: ctl.signal }))
    assert.instance(err, AbortError)
    assert.is((err as AbortError).code, 'ABORTED')
  })

  test('cluster endpoints: members, leader, version, health, stats', async () => {
    const members = await client.members()
    assert.is(members.length, 1)
    assert.match(members[0]!.id, /^[0-9a-f]+$/)
    assert.equal(members[0]!.clientURLs, cluster.endpoints)
    const leader = await client.leader()
    assert.is(leader.id, members[0]!.id)
    const v = await client.version()
    assert.match(v.etcdserver, /^\d+\.\d+\.\d+/)
    assert.is(await client.health(), true)
    const self = await client.stats.self()
    assert.is(self.id, members[0]!.id)
    assert.is(self.state, 'StateLeader')
    const ls = await client.stats.leader()
    assert.is(ls.leader, members[0]!.id)
    const st = await client.stats.store()
    assert.ok(st.setsSuccess > 0)
    assert.type(st.watchers, 'number')
  })

  test('autoSync / sync replaces endpoints with the members\' client URLs', async () => {
    const c2 = new Client({ endpoints: [cluster.endpoints[0]!.replace('127.0.0.1', 'localhost')] })
    try {
      assert.equal(await c2.sync(), cluster.endpoints)
    } finally {
      c2.close()
    }
  })

  test('autoSync refreshes the endpoint list in the background', async () => {
    const c3 = new Client({ endpoints: [cluster.endpoints[0]!.replace('127.0.0.1', 'localhost')], autoSync: { intervalMs: 60_000 } })
    try {
      for (let i = 0; i < 50 && c3.endpoints[0] !== cluster.endpoints[0]; i++) await new Promise((r) => setTimeout(r, 50))
      assert.equal(c3.endpoints, cluster.endpoints)
    } finally {
      c3.close()
    }
  })

  test.run()
}

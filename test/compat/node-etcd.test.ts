// Real-client compatibility: node-etcd (npm) against a fresh raftkv member: set, get, del, mkdir,
// compareAndSwap, compareAndDelete, errors and the auto-resuming watcher (including the 401 resync).
import { createRequire } from 'node:module'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { waitReady } from '../http/raw-client.js'
import { startServer, type RunningServer } from '../../server/index.js'

// node-etcd is CommonJS without types: describe the small part used here.
type Cb = (err: (Error & { errorCode?: number; error?: { index: number } }) | null, body: any, headers?: Record<string, string>) => void
interface EtcdClient {
  set(key: string, value: string, opts: object, cb: Cb): unknown
  get(key: string, opts: object, cb: Cb): unknown
  del(key: string, opts: object, cb: Cb): unknown
  mkdir(key: string, opts: object, cb: Cb): unknown
  rmdir(key: string, opts: object, cb: Cb): unknown
  create(dir: string, value: string, opts: object, cb: Cb): unknown
  compareAndSwap(key: string, value: string, old: string, opts: object, cb: Cb): unknown
  compareAndDelete(key: string, old: string, opts: object, cb: Cb): unknown
  watcher(key: string, index?: number | null, opts?: object): import('node:events').EventEmitter & { stop(): void }
}
const Etcd = createRequire(import.meta.url)('node-etcd') as new (hosts: string[]) => EtcdClient

const test = suite('node-etcd compatibility')
let server: RunningServer
let etcd: EtcdClient

type Result = { err: Parameters<Cb>[0]; body: any; headers?: Record<string, string> }
function call(fn: (cb: Cb) => unknown): Promise<Result> {
  return new Promise((resolve) => fn((err, body, headers) => resolve({ err, body, headers })))
}

test.before(async () => {
  server = await startServer({ name: 'ne1', listenClientUrls: ['http://127.0.0.1:0'] })
  await waitReady(server.url)
  etcd = new Etcd([server.url.replace('http://', '')])
})

test.after(async () => {
  await server.close()
})

test('set, get, del', async () => {
  const s = await call((cb) => etcd.set('/ne/a', 'one', {}, cb))
  assert.is(s.err, null)
  assert.is(s.body.action, 'set')
  assert.is(s.body.node.value, 'one')
  const g = await call((cb) => etcd.get('/ne/a', {}, cb))
  assert.is(g.body.node.value, 'one')
  assert.is(g.headers?.['x-etcd-index'], String(s.body.node.modifiedIndex))
  const d = await call((cb) => etcd.del('/ne/a', {}, cb))
  assert.is(d.body.action, 'delete')
  assert.is(d.body.prevNode.value, 'one')
  const missing = await call((cb) => etcd.get('/ne/a', {}, cb))
  assert.is(missing.err?.errorCode, 100)
})

test('mkdir, recursive get, rmdir', async () => {
  const m = await call((cb) => etcd.mkdir('/ne/dir', {}, cb))
  assert.is(m.err, null)
  assert.is(m.body.node.dir, true)
  await call((cb) => etcd.set('/ne/dir/x', '1', {}, cb))
  const notEmpty = await call((cb) => etcd.rmdir('/ne/dir', {}, cb))
  assert.is(notEmpty.err?.errorCode, 108)
  const g = await call((cb) => etcd.get('/ne/dir', { recursive: true }, cb))
  assert.equal(g.body.node.nodes.map((n: { key: string }) => n.key), ['/ne/dir/x'])
  const r = await call((cb) => etcd.rmdir('/ne/dir', { recursive: true }, cb))
  assert.is(r.err, null)
  assert.is(r.body.action, 'delete')
})

test('compareAndSwap and compareAndDelete', async () => {
  await call((cb) => etcd.set('/ne/cas', 'v1', {}, cb))
  const bad = await call((cb) => etcd.compareAndSwap('/ne/cas', 'v2', 'nope', {}, cb))
  assert.is(bad.err?.errorCode, 101)
  assert.is(bad.err?.error && (bad.err.error as unknown as { cause: string }).cause, '[nope != v1]')
  const good = await call((cb) => etcd.compareAndSwap('/ne/cas', 'v2', 'v1', {}, cb))
  assert.is(good.body.action, 'compareAndSwap')
  assert.is(good.body.node.value, 'v2')
  const cad = await call((cb) => etcd.compareAndDelete('/ne/cas', 'v2', {}, cb))
  assert.is(cad.body.action, 'compareAndDelete')
})

test('in-order create and ttl', async () => {
  const a = await call((cb) => etcd.create('/ne/q', 'job1', {}, cb))
  const b = await call((cb) => etcd.create('/ne/q', 'job2', {}, cb))
  assert.ok(a.body.node.key < b.body.node.key)
  const t = await call((cb) => etcd.set('/ne/ttl', 'x', { ttl: 30 }, cb))
  assert.ok(t.body.node.ttl > 0 && t.body.node.ttl <= 30)
})

test('watcher delivers successive changes and stops cleanly', async () => {
  const w = etcd.watcher('/ne/w', null, { recursive: true })
  const seen: string[] = []
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`watcher saw only ${JSON.stringify(seen)}`)), 5000)
    w.on('change', (ev: { action: string; node: { key: string; value?: string } }) => {
      seen.push(`${ev.action} ${ev.node.key} ${ev.node.value ?? ''}`)
      if (seen.length === 3) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
  await new Promise((r) => setTimeout(r, 200))
  await call((cb) => etcd.set('/ne/w/a', '1', {}, cb))
  await call((cb) => etcd.set('/ne/w/b', '2', {}, cb))
  await call((cb) => etcd.del('/ne/w/a', {}, cb))
  await done
  w.stop()
  assert.equal(seen, ['set /ne/w/a 1', 'set /ne/w/b 2', 'delete /ne/w/a '])
  const deadline = Date.now() + 3000
  while (server.backend.store.stats().watchers > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  assert.is(server.backend.store.stats().watchers, 0)
})

test('watcher with a cleared index resyncs (401) instead of failing', async () => {
  // Push index 1 out of the 1000-event history (16 writers in parallel keep this quick).
  await Promise.all(Array.from({ length: 16 }, async (_, w) => {
    for (let i = w; i < 1008; i += 16) await call((cb) => etcd.set(`/ne/burst/${w}`, String(i), {}, cb))
  }))
  const w = etcd.watcher('/ne/old', 1)
  const resynced = new Promise<unknown>((resolve) => w.once('resync', resolve))
  const changed = new Promise<{ node: { value: string } }>((resolve) => w.once('change', resolve))
  await resynced
  await call((cb) => etcd.set('/ne/old', 'fresh', {}, cb))
  const ev = await changed
  w.stop()
  assert.is(ev.node.value, 'fresh')
})

test.run()

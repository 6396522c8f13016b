// Client SDK watches: ordering without loss or repetition, waitIndex from history, recursive and
// directory rules, expire events, the 401 resync path and prompt cancellation. Every backend.

import * as assert from 'uvu/assert'
import { AbortError, Client, type WatchEvent } from '../../src/index.js'
import { backends, clientSuite, within, type Cluster } from './fixtures.js'

/** Collects `n` events (or fewer if the iterator ends) from a watch. */
async function take(it: AsyncIterable<WatchEvent>, n: number): Promise<WatchEvent[]> {
  const out: WatchEvent[] = []
  if (n === 0) return out
  for await (const ev of it) {
    out.push(ev)
    if (out.length >= n) break
  }
  return out
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

for (const backend of backends()) {
  let cluster: Cluster
  let client: Client
  const test = clientSuite('client watch', backend, (c, k) => { cluster = c; client = k })

  test('a watch without waitIndex starts after the current index and sees each write once, in order', async () => {
    await client.set('/w/seq/old', 'before the watch')
    const w = client.watch('/w/seq', { recursive: true })
    const got = within(10_000, take(w, 30), 'watch')
    await sleep(300) // let the watch read the start index; writes after this must all be seen
    const written: number[] = []
    for (let i = 0; i < 30; i++) written.push((await client.set(`/w/seq/k${i % 4}`, String(i))).node.modifiedIndex)
    const events = await got
    assert.equal(events.map((e) => (e.type === 'change' ? e.index : -1)), written)
    assert.ok(events.every((e) => e.type === 'change' && e.node.key !== '/w/seq/old'))
  })

  test('writes racing the start of a watch are neither lost nor repeated (waitIndex from history)', async () => {
    const first = await client.set('/w/race/a', '0')
    const written = [first.node.modifiedIndex]
    // Writes issued before the watch even connects: served from the event history.
    for (let i = 1; i < 10; i++) written.push((await client.set('/w/race/a', String(i))).node.modifiedIndex)
    const w = client.watch('/w/race/a', { waitIndex: first.node.modifiedIndex })
    const got = within(10_000, take(w, 20), 'watch')
    for (let i = 10; i < 20; i++) written.push((await client.set('/w/race/a', String(i))).node.modifiedIndex)
    const events = await got
    assert.equal(events.map((e) => (e.type === 'change' ? e.index : -1)), written)
    assert.equal(events.map((e) => (e.type === 'change' ? e.node.value : '')), written.map((_, i) => String(i)))
  })

  test('events carry action, node and prevNode; a non-recursive watch on a dir ignores children', async () => {
    await client.mkdir('/w/dir')
    const start = (await client.get('/w/dir')).etcdIndex
    const w = client.watch('/w/dir', { waitIndex: start + 1 })
    await client.set('/w/dir/child', 'ignored')
    await client.refresh('/w/dir', 100) // refresh is invisible to watchers (TTL-5)
    await client.rmdir('/w/dir', { recursive: true })
    const [ev] = await within(10_000, take(w, 1), 'watch')
    assert.is(ev!.type, 'change')
    if (ev!.type !== 'change') return
    assert.is(ev.action, 'delete')
    assert.is(ev.node.key, '/w/dir')
    assert.is(ev.node.dir, true)
    assert.is(ev.prevNode?.dir, true)
  })

  test('hidden children are not reported by a recursive watch, also when served from history (HID-3)', async () => {
    const first = await client.set('/w/hid/_secret', 'x')
    const visible = await client.set('/w/hid/shown', 'y')
    // waitIndex in the past: the server scans its history, which does include the hidden event.
    const [ev] = await within(10_000, take(client.watch('w//hid', { recursive: true, waitIndex: first.node.modifiedIndex }), 1), 'watch')
    assert.is(ev!.type === 'change' && ev!.node.key, '/w/hid/shown')
    assert.is(ev!.type === 'change' && ev!.index, visible.node.modifiedIndex)
    // Watching the hidden key itself does report it.
    const [own] = await within(10_000, take(client.watch('/w/hid/_secret', { waitIndex: first.node.modifiedIndex }), 1), 'watch')
    assert.is(own!.type === 'change' && own!.node.key, '/w/hid/_secret')
  })

  test('a TTL key produces an expire event', async () => {
    const c = await client.set('/w/ttl', 'short', { ttl: 1 })
    const w = client.watch('/w/ttl', { waitIndex: c.node.modifiedIndex + 1 })
    const [ev] = await within(10_000, take(w, 1), 'expire')
    assert.is(ev!.type === 'change' && ev!.action, 'expire')
    assert.is(ev!.type === 'change' && ev!.prevNode?.value, 'short')
  })

  test('index cleared from history (401): a resync event with the current state, then no gap', async () => {
    const first = await client.set('/w/resync/k', 'start')
    // Push the key's index out of the 1000-event history.
    const batch = 50
    for (let i = 0; i < 1010; i += batch) {
      await Promise.all(Array.from({ length: batch }, (_, j) => client.set(`/w/resync/filler${j}`, String(i + j))))
    }
    const last = await client.set('/w/resync/k', 'now')
    const w = client.watch('/w/resync', { recursive: true, waitIndex: first.node.modifiedIndex + 1 })
    const it = w[Symbol.asyncIterator]()
    const r1 = await within(10_000, it.next(), 'resync')
    assert.is(r1.done, false)
    const ev = r1.value as WatchEvent
    assert.is(ev.type, 'resync')
    if (ev.type !== 'resync') return
    assert.ok(ev.etcdIndex >= last.node.modifiedIndex)
    const k = ev.node?.nodes?.find((n) => n.key === '/w/resync/k')
    assert.is(k?.value, 'now', 'resync carries the current (recursive) state')
    const after = await client.set('/w/resync/k', 'after')
    const r2 = await within(10_000, it.next(), 'event after resync')
    assert.is(r2.value && r2.value.type === 'change' && r2.value.index, after.node.modifiedIndex)
    await it.return?.()
  })

  test('break closes the in-flight long poll promptly; so does an aborted signal', async () => {
    const w = client.watch('/w/idle')
    const it = w[Symbol.asyncIterator]()
    const pending = it.next()
    await sleep(200) // the long poll is in flight
    const t0 = Date.now()
    await within(2000, it.return!(), 'return()')
    const r = await within(2000, pending, 'pending next()')
    assert.is(r.done, true)
    assert.ok(Date.now() - t0 < 1000, 'closed promptly')

    const ctl = new AbortController()
    const w2 = client.watch('/w/idle', { signal: ctl.signal })
    const p2 = (async () => { for await (const _ of w2) { /* none */ } })()
    await sleep(200)
    const t1 = Date.now()
    ctl.abort()
    const err = await within(2000, p2.then(() => undefined, (e: unknown) => e), 'aborted watch')
    assert.instance(err, AbortError)
    assert.ok(Date.now() - t1 < 1000)

    // The server forgets both watchers once their connections are gone.
    let watchers = -1
    for (let i = 0; i < 50; i++) {
      watchers = (await client.stats.store()).watchers
      if (watchers === 0) break
      await sleep(100)
    }
    assert.is(watchers, 0, 'no watcher left on the server')
  })

  test('client.close() ends open watches', async () => {
    const c2 = new Client({ endpoints: cluster.endpoints })
    const w = c2.watch('/w/closing')
    const done = take(w, 1)
    await sleep(100)
    c2.close()
    assert.equal(await within(2000, done, 'close'), [])
  })

  test.run()
}

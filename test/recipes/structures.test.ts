// The smaller recipes on every backend and both APIs: semaphore (never more than N holders), read-write lock
// (shared readers, exclusive FIFO writer), atomic counter (concurrent adds, lost reply counted
// once), work queue (FIFO, ack, redelivery), JSON map/set, barrier.

import * as assert from 'uvu/assert'
import type { FetchLike } from '../../src/index.js'
import { Barrier, Counter, JsonMap, JsonSet, ReadWriteLock, Semaphore, WorkQueue } from '../../recipes/index.js'
import { isV3, type AnyClient } from '../../recipes/api.js'
import { within } from '../client/fixtures.js'
import { targetSuite, targets } from './targets.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Entries queued under a lock-like key (v2 directory, v3 prefix). */
async function queuedUnder(client: AnyClient, key: string): Promise<number> {
  if (isV3(client)) return (await client.range(key + '/', { prefix: true, countOnly: true })).count
  return (await client.list(key)).length
}

for (const target of targets()) {
  const { test, newClient } = targetSuite('recipes structures', target)
  let client: AnyClient
  test.before(() => { client = newClient() })

  test('semaphore: at most N holders at once, everyone served', async () => {
    let inside = 0
    let most = 0
    await within(20_000, Promise.all(Array.from({ length: 5 }, async () => {
      const sem = new Semaphore(newClient(), '/t/sem', { permits: 2, ttl: 2 })
      await sem.withLock(async () => {
        inside++
        most = Math.max(most, inside)
        await sleep(150)
        inside--
      })
    })), 'semaphore')
    assert.is(most, 2)
  })

  test('read-write lock: readers share, a writer is exclusive, later readers queue behind a writer', async () => {
    const rw = (): ReadWriteLock => new ReadWriteLock(newClient(), '/t/rw', { ttl: 2 })
    const r1 = await rw().read.acquire()
    const r2 = await within(2000, rw().read.acquire(), 'second reader shares')
    const log: string[] = []
    const queued = async (n: number): Promise<void> => {
      await within(5000, (async () => { while ((await queuedUnder(client, '/t/rw')) < n) await sleep(20) })(), `${n} queued`)
    }
    const w = rw().write.acquire().then((h) => { log.push('writer'); return h })
    await queued(3)
    const r3 = rw().read.acquire().then((h) => { log.push('reader3'); return h })
    await queued(4)
    await sleep(200)
    assert.equal(log, [])
    await r1.release()
    await r2.release()
    const wh = await within(3000, w, 'writer')
    await sleep(200)
    assert.equal(log, ['writer'])
    await wh.release()
    await (await within(3000, r3, 'reader3')).release()
    assert.equal(log, ['writer', 'reader3'])
  })

  test('counter: concurrent adds all count; an add whose reply was lost is applied once', async () => {
    await Promise.all(Array.from({ length: 4 }, async () => {
      const c = new Counter(newClient(), '/t/counter')
      for (let i = 0; i < 5; i++) await c.add(1)
    }))
    assert.is(await new Counter(client, '/t/counter').get(), 20)
    let dropped = 0
    const lossy: FetchLike = async (url, init) => {
      const res = await fetch(url, init as RequestInit)
      const text = await res.text()
      // The first write's answer is lost (v2: any non-GET; v3: the first txn).
      const write = target.api === 'v3' ? String(url).includes('/kv/txn') : init.method !== 'GET'
      if (write && dropped === 0) { dropped++; throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) }
      return { status: res.status, headers: res.headers, text: async () => text }
    }
    assert.is(await new Counter(newClient({ fetch: lossy, retry: false }), '/t/counter').add(5), 25)
    assert.is(dropped, 1)
    assert.is(await new Counter(client, '/t/counter').get(), 25)
  })

  test('work queue: FIFO, ack removes, nack and an expired claim redeliver, pop waits for a push', async () => {
    const q = new WorkQueue<number>(client, '/t/queue', { visibilityTimeout: 2 })
    for (const n of [1, 2, 3]) await q.push(n)
    const a = await q.pop()
    const b = await q.pop()
    assert.equal([a.data, b.data], [1, 2])
    await a.ack()
    await b.nack()
    const again = await q.pop()
    assert.is(again.data, 2, 'a nacked item comes back first')
    const c = await q.pop()
    assert.is(c.data, 3)
    // Another consumer waits; when c's claim goes away (as on expiry after a crash), it gets item 3.
    const other = new WorkQueue<number>(newClient(), '/t/queue', { visibilityTimeout: 2 })
    const waiting = other.pop({ timeout: 5000 })
    await sleep(200)
    await client.delete(`/t/queue/claims/${c.key.slice(c.key.lastIndexOf('/') + 1)}`)
    const redelivered = await within(5000, waiting, 'redelivery')
    assert.is(redelivered.data, 3)
    await redelivered.ack()
    await again.ack()
    assert.is(await q.size(), 0)
    const later = q.pop({ timeout: 5000 })
    await sleep(200)
    await other.push(4)
    const it = await within(5000, later, 'pop after push')
    assert.is(it.data, 4)
    await it.ack()
  })

  test('JSON map and set: keys with slashes, atomic update under contention, set membership by value', async () => {
    const m = new JsonMap<{ n: number }>(client, '/t/map')
    await m.set('a/b', { n: 1 })
    assert.equal(await m.get('a/b'), { n: 1 })
    assert.ok(await m.setIfAbsent('c', { n: 0 }))
    assert.not.ok(await m.setIfAbsent('c', { n: 9 }))
    await Promise.all(Array.from({ length: 5 }, () => new JsonMap<{ n: number }>(newClient(), '/t/map').update('c', (cur) => ({ n: (cur?.n ?? 0) + 1 }))))
    assert.equal(await m.get('c'), { n: 5 })
    assert.equal(await m.entries(), [['a/b', { n: 1 }], ['c', { n: 5 }]])
    assert.ok(await m.delete('a/b'))
    assert.not.ok(await m.delete('a/b'))
    const s = new JsonSet<{ x: number; y: number }>(client, '/t/set')
    assert.ok(await s.add({ x: 1, y: 2 }))
    assert.not.ok(await s.add({ y: 2, x: 1 }), 'same value, other key order')
    assert.ok(await s.has({ x: 1, y: 2 }))
    assert.ok(await s.add({ x: 3, y: 4 }))
    assert.is((await s.values()).length, 2)
    assert.ok(await s.delete({ x: 3, y: 4 }))
    assert.equal(await s.values(), [{ x: 1, y: 2 }])
  })

  test('barrier: nobody passes until all parties arrived', async () => {
    const passed: number[] = []
    const parties = [0, 1, 2].map((i) => async () => {
      await sleep(i * 200)
      await new Barrier(newClient(), '/t/barrier', { parties: 3 }).arrive({ timeout: 5000 })
      passed.push(i)
    })
    const all = Promise.all(parties.map((p) => p()))
    await sleep(300)
    assert.equal(passed, [])
    await within(5000, all, 'barrier')
    assert.is(passed.length, 3)
    assert.is(await new Barrier(client, '/t/barrier', { parties: 3 }).arrived(), 3)
  })

  test.run()
}

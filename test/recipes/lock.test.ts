// Lock recipe behaviour users rely on, on every backend and both APIs (v3: Go's Mutex layout): FIFO order without a thundering herd,
// tryAcquire, timeouts and aborts that withdraw the waiter, the budget rule of withLock,
// `await using`, and stale-read refusal. Failure handling is in lock-loss.test.ts.

import * as assert from 'uvu/assert'
import type { FetchLike } from '../../src/index.js'
import {
  Lock, RecipeAbortError, RecipeError, RecipeTimeoutError, StaleReadError, guardFor, type LockHandle,
} from '../../recipes/index.js'
import { isV3, type AnyClient } from '../../recipes/api.js'
import { within } from '../client/fixtures.js'
import { targetSuite, targets } from './targets.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** The entries queued under a lock (v2: the directory's keys; v3: the keys under `key/`). */
async function entries(client: AnyClient, key: string): Promise<number> {
  if (isV3(client)) return (await client.range(key + '/', { prefix: true, countOnly: true })).count
  return (await client.list(key).catch(() => [])).length
}

for (const target of targets()) {
  const { test, newClient } = targetSuite('recipes lock', target)
  const v3 = target.api === 'v3'
  let client: AnyClient
  test.before(() => { client = newClient() })

  test('fair lock: waiters get the lock in arrival order; a withdrawn waiter does not break the chain', async () => {
    const key = '/t/lock/fifo'
    const first = await new Lock(newClient(), key, { ttl: 2 }).acquire()
    const order: string[] = []
    const quitter = new AbortController()
    const queued = async (n: number): Promise<void> => {
      await within(5000, (async () => { while ((await entries(client, key)) < n) await sleep(20) })(), `${n} queued`)
    }
    const waiters: Promise<void>[] = []
    for (const [i, name] of ['w1', 'w2', 'w3'].entries()) {
      waiters.push((async () => {
        try {
          const h = await new Lock(newClient(), key, { ttl: 2, owner: name }).acquire({ signal: name === 'w2' ? quitter.signal : undefined })
          order.push(name)
          await sleep(50)
          await h.release()
        } catch (err) {
          order.push(`${name}:${(err as Error).name}`)
        }
      })())
      await queued(i + 2) // arrival order is queue order
    }
    quitter.abort()
    await within(5000, (async () => { while ((await entries(client, key)) !== 3) await sleep(20) })(), 'w2 withdrawn')
    assert.equal((await entries(client, key)), 3, 'holder + two waiters queued (w2 withdrew its entry)')
    await first.release()
    await within(10_000, Promise.all(waiters), 'waiters')
    assert.equal(order, ['w2:RecipeAbortError', 'w1', 'w3'])
    assert.is(await entries(client, key), 0)
  })

  test('no thundering herd: a release wakes only the next waiter (the others do not even re-read)', async () => {
    const key = '/t/lock/herd'
    const holder = await new Lock(client, key, { ttl: 3 }).acquire()
    const reads = [0, 0, 0, 0]
    const counting = (i: number): FetchLike => async (url, init) => {
      // Reads of the queue: v2 GETs that are not watches, v3 ranges.
      if (v3 ? String(url).includes('/kv/range') : init.method === 'GET' && !url.includes('wait=true')) reads[i]!++
      const res = await fetch(url, init as RequestInit)
      return { status: res.status, headers: res.headers, text: () => res.text(), body: res.body } // body: v3 watches stream it
    }
    const handles: Promise<LockHandle>[] = []
    for (let i = 0; i < 4; i++) {
      handles.push(new Lock(newClient({ fetch: counting(i) }), key, { ttl: 3 }).acquire())
      await within(5000, (async () => { while ((await entries(client, key)) < i + 2) await sleep(20) })(), 'queued')
    }
    await sleep(200)
    const before = [...reads]
    await holder.release()
    const first = await within(5000, handles[0]!, 'first waiter')
    await sleep(300)
    assert.ok(reads[0]! > before[0]!, 'the next waiter re-read the queue')
    assert.equal(reads.slice(1), before.slice(1), 'the other waiters stayed asleep')
    await first.release()
    for (const h of handles.slice(1)) await (await within(5000, h, 'waiter')).release()
  })

  test('tryAcquire: a handle when free, undefined when held, and no entry left behind', async () => {
    const lock = new Lock(client, '/t/lock/try', { ttl: 2 })
    const h = await lock.tryAcquire()
    assert.ok(h)
    assert.is(await lock.tryAcquire(), undefined)
    assert.is((await entries(client, '/t/lock/try')), 1)
    assert.is((await lock.holder())?.token.index, h!.token.index)
    await h!.release()
    assert.is(await lock.holder(), undefined)
  })

  test('acquire with timeout fails with RecipeTimeoutError and withdraws the waiter (both modes)', async () => {
    for (const fair of [true, false]) {
      const key = `/t/lock/timeout-${fair}`
      const h = await new Lock(client, key, { ttl: 3, fair }).acquire()
      const t0 = Date.now()
      const err = await new Lock(newClient(), key, { ttl: 3, fair }).acquire({ timeout: 400 }).catch((e: unknown) => e)
      assert.instance(err, RecipeTimeoutError)
      assert.ok(Date.now() - t0 < 2000)
      if (fair) assert.is((await entries(client, key)), 1)
      await h.release()
    }
  })

  test('withLock refuses a TTL longer than the budget left, before creating anything', async () => {
    const err = await new Lock(client, '/t/lock/budget', { ttl: 10 }).withLock(() => 1, { budgetMs: 5000 }).catch((e: unknown) => e)
    assert.instance(err, RecipeError)
    assert.is(await new Lock(client, '/t/lock/budget').holder(), undefined)
    assert.is(await new Lock(client, '/t/lock/budget', { ttl: 2 }).withLock(() => 7, { budgetMs: 5000 }), 7)
  })

  test('`await using` releases the lock at the end of the block', async () => {
    const lock = new Lock(client, '/t/lock/using', { ttl: 2 })
    {
      await using h = await lock.acquire()
      assert.ok(h.isHeld())
    }
    assert.is(await lock.holder(), undefined)
  })

  if (!v3) test('recipe reads refuse answers older than the highest index already seen (v2)', async () => {
    const c = newClient() as Client
    guardFor(c).see(Number.MAX_SAFE_INTEGER - 1)
    const err = await new Lock(c, '/t/lock/stale', { ttl: 2 }).holder().catch((e: unknown) => e)
    assert.instance(err, StaleReadError)
  })

  test('abort before the lock is granted rejects with RecipeAbortError', async () => {
    const h = await new Lock(client, '/t/lock/abort', { ttl: 2 }).acquire()
    const ctl = new AbortController()
    setTimeout(() => ctl.abort(), 200)
    const err = await new Lock(newClient(), '/t/lock/abort', { ttl: 2 }).acquire({ signal: ctl.signal }).catch((e: unknown) => e)
    assert.instance(err, RecipeAbortError)
    await h.release()
  })

  test.run()
}

// Lock recipe behaviour users rely on, on every backend: FIFO order, tryAcquire, timeouts and
// aborts that withdraw the waiter, keepalive that keeps the TTL without waking watchers, loss
// detection (signal + event), compare-and-delete release, frozen-process doubt, lost replies
// recognised by nonce, serialise/resume, and the budget rule of withLock.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Client, type FetchLike } from '../../src/index.js'
import {
  Lock, LockLostError, RecipeAbortError, RecipeError, RecipeTimeoutError, StaleReadError, guardFor, type LockHandle,
} from '../../recipes/index.js'
import { waitGone } from '../../recipes/lock-core.js'
import { backends, startCluster, within, type Cluster } from '../client/fixtures.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
/** Blocks the event loop like a frozen process (no timers, no I/O) for `ms`. */
const freeze = (ms: number): void => { const until = Date.now() + ms; while (Date.now() < until) { /* frozen */ } }

for (const backend of backends()) {
  const test = suite(`recipes lock [${backend}]`)
  let cluster: Cluster
  let client: Client
  const clients: Client[] = []
  const newClient = (extra: Partial<ConstructorParameters<typeof Client>[0]> = {}): Client => {
    const c = new Client({ endpoints: cluster.endpoints, timeout: 3000, ...extra })
    clients.push(c)
    return c
  }

  test.before(async () => {
    cluster = await startCluster(backend)
    client = newClient()
  })
  test.after(async () => {
    for (const c of clients) c.close()
    await cluster?.close()
  })

  test('fair lock: waiters get the lock in arrival order; a withdrawn waiter does not break the chain', async () => {
    const key = '/t/lock/fifo'
    const first = await new Lock(newClient(), key, { ttl: 2 }).acquire()
    const order: string[] = []
    const quitter = new AbortController()
    const queued = async (n: number): Promise<void> => {
      await within(5000, (async () => { while ((await client.list(key)).length < n) await sleep(20) })(), `${n} queued`)
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
    await within(5000, (async () => { while ((await client.list(key)).length !== 3) await sleep(20) })(), 'w2 withdrawn')
    assert.equal((await client.list(key)).length, 3, 'holder + two waiters queued (w2 withdrew its entry)')
    await first.release()
    await within(10_000, Promise.all(waiters), 'waiters')
    assert.equal(order, ['w2:RecipeAbortError', 'w1', 'w3'])
    assert.equal(await client.list(key), [])
  })

  test('tryAcquire: a handle when free, undefined when held, and no entry left behind', async () => {
    const lock = new Lock(client, '/t/lock/try', { ttl: 2 })
    const h = await lock.tryAcquire()
    assert.ok(h)
    assert.is(await lock.tryAcquire(), undefined)
    assert.is((await client.list('/t/lock/try')).length, 1)
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
      if (fair) assert.is((await client.list(key)).length, 1)
      await h.release()
    }
  })

  test('keepalive holds past 2x TTL, keeps the TTL (never makes the key permanent), wakes no watcher', async () => {
    await Promise.all([true, false].map(async (fair) => {
      const key = `/t/lock/keep-${fair}`
      const c = newClient()
      const h = await new Lock(c, key, { ttl: 2, fair }).acquire()
      const w = c.watch(h.key)
      const events: unknown[] = []
      const watching = (async () => { for await (const ev of w) events.push(ev) })().catch(() => {})
      await sleep(4500)
      const node = (await c.get(h.key)).node
      assert.ok(node.ttl !== undefined && node.ttl <= 2, `TTL kept (${node.ttl})`)
      assert.is(node.createdIndex, h.token.index, 'the key was never re-created')
      assert.ok(node.modifiedIndex > node.createdIndex, 'refreshes happened')
      assert.equal(events, [], 'refreshes wake no watcher')
      assert.ok(h.isHeld())
      await h.release()
      await sleep(100)
      assert.is(events.length, 1, 'the release is one event')
      w.close()
      await watching
    }))
  })

  test('withLock: the signal fires and withLock rejects when the lock is lost; release spares the new holder', async () => {
    const key = '/t/lock/lost'
    const lock = new Lock(client, key, { ttl: 2, fair: false })
    let lostEvent = false
    let other: LockHandle | undefined
    const err = await lock.withLock(async (signal, h) => {
      h.on('lost', () => { lostEvent = true })
      await client.delete(key) // an operator (or expiry) removes the key
      other = await new Lock(newClient(), key, { ttl: 2, fair: false }).acquire({ timeout: 3000 })
      await within(3000, new Promise((r) => signal.addEventListener('abort', r)), 'lost signal')
      assert.instance((signal as { reason?: unknown }).reason, LockLostError)
      return 'done'
    }).catch((e: unknown) => e)
    assert.instance(err, LockLostError)
    assert.ok(lostEvent)
    assert.ok(other!.isHeld())
    assert.is((await client.get(key)).node.createdIndex, other!.token.index, "the lost holder's release did not delete the new holder's key")
    await other!.release()
  })

  test('a keepalive that cannot reach the cluster past the TTL marks the lock lost (signal + event)', async () => {
    let down = false
    const flaky: FetchLike = async (url, init) => {
      if (down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
      const res = await fetch(url, init as RequestInit)
      const text = await res.text()
      return { status: res.status, headers: res.headers, text: async () => text }
    }
    const h = await new Lock(newClient({ fetch: flaky, retry: { retries: 1, minTimeout: 50, maxTimeout: 100 } }), '/t/lock/unreachable', { ttl: 2 }).acquire()
    let lostAt = 0
    h.on('lost', () => { lostAt = Date.now() })
    const cutAt = Date.now()
    down = true
    await within(4000, new Promise((r) => h.signal.addEventListener('abort', r)), 'lost')
    assert.instance((h.signal as { reason?: unknown }).reason, LockLostError)
    // Declared lost before the server can have expired it (last refresh + TTL), not after.
    assert.ok(lostAt - cutAt <= 2000, `lost after ${lostAt - cutAt} ms`)
    assert.is(h.state, 'lost')
  })

  test('a frozen process (event loop blocked past the margin) treats its lock as doubtful until re-checked', async () => {
    const lock = new Lock(client, '/t/lock/freeze', { ttl: 3 })
    const h = await lock.acquire()
    const events: string[] = []
    h.on('doubtful', () => events.push('doubtful'))
    h.on('confirmed', () => events.push('confirmed'))
    h.on('lost', () => events.push('lost'))
    // Short freeze: past the safety margin (ttl/4) but within the TTL: doubtful, then confirmed.
    assert.ok(await h.check()) // a refresh just now: the server's expiry is 3 s from here
    freeze(2400)
    assert.is(h.state, 'doubtful')
    assert.not.ok(h.isHeld())
    assert.ok(await h.check(), 'the server still has our key')
    assert.is(h.state, 'held')
    // Long freeze: past the TTL: the key expires, the check says lost.
    freeze(3300)
    assert.is(h.state, 'doubtful')
    await sleep(700) // server-side expiry sweep
    assert.not.ok(await h.check())
    assert.is(h.state, 'lost')
    assert.ok(h.signal.aborted)
    assert.ok(events.includes('confirmed') && events[events.length - 1] === 'lost', events.join(','))
    await h.release()
    const h2 = await lock.acquire({ timeout: 3000 })
    assert.ok(h2.token.index > h.token.index)
    await h2.release()
  })

  test('a create/POST whose reply was lost (OutcomeUnknown) is recognised as ours by its nonce', async () => {
    for (const fair of [true, false]) {
      let dropped = 0
      const lossy: FetchLike = async (url, init) => {
        const res = await fetch(url, init as RequestInit)
        const text = await res.text()
        // The request is applied, then the reply is lost on the way back (first write only).
        if (init.method !== 'GET' && dropped === 0) { dropped++; throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) }
        return { status: res.status, headers: res.headers, text: async () => text }
      }
      const c = newClient({ fetch: lossy, retry: false })
      const key = `/t/lock/unknown-${fair}`
      const h = await within(5000, new Lock(c, key, { ttl: 2, fair }).acquire(), 'acquire')
      assert.is(dropped, 1)
      const nodes = fair ? await client.list(key) : [(await client.get(key)).node]
      assert.is(nodes.length, 1, 'exactly one key: the lost-reply write was adopted, not repeated')
      assert.is(nodes[0]!.createdIndex, h.token.index)
      await h.release()
    }
  })

  test('toJSON/detach + Lock.resume hands a hold to a later invocation; an expired one is refused', async () => {
    const h = await new Lock(client, '/t/lock/resume', { ttl: 2 }).acquire()
    const json = JSON.parse(JSON.stringify(h.detach()))
    assert.is(h.state, 'released')
    const later = newClient()
    const r = await Lock.resume(later, json)
    assert.equal(r.token, h.token)
    await sleep(2300) // longer than the TTL: the resumed handle kept it alive
    assert.ok(r.isHeld())
    assert.is((await client.list('/t/lock/resume')).length, 1)
    const json2 = r.detach()
    await client.delete(json2.key) // gone (expired, or removed by an operator) before the next invocation
    const err = await Lock.resume(newClient(), json2).catch((e: unknown) => e)
    assert.instance(err, LockLostError)
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

  test('a waiter whose start index fell out of the 1000-event history (401) re-reads and still wakes on release', async () => {
    const h = await new Lock(client, '/t/lock/history', { ttl: 5, fair: false }).acquire()
    const from = (await client.get('/t/lock/history')).etcdIndex + 1
    // Push the waiter's index out of the history window with writes elsewhere.
    for (let i = 0; i < 110; i++) await Promise.all(Array.from({ length: 10 }, (_, j) => client.set(`/t/noise/${j}`, String(i))))
    const ctl = new AbortController()
    let woke = false
    const waiting = waitGone(client, '/t/lock/history', from, false, ctl.signal).then(() => { woke = true })
    await sleep(300)
    assert.not.ok(woke, 'the key still exists after the resync: keep waiting')
    await h.release()
    await within(3000, waiting, 'wake after release')
  })

  test('recipe reads refuse answers older than the highest index already seen', async () => {
    const c = newClient()
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

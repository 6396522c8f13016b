// Lock recipe behaviour when things go wrong, on every backend: keepalive that keeps the TTL
// without waking watchers, loss detection (deleted key, unreachable cluster) with signal + event,
// compare-and-delete release that spares the next holder, frozen-process doubt, lost replies
// recognised by nonce, serialise/resume, and waiters resyncing after history loss (401).

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Client, type FetchLike } from '../../src/index.js'
import { Lock, LockLostError, type LockHandle } from '../../recipes/index.js'
import { waitGone } from '../../recipes/lock-v2.js'
import { backends, startCluster, within, type Cluster } from '../client/fixtures.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
/** Blocks the event loop like a frozen process (no timers, no I/O) for `ms`. */
const freeze = (ms: number): void => { const until = Date.now() + ms; while (Date.now() < until) { /* frozen */ } }

for (const backend of backends()) {
  const test = suite(`recipes lock loss [${backend}]`)
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

  test.run()
}

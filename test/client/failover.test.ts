// Client SDK failover and retry rules: a dead first endpoint (connection refused), a hanging one
// (accepts, never answers), the overall deadline, OutcomeUnknownError for unguarded writes, and a
// member killed mid-watch (3 members) with no lost or repeated event. Every backend.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  Client, OutcomeUnknownError, type ClientOptions, type FetchLike, TimeoutError, UnavailableError, isRetryable,
} from '../../src/index.js'
import { backends, deadEndpoint, rejection, startCluster, startHangingServer, within, type Cluster } from './fixtures.js'

/** Both fetch implementations a Node user may run with: their network errors differ. */
const FETCHES: [string, FetchLike | undefined][] = [
  ['default: cross-fetch', undefined],
  ['built-in fetch', globalThis.fetch.bind(globalThis) as FetchLike],
]

for (const backend of backends()) for (const [fetchName, fetchImpl] of FETCHES) {
  const mk = (o: ClientOptions): Client => new Client({ fetch: fetchImpl, ...o })
  const test = suite(`client failover [${backend}, ${fetchName}]`)
  let cluster: Cluster
  let hanging: Awaited<ReturnType<typeof startHangingServer>>

  test.before(async () => {
    cluster = await startCluster(backend)
    hanging = await startHangingServer()
  })
  test.after(async () => {
    await hanging?.close()
    await cluster?.close()
  })

  test('dead first endpoint: reads and writes fail over, and the good endpoint is remembered', async () => {
    const dead = await deadEndpoint()
    const client = mk({ endpoints: [dead, cluster.endpoints[0]!], timeout: 2000 })
    try {
      // Connection refused means the request never reached a server: even a plain write may move on.
      const s = await within(5000, client.set('/f/dead', 'v'), 'set')
      assert.is(s.node.value, 'v')
      assert.is(client.endpoints[0], cluster.endpoints[0], 'last good endpoint first')
      const g = await within(5000, client.get('/f/dead'), 'get')
      assert.is(g.node.value, 'v')
      const p = await within(5000, client.post('/f/queue', 'job'), 'post')
      assert.is(p.action, 'create')
    } finally {
      client.close()
    }
  })

  test('hanging first endpoint: reads fail over after the per-request timeout', async () => {
    const client = mk({ endpoints: [hanging.url, cluster.endpoints[0]!], timeout: 300 })
    try {
      await mk({ endpoints: cluster.endpoints }).set('/f/hang', 'x')
      const t0 = Date.now()
      const g = await within(5000, client.get('/f/hang'), 'get')
      assert.is(g.node.value, 'x')
      assert.ok(Date.now() - t0 >= 250, 'waited for the timeout')
      assert.ok(hanging.connections() >= 1)
      assert.is(client.endpoints[0], cluster.endpoints[0])
    } finally {
      client.close()
    }
  })

  test('hanging endpoint: an unguarded write is OutcomeUnknownError, never silently repeated', async () => {
    const client = mk({ endpoints: [hanging.url, cluster.endpoints[0]!], timeout: 300 })
    try {
      const err = await within(5000, rejection(() => client.set('/f/unknown', 'v')), 'set')
      assert.instance(err, OutcomeUnknownError)
      assert.is((err as OutcomeUnknownError).code, 'OUTCOME_UNKNOWN')
      assert.is((err as OutcomeUnknownError).endpoint, hanging.url)
      assert.not.ok(isRetryable(err))
      const post = await within(5000, rejection(() => client.post('/f/q2', 'v')), 'post')
      assert.instance(post, OutcomeUnknownError)
      // The good endpoint never saw either write.
      const check = mk({ endpoints: cluster.endpoints })
      assert.is(await check.get('/f/unknown').then(() => 'found', () => 'missing'), 'missing')
      assert.is(await check.get('/f/q2').then(() => 'found', () => 'missing'), 'missing')
    } finally {
      client.close()
    }
  })

  test('hanging endpoint: a guarded write fails over only when the caller opted in', async () => {
    const strict = mk({ endpoints: [hanging.url, cluster.endpoints[0]!], timeout: 300 })
    const optIn = mk({ endpoints: [hanging.url, cluster.endpoints[0]!], timeout: 300, retry: { guardedWrites: true } })
    try {
      assert.instance(await within(5000, rejection(() => strict.create('/f/guarded', 'v')), 'create'), OutcomeUnknownError)
      const c = await within(5000, optIn.create('/f/guarded', 'v'), 'create opt-in')
      assert.is(c.action, 'create')
      const cas = await within(5000, mk({ endpoints: [hanging.url, cluster.endpoints[0]!], timeout: 300, retry: { guardedWrites: true } })
        .compareAndSwap('/f/guarded', 'w', { prevIndex: c.node.modifiedIndex }), 'cas opt-in')
      assert.is(cas.node.value, 'w')
    } finally {
      strict.close()
      optIn.close()
    }
  })

  test('a watch whose first endpoint hangs fails over and sees every event', async () => {
    const client = mk({ endpoints: [hanging.url, cluster.endpoints[0]!], timeout: 300 })
    const writer = mk({ endpoints: cluster.endpoints })
    try {
      const start = await writer.set('/f/watch/k', 'start')
      const w = client.watch('/f/watch', { recursive: true, waitIndex: start.node.modifiedIndex + 1 })
      const seen: number[] = []
      const consume = (async () => {
        for await (const ev of w) {
          if (ev.type === 'change') seen.push(ev.index)
          if (seen.length === 5) break
        }
      })()
      const written: number[] = []
      for (let i = 0; i < 5; i++) written.push((await writer.set('/f/watch/k', String(i))).node.modifiedIndex)
      await within(10_000, consume, 'watch')
      assert.equal(seen, written)
    } finally {
      client.close()
      writer.close()
    }
  })

  test('no endpoint reachable: UnavailableError (retryable) after the retries', async () => {
    const client = mk({ endpoints: [await deadEndpoint(), await deadEndpoint()], retry: { retries: 2, minTimeout: 10, maxTimeout: 50 } })
    const t0 = Date.now()
    const err = await within(5000, rejection(() => client.get('/f/x')), 'get')
    assert.instance(err, UnavailableError)
    assert.is((err as UnavailableError).code, 'UNAVAILABLE')
    assert.is((err as UnavailableError).attempts.length, 2)
    assert.ok(isRetryable(err))
    assert.ok(Date.now() - t0 < 3000)
    // A write that never reached a server is also just unavailable (safe to retry).
    assert.instance(await within(5000, rejection(() => client.set('/f/x', 'v')), 'set'), UnavailableError)
  })

  test('overall deadline: a read against only hanging endpoints ends with TimeoutError', async () => {
    const client = mk({ endpoints: [hanging.url], timeout: 200, deadline: 700, retry: { retries: 100, minTimeout: 10, maxTimeout: 20 } })
    const t0 = Date.now()
    const err = await within(5000, rejection(() => client.get('/f/x')), 'get')
    const took = Date.now() - t0
    assert.instance(err, TimeoutError)
    assert.ok(isRetryable(err))
    assert.ok(took >= 600 && took < 2000, `deadline respected (${took} ms)`)
  })

  test.run()
}

// A member killed mid-watch: needs three members so that writes continue after one dies.
for (const backend of backends()) for (const [fetchName, fetchImpl] of FETCHES) {
  const mk = (o: ClientOptions): Client => new Client({ fetch: fetchImpl, ...o })
  const test = suite(`client watch failover, 3 members [${backend}, ${fetchName}]`)
  let cluster: Cluster

  test.before(async () => {
    cluster = await startCluster(backend, { size: 3 })
  })
  test.after(async () => {
    await cluster?.close()
  })

  test('the watched member is killed: the watch resumes on another with no lost or repeated event', async () => {
    // Watch through a follower (killing the leader would stall writes for an election, which is
    // not what this test is about), write through the others.
    const probe = mk({ endpoints: cluster.endpoints })
    const leaderURLs = (await probe.leader()).clientURLs
    probe.close()
    const victim = cluster.members.find((m) => !leaderURLs.includes(m.clientURL))!
    const others = cluster.members.filter((m) => m !== victim).map((m) => m.clientURL)
    const watcher = mk({ endpoints: [victim.clientURL, ...others], timeout: 1000 })
    const writer = mk({ endpoints: others, timeout: 5000, deadline: 20_000 })
    try {
      const start = await writer.set('/fw/k', 'start')
      const total = 60
      const written: number[] = []
      const seen: number[] = []
      const w = watcher.watch('/fw', { recursive: true, waitIndex: start.node.modifiedIndex + 1 })
      const consume = (async () => {
        for await (const ev of w) {
          if (ev.type === 'change') seen.push(ev.index)
          if (seen.length >= total) break
        }
      })()
      for (let i = 0; i < total; i++) {
        if (i === total / 2) {
          // The watch is really served by the victim up to here; then kill it.
          await within(10_000, (async () => { while (seen.length < written.length) await new Promise((r) => setTimeout(r, 20)) })(), 'catch up')
          assert.is(watcher.endpoints[0], victim.clientURL)
          await victim.kill()
        }
        written.push((await writer.set(`/fw/k${i % 5}`, String(i))).node.modifiedIndex)
      }
      await within(20_000, consume, 'watch after failover')
      assert.equal(seen, written)
      assert.ok(others.includes(watcher.endpoints[0]!), 'moved to a live member')
    } finally {
      watcher.close()
      writer.close()
    }
  })

  test.run()
}

// Multi-process safety of the lock and election recipes on every backend and both APIs (raftkv
// v2, etcd v2, etcd v3): worker processes contend on one lock and a fenced resource (no
// overlapping holds, strictly increasing fencing tokens, no lost writes); a holder frozen with
// SIGSTOP past its TTL loses the lock to another process, knows it on thaw, and has its late
// guarded write rejected by its stale token; kill -9 of the leader process yields exactly one new
// leader within TTL + 2 s.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Election, FencedResource, Lock, type LeaderInfo } from '../../recipes/index.js'
import { isV3, type AnyClient } from '../../recipes/api.js'
import { within } from '../client/fixtures.js'
import { killAll, startWorker, type Report, type Worker } from './procs.js'
import { clientFor, targets } from './targets.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

const TTL = 2

/** How many candidates (or waiters) are queued under `key`. */
async function queued(client: AnyClient, key: string): Promise<number> {
  if (isV3(client)) return (await client.range(key + '/', { prefix: true, countOnly: true })).count
  return (await client.list(key).catch(() => [])).length
}

for (const target of targets()) {
  const test = suite(`recipes safety [${target.label}]`)
  let cluster: { endpoints: string[]; close(): Promise<void> }
  let client: AnyClient
  const workers: Worker[] = []
  const api = target.api

  test.before(async () => {
    cluster = await target.start()
    client = clientFor(api, cluster.endpoints)
  })
  test.after(async () => {
    await killAll(workers)
    client?.close()
    await cluster?.close()
  })

  async function contend(fair: boolean, n: number, rounds: number): Promise<void> {
    const key = `/safety/${fair ? 'fair' : 'mutex'}`
    const resource = `${key}-resource`
    const ws = Array.from({ length: n }, (_, i) => startWorker(`c${i}`, { role: 'contend', api, endpoints: cluster.endpoints, key, ttl: TTL, rounds, fair, resource }))
    workers.push(...ws)
    await within(60_000, Promise.all(ws.map((w) => w.waitFor((r) => r.ev === 'done' || r.ev === 'error', 55_000, 'done'))), 'contenders')
    const errors = ws.flatMap((w) => w.reports.filter((r) => r.ev === 'error'))
    assert.equal(errors, [])
    const holds = ws.flatMap((w) => w.reports.filter((r) => r.ev === 'hold')) as (Report & { start: number; end: number; token: number; held: boolean })[]
    assert.is(holds.length, n * rounds)
    holds.sort((a, b) => a.start - b.start)
    for (let i = 1; i < holds.length; i++) {
      const [a, b] = [holds[i - 1]!, holds[i]!]
      assert.ok(a.end <= b.start, `holds overlap: ${a.id}#${a.round} [${a.start}, ${a.end}] and ${b.id}#${b.round} [${b.start}, ${b.end}]`)
      assert.ok(b.token > a.token, `fencing tokens must increase: ${a.token} then ${b.token}`)
    }
    assert.ok(holds.every((h) => h.held), 'every holder still held the lock at the end of its critical section')
    const final = await new FencedResource<{ writes: number }>(client, resource).read()
    assert.is(final.data?.writes, n * rounds, 'every guarded write landed exactly once')
    assert.is(final.token?.index, holds[holds.length - 1]!.token)
  }

  test('fair lock: 4 processes x 5 rounds never overlap; fencing tokens strictly increase', async () => {
    await contend(true, 4, 5)
  })

  test('mutex key: 3 processes x 4 rounds never overlap; fencing tokens strictly increase', async () => {
    await contend(false, 3, 4)
  })

  test('a holder paused (SIGSTOP) past its TTL loses the lock; its late guarded write is rejected', async () => {
    const key = '/safety/paused'
    const resource = '/safety/paused-resource'
    const a = startWorker('paused', { role: 'pause-holder', api, endpoints: cluster.endpoints, key, ttl: TTL, resource })
    workers.push(a)
    const acquired = await a.waitFor((r) => r.ev === 'acquired' || r.ev === 'error', 20_000, 'acquired')
    assert.is(acquired.ev, 'acquired')
    a.signal('SIGSTOP')
    const stoppedAt = Date.now()
    const h = await new Lock(client, key, { ttl: TTL, owner: 'parent' }).acquire({ timeout: TTL * 1000 + 6000 })
    const waited = Date.now() - stoppedAt
    // The paused holder's last refresh was at most ttl/3 before the pause: its key lives until then + TTL.
    assert.ok(waited >= (TTL * 1000 * 2) / 3 - 200, `the lock was taken ${waited} ms after the pause: before the paused holder's TTL ran out`)
    assert.ok(h.token.index > (acquired.token as number), 'the new holder has a newer token')
    const res = new FencedResource<string>(client, resource)
    await res.claim(h.token)
    await res.set(h.token, 'written by the new holder')
    a.signal('SIGCONT')
    const after = await a.waitFor((r) => r.ev === 'after-thaw' || r.ev === 'error', 15_000, 'after-thaw')
    assert.is(after.ev, 'after-thaw', JSON.stringify(after))
    assert.ok(after.stateAfterThaw !== 'held', `the thawed holder must not believe it holds the lock (state ${after.stateAfterThaw})`)
    assert.is(after.write, 'StaleTokenError', 'the late write is rejected by its stale token')
    assert.is(after.lost, true, 'the thawed holder saw its lock lost (signal fired)')
    assert.is((await res.read()).data, 'written by the new holder')
    assert.ok(h.isHeld())
    await h.release()
    assert.is(await a.exited, 0)
  })

  test('kill -9 of the leader process: exactly one new leader within TTL + 2 s', async () => {
    const key = '/safety/election'
    const ws = ['p0', 'p1', 'p2'].map((id) => startWorker(id, { role: 'candidate', api, endpoints: cluster.endpoints, key, ttl: TTL }))
    workers.push(...ws)
    const first = await Promise.race(ws.map((w) => w.waitFor((r) => r.ev === 'elected', 20_000, 'elected')))
    const observer = new Election(client, key, { ttl: TTL })
    // Everyone queued before the kill.
    await within(20_000, (async () => { while ((await queued(client, key)) < 3) await sleep(100) })(), 'three candidates')
    const changes: { l: LeaderInfo | undefined; at: number }[] = []
    const stop = new AbortController()
    const observing = (async () => { for await (const l of observer.observe({ signal: stop.signal })) changes.push({ l, at: Date.now() }) })().catch(() => {})
    await sleep(200)
    const leader = ws.find((w) => w.id === first.id)!
    const killedAt = Date.now()
    leader.signal('SIGKILL')
    await leader.exited
    const rest = ws.filter((w) => w !== leader)
    const next = await Promise.race(rest.map((w) => w.waitFor((r) => r.ev === 'elected', TTL * 1000 + 4000, 'new leader')))
    const took = Date.now() - killedAt
    assert.ok(took <= TTL * 1000 + 2000, `new leader after ${took} ms`)
    assert.ok((next.term as number) > (first.term as number))
    await sleep(1500) // nobody else may claim the lead
    const electedNow = rest.flatMap((w) => w.reports.filter((r) => r.ev === 'elected'))
    assert.is(electedNow.length, 1, `exactly one new leader: ${JSON.stringify(electedNow)}`)
    stop.abort()
    await observing
    const leaders = changes.map((c) => (c.l?.value as { id?: string } | undefined)?.id)
    assert.is(leaders[0], first.id)
    assert.is(leaders[leaders.length - 1], next.id)
    assert.ok(!leaders.slice(1).includes(first.id), 'the dead leader never comes back')
  })

  test.run()
}

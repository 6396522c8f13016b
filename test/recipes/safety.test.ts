// Multi-process safety of the lock recipe on every backend: worker processes contend on one lock
// and a fenced resource (no overlapping holds, strictly increasing fencing tokens, no lost
// writes), and a holder frozen with SIGSTOP past its TTL loses the lock to another process, knows
// it on thaw, and has its late guarded write rejected by its stale token.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Client } from '../../src/index.js'
import { FencedResource, Lock } from '../../recipes/index.js'
import { backends, startCluster, within, type Cluster } from '../client/fixtures.js'
import { killAll, startWorker, type Report, type Worker } from './procs.js'

const TTL = 2

for (const backend of backends()) {
  const test = suite(`recipes safety [${backend}]`)
  let cluster: Cluster
  let client: Client
  const workers: Worker[] = []

  test.before(async () => {
    cluster = await startCluster(backend)
    client = new Client({ endpoints: cluster.endpoints, timeout: 3000 })
  })
  test.after(async () => {
    await killAll(workers)
    client?.close()
    await cluster?.close()
  })

  async function contend(fair: boolean, n: number, rounds: number): Promise<void> {
    const key = `/safety/${fair ? 'fair' : 'mutex'}`
    const resource = `${key}-resource`
    const ws = Array.from({ length: n }, (_, i) => startWorker(`c${i}`, { role: 'contend', endpoints: cluster.endpoints, key, ttl: TTL, rounds, fair, resource }))
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
    const a = startWorker('paused', { role: 'pause-holder', endpoints: cluster.endpoints, key, ttl: TTL, resource })
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

  test.run()
}

// Recipes across a member failure, on every backend: in a 3-member cluster, killing the member a
// lock holder talks to (and, in turn, the raft leader) must not cost the hold: the keepalive fails
// over to another member within the TTL; a waiter on other endpoints gets the lock after release,
// with a larger fencing token; an observer keeps following the election.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Client } from '../../src/index.js'
import { Election, Lock, type LeaderInfo } from '../../recipes/index.js'
import { backends, startCluster, within, type Cluster } from '../client/fixtures.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

for (const backend of backends()) {
  const test = suite(`recipes failover [${backend}]`)
  let cluster: Cluster
  const clients: Client[] = []
  const client = (endpoints: string[]): Client => {
    const c = new Client({ endpoints, timeout: 1000, deadline: 4000 })
    clients.push(c)
    return c
  }

  test.before(async () => { cluster = await startCluster(backend, { size: 3 }) })
  test.after(async () => {
    for (const c of clients) c.close()
    await cluster?.close()
  })

  test('a held lock and a leadership survive the loss of the member their client talks to (the raft leader)', async () => {
    // Talk to the raft leader first, and kill it: the hardest case (a new election follows).
    const leaderName = (await client(cluster.endpoints).leader()).name
    const li = cluster.members.findIndex((m) => m.name === leaderName)
    assert.ok(li >= 0, `leader ${leaderName} among ${cluster.members.map((m) => m.name)}`)
    const order = [li, (li + 1) % 3, (li + 2) % 3].map((i) => cluster.endpoints[i]!)
    const [e0, e1, e2] = order as [string, string, string]
    const holder = await new Lock(client([e0, e1, e2]), '/t/failover/lock', { ttl: 3 }).acquire()
    const lead = await new Election(client([e0, e1, e2]), '/t/failover/election', { ttl: 3 }).campaign('x')
    const events: string[] = []
    holder.on('lost', () => events.push('lock lost'))
    lead.on('lost', () => events.push('lead lost'))
    const seen: (LeaderInfo | undefined)[] = []
    const stop = new AbortController()
    const observing = (async () => {
      for await (const l of new Election(client([e2, e1, e0]), '/t/failover/election').observe({ signal: stop.signal })) seen.push(l)
    })().catch(() => {})
    const waiter = new Lock(client([e1, e2, e0]), '/t/failover/lock', { ttl: 3 }).acquire({ timeout: 20_000 })
    await cluster.members[li]!.kill()
    await sleep(3500) // longer than the TTL: only refreshes through the other members can keep the hold
    assert.equal(events, [], 'nothing lost across the member failure')
    assert.ok(holder.isHeld())
    assert.ok(lead.isHeld())
    await holder.release()
    const next = await within(10_000, waiter, 'waiter')
    assert.ok(next.token.index > holder.token.index)
    await next.release()
    await lead.resign()
    await within(5000, (async () => { while (seen[seen.length - 1] !== undefined) await sleep(50) })(), 'observer sees the resignation')
    stop.abort()
    await observing
    assert.is(seen[0]?.term, lead.term)
  })

  test.run()
}

// Three raftkv members as child processes on loopback: replication through every member, leader
// failover, restart and catch-up (also by snapshot), whole-cluster crash, membership changes,
// watches across members and replicated TTL expiry (issue "The cluster", must-show list).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { ProcCluster, v2, type ProcMember } from './procs.js'
import { sleep } from '../support/wait.js'

let c: ProcCluster

test.before(async () => {
  c = await ProcCluster.start({ size: 3, heartbeatMs: 50, electionMs: 500, snapshotCount: 60 })
})
test.after(async () => {
  await c?.close()
})

async function put(m: ProcMember, key: string, value: string, extra: Record<string, string> = {}) {
  return v2(m.clientUrl, 'PUT', `/v2/keys${key}`, { value, ...extra })
}

/** Retries a write through `m` until it is acknowledged (a leader election may be in progress). */
async function putEventually(m: ProcMember, key: string, value: string, timeoutMs = 10000): Promise<number> {
  const until = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < until) {
    try {
      const r = await put(m, key, value)
      if (r.status === 200 || r.status === 201) return r.body.node.modifiedIndex as number
      last = JSON.stringify(r.body)
    } catch (e) {
      last = String(e)
    }
    await sleep(50)
  }
  throw new Error(`write ${key} through ${m.name} never succeeded: ${last}`)
}

test('exactly one leader, and every member agrees on it', async () => {
  const leader = await c.waitLeader()
  let leaders = 0
  for (const m of c.running()) {
    const r = await v2(m.clientUrl, 'GET', '/v2/stats/self')
    if (r.body.state === 'StateLeader') leaders++
    const l = await v2(m.clientUrl, 'GET', '/v2/members/leader')
    assert.is(l.body.name, leader.name)
  }
  assert.is(leaders, 1)
})

test('a write through each member is read back through every other with quorum=true', async () => {
  for (const w of c.running()) {
    const r = await put(w, `/via/${w.name}`, `from-${w.name}`)
    assert.is(r.status, 201, JSON.stringify(r.body))
    for (const rd of c.running()) {
      const g = await v2(rd.clientUrl, 'GET', `/v2/keys/via/${w.name}?quorum=true`)
      assert.is(g.status, 200)
      assert.is(g.body.node.value, `from-${w.name}`)
      assert.is(g.body.node.modifiedIndex, r.body.node.modifiedIndex)
    }
  }
})

test('a watch on one member sees a write made through another', async () => {
  const [a, b] = c.running()
  const start = await v2(a!.clientUrl, 'GET', '/v2/keys/')
  const idx = Number(start.headers.get('x-etcd-index'))
  const watch = v2(a!.clientUrl, 'GET', `/v2/keys/watched?wait=true&waitIndex=${idx + 1}`, undefined, 10000)
  await sleep(100)
  const w = await put(b!, '/watched', 'hello')
  const ev = await watch
  assert.is(ev.body.action, 'set')
  assert.is(ev.body.node.value, 'hello')
  assert.is(ev.body.node.modifiedIndex, w.body.node.modifiedIndex)
})

test('a TTL key expires on every member at the same index', async () => {
  const [a] = c.running()
  const r = await put(a!, '/ttl/k', 'v', { ttl: '1' })
  assert.is(r.status, 201)
  const until = Date.now() + 6000
  const seen = new Map<string, number>()
  while (Date.now() < until && seen.size < c.running().length) {
    for (const m of c.running()) {
      if (seen.has(m.name)) continue
      const g = await v2(m.clientUrl, 'GET', '/v2/keys/ttl/k')
      if (g.status === 404) seen.set(m.name, g.body.index)
    }
    await sleep(100)
  }
  assert.is(seen.size, c.running().length, 'expired everywhere')
  // The expire event is the same on every member.
  const evs = await Promise.all(c.running().map((m) => v2(m.clientUrl, 'GET', `/v2/keys/ttl/k?wait=true&waitIndex=${r.body.node.modifiedIndex + 1}`)))
  for (const e of evs) {
    assert.is(e.body.action, 'expire')
    assert.is(e.body.node.modifiedIndex, evs[0]!.body.node.modifiedIndex)
  }
})

test('kill -9 of the leader: a new leader within 3 election timeouts, and writes continue', async () => {
  const old = await c.waitLeader()
  await c.kill(old)
  const t0 = Date.now()
  const neu = await c.waitLeader(3 * c.electionMs + 2000)
  const took = Date.now() - t0
  assert.ok(neu.name !== old.name)
  assert.ok(took < 3 * c.electionMs + 1000, `new leader after ${took} ms`)
  for (const m of c.running()) await putEventually(m, `/after-failover/${m.name}`, 'ok')
  // The killed member restarts on its data dir and catches up.
  c.restart(old)
  const until = Date.now() + 10000
  let ok = false
  while (Date.now() < until && !ok) {
    try {
      const g = await v2(old.clientUrl, 'GET', `/v2/keys/after-failover/${neu.name}`, undefined, 1000)
      ok = g.status === 200
    } catch {}
    if (!ok) await sleep(100)
  }
  assert.ok(ok, 'restarted member caught up')
})

test('a member far behind catches up from a snapshot', async () => {
  const leader = await c.waitLeader()
  const victim = c.running().find((m) => m !== leader)!
  await c.kill(victim)
  // snapshot-count is 60: 300 writes make the leader snapshot and compact past the victim's log.
  for (let i = 0; i < 300; i++) await putEventually(leader, `/bulk/${i}`, String(i))
  c.restart(victim)
  const until = Date.now() + 15000
  let value: string | undefined
  while (Date.now() < until && value !== '299') {
    try {
      const g = await v2(victim.clientUrl, 'GET', '/v2/keys/bulk/299', undefined, 1000)
      value = g.body?.node?.value
    } catch {}
    if (value !== '299') await sleep(100)
  }
  assert.is(value, '299')
  const g = await v2(victim.clientUrl, 'GET', '/v2/keys/bulk?recursive=true')
  assert.is(g.body.node.nodes.length, 300)
})

test('kill -9 of all three and a restart lose no acknowledged write', async () => {
  const acked: { key: string; index: number }[] = []
  const leader = await c.waitLeader()
  const writers = c.running().map(async (m, w) => {
    for (let i = 0; i < 40; i++) {
      const r = await put(m, `/durable/${w}-${i}`, `v${i}`).catch(() => undefined)
      if (r && (r.status === 200 || r.status === 201)) acked.push({ key: `/durable/${w}-${i}`, index: r.body.node.modifiedIndex })
    }
  })
  await Promise.all(writers)
  assert.ok(acked.length >= 100, `acked ${acked.length}`)
  void leader
  await Promise.all(c.members.map((m) => c.kill(m)))
  for (const m of c.members) c.restart(m)
  await c.waitLeader(15000)
  const m = c.running()[0]!
  for (const a of acked) {
    const g = await v2(m.clientUrl, 'GET', `/v2/keys${a.key}?quorum=true`)
    assert.is(g.status, 200, `${a.key} lost`)
    assert.is(g.body.node.modifiedIndex, a.index)
  }
})

test('member add and remove while writes flow; etcdctl member list agrees', async () => {
  let stop = false
  let writes = 0
  const via = await c.waitLeader()
  const flow = (async () => {
    while (!stop) {
      const r = await put(via, '/flow/k', String(writes)).catch(() => undefined)
      if (r && r.status < 300) writes++
      await sleep(5)
    }
  })()
  const added = await c.addMember(via)
  // The new member catches up and serves reads.
  const until = Date.now() + 15000
  let ok = false
  while (Date.now() < until && !ok) {
    try {
      const g = await v2(added.clientUrl, 'GET', '/v2/keys/via/m1', undefined, 1000)
      ok = g.status === 200
    } catch {}
    if (!ok) await sleep(100)
  }
  assert.ok(ok, 'added member caught up')
  // Once started, the new member publishes its name and client URLs through the log (MEM-1).
  const pubUntil = Date.now() + 5000
  while (Date.now() < pubUntil) {
    const ms = await v2(via.clientUrl, 'GET', '/v2/members')
    if (ms.body.members.some((x: { name: string }) => x.name === added.name)) break
    await sleep(100)
  }
  const list = execFileSync('etcdctl', ['--endpoints', via.clientUrl, 'member', 'list'], { env: { ...process.env, ETCDCTL_API: '2' } }).toString()
  assert.is(list.trim().split('\n').length, 4, list)
  assert.ok(list.includes(`name=${added.name}`), list)
  const health = execFileSync('etcdctl', ['--endpoints', via.clientUrl, 'cluster-health'], { env: { ...process.env, ETCDCTL_API: '2' } }).toString()
  assert.ok(health.includes('cluster is healthy'), health)
  // Remove the member we added; it stops serving.
  const members = await v2(via.clientUrl, 'GET', '/v2/members')
  const id = members.body.members.find((x: { name: string }) => x.name === added.name).id
  const del = await fetch(`${via.clientUrl}/v2/members/${id}`, { method: 'DELETE' })
  assert.is(del.status, 204)
  const code = await Promise.race([added.exited!, sleep(5000).then(() => 'still running')])
  assert.is.not(code, 'still running')
  added.proc = undefined
  stop = true
  await flow
  assert.ok(writes > 10, `writes flowed: ${writes}`)
  const after = await v2(via.clientUrl, 'GET', '/v2/members')
  assert.is(after.body.members.length, 3)
})

test('SIGTERM on the leader hands leadership over and exits 0', async () => {
  const leader = await c.waitLeader()
  const t0 = Date.now()
  const code = await c.stop(leader)
  assert.is(code, 0)
  const neu = await c.waitLeader(5000)
  assert.ok(neu !== leader)
  assert.ok(Date.now() - t0 < 5000)
})

test.run()

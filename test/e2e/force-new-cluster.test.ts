// e2e: `--force-new-cluster` (CLI-3). A 3-member cluster (small --snapshot-count, so recovery
// starts from a snapshot whose voters are all three) takes writes; every member is killed; one is
// restarted with --force-new-cluster: it keeps every acknowledged key, lists itself as the only
// member, leads and takes writes at once. A second restart without the flag keeps that state, and an
// old member started again is refused by the new cluster (it was removed) and exits.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { ProcCluster, v2 } from './procs.js'
import { sleep } from '../support/wait.js'

let c: ProcCluster | undefined

test.after(async () => {
  await c?.close()
})

async function waitSelfLeader(url: string, timeoutMs = 15_000): Promise<string> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    try {
      const r = await v2(url, 'GET', '/v2/stats/self', undefined, 1000)
      if (r.status === 200 && r.body.state === 'StateLeader') return r.body.id as string
    } catch {}
    await sleep(50)
  }
  throw new Error(`${url} did not become leader within ${timeoutMs} ms (logs in ${c?.dir})`)
}

test('kill all, restart one with --force-new-cluster: old data served, one member, writes work', async () => {
  c = await ProcCluster.start({ size: 3, snapshotCount: 10 })
  const leader = await c.waitLeader()
  const N = 30
  for (let i = 0; i < N; i++) {
    const r = await v2(leader.clientUrl, 'PUT', `/v2/keys/fnc/k${i}`, { value: `v${i}` })
    assert.is(r.status, 201)
  }
  const before = await v2(leader.clientUrl, 'GET', '/v2/members')
  assert.is(before.body.members.length, 3)
  await Promise.all(c.members.map((m) => c!.kill(m)))

  const m1 = c.members[0]!
  m1.extraArgs = ['--force-new-cluster']
  c.restart(m1)
  const id = await waitSelfLeader(m1.clientUrl)
  const mem = await v2(m1.clientUrl, 'GET', '/v2/members')
  assert.is(mem.status, 200)
  assert.is(mem.body.members.length, 1)
  assert.is(mem.body.members[0].id, id)
  assert.is(mem.body.members[0].name, m1.name)
  assert.equal(mem.body.members[0].clientURLs, [m1.clientUrl])

  for (let i = 0; i < N; i++) {
    const r = await v2(m1.clientUrl, 'GET', `/v2/keys/fnc/k${i}?quorum=true`)
    assert.is(r.body.node?.value, `v${i}`, `k${i}`)
  }
  const w = await v2(m1.clientUrl, 'PUT', '/v2/keys/fnc/after', { value: 'x' })
  assert.is(w.status, 201)
  assert.match(readFileSync(path.join(c.dir, `${m1.name}.log`), 'utf8'), '--force-new-cluster: committed the whole log and removed 2 other member(s)')

  // A plain restart keeps the one-member cluster (the forced entries are in the WAL).
  await c.kill(m1)
  m1.extraArgs = []
  c.restart(m1)
  await waitSelfLeader(m1.clientUrl)
  assert.is((await v2(m1.clientUrl, 'GET', '/v2/members')).body.members.length, 1)
  assert.is((await v2(m1.clientUrl, 'GET', '/v2/keys/fnc/after?quorum=true')).body.node?.value, 'x')

  // An old member coming back is told it was removed and exits; the new cluster is unaffected.
  const m2 = c.members[1]!
  c.restart(m2)
  let timer: NodeJS.Timeout | undefined
  const code = await Promise.race([m2.exited!, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 15_000)))])
  clearTimeout(timer)
  assert.is.not(code, 'timeout', 'the removed member should stop')
  m2.proc = undefined
  assert.is((await v2(m1.clientUrl, 'GET', '/v2/members')).body.members.length, 1)
  const w2 = await v2(m1.clientUrl, 'PUT', '/v2/keys/fnc/after2', { value: 'y' })
  assert.is(w2.status, 201)
})

test('without a snapshot (the whole membership history is in the log); cluster id unchanged', async () => {
  await c?.close()
  c = await ProcCluster.start({ size: 3 })
  const leader = await c.waitLeader()
  for (let i = 0; i < 5; i++) assert.is((await v2(leader.clientUrl, 'PUT', `/v2/keys/g/k${i}`, { value: `v${i}` })).status, 201)
  const cid = (await v2(leader.clientUrl, 'GET', '/v2/keys/g/k0')).headers.get('x-etcd-cluster-id')
  await Promise.all(c.members.map((m) => c!.kill(m)))
  const m3 = c.members[2]!
  m3.extraArgs = ['--force-new-cluster']
  c.restart(m3)
  await waitSelfLeader(m3.clientUrl)
  const mem = await v2(m3.clientUrl, 'GET', '/v2/members')
  assert.equal(mem.body.members.map((m: any) => m.name), [m3.name])
  const r = await v2(m3.clientUrl, 'GET', '/v2/keys/g/k4?quorum=true')
  assert.is(r.body.node?.value, 'v4')
  assert.is(r.headers.get('x-etcd-cluster-id'), cid)
  assert.is((await v2(m3.clientUrl, 'PUT', '/v2/keys/g/new', { value: 'n' })).status, 201)
})

test.run()

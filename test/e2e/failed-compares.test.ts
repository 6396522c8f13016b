// A compare-and-swap, compare-and-delete or create (prevExist=false) that fails is answered from a
// linearizable read, without a Raft entry: the answer is etcd's 412 (code, cause, index), the log
// does not grow, and a compare sent through a follower right after a write was acknowledged sees
// that write (a follower's own applied state may still be behind it).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ProcCluster, v2, type ProcMember } from './procs.js'
import { sleep, until } from '../support/wait.js'

let c: ProcCluster
let leader: ProcMember
let follower: ProcMember

test.before(async () => {
  c = await ProcCluster.start({ size: 3, heartbeatMs: 50, electionMs: 500 })
  leader = await c.waitLeader()
  follower = c.running().find((m) => m !== leader)!
  // Members publish themselves with internal writes that consume etcd indexes (retried every
  // election timeout until applied): wait until all have and the index has held for a second, so
  // the indexes below are the test's own.
  await until(async () => {
    const ms = (await v2(leader.clientUrl, 'GET', '/v2/members')).body.members as { name: string; clientURLs: string[] }[]
    return ms.length === 3 && ms.every((m) => m.name !== '' && m.clientURLs.length > 0)
  }, 15_000, 'every member published', 100)
  const etcdIndex = async (): Promise<number> => Number((await v2(leader.clientUrl, 'GET', '/v2/keys/?quorum=true')).headers.get('x-etcd-index'))
  await until(async () => {
    const before = await etcdIndex()
    await sleep(1000)
    return (await etcdIndex()) === before
  }, 15_000, 'the etcd index settled')
})
test.after(async () => {
  await c?.close()
})

async function raftIndex(m: ProcMember): Promise<number> {
  return Number((await v2(m.clientUrl, 'GET', '/v2/keys/')).headers.get('x-raft-index'))
}

test('failed compares answer 412 like etcd and add nothing to the log', async () => {
  const put = await v2(leader.clientUrl, 'PUT', '/v2/keys/cmp/k', { value: 'a' })
  assert.is(put.status, 201)
  const index = put.body.node.modifiedIndex as number
  const before = await raftIndex(leader)
  for (let i = 0; i < 10; i++) {
    for (const m of [leader, follower]) {
      const cas = await v2(m.clientUrl, 'PUT', '/v2/keys/cmp/k?prevValue=x', { value: 'b' })
      assert.is(cas.status, 412)
      assert.equal(cas.body, { errorCode: 101, message: 'Compare failed', cause: '[x != a]', index })
      assert.is(cas.headers.get('x-etcd-index'), String(index))
      const create = await v2(m.clientUrl, 'PUT', '/v2/keys/cmp/k?prevExist=false', { value: 'b' })
      assert.is(create.status, 412)
      assert.equal(create.body, { errorCode: 105, message: 'Key already exists', cause: '/cmp/k', index })
      const cad = await v2(m.clientUrl, 'DELETE', `/v2/keys/cmp/k?prevIndex=${index + 5}`)
      assert.is(cad.status, 412)
      assert.equal(cad.body, { errorCode: 101, message: 'Compare failed', cause: `[${index + 5} != ${index}]`, index })
    }
  }
  // 60 failed compares; without the read path each would be an entry
  assert.ok((await raftIndex(leader)) - before < 5, `log grew from ${before} to ${await raftIndex(leader)}`)
  const stats = (await v2(follower.clientUrl, 'GET', '/v2/stats/store')).body
  assert.ok(stats.compareAndSwapFail >= 10 && stats.createFail >= 10 && stats.compareAndDeleteFail >= 10, JSON.stringify(stats))
  const got = await v2(follower.clientUrl, 'GET', '/v2/keys/cmp/k?quorum=true')
  assert.is(got.body.node.value, 'a')
  assert.is(got.body.node.modifiedIndex, index)
})

test('a compare through a follower sees every write acknowledged before it was sent', async () => {
  let passed = 0
  for (let i = 0; i < 150; i++) {
    const w = await v2(leader.clientUrl, 'PUT', '/v2/keys/cmp/seq', { value: `v${i}` })
    assert.ok(w.status === 200 || w.status === 201)
    // The follower may not have applied v<i> yet: its local compare fails, the read must fix that.
    const cas = await v2(follower.clientUrl, 'PUT', `/v2/keys/cmp/seq?prevValue=v${i}&prevIndex=${w.body.node.modifiedIndex}`, { value: `w${i}` })
    assert.is(cas.status, 200, `step ${i}: ${JSON.stringify(cas.body)}`)
    const del = await v2(leader.clientUrl, 'DELETE', '/v2/keys/cmp/lock')
    assert.ok(del.status === 200 || del.status === 404)
    const create = await v2(follower.clientUrl, 'PUT', '/v2/keys/cmp/lock?prevExist=false', { value: `o${i}` })
    assert.is(create.status, 201, `step ${i}: ${JSON.stringify(create.body)}`)
    passed++
  }
  assert.is(passed, 150)
})

test.run()

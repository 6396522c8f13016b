// Auth in a three-process cluster (AUTH-16, CONS-4): auth changes made through one member are
// enforced by every member; a member that was down while auth changed, and that catches up
// through a Raft snapshot (--snapshot-count 20), enforces the same users, roles and switch; and
// a password checked on one member is accepted on the others (only the hash was replicated).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ProcCluster, type ProcMember } from '../e2e/procs.js'
import { call as httpCall, type CallOptions, type CallReply } from '../support/http.js'
import { sleep } from '../support/wait.js'

const test = suite('auth across a cluster')
let cluster: ProcCluster

function call(m: ProcMember, method: string, p: string, opts: CallOptions = {}): Promise<CallReply> {
  return httpCall(m.clientUrl, method, p, opts)
}

test.before(async () => {
  cluster = await ProcCluster.start({ size: 3, snapshotCount: 20 })
})
test.after(async () => {
  await cluster?.close()
})

test('auth made on one member is enforced by all; a member restored from a snapshot too', async () => {
  // Stop a follower (a proposal in flight to a killed leader would just time out).
  const leader = await cluster.waitLeader()
  const c = cluster.members.find((m) => m !== leader)!
  const [a, b] = [leader, cluster.members.find((m) => m !== leader && m !== c)!]
  await cluster.kill(c)
  assert.is((await call(a, 'PUT', '/v2/auth/users/root', { json: { user: 'root', password: 'rootpw' } })).status, 201)
  assert.is((await call(a, 'PUT', '/v2/auth/roles/app', { json: { role: 'app', permissions: { kv: { read: ['/app/*'], write: ['/app/*'] } } } })).status, 201)
  assert.is((await call(b, 'PUT', '/v2/auth/users/alice', { json: { user: 'alice', password: 'alicepw', roles: ['app'] } })).status, 200)
  assert.is((await call(b, 'PUT', '/v2/auth/enable')).status, 200)
  assert.is((await call(a, 'PUT', '/v2/auth/roles/guest', { auth: 'root:rootpw', json: { role: 'guest', revoke: { kv: { read: ['/*'], write: ['/*'] } } } })).status, 200)
  // Enough writes for a snapshot and log compaction, so c must catch up from a snapshot.
  for (let i = 0; i < 60; i++) assert.ok((await call(a, 'PUT', `/v2/keys/app/k${i % 5}`, { auth: 'alice:alicepw', form: { value: String(i) } })).status < 300)
  cluster.restart(c)
  const until = Date.now() + 20_000
  let last = 0
  while (Date.now() < until) {
    try {
      last = (await call(c, 'GET', '/v2/keys/app/k4?quorum=true', { auth: 'alice:alicepw' })).status
      if (last === 200) break
    } catch {}
    await sleep(200)
  }
  assert.is(last, 200, 'the restarted member accepts alice (hash replicated via snapshot)')
  for (const m of [a, b, c]) {
    assert.is((await call(m, 'GET', '/v2/auth/enable')).json.enabled, true, m.name)
    assert.is((await call(m, 'GET', '/v2/keys/app/k0')).status, 401, `${m.name}: anonymous denied`)
    assert.is((await call(m, 'PUT', '/v2/keys/other', { auth: 'alice:alicepw', form: { value: 'x' } })).status, 401, `${m.name}: outside /app/`)
    assert.is((await call(m, 'GET', '/v2/keys/app/k0', { auth: 'alice:wrong' })).status, 401, `${m.name}: wrong password`)
    assert.is((await call(m, 'GET', '/v2/auth/users', { auth: 'root:rootpw' })).json.users.length, 2, m.name)
  }
  // A password change through c takes effect on a and b.
  assert.is((await call(c, 'PUT', '/v2/auth/users/alice', { auth: 'root:rootpw', json: { user: 'alice', password: 'new' } })).status, 200)
  for (const m of [a, b]) {
    const ok = await call(m, 'GET', '/v2/keys/app/k0?quorum=true', { auth: 'alice:new' })
    assert.is(ok.status, 200, m.name)
    assert.is((await call(m, 'GET', '/v2/keys/app/k0', { auth: 'alice:alicepw' })).status, 401, `${m.name}: old password`)
  }
})

test.run()

// v3 holds beyond one process: a detached lock / leadership carries its lease ID and key, and a
// later invocation (another client) resumes it within the TTL with the same fencing token and
// keeps it alive; once the TTL has run out resume is refused. Loss detection: a lock whose key is
// deleted or whose lease is revoked behind its back fires `lost`.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ClientV3, leaseIdHex } from '../../src/index.js'
import { Election, Lock, LockLostError } from '../../recipes/index.js'
import { sleep, within } from '../support/wait.js'
import { startEtcdV3, type EtcdMember } from './etcd.js'

const test = suite('recipes v3 hand-off and loss')
let etcd: EtcdMember
const clients: ClientV3[] = []
const newClient = (): ClientV3 => {
  const c = new ClientV3({ endpoints: [etcd.url], timeout: 3000 })
  clients.push(c)
  return c
}

test.before(async () => { etcd = await startEtcdV3() })
test.after(async () => {
  for (const c of clients) c.close()
  await etcd?.stop()
})

test('a detached lock carries lease and key; another client resumes it within the TTL and keeps it alive', async () => {
  const first = newClient()
  const h = await new Lock(first, 'handoff', { ttl: 2 }).acquire()
  const json = JSON.parse(JSON.stringify(h.detach())) as ReturnType<typeof h.toJSON>
  first.close()
  assert.is(json.api, 'v3')
  assert.is(json.key, `handoff/${json.lease}`)
  await sleep(800) // the next invocation starts a little later
  const next = newClient()
  const resumed = await Lock.resume(next, json)
  assert.equal(resumed.token, h.token, 'same fencing token')
  await sleep(3000) // past the TTL: kept alive by the resumed handle
  assert.ok(resumed.isHeld())
  const kv = await next.get(json.key)
  assert.is(kv && leaseIdHex(kv.lease), json.lease)
  assert.is(await new Lock(newClient(), 'handoff').tryAcquire(), undefined, 'still excludes others')
  await resumed.release()
  assert.is(await next.get(json.key), undefined)
})

test('resume after the TTL ran out is refused (LockLostError), and the lock is free', async () => {
  const h = await new Lock(newClient(), 'handoff-late', { ttl: 1 }).acquire()
  const json = h.detach()
  await sleep(3000)
  assert.instance(await Lock.resume(newClient(), json).catch((e: unknown) => e), LockLostError)
  const other = await new Lock(newClient(), 'handoff-late').tryAcquire()
  assert.ok(other, 'the expired hold left nothing behind')
  await other!.release()
})

test('a detached leadership resumes with its term; proclaim works on the resumed one', async () => {
  const e1 = new Election(newClient(), 'handoff-elect', { ttl: 2 })
  const lead = await e1.campaign('v1')
  const json = lead.detach()
  const e2 = new Election(newClient(), 'handoff-elect', { ttl: 2 })
  const again = await e2.resume(json)
  assert.is(again.term, lead.term)
  await again.proclaim('v2')
  assert.is((await e2.leader())?.value, 'v2')
  await again.resign()
  assert.is(await e2.leader(), undefined)
})

test('a lock whose key is deleted, or whose lease is revoked, behind its back fires lost', async () => {
  const c = newClient()
  for (const how of ['delete', 'revoke'] as const) {
    const h = await new Lock(newClient(), `loss-${how}`, { ttl: 2 }).acquire()
    const kv = await c.get(h.key)
    let lost: LockLostError | undefined
    h.on('lost', (e) => { lost = e })
    if (how === 'delete') await c.delete(h.key)
    else await c.revokeLease(kv!.lease)
    await within(4000, new Promise((r) => h.signal.addEventListener('abort', r)), `lost after ${how}`)
    assert.instance(lost, LockLostError)
    assert.is(h.state, 'lost')
    await h.release()
  }
})

test.run()

// ClientV3 leases against a real etcd 3.4: grant, time-to-live with keys, list, revoke (deletes
// the keys), keepAliveOnce, the background keepAlive (keeps a lease past its TTL, reports loss on
// revoke), and the errors for unknown leases.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ClientV3, LeaseNotFoundError, TimeoutError, ValidationError } from '../../src/index.js'
import { within, type Cluster } from '../client/fixtures.js'
import { sleep, waitFor, withEtcdV3 } from './helpers.js'

const test = suite('client v3 leases [etcd]')
let cluster: Cluster
let c: ClientV3
withEtcdV3(test, (up, client) => { cluster = up; c = client })

test('grant, time-to-live with keys, list, revoke deletes the keys', async () => {
  const g = await c.grantLease(30)
  assert.is(g.ttl, 30)
  assert.ok(g.id > 0n)
  await c.put('l/a', '1', { lease: g.id })
  await c.put('l/b', '2', { lease: g.id })
  const ttl = await c.leaseTimeToLive(g.id, { keys: true })
  assert.is(ttl.id, g.id)
  assert.is(ttl.grantedTtl, 30)
  assert.ok(ttl.ttl > 25 && ttl.ttl <= 30, String(ttl.ttl))
  assert.equal(ttl.keys.map((k) => new TextDecoder().decode(k)).sort(), ['l/a', 'l/b'])
  assert.equal((await c.leaseTimeToLive(g.id)).keys, [])
  assert.ok((await c.leases()).includes(g.id))
  await c.revokeLease(g.id)
  assert.is((await c.range('l/', { prefix: true })).count, 0)
  assert.not.ok((await c.leases()).includes(g.id))
  assert.is((await c.leaseTimeToLive(g.id)).ttl, -1)
})

test('unknown leases: revoke and keepAliveOnce fail with LEASE_NOT_FOUND', async () => {
  for (const call of [() => c.revokeLease(424242), () => c.keepAliveOnce(424242)]) {
    const err = await call().catch((e: unknown) => e)
    assert.ok(err instanceof LeaseNotFoundError, String(err))
    assert.is(err.code, 'LEASE_NOT_FOUND')
  }
  const bad = await c.grantLease(0).catch((e: unknown) => e)
  assert.ok(bad instanceof ValidationError)
})

test('a lease expires without keep-alive and its key goes with it', async () => {
  const g = await c.grantLease(2)
  await c.put('exp/k', 'v', { lease: g.id })
  await waitFor(async () => (await c.get('exp/k')) === undefined, 15_000, 'expiry', 200)
  const err = await c.keepAliveOnce(g.id).catch((e: unknown) => e)
  assert.ok(err instanceof LeaseNotFoundError, String(err))
})

test('keepAliveOnce renews to the full TTL', async () => {
  const g = await c.grantLease(10)
  await sleep(2100)
  const before = await c.leaseTimeToLive(g.id)
  assert.ok(before.ttl <= 8, String(before.ttl))
  const ka = await c.keepAliveOnce(g.id)
  assert.is(ka.id, g.id)
  assert.is(ka.ttl, 10)
  assert.ok((await c.leaseTimeToLive(g.id)).ttl >= 9)
  await c.revokeLease(g.id)
})

test('keepAlive keeps a short lease alive past several TTLs, then reports its loss on revoke', async () => {
  const g = await c.grantLease(2)
  await c.put('ka/k', 'v', { lease: g.id })
  let lostWith: unknown
  const keeper = c.keepAlive(g.id, { onLost: (e) => { lostWith = e } })
  assert.is(keeper.id, g.id)
  await sleep(5000)
  assert.is((await c.get('ka/k'))?.valueString, 'v', 'the key outlived 2.5 TTLs')
  assert.is(keeper.lastTtl, 2)
  await c.revokeLease(g.id)
  assert.is(await within(10_000, keeper.done, 'keeper'), 'lost')
  assert.ok(lostWith instanceof LeaseNotFoundError, String(lostWith))
})

test('keepAlive close() stops renewing: the lease then expires', async () => {
  const g = await c.grantLease(2)
  const keeper = c.keepAlive(g.id)
  await sleep(1500)
  keeper.close()
  assert.is(await keeper.done, 'closed')
  await waitFor(async () => (await c.leaseTimeToLive(g.id)).ttl === -1, 15_000, 'expiry after close', 200)
})

// Last: it kills the member.
test('keepAlive reports the lease lost once no renewal succeeded for a whole TTL (member gone)', async () => {
  const g = await c.grantLease(3)
  let lostWith: unknown
  const keeper = c.keepAlive(g.id, { onLost: (e) => { lostWith = e } })
  await waitFor(() => keeper.lastTtl === 3, 5000, 'first renewal')
  const killedAt = Date.now()
  await cluster.members[0]!.kill()
  assert.is(await within(10_000, keeper.done, 'keeper'), 'lost')
  const after = Date.now() - killedAt
  assert.ok(after <= 4500, `reported ${after} ms after the kill, TTL 3 s`)
  assert.ok(after >= 1500, `not before the lease could have expired (${after} ms)`)
  assert.ok(lostWith instanceof TimeoutError, String(lostWith))
})

test.run()

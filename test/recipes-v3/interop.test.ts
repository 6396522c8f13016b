// The v3 Lock and Election against etcd's own Go implementation of the same recipes
// (client/v3/concurrency, as `etcdctl lock` / `etcdctl elect` run it): the key layout is Go's
// (`name/<lease id hex>`), an etcdctl holder blocks the SDK and the SDK's holder blocks etcdctl,
// an etcdctl candidate leads before a later SDK candidate and the other way round, observers on
// each side see the other's leader, and `raftkv lock` excludes `etcdctl lock`.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ClientV3, leaseIdHex } from '../../src/index.js'
import { Election, Lock } from '../../recipes/index.js'
import { sleep, within } from '../support/wait.js'
import { startRaftkv, type Child } from '../support/procs.js'
import { etcdctl, startEtcdV3, type EtcdMember } from './etcd.js'

const test = suite('recipes v3 interop with etcdctl')
let etcd: EtcdMember
let client: ClientV3
const children: Child[] = []
const run = (args: string[]): Child => {
  const c = etcdctl(etcd.url, args)
  children.push(c)
  return c
}

test.before(async () => {
  etcd = await startEtcdV3()
  client = new ClientV3({ endpoints: [etcd.url], timeout: 3000 })
})
test.after(async () => {
  for (const c of children) await c.kill()
  client?.close()
  await etcd?.stop()
})

test('the SDK lock key is Go\'s layout: name/<lease id hex>, on that lease; the token is its create revision', async () => {
  const h = await new Lock(client, 'layout', { ttl: 5 }).acquire()
  const kv = await client.get(h.key)
  assert.ok(kv, 'the key exists')
  assert.is(h.key, `layout/${leaseIdHex(kv!.lease)}`)
  assert.is(BigInt(h.token.index), kv!.createRevision)
  await h.release()
  assert.is(await client.get(h.key), undefined, 'release deletes the key')
  assert.is((await client.leaseTimeToLive(kv!.lease)).ttl, -1, 'and revokes its lease')
})

test('etcdctl lock held in another process blocks the SDK lock until etcdctl ends', async () => {
  const holder = run(['lock', 'jobs', '--ttl=3'])
  await holder.waitForOutput(/^jobs\/[0-9a-f]+$/m, 10_000)
  const lock = new Lock(client, 'jobs', { ttl: 3 })
  assert.is(await lock.tryAcquire(), undefined, 'tryAcquire fails while etcdctl holds the lock')
  const holderKey = holder.stdout().trim().split('\n')[0]!
  assert.is((await lock.holder())?.key, holderKey, 'the SDK sees etcdctl as the holder')
  let got = false
  const acquiring = lock.acquire({ timeout: 20_000 }).then((h) => { got = true; return h })
  await sleep(1500)
  assert.not.ok(got, 'the SDK waits while etcdctl holds the lock')
  holder.signal('SIGINT')
  const h = await within(15_000, acquiring, 'SDK acquire after etcdctl ended')
  assert.is(await client.get(holderKey), undefined, 'the etcdctl key is gone')
  await h.release()
})

test('the SDK holder blocks etcdctl lock; etcdctl gets it once the SDK releases', async () => {
  const h = await new Lock(client, 'jobs2', { ttl: 3 }).acquire()
  const waiter = run(['lock', 'jobs2', '--ttl=3'])
  await sleep(2000)
  assert.ok(waiter.running())
  assert.is(waiter.stdout().trim(), '', 'etcdctl prints its key only once it holds the lock')
  await h.release()
  await within(10_000, waiter.waitForOutput(/^jobs2\/[0-9a-f]+$/m, 10_000), 'etcdctl acquires')
  // etcdctl's key is Go's layout on its lease: the SDK sees it as the holder, with a later token.
  const holder = await new Lock(client, 'jobs2').holder()
  assert.is(holder?.key, waiter.stdout().trim().split('\n')[0])
  assert.ok(holder!.token.index > h.token.index, 'etcdctl\'s token is newer than the SDK\'s')
  waiter.signal('SIGINT')
  await waiter.exited
})

test('a frozen etcdctl holder (SIGSTOP past its TTL) loses the lock to the SDK', async () => {
  const holder = run(['lock', 'jobs3', '--ttl=2'])
  await holder.waitForOutput(/^jobs3\/[0-9a-f]+$/m, 10_000)
  holder.signal('SIGSTOP')
  const started = Date.now()
  const h = await new Lock(client, 'jobs3', { ttl: 2 }).acquire({ timeout: 15_000 })
  assert.ok(Date.now() - started >= 1000, 'not before the frozen holder\'s lease could expire')
  await h.release()
  await holder.kill()
})

test('etcdctl elect leads first: the SDK candidate waits, observes it, and takes over when it ends', async () => {
  const leader = run(['elect', 'sched', 'from-etcdctl'])
  await leader.waitForOutput(/^sched\/[0-9a-f]+$/m, 10_000)
  const e = new Election(client, 'sched', { ttl: 3 })
  const first = await e.leader()
  assert.is(first?.value, 'from-etcdctl', 'the SDK reads the etcdctl leader\'s proposal')
  const ctl = new AbortController()
  const seen: unknown[] = []
  const observing = (async () => { for await (const l of e.observe({ signal: ctl.signal })) seen.push(l?.value ?? null) })().catch(() => {})
  let led = false
  const campaign = e.campaign('from-sdk', { timeout: 20_000 }).then((l) => { led = true; return l })
  await sleep(1500)
  assert.not.ok(led, 'the SDK candidate does not lead while etcdctl does')
  leader.signal('SIGINT')
  const lead = await within(15_000, campaign, 'SDK leads after etcdctl ended')
  await sleep(300)
  assert.equal(seen.slice(0, 1), ['from-etcdctl'])
  assert.ok(seen.includes('from-sdk'), `observer saw the SDK leader: ${JSON.stringify(seen)}`)
  ctl.abort()
  await observing
  // An etcdctl observer (-l) sees the SDK leader and its proclaimed value.
  const watcher = run(['elect', '-l', 'sched'])
  await watcher.waitForOutput('from-sdk', 10_000)
  await lead.proclaim('proclaimed')
  await watcher.waitForOutput('proclaimed', 10_000)
  // etcdctl campaigning now waits behind the SDK leader.
  const next = run(['elect', 'sched', 'next-etcdctl'])
  await sleep(1500)
  assert.is(next.stdout().trim(), '', 'etcdctl does not lead while the SDK does')
  await lead.resign()
  await within(10_000, next.waitForOutput('next-etcdctl', 10_000), 'etcdctl leads after resign')
  assert.is((await e.leader())?.value, 'next-etcdctl')
})

test('`raftkv lock` (API detected as v3) and `etcdctl lock` exclude each other', async () => {
  const ours = startRaftkv(['lock', `--endpoints=${etcd.url}`, 'cli-lock', '--ttl=3'])
  children.push(ours)
  await ours.waitForOutput(/^cli-lock\/[0-9a-f]+$/m, 20_000)
  const theirs = run(['lock', 'cli-lock', '--ttl=3'])
  await sleep(1500)
  assert.is(theirs.stdout().trim(), '', 'etcdctl waits while raftkv lock holds the lock')
  ours.signal('SIGTERM')
  assert.is((await within(10_000, ours.exited, 'raftkv lock exit')).code, 0)
  await theirs.waitForOutput(/^cli-lock\/[0-9a-f]+$/m, 10_000)
  theirs.signal('SIGINT')
  await theirs.exited
})

test.run()

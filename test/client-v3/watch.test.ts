// ClientV3 watches against a real etcd 3.4: every change once and in revision order, history
// replay from a start revision, prefix/prevKv/filters, progress notifications, compaction ->
// resync, cancellation; and on a 3-member cluster, resuming on another member after the one
// serving the stream is killed (SIGKILL) with the revision sequence checked against the store, or
// frozen (SIGSTOP) with idleTimeoutMs, and a resync when the history was compacted meanwhile.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { AbortError, ClientV3, type WatchEventV3 } from '../../src/index.js'
import { startCluster, within, type Cluster } from '../client/fixtures.js'
import { sleep, waitFor, withEtcdV3 } from './helpers.js'

/** Collects events until `done(events)` is true or the iterator ends. */
async function collect(it: AsyncIterable<WatchEventV3>, done: (evs: WatchEventV3[]) => boolean): Promise<WatchEventV3[]> {
  const out: WatchEventV3[] = []
  for await (const ev of it) {
    out.push(ev)
    if (done(out)) break
  }
  return out
}
const revs = (evs: WatchEventV3[]): bigint[] => evs.flatMap((e) => (e.type === 'put' || e.type === 'delete' ? [e.revision] : []))

const single = suite('client v3 watch [etcd]')
let cluster: Cluster
let c: ClientV3

withEtcdV3(single, (up, client) => { cluster = up; c = client }, { etcdArgs: ['--experimental-watch-progress-notify-interval', '300ms'] })

single('a watch without a start revision reports each later change once, in order', async () => {
  await c.put('w/seq/old', 'before the watch')
  const w = c.watch('w/seq/', { prefix: true })
  const got = within(15_000, collect(w, (e) => e.length >= 30), 'watch')
  await waitFor(() => w.nextRevision !== undefined, 5000, 'watch created')
  const written: bigint[] = []
  for (let i = 0; i < 30; i++) {
    written.push(i % 5 === 4 ? (await c.delete(`w/seq/k${i % 4}`)).header.revision : (await c.put(`w/seq/k${i % 4}`, String(i))).header.revision)
  }
  const events = await got
  assert.equal(revs(events), written)
  assert.equal(events.map((e) => e.type), written.map((_, i) => (i % 5 === 4 ? 'delete' : 'put')))
  assert.is(w.nextRevision, written[written.length - 1]! + 1n)
})

single('a start revision replays the history, then live changes follow without a gap', async () => {
  const first = (await c.put('w/hist', '0')).header.revision
  const written = [first]
  for (let i = 1; i < 10; i++) written.push((await c.put('w/hist', String(i))).header.revision)
  const w = c.watch('w/hist', { startRevision: first, prevKv: true })
  const got = within(15_000, collect(w, (e) => e.length >= 20), 'watch')
  for (let i = 10; i < 20; i++) written.push((await c.put('w/hist', String(i))).header.revision)
  const events = await got
  assert.equal(revs(events), written)
  assert.equal(events.map((e) => (e.type === 'put' ? e.kv.valueString : '')), written.map((_, i) => String(i)))
  assert.equal(events.slice(1).map((e) => (e.type === 'put' ? e.prevKv?.valueString : '')), written.slice(1).map((_, i) => String(i)))
})

single('prevKv on delete, and the noPut / noDelete filters', async () => {
  const start = (await c.put('w/f/a', '1')).header.revision
  await c.put('w/f/a', '2')
  await c.delete('w/f/a')
  await c.put('w/f/b', '3')
  const onlyDeletes = await within(10_000, collect(c.watch('w/f/', { prefix: true, startRevision: start, filters: ['noPut'], prevKv: true }), (e) => e.length >= 1), 'noPut')
  assert.is(onlyDeletes.length, 1)
  const del = onlyDeletes[0]!
  assert.ok(del.type === 'delete')
  assert.is(del.kv.keyString, 'w/f/a')
  assert.is(del.kv.value.length, 0)
  assert.is(del.prevKv?.valueString, '2')
  const onlyPuts = await within(10_000, collect(c.watch('w/f/', { prefix: true, startRevision: start, filters: ['noDelete'] }), (e) => e.length >= 3), 'noDelete')
  assert.equal(onlyPuts.map((e) => (e.type === 'put' ? e.kv.valueString : e.type)), ['1', '2', '3'])
})

single('progress notifications report the current revision while nothing changes', async () => {
  const now = (await c.put('w/other', 'x')).header.revision
  const w = c.watch('w/quiet', { progressNotify: true })
  const events = await within(15_000, collect(w, (e) => e.length >= 2), 'progress')
  for (const e of events) {
    assert.is(e.type, 'progress')
    assert.ok(e.type === 'progress' && e.revision >= now)
  }
})

single('a compacted start revision yields a resync with the current state, then later changes', async () => {
  const old = (await c.put('w/c/a', '1')).header.revision
  await c.put('w/c/b', '2')
  await c.delete('w/c/a')
  const latest = (await c.put('w/c/b', '3')).header.revision
  await c.compact(latest)
  const w = c.watch('w/c/', { prefix: true, startRevision: old })
  const got = within(15_000, collect(w, (e) => e.length >= 2), 'watch')
  await waitFor(() => w.nextRevision !== undefined && w.nextRevision > latest, 5000, 'resync')
  const after = (await c.put('w/c/a', '4')).header.revision
  const [resync, change] = await got
  assert.ok(resync!.type === 'resync', JSON.stringify(resync?.type))
  assert.is(resync.compactRevision, latest)
  assert.ok(resync.revision >= latest)
  assert.equal(resync.kvs.map((kv) => [kv.keyString, kv.valueString]), [['w/c/b', '3']])
  assert.ok(change!.type === 'put' && change.revision === after && change.kv.valueString === '4')
})

single('close() ends the iteration quietly; an aborted signal rejects with AbortError', async () => {
  const w = c.watch('w/x')
  const pending = w.next()
  await sleep(200)
  w.close()
  assert.equal(await within(5000, pending, 'close'), { done: true, value: undefined })
  const ac = new AbortController()
  const w2 = c.watch('w/y', { signal: ac.signal })
  const p2 = w2.next().then(() => 'resolved', (e: unknown) => e)
  await sleep(200)
  ac.abort()
  const err = await within(5000, p2, 'abort')
  assert.ok(err instanceof AbortError, String(err))
})

single.run()

// ---- 3 members: a killed member ---------------------------------------------------------------

const three = suite('client v3 watch resume [etcd x3]')
let cl3: Cluster

three.before(async () => {
  cl3 = await startCluster('etcd', { size: 3, etcdArgs: ['--experimental-watch-progress-notify-interval', '300ms'] })
})
three.after(async () => {
  await cl3?.close()
})

/** A member that is not the leader, and the client URLs of the others. */
async function pickFollower(): Promise<{ follower: Cluster['members'][number]; others: string[] }> {
  const probe = new ClientV3({ endpoints: cl3.endpoints, timeout: 3000 })
  const leaderId = (await probe.status()).leader
  const ids = (await probe.memberList()).members
  probe.close()
  const follower = cl3.members.find((m) => ids.find((x) => x.clientURLs.includes(m.clientURL))!.id !== leaderId)!
  return { follower, others: cl3.members.filter((m) => m !== follower).map((m) => m.clientURL) }
}

three('the member serving the stream freezes (SIGSTOP): idleTimeoutMs moves the watch to another, nothing missed', async () => {
  const { follower, others } = await pickFollower()
  const watcher = new ClientV3({ endpoints: [follower.clientURL, ...others], timeout: 2000 })
  const writer = new ClientV3({ endpoints: others, timeout: 3000 })
  try {
    // Progress every 300 ms keeps a healthy stream talking; 2 s of silence means the member is gone.
    const w = watcher.watch('frozen/', { prefix: true, progressNotify: true, idleTimeoutMs: 2000 })
    const seen: bigint[] = []
    let failed: unknown
    const consumer = (async () => {
      try {
        for await (const ev of w) if (ev.type === 'put') seen.push(ev.revision)
      } catch (err) {
        failed = err
      }
    })()
    await waitFor(() => w.nextRevision !== undefined, 5000, 'watch created')
    await writer.put('frozen/a', 'before')
    await waitFor(() => seen.length === 1, 5000, 'first event')
    follower.pause!()
    const stored: bigint[] = [seen[0]!]
    for (let i = 0; i < 20; i++) stored.push((await writer.put(`frozen/k${i}`, String(i))).header.revision)
    await waitFor(() => seen.length >= stored.length, 20_000, 'the watch moving off the frozen member')
    assert.equal(seen, stored)
    assert.is.not(watcher.endpoints[0], follower.clientURL)
    watcher.close()
    await within(5000, consumer, 'consumer end')
    assert.is(failed, undefined)
  } finally {
    follower.resume!()
    watcher.close()
    writer.close()
  }
})

three('history compacted while the watch was cut off: the resumed watch yields a resync, then goes on', async () => {
  const { follower, others } = await pickFollower()
  const watcher = new ClientV3({ endpoints: [follower.clientURL, ...others], timeout: 3000 })
  const writer = new ClientV3({ endpoints: others, timeout: 3000 })
  try {
    const w = watcher.watch('gap/', { prefix: true })
    const first = w.next()
    await waitFor(() => w.nextRevision !== undefined, 5000, 'watch created')
    const r1 = (await writer.put('gap/a', '1')).header.revision
    const ev1 = await within(5000, first, 'first event')
    assert.ok(!ev1.done && ev1.value.type === 'put' && ev1.value.revision === r1)
    // The consumer pulls nothing while its stream dies and the history it needs is compacted.
    await follower.kill()
    await writer.put('gap/b', '2')
    await writer.delete('gap/a')
    const latest = (await writer.put('gap/c', '3')).header.revision
    await writer.compact(latest)
    const ev2 = await within(20_000, w.next(), 'resync')
    assert.ok(!ev2.done && ev2.value.type === 'resync', JSON.stringify(ev2.value?.type))
    assert.is(ev2.value.compactRevision, latest)
    assert.equal(ev2.value.kvs.map((kv) => [kv.keyString, kv.valueString]), [['gap/b', '2'], ['gap/c', '3']])
    const r4 = (await writer.put('gap/d', '4')).header.revision
    const ev3 = await within(10_000, w.next(), 'after resync')
    assert.ok(!ev3.done && ev3.value.type === 'put' && ev3.value.revision === r4)
    w.close()
  } finally {
    watcher.close()
    writer.close()
    await follower.restart()
  }
})

three('the member serving the stream is killed: the watch resumes on another, nothing missed or repeated', async () => {
  // The stream goes to a follower, so that writes go on at full speed (no election) while the
  // watch reconnects: some land in the gap and must come from the history on resume.
  const { follower, others } = await pickFollower()
  const watcher = new ClientV3({ endpoints: [follower.clientURL, ...others], timeout: 3000 })
  const writer = new ClientV3({ endpoints: others, timeout: 3000, deadline: 20_000 })
  try {
    const w = watcher.watch('kill/', { prefix: true })
    const seen: bigint[] = []
    let stop = false
    const consumer = (async () => {
      for await (const ev of w) {
        if (ev.type === 'put') seen.push(ev.revision)
        if (stop) break
      }
    })()
    await waitFor(() => w.nextRevision !== undefined, 5000, 'watch created')
    assert.is(watcher.endpoints[0], follower.clientURL)
    const N = 200
    let written = 0
    const writes = (async () => {
      for (let i = 0; i < N; i++) {
        // Each key is written once; a write whose answer is lost may or may not exist: the store decides.
        await writer.put(`kill/k${String(i).padStart(3, '0')}`, String(i)).catch(() => undefined)
        written++
      }
    })()
    await waitFor(() => written >= 50, 20_000, 'first writes')
    const seenAtKill = seen.length
    await follower.kill()
    await within(60_000, writes, 'writes')
    const stored = (await writer.range('kill/', { prefix: true })).kvs.map((kv) => kv.modRevision).sort((a, b) => (a < b ? -1 : 1))
    assert.ok(stored.length >= N - 3, `most writes landed (${stored.length})`)
    await waitFor(() => seen.length >= stored.length, 30_000, 'the watch catching up')
    stop = true
    await writer.put('kill/zz-end', 'end')
    await within(10_000, consumer, 'consumer end')
    assert.ok(seenAtKill < stored.length, 'the kill happened while events were still coming')
    assert.equal(seen.slice(0, stored.length), stored, 'every stored revision once, in order')
    assert.is(seen.length, stored.length + 1)
    assert.is.not(watcher.endpoints[0], follower.clientURL, 'the stream moved off the killed member')
  } finally {
    watcher.close()
    writer.close()
  }
})

three.run()

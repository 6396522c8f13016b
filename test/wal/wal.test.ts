// The WAL's contract: what was synced comes back after reopening (entries with overwrites resolved,
// last hard state, snapshot markers), segments roll over and are released only when wholly covered,
// one write + one fdatasync per group of saves, and a failed write/fsync fails the WAL for good
// without acknowledging anything.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { Wal } from '../../server/wal/wal.js'
import { realIo, type WalIo } from '../../server/wal/io.js'
import { WalClosedError, WalExistsError, WalFailedError, WalNotFoundError, WalSnapshotMismatchError } from '../../server/wal/errors.js'
import { cleanup, entries, entry, tempDir } from './helpers.js'

const META = { memberId: '8e9e05c52164694d', clusterId: 'cdf818194e3a8c32' }
const quiet = { warn: () => {} }

function walDir(label: string): string {
  return path.join(tempDir(label), 'member', 'wal')
}

function done(dir: string): void {
  cleanup(path.dirname(path.dirname(dir)))
}

test('create writes segment 0-0 with metadata; open reads back entries, hard state and markers', async () => {
  const dir = walDir('rt')
  assert.not.ok(Wal.exists(dir))
  const w = Wal.create(dir, META, quiet)
  assert.equal(fs.readdirSync(dir), ['0000000000000000-0000000000000000.wal'])
  assert.is(fs.statSync(path.join(dir, '0000000000000000-0000000000000000.wal')).size, 64 * 1024 * 1024, 'preallocated')
  w.save({ term: 1, vote: 'a', commit: 0 }, entries(1, 3))
  w.save({ term: 1, vote: 'a', commit: 2 }, entries(4, 5))
  await w.sync()
  w.save({ term: 2, vote: 'b', commit: 5 }, [])
  await w.close() // close syncs what is pending
  assert.ok(Wal.exists(dir))
  assert.throws(() => Wal.create(dir, META), (e: unknown) => e instanceof WalExistsError)
  const r = Wal.open(dir, quiet)
  const all = r.readAll()
  assert.equal(all.metadata, META)
  assert.equal(all.hardState, { term: 2, vote: 'b', commit: 5 })
  assert.equal(all.snapshot, { index: 0, term: 0 })
  assert.equal(all.entries, entries(1, 5))
  assert.is(r.lastIndex, 5)
  await r.close()
  assert.throws(() => Wal.open(path.join(dir, 'nope')), (e: unknown) => e instanceof WalNotFoundError)
  done(dir)
})

test('entries at an existing index replace the tail from there (new leader overwrite)', async () => {
  const dir = walDir('over')
  const w = Wal.create(dir, META, quiet)
  await w.saveAndSync({ term: 1, vote: '', commit: 0 }, entries(1, 10, 1))
  await w.saveAndSync({ term: 2, vote: '', commit: 0 }, entries(6, 7, 2))
  assert.is(w.lastIndex, 7)
  await w.saveAndSync(undefined, entries(8, 8, 2))
  await w.close()
  const r = Wal.open(dir, quiet)
  const got = r.readAll().entries.map((e) => `${e.index}/${e.term}`)
  assert.equal(got, ['1/1', '2/1', '3/1', '4/1', '5/1', '6/2', '7/2', '8/2'])
  await r.close()
  done(dir)
})

test('an overwrite reaching back into an older segment is resolved across segments and survives releases', async () => {
  const dir = walDir('over-seg')
  const opts = { ...quiet, segmentSize: 4096 }
  const w = Wal.create(dir, META, opts)
  for (let i = 1; i <= 60; i += 3) await w.saveAndSync({ term: 1, vote: '', commit: 5 }, entries(i, i + 2, 1))
  const segs = w.segmentPaths().length
  await w.saveAndSync({ term: 2, vote: '', commit: 5 }, entries(10, 12, 2)) // new leader overwrites from 10
  await w.saveAndSync({ term: 2, vote: '', commit: 12 }, entries(13, 45, 2))
  assert.ok(w.segmentPaths().length > segs)
  w.saveSnapshot({ index: 30, term: 2 })
  await w.sync()
  const removed = w.releaseTo(30)
  await w.close()
  const r = Wal.open(dir, opts)
  const want = [...entries(1, 9, 1), ...entries(10, 45, 2)]
  if (removed.length === 0) assert.equal(r.readAll().entries, want)
  assert.equal(r.readAll({ index: 30, term: 2 }).entries, want.slice(30))
  await r.close()
  done(dir)
})

test('readAll from a snapshot marker: entries after it; unknown marker or missing entries is an error', async () => {
  const dir = walDir('marker')
  const w = Wal.create(dir, META, quiet)
  await w.saveAndSync({ term: 1, vote: '', commit: 20 }, entries(1, 20))
  w.saveSnapshot({ index: 15, term: 1 })
  await w.sync()
  await w.close()
  const r = Wal.open(dir, quiet)
  assert.equal(r.snapshotMarkers(), [{ index: 0, term: 0 }, { index: 15, term: 1 }])
  assert.equal(r.readAll({ index: 15, term: 1 }).entries.map((e) => e.index), [16, 17, 18, 19, 20])
  assert.throws(() => r.readAll({ index: 15, term: 2 }), (e: unknown) => e instanceof WalSnapshotMismatchError)
  assert.throws(() => r.readAll({ index: 12, term: 1 }), (e: unknown) => e instanceof WalSnapshotMismatchError)
  r.save(undefined, [entry(21)])
  assert.throws(() => r.readAll(), /before the first save/)
  await r.close()
  done(dir)
})

test('a reset marker (snapshot from the leader) drops logged entries above it', async () => {
  const dir = walDir('reset')
  const w = Wal.create(dir, META, quiet)
  await w.saveAndSync({ term: 1, vote: '', commit: 3 }, entries(1, 8, 1))
  w.saveSnapshot({ index: 6, term: 3 }, { resetLog: true })
  w.save({ term: 3, vote: '', commit: 6 }, [])
  await w.sync()
  assert.is(w.lastIndex, 6)
  await w.saveAndSync(undefined, entries(7, 7, 3))
  await w.close()
  const r = Wal.open(dir, quiet)
  const res = r.readAll({ index: 6, term: 3 })
  assert.equal(res.entries.map((e) => `${e.index}/${e.term}`), ['7/3'])
  assert.equal(res.hardState, { term: 3, vote: '', commit: 6 })
  await r.close()
  done(dir)
})

test('segments roll over at segmentSize with etcd names; heads repeat metadata, markers and hard state', async () => {
  const dir = walDir('roll')
  const opts = { ...quiet, segmentSize: 4096 }
  const w = Wal.create(dir, META, opts)
  for (let i = 1; i <= 60; i += 3) await w.saveAndSync({ term: 1, vote: 'x', commit: i }, entries(i, i + 2))
  const names = fs.readdirSync(dir).sort()
  assert.ok(names.length >= 4, `${names.length} segments`)
  names.forEach((n, k) => assert.match(n, new RegExp(`^${k.toString(16).padStart(16, '0')}-[0-9a-f]{16}\\.wal$`)))
  // Each name's index is the first entry index of that segment.
  for (const n of names.slice(1)) {
    const idx = parseInt(n.slice(17, 33), 16)
    assert.ok(idx > 1 && (idx - 1) % 3 === 0, `${n} starts at a batch boundary`)
  }
  // Filled segments are trimmed to their data; the tail stays preallocated.
  assert.ok(fs.statSync(path.join(dir, names[0])).size <= 4096 + 3 * 400)
  assert.ok(fs.statSync(path.join(dir, names[names.length - 1])).size >= 4096)
  await w.close()
  const r = Wal.open(dir, opts)
  assert.equal(r.readAll().entries, entries(1, 60))
  assert.equal(r.readAll().hardState, { term: 1, vote: 'x', commit: 58 })
  await r.close()
  done(dir)
})

test('releaseTo deletes only segments wholly covered, never past the newest durable marker', async () => {
  const dir = walDir('release')
  const opts = { ...quiet, segmentSize: 4096 }
  const w = Wal.create(dir, META, opts)
  for (let i = 1; i <= 60; i += 3) await w.saveAndSync({ term: 1, vote: '', commit: i }, entries(i, i + 2))
  const before = w.segmentPaths()
  const starts = before.map((p) => parseInt(path.basename(p).slice(17, 33), 16))
  // No marker beyond 0 is durable yet: nothing may go.
  assert.equal(w.releaseTo(40), [])
  w.saveSnapshot({ index: 40, term: 1 })
  assert.equal(w.releaseTo(40), [], 'marker saved but not synced')
  await w.sync()
  const removed = w.releaseTo(40)
  // Segment k is wholly covered when the next one starts at or below 41.
  const expected = before.filter((_, k) => k + 1 < before.length && starts[k + 1] <= 41)
  assert.ok(expected.length >= 1)
  assert.equal(removed, expected)
  for (const p of removed) assert.not.ok(fs.existsSync(p))
  assert.equal(w.segmentPaths().slice(0, before.length - removed.length), before.slice(removed.length))
  await w.saveAndSync(undefined, entries(61, 63))
  await w.close()
  const r = Wal.open(dir, opts)
  assert.ok(r.snapshotMarkers().some((m) => m.index === 40))
  assert.equal(r.readAll({ index: 40, term: 1 }).entries, entries(41, 63))
  assert.throws(() => r.readAll(), (e: unknown) => e instanceof WalSnapshotMismatchError || /lacks/.test(String(e)))
  await r.close()
  done(dir)
})

test('save rejects a gap or non-consecutive entries (caller bug) without saving anything', async () => {
  const dir = walDir('gap')
  const w = Wal.create(dir, META, quiet)
  assert.throws(() => w.save(undefined, [entry(2)]), /gap/)
  assert.throws(() => w.save(undefined, [entry(1), entry(3)]), /consecutive/)
  await w.saveAndSync(undefined, entries(1, 3))
  assert.throws(() => w.save(undefined, [entry(5)]), /gap/)
  w.saveSnapshot({ index: 10, term: 2 }, { resetLog: true })
  w.save(undefined, [entry(11, 2)]) // after a leader's snapshot the log continues at its index + 1
  await w.close()
  done(dir)
})

test('after releasing every segment with entries, the log still ends at the snapshot index', async () => {
  const dir = walDir('empty-tail')
  const opts = { ...quiet, segmentSize: 2048 }
  const w = Wal.create(dir, META, opts)
  for (let i = 1; i <= 20; i += 4) await w.saveAndSync({ term: 1, vote: '', commit: i + 3 }, entries(i, i + 3))
  w.saveSnapshot({ index: 20, term: 1 })
  await w.sync()
  await w.saveAndSync({ term: 2, vote: '', commit: 20 }, []) // lands in a new segment with no entries
  w.releaseTo(20)
  assert.is(w.segmentPaths().length, 1)
  await w.close()
  const r = Wal.open(dir, opts)
  assert.is(r.lastIndex, 20)
  const res = r.readAll({ index: 20, term: 1 })
  assert.equal(res.entries, [])
  assert.equal(res.hardState, { term: 2, vote: '', commit: 20 })
  await r.saveAndSync(undefined, [entry(21, 2)])
  await r.close()
  const r2 = Wal.open(dir, opts)
  assert.equal(r2.readAll({ index: 20, term: 1 }).entries.map((e) => e.index), [21])
  await r2.close()
  done(dir)
})

/** Counts write/fdatasync calls, optionally failing one of them. */
function countingIo(failOn?: { op: 'write' | 'fdatasync'; call: number; code: string }): WalIo & { writes: number; syncs: number } {
  const io = {
    writes: 0,
    syncs: 0,
    async write(fd: number, buf: Buffer, pos: number) {
      io.writes++
      if (failOn?.op === 'write' && io.writes === failOn.call) throw Object.assign(new Error(`${failOn.code}: injected`), { code: failOn.code })
      return realIo.write(fd, buf, pos)
    },
    writeSync(fd: number, buf: Buffer, pos: number) {
      return realIo.writeSync(fd, buf, pos)
    },
    async fdatasync(fd: number) {
      io.syncs++
      if (failOn?.op === 'fdatasync' && io.syncs === failOn.call) throw Object.assign(new Error(`${failOn.code}: injected`), { code: failOn.code })
      return realIo.fdatasync(fd)
    },
    fdatasyncSync(fd: number) {
      return realIo.fdatasyncSync(fd)
    },
  }
  return io
}

test('group commit: many saves and concurrent syncs share one write + one fdatasync', async () => {
  const dir = walDir('group')
  const io = countingIo()
  const w = Wal.create(dir, META, { ...quiet, io, syncMode: 'async' })
  for (let i = 1; i <= 100; i++) w.save({ term: 1, vote: '', commit: i - 1 }, [entry(i)])
  await Promise.all([w.sync(), w.sync(), w.sync()])
  assert.is(io.writes, 1)
  assert.is(io.syncs, 1)
  // While one batch is in flight, further saves+syncs are merged into the next single write.
  w.save(undefined, [entry(101)])
  const first = w.sync()
  const rest: Promise<void>[] = []
  for (let i = 102; i <= 150; i++) rest.push(w.saveAndSync(undefined, [entry(i)]))
  await Promise.all([first, ...rest])
  assert.is(io.syncs, 3, 'one fsync for 101, one for 102..150')
  assert.is(io.writes, 3)
  // Nothing saved: sync resolves without I/O.
  await w.sync()
  assert.is(io.syncs, 3)
  await w.close()
  const r = Wal.open(dir, quiet)
  assert.equal(r.readAll().entries.length, 150)
  await r.close()
  done(dir)
})

test('sync resolves only after fdatasync returned', async () => {
  const dir = walDir('order')
  const events: string[] = []
  const io: WalIo = {
    ...realIo,
    async write(fd, buf, pos) {
      events.push('write')
      await realIo.write(fd, buf, pos)
    },
    async fdatasync(fd) {
      events.push('fdatasync-start')
      await new Promise((r) => setTimeout(r, 20))
      await realIo.fdatasync(fd)
      events.push('fdatasync-done')
    },
  }
  const w = Wal.create(dir, META, { ...quiet, io, syncMode: 'async' })
  await w.saveAndSync(undefined, [entry(1)]).then(() => events.push('acked'))
  assert.equal(events, ['write', 'fdatasync-start', 'fdatasync-done', 'acked'])
  await w.close()
  done(dir)
})

for (const op of ['write', 'fdatasync'] as const) {
  test(`an error in ${op} fails the WAL: pending and later syncs reject, later saves throw, nothing acked`, async () => {
    const dir = walDir('fail')
    const io = countingIo({ op, call: 2, code: op === 'write' ? 'ENOSPC' : 'EIO' })
    const w = Wal.create(dir, META, { ...quiet, io, syncMode: 'async' })
    await w.saveAndSync({ term: 1, vote: '', commit: 0 }, entries(1, 5))
    const acked: number[] = []
    const p1 = w.saveAndSync(undefined, [entry(6)]).then(() => acked.push(6))
    const p2 = w.saveAndSync(undefined, [entry(7)]).then(() => acked.push(7))
    const r1 = await p1.then(() => null, (e) => e)
    const r2 = await p2.then(() => null, (e) => e)
    assert.instance(r1, WalFailedError)
    assert.instance(r2, WalFailedError)
    assert.equal(acked, [])
    assert.is((r1 as WalFailedError).code, 'WAL_FAILED')
    assert.match((r1 as Error).message, op === 'write' ? 'ENOSPC' : 'EIO')
    assert.ok(w.failed)
    assert.throws(() => w.save(undefined, [entry(8)]), (e: unknown) => e instanceof WalFailedError)
    await w.sync().then(() => assert.unreachable('sync after failure resolved'), (e) => assert.instance(e, WalFailedError))
    await w.close()
    // What was acknowledged survives a restart.
    const r = Wal.open(dir, quiet)
    const got = r.readAll().entries.map((e) => e.index)
    assert.equal(got.slice(0, 5), [1, 2, 3, 4, 5])
    await r.close()
    done(dir)
  })
}

test('blocking sync mode: same results, I/O done inside sync()', async () => {
  const dir = walDir('blocking')
  const w = Wal.create(dir, META, { ...quiet, syncMode: 'blocking', segmentSize: 4096 })
  for (let i = 1; i <= 30; i += 3) await w.saveAndSync({ term: 1, vote: '', commit: i }, entries(i, i + 2))
  await w.close()
  await w.sync().then(() => assert.unreachable(), (e) => assert.instance(e, WalClosedError))
  const r = Wal.open(dir, quiet)
  assert.equal(r.readAll().entries, entries(1, 30))
  await r.close()
  done(dir)
})

test('blocking mode: an fdatasync error fails the WAL the same way; onSync reports each durable write', async () => {
  const dir = walDir('blocking-fail')
  let failNext = false
  const io: WalIo = {
    ...realIo,
    fdatasyncSync(fd) {
      if (failNext) throw Object.assign(new Error('EIO: injected'), { code: 'EIO' })
      realIo.fdatasyncSync(fd)
    },
  }
  const synced: { bytes: number; records: number }[] = []
  const w = Wal.create(dir, META, { ...quiet, io, syncMode: 'blocking', onSync: ({ bytes, records }) => synced.push({ bytes, records }) })
  await w.saveAndSync({ term: 1, vote: '', commit: 0 }, entries(1, 3))
  assert.equal(synced.map((x) => x.records), [4])
  assert.ok(synced[0].bytes > 3 * 300)
  failNext = true
  const err = await w.saveAndSync(undefined, [entry(4)]).then(() => null, (e) => e)
  assert.instance(err, WalFailedError)
  assert.match((err as Error).message, 'fdatasync')
  assert.is(synced.length, 1)
  assert.throws(() => w.save(undefined, [entry(5)]), (e: unknown) => e instanceof WalFailedError)
  await w.close()
  done(dir)
})

test('real disk full (small tmpfs, when mounting is permitted): WAL fails, acked data survives', async () => {
  const base = tempDir('enospc')
  const mnt = path.join(base, 'mnt')
  fs.mkdirSync(mnt)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=192k', 'tmpfs', mnt], { stdio: 'ignore' })
  } catch {
    console.log('  (skipped: cannot mount a tmpfs here; the injected ENOSPC test covers the path)')
    cleanup(base)
    return
  }
  try {
    const dir = path.join(mnt, 'wal')
    const w = Wal.create(dir, META, { ...quiet, segmentSize: 1024 * 1024 })
    let acked = 0
    let failure: unknown
    for (let i = 1; i <= 2000 && !failure; i += 4) {
      try {
        await w.saveAndSync({ term: 1, vote: '', commit: i }, entries(i, i + 3))
        acked = i + 3
      } catch (e) {
        failure = e
      }
    }
    assert.instance(failure, WalFailedError)
    assert.match(String((failure as Error).message), 'ENOSPC')
    await w.close()
    const r = Wal.open(dir, quiet)
    const got = r.readAll().entries
    assert.ok(got.length >= acked, `recovered ${got.length} >= acked ${acked}`)
    assert.equal(got.slice(0, acked), entries(1, acked))
    await r.close()
  } finally {
    execFileSync('umount', [mnt])
    cleanup(base)
  }
})

test.run()

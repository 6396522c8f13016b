// Restart through openDurableStorage: snapshot + WAL tail give the right entries and hard state,
// in etcd's data-dir layout; a damaged newest snapshot falls back to the previous one with the WAL
// still covering it; a snapshot from the leader resets the log; releases keep only what is needed.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { openDurableStorage, durableStorageExists, memberDirs, readDurableMetadata } from '../../server/wal/storage.js'
import type { Snapshot } from '../../server/raft/types.js'
import { cleanup, entries, entry, tempDir } from '../wal/helpers.js'

const META = { memberId: 'aaaaaaaaaaaaaaaa', clusterId: 'bbbbbbbbbbbbbbbb' }
const conf = { voters: ['aaaaaaaaaaaaaaaa'] }
const opts = { segmentSize: 8192, maxWals: 1, warn: () => {} }

function snapAt(index: number, term = 1): Snapshot {
  return { metadata: { index, term, conf }, data: JSON.stringify({ applied: index }) }
}

/** Appends entries from..to one Ready per 5 entries, with commit = last index; snapshots every `every`. */
async function fill(dataDir: string, to: number, every: number): Promise<void> {
  const ds = openDurableStorage(dataDir, { ...opts, metadata: META })
  const from = ds.boot.entries.length ? ds.boot.entries[ds.boot.entries.length - 1].index + 1 : (ds.boot.snapshot?.metadata.index ?? 0) + 1
  for (let i = from; i <= to; i += 5) {
    const last = Math.min(i + 4, to)
    await ds.persist({ hardState: { term: 1, vote: META.memberId, commit: last }, entries: entries(i, last), mustSync: true })
    if (Math.floor(last / every) > Math.floor((i - 1) / every)) await ds.saveSnapshot(snapAt(Math.floor(last / every) * every))
  }
  await ds.close()
}

test('new data dir: etcd layout, existing=false; restart: snapshot + WAL tail + hard state', async () => {
  const dataDir = path.join(tempDir('rec'), 'node1.etcd')
  assert.not.ok(durableStorageExists(dataDir))
  assert.throws(() => openDurableStorage(dataDir, opts), /no metadata/)
  const ds = openDurableStorage(dataDir, { ...opts, metadata: META })
  assert.is(ds.boot.existing, false)
  assert.equal(ds.boot.entries, [])
  assert.ok(fs.statSync(path.join(dataDir, 'member', 'wal')).isDirectory())
  assert.ok(fs.statSync(path.join(dataDir, 'member', 'snap')).isDirectory())
  await ds.close()
  await fill(dataDir, 237, 50)
  assert.equal(readDurableMetadata(dataDir), META, 'cheap metadata read, even after the first segment was released')
  assert.is(readDurableMetadata(path.join(path.dirname(dataDir), 'nothing')), undefined)
  const r = openDurableStorage(dataDir, { ...opts, metadata: { memberId: 'other', clusterId: 'other' } })
  assert.is(r.boot.existing, true)
  assert.equal(r.boot.metadata, META, 'stored metadata wins over the given one (CLI-5)')
  assert.equal(r.boot.snapshot, snapAt(200))
  assert.equal(r.boot.entries, entries(201, 237))
  assert.equal(r.boot.hardState, { term: 1, vote: META.memberId, commit: 237 })
  // Old segments were released; the WAL still reaches back to the previous snapshot (150).
  const segStarts = fs.readdirSync(memberDirs(dataDir).walDir).map((n) => parseInt(n.slice(17, 33), 16))
  assert.ok(Math.min(...segStarts) > 1, 'segments before the previous snapshot are gone')
  assert.ok(Math.min(...segStarts) <= 151, 'WAL covers the log after the previous snapshot')
  assert.equal(r.snapshotter.list().map((f) => f.index), [200, 150, 100, 50])
  await r.close()
  cleanup(path.dirname(dataDir))
})

test('--max-wals keeps at least N segment files; 0 never deletes any', async () => {
  for (const maxWals of [3, 0]) {
    const dataDir = path.join(tempDir('rec-maxwals'), 'd')
    const ds = openDurableStorage(dataDir, { ...opts, maxWals, metadata: META })
    for (let i = 1; i <= 300; i += 5) {
      await ds.persist({ hardState: { term: 1, vote: '', commit: i + 4 }, entries: entries(i, i + 4), mustSync: true })
      if ((i + 4) % 50 === 0) await ds.saveSnapshot(snapAt(i + 4))
    }
    const n = ds.wal.segmentPaths().length
    await ds.close()
    if (maxWals === 3) assert.is(n, 3)
    else assert.ok(n > 10, `${n} segments kept`)
    const r = openDurableStorage(dataDir, { ...opts, maxWals })
    assert.equal(r.boot.snapshot, snapAt(300))
    await r.close()
    cleanup(path.dirname(dataDir))
  }
})

test('a corrupt newest snapshot: recovery falls back to the previous one and replays more WAL', async () => {
  const dataDir = path.join(tempDir('rec-fb'), 'd')
  await fill(dataDir, 237, 50)
  const { snapDir } = memberDirs(dataDir)
  const newest = fs.readdirSync(snapDir).sort().pop()!
  const file = path.join(snapDir, newest)
  const buf = fs.readFileSync(file)
  buf[20] ^= 1
  fs.writeFileSync(file, buf)
  const warnings: string[] = []
  const r = openDurableStorage(dataDir, { ...opts, warn: (m) => warnings.push(m) })
  assert.equal(r.boot.snapshot, snapAt(150))
  assert.equal(r.boot.entries, entries(151, 237))
  assert.equal(r.boot.hardState?.commit, 237)
  assert.ok(warnings.some((w) => w.includes(newest)))
  await r.close()
  cleanup(path.dirname(dataDir))
})

test('restart, append more, restart again: the log continues seamlessly', async () => {
  const dataDir = path.join(tempDir('rec-more'), 'd')
  await fill(dataDir, 120, 50)
  await fill(dataDir, 333, 50)
  const r = openDurableStorage(dataDir, opts)
  assert.equal(r.boot.snapshot?.metadata.index, 300)
  assert.equal(r.boot.entries, entries(301, 333))
  await r.close()
  cleanup(path.dirname(dataDir))
})

test('a snapshot from the leader (Ready.snapshot) replaces the log; the hard state follows it', async () => {
  const dataDir = path.join(tempDir('rec-leader'), 'd')
  const ds = openDurableStorage(dataDir, { ...opts, metadata: META })
  await ds.persist({ hardState: { term: 1, vote: '', commit: 5 }, entries: entries(1, 12, 1), mustSync: true })
  // Leader of term 3 sends a snapshot at 40: entries 6..12 of term 1 are no longer in our log.
  await ds.persist({ snapshot: snapAt(40, 3), hardState: { term: 3, vote: '', commit: 40 }, entries: [], mustSync: false })
  await ds.persist({ hardState: { term: 3, vote: '', commit: 41 }, entries: [entry(41, 3)], mustSync: true })
  await ds.close()
  const r = openDurableStorage(dataDir, opts)
  assert.equal(r.boot.snapshot, snapAt(40, 3))
  assert.equal(r.boot.entries.map((e) => `${e.index}/${e.term}`), ['41/3'])
  assert.equal(r.boot.hardState, { term: 3, vote: '', commit: 41 })
  await r.close()
  cleanup(path.dirname(dataDir))
})

test('overlapping persist() calls keep record order around a snapshot and share fsyncs', async () => {
  const dataDir = path.join(tempDir('rec-overlap'), 'd')
  let syncs = 0
  // Merging overlapping syncs is what the async mode does (blocking writes each inside its call).
  const ds = openDurableStorage(dataDir, { ...opts, metadata: META, syncMode: 'async', onSync: () => syncs++ })
  const calls = [
    ds.persist({ hardState: { term: 1, vote: '', commit: 2 }, entries: entries(1, 5, 1), mustSync: true }),
    ds.persist({ snapshot: snapAt(20, 2), hardState: { term: 2, vote: '', commit: 20 }, entries: [], mustSync: true }),
    ds.persist({ hardState: { term: 2, vote: '', commit: 21 }, entries: entries(21, 22, 2), mustSync: true }),
    ds.persist({ entries: entries(23, 23, 2), mustSync: true }),
  ]
  await Promise.all(calls)
  assert.ok(syncs <= 3, `${syncs} fsyncs for 4 overlapping Readys`)
  await ds.close()
  const r = openDurableStorage(dataDir, opts)
  assert.equal(r.boot.snapshot, snapAt(20, 2))
  assert.equal(r.boot.entries.map((e) => `${e.index}/${e.term}`), ['21/2', '22/2', '23/2'])
  assert.equal(r.boot.hardState, { term: 2, vote: '', commit: 21 })
  await r.close()
  cleanup(path.dirname(dataDir))
})

test('--wal-dir puts the WAL elsewhere; mustSync=false records ride with the next sync', async () => {
  const base = tempDir('rec-waldir')
  const dataDir = path.join(base, 'data')
  const walDir = path.join(base, 'fastdisk', 'wal')
  const ds = openDurableStorage(dataDir, { ...opts, walDir, metadata: META })
  await ds.persist({ hardState: { term: 1, vote: 'x', commit: 0 }, entries: entries(1, 3), mustSync: true })
  await ds.persist({ hardState: { term: 1, vote: 'x', commit: 3 }, entries: [], mustSync: false })
  await ds.close()
  assert.ok(fs.readdirSync(walDir).some((n) => n.endsWith('.wal')))
  assert.not.ok(fs.existsSync(path.join(dataDir, 'member', 'wal')))
  const r = openDurableStorage(dataDir, { ...opts, walDir })
  assert.equal(r.boot.hardState?.commit, 3)
  assert.equal(r.boot.entries, entries(1, 3))
  await r.close()
  cleanup(base)
})

/** Holds ds.snapshotter.save() calls until the returned release() is called. */
function gateSnapshotWrites(ds: ReturnType<typeof openDurableStorage>): { release: () => void; started: () => number } {
  const orig = ds.snapshotter.save.bind(ds.snapshotter)
  let open!: () => void
  const gate = new Promise<void>((r) => (open = r))
  let n = 0
  ds.snapshotter.save = async (snap, o) => {
    n++
    await gate
    return orig(snap, o)
  }
  return { release: () => open(), started: () => n }
}

test('saveSnapshot() of our own state does not hold up persist(); its marker may follow higher entries', async () => {
  const dataDir = path.join(tempDir('rec-own-async'), 'd')
  const ds = openDurableStorage(dataDir, { ...opts, metadata: META })
  for (let i = 1; i <= 100; i += 5) await ds.persist({ hardState: { term: 1, vote: '', commit: i + 4 }, entries: entries(i, i + 4), mustSync: true })
  await ds.saveSnapshot(snapAt(50))
  const gate = gateSnapshotWrites(ds)
  let saved = false
  const saving = ds.saveSnapshot(snapAt(100)).then(() => (saved = true))
  // While the snapshot file is being written, later Readys persist (and are durable) at once.
  const persisting = (async () => {
    for (let i = 101; i <= 160; i += 5) {
      await ds.persist({ hardState: { term: 1, vote: '', commit: i + 4 }, entries: entries(i, i + 4), mustSync: true })
    }
    return 'persisted'
  })()
  const first = await Promise.race([persisting, new Promise((res) => setTimeout(() => res('timed out'), 5000))])
  if (first !== 'persisted') gate.release()
  assert.is(first, 'persisted', 'persist() did not wait for the snapshot file')
  assert.is(gate.started(), 1)
  assert.not.ok(saved, 'the snapshot is still being written')
  const segsBefore = ds.wal.segmentPaths().length
  gate.release()
  await saving
  assert.ok(ds.wal.segmentPaths().length < segsBefore, 'segments covered by the previous snapshot released after the marker')
  await ds.close()
  const r = openDurableStorage(dataDir, opts)
  assert.equal(r.boot.snapshot, snapAt(100))
  assert.equal(r.boot.entries, entries(101, 160), 'entries after the snapshot, though its marker came after them')
  assert.equal(r.boot.hardState, { term: 1, vote: '', commit: 160 })
  await r.close()
  cleanup(path.dirname(dataDir))
})

test('a crash before the own snapshot\'s marker: recovery uses the previous snapshot', async () => {
  const dataDir = path.join(tempDir('rec-own-crash'), 'd')
  const ds = openDurableStorage(dataDir, { ...opts, metadata: META })
  for (let i = 1; i <= 100; i += 5) await ds.persist({ hardState: { term: 1, vote: '', commit: i + 4 }, entries: entries(i, i + 4), mustSync: true })
  await ds.saveSnapshot(snapAt(50))
  await ds.saveSnapshot(snapAt(80))
  const gate = gateSnapshotWrites(ds)
  void ds.saveSnapshot(snapAt(100)).catch(() => {})
  for (let i = 101; i <= 120; i += 5) await ds.persist({ hardState: { term: 1, vote: '', commit: i + 4 }, entries: entries(i, i + 4), mustSync: true })
  // "Crash": the snapshot file was not written yet, so no marker either. Recover a copy of the
  // directory as it is now.
  const copy = path.join(path.dirname(dataDir), 'copy')
  fs.cpSync(dataDir, copy, { recursive: true })
  const r = openDurableStorage(copy, opts)
  assert.equal(r.boot.snapshot, snapAt(80))
  assert.equal(r.boot.entries, entries(81, 120))
  await r.close()
  gate.release()
  await ds.close()
  cleanup(path.dirname(dataDir))
})

test('close() waits for an own snapshot in flight: file, marker and sync complete first', async () => {
  const dataDir = path.join(tempDir('rec-own-close'), 'd')
  const ds = openDurableStorage(dataDir, { ...opts, metadata: META })
  await ds.persist({ hardState: { term: 1, vote: '', commit: 30 }, entries: entries(1, 30), mustSync: true })
  const gate = gateSnapshotWrites(ds)
  const saving = ds.saveSnapshot(snapAt(30))
  let closed = false
  const closing = ds.close().then(() => (closed = true))
  await new Promise((res) => setTimeout(res, 20))
  assert.not.ok(closed, 'close() waits for the snapshot')
  gate.release()
  await saving
  await closing
  const r = openDurableStorage(dataDir, opts)
  assert.equal(r.boot.snapshot, snapAt(30))
  await r.close()
  cleanup(path.dirname(dataDir))
})

test('a snapshot from the leader still orders strictly: later persist() calls wait for its file and reset marker', async () => {
  const dataDir = path.join(tempDir('rec-leader-gate'), 'd')
  const ds = openDurableStorage(dataDir, { ...opts, metadata: META })
  await ds.persist({ hardState: { term: 1, vote: '', commit: 5 }, entries: entries(1, 8, 1), mustSync: true })
  const gate = gateSnapshotWrites(ds)
  const order: string[] = []
  const a = ds.persist({ snapshot: snapAt(40, 3), hardState: { term: 3, vote: '', commit: 40 }, entries: [], mustSync: true }).then(() => order.push('snap'))
  const b = ds.persist({ hardState: { term: 3, vote: '', commit: 41 }, entries: [entry(41, 3)], mustSync: true }).then(() => order.push('41'))
  await new Promise((res) => setTimeout(res, 20))
  assert.equal(order, [], 'the entry after the leader snapshot waits for its file')
  gate.release()
  await Promise.all([a, b])
  assert.equal(order, ['snap', '41'])
  await ds.close()
  const r = openDurableStorage(dataDir, opts)
  assert.equal(r.boot.snapshot, snapAt(40, 3))
  assert.equal(r.boot.entries.map((e) => `${e.index}/${e.term}`), ['41/3'])
  await r.close()
  cleanup(path.dirname(dataDir))
})

test.run()

// Restart reads only the WAL segments its snapshot needs (as etcd): the recovered log, hard state
// and snapshot equal what a scan of the whole WAL gives; segments not read are still released
// later; and when the newest snapshot cannot be the start (corrupt, orphan without a marker), the
// whole WAL is read and an older snapshot with its longer log is used.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { memberDirs, openDurableStorage } from '../../server/wal/storage.js'
import { Wal } from '../../server/wal/wal.js'
import type { Snapshot } from '../../server/raft/types.js'
import { Snapshotter } from '../../server/snap/snapshotter.js'
import { cleanup, entries, tempDir } from '../wal/helpers.js'

const META = { memberId: 'aaaaaaaaaaaaaaaa', clusterId: 'bbbbbbbbbbbbbbbb' }
const conf = { voters: ['aaaaaaaaaaaaaaaa'] }
/** Small segments (about 20 entries each) and every segment kept, so a restart has many to skip. */
const opts = { segmentSize: 8192, maxWals: 0, warn: () => {} }

function snapAt(index: number, term = 1): Snapshot {
  return { metadata: { index, term, conf }, data: JSON.stringify({ applied: index }) }
}

/** Appends entries up to `to`, 5 per Ready (commit = last), a snapshot every `every` entries. */
async function fill(dataDir: string, to: number, every: number, maxWals = opts.maxWals): Promise<void> {
  const ds = openDurableStorage(dataDir, { ...opts, maxWals, metadata: META })
  const last = ds.boot.entries.at(-1)?.index ?? ds.boot.snapshot?.metadata.index ?? 0
  for (let i = last + 1; i <= to; i += 5) {
    const hi = Math.min(i + 4, to)
    await ds.persist({ hardState: { term: 1, vote: META.memberId, commit: hi }, entries: entries(i, hi), mustSync: true })
    if (Math.floor(hi / every) > Math.floor((i - 1) / every)) await ds.saveSnapshot(snapAt(Math.floor(hi / every) * every))
  }
  await ds.close()
}

/** What a scan of every segment recovers from a snapshot at `index`. */
async function fullRead(dataDir: string, index: number): Promise<ReturnType<Wal['readAll']>> {
  const wal = Wal.open(memberDirs(dataDir).walDir, { warn: () => {} })
  assert.not.ok(wal.partial)
  const r = wal.readAll({ index, term: 1 })
  wal.abandon()
  return r
}

test('restart reads only the segments from the newest snapshot on, and recovers the same log', async () => {
  const dataDir = path.join(tempDir('scan-partial'), 'd')
  await fill(dataDir, 437, 100)
  const segs = fs.readdirSync(memberDirs(dataDir).walDir).length
  assert.ok(segs > 10, `${segs} segments`)
  const partial = Wal.open(memberDirs(dataDir).walDir, { warn: () => {}, fromIndex: 400 })
  assert.ok(partial.partial, 'older segments were skipped')
  partial.abandon()

  const want = await fullRead(dataDir, 400)
  const r = openDurableStorage(dataDir, opts)
  assert.equal(r.boot.snapshot, snapAt(400))
  assert.equal(r.boot.entries, want.entries)
  assert.equal(r.boot.entries, entries(401, 437))
  assert.equal(r.boot.hardState, want.hardState)
  assert.equal(r.boot.hardState, { term: 1, vote: META.memberId, commit: 437 })
  assert.equal(r.wal.segmentPaths().length, segs, 'segments not read are still known')
  await r.close()
  cleanup(path.dirname(dataDir))
})

test('segments skipped at restart are released once later snapshots cover them', async () => {
  const dataDir = path.join(tempDir('scan-release'), 'd')
  await fill(dataDir, 237, 50)
  const before = fs.readdirSync(memberDirs(dataDir).walDir).sort()
  // Go on with --max-wals 2: the old segments (never read by this restart) must go.
  await fill(dataDir, 400, 50, 2)
  const after = fs.readdirSync(memberDirs(dataDir).walDir).sort()
  assert.ok(after.length <= 3, `${after.length} segments left`)
  assert.not.ok(after.includes(before[0]), 'the oldest segment was released')
  const r = openDurableStorage(dataDir, opts)
  assert.equal(r.boot.snapshot, snapAt(400))
  assert.equal(r.boot.entries, [])
  await r.close()
  cleanup(path.dirname(dataDir))
})

test('a corrupt newest snapshot: the whole WAL is read and the older snapshot gets its longer log', async () => {
  const dataDir = path.join(tempDir('scan-corrupt'), 'd')
  await fill(dataDir, 437, 100)
  const { snapDir } = memberDirs(dataDir)
  const newest = fs.readdirSync(snapDir).sort().pop()!
  const file = path.join(snapDir, newest)
  const buf = fs.readFileSync(file)
  buf[buf.length - 3] ^= 1
  fs.writeFileSync(file, buf)
  const r = openDurableStorage(dataDir, opts)
  assert.equal(r.boot.snapshot, snapAt(300))
  assert.equal(r.boot.entries, entries(301, 437), 'entries from segments the first pass skipped')
  assert.equal(r.boot.hardState?.commit, 437)
  assert.ok(fs.existsSync(file + '.broken'))
  await r.close()
  cleanup(path.dirname(dataDir))
})

test('an orphan newest snapshot file (saved, crash before its WAL marker) is passed over', async () => {
  const dataDir = path.join(tempDir('scan-orphan'), 'd')
  await fill(dataDir, 437, 100)
  // A snapshot at 430 whose marker never reached the WAL.
  await new Snapshotter(memberDirs(dataDir).snapDir, { keep: 0 }).save(snapAt(430))
  const r = openDurableStorage(dataDir, opts)
  assert.equal(r.boot.snapshot, snapAt(400))
  assert.equal(r.boot.entries, entries(401, 437))
  await r.close()
  // Older than every segment head's markers: still found by reading the whole WAL.
  const dir2 = path.join(tempDir('scan-orphan2'), 'd')
  await fill(dir2, 437, 100)
  const { snapDir } = memberDirs(dir2)
  for (const f of fs.readdirSync(snapDir).sort().slice(1)) fs.rmSync(path.join(snapDir, f))
  await new Snapshotter(snapDir, { keep: 0 }).save(snapAt(420))
  const r2 = openDurableStorage(dir2, opts)
  assert.equal(r2.boot.snapshot, snapAt(100))
  assert.equal(r2.boot.entries, entries(101, 437))
  await r2.close()
  cleanup(path.dirname(dataDir))
  cleanup(path.dirname(dir2))
})

test.run()

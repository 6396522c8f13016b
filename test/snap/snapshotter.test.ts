// Snapshot files: CRC-checked round trip, etcd naming, atomic save, newest valid wins (a corrupt
// newest falls back to the previous one and is set aside), WAL-marker filter, pruning to N.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { Snapshotter, encodeSnapshotFile, snapFileName, SnapCorruptError } from '../../server/snap/snapshotter.js'
import type { Snapshot } from '../../server/raft/types.js'
import { cleanup, tempDir } from '../wal/helpers.js'

function snap(index: number, term: number, data = `{"store":"at ${index}","ünïcode":"✓"}`): Snapshot {
  return { metadata: { index, term, conf: { voters: ['a', 'b', 'c'] } }, data }
}

test('save/load round trip with etcd file name and no temp files left', async () => {
  const base = tempDir('snap-rt')
  const dir = path.join(base, 'member', 'snap')
  const s = new Snapshotter(dir, { warn: () => {} })
  const big = snap(12345, 7, 'x'.repeat(3 * 1024 * 1024))
  const file = await s.save(big)
  assert.is(path.basename(file), '0000000000000007-0000000000003039.snap')
  assert.is(snapFileName(7, 12345), path.basename(file))
  assert.equal(fs.readdirSync(dir), [path.basename(file)])
  assert.equal(s.load(file), big)
  await s.save(snap(1, 1))
  assert.equal(s.loadNewest(), big)
  cleanup(base)
})

test('a corrupt newest snapshot falls back to the previous valid one, with a warning', async () => {
  const dir = tempDir('snap-corrupt')
  const warnings: string[] = []
  const s = new Snapshotter(dir, { warn: (m) => warnings.push(m) })
  await s.save(snap(100, 2))
  const newest = await s.save(snap(200, 3))
  const buf = fs.readFileSync(newest)
  buf[buf.length - 3] ^= 0x20
  fs.writeFileSync(newest, buf)
  assert.throws(() => s.load(newest), (e: unknown) => e instanceof SnapCorruptError && (e as SnapCorruptError).file === newest)
  assert.equal(s.loadNewest(), snap(100, 2))
  assert.is(warnings.length, 1)
  assert.match(warnings[0], path.basename(newest))
  assert.ok(fs.existsSync(newest + '.broken'), 'set aside as .broken')
  // A truncated file (crash mid-write without the tmp+rename) is corrupt too.
  const f2 = await s.save(snap(300, 3))
  fs.truncateSync(f2, 20)
  assert.equal(s.loadNewest(), snap(100, 2))
  cleanup(dir)
})

test('loadNewest only considers snapshots the WAL has markers for', async () => {
  const dir = tempDir('snap-markers')
  const s = new Snapshotter(dir, { warn: () => {} })
  await s.save(snap(10, 1))
  await s.save(snap(20, 1))
  await s.save(snap(30, 2)) // saved, but the crash came before its WAL marker
  assert.equal(s.loadNewest({ walMarkers: [{ index: 0, term: 0 }, { index: 10, term: 1 }, { index: 20, term: 1 }] }), snap(20, 1))
  assert.equal(s.loadNewest({ walMarkers: [{ index: 20, term: 2 }] }), undefined, 'term must match too')
  assert.equal(s.loadNewest({ walMarkers: [] }), undefined)
  assert.ok(fs.existsSync(path.join(dir, snapFileName(2, 30))), 'an orphan is not corrupt: kept')
  cleanup(dir)
})

test('pruning keeps the newest N; keep 0 keeps all; stale temp files are removed on open', async () => {
  const dir = tempDir('snap-prune')
  const s = new Snapshotter(dir, { keep: 3 })
  for (let i = 1; i <= 7; i++) await s.save(snap(i * 10, 1))
  assert.equal(s.list().map((f) => f.index), [70, 60, 50])
  const all = new Snapshotter(dir, { keep: 0 })
  for (let i = 8; i <= 9; i++) await all.save(snap(i * 10, 1))
  assert.equal(all.list().map((f) => f.index), [90, 80, 70, 60, 50])
  fs.writeFileSync(path.join(dir, snapFileName(1, 100) + '.tmp'), 'partial')
  new Snapshotter(dir)
  assert.not.ok(fs.readdirSync(dir).some((n) => n.endsWith('.tmp')))
  cleanup(dir)
})

test('a file whose name disagrees with its content is corrupt', async () => {
  const dir = tempDir('snap-name')
  const s = new Snapshotter(dir, { warn: () => {} })
  const f = await s.save(snap(5, 1))
  const renamed = path.join(dir, snapFileName(1, 6))
  fs.renameSync(f, renamed)
  assert.throws(() => s.load(renamed), (e: unknown) => e instanceof SnapCorruptError)
  assert.is(s.loadNewest(), undefined)
  cleanup(dir)
})

test('save() writes in pieces: bytes equal encodeSnapshotFile, given pieces or not, surrogate pairs never cut', async () => {
  const dir = tempDir('snap-pieces')
  const s = new Snapshotter(dir, { keep: 0, warn: () => {} })
  // > 2 MiB chars of mixed ASCII / 2-, 3- and 4-byte UTF-8, so the 1 Mi-char write steps fall
  // inside multi-byte characters and between the halves of surrogate pairs.
  const unit = 'abc"\\ é ✓ 😀 \u2028'
  let big = ''
  while (big.length < 2.5 * 1024 * 1024) big += unit
  big += '\ud83d' // a lone high surrogate at the very end encodes as U+FFFD, as Buffer.from does
  const cases: [string, string[] | undefined][] = [
    ['plain', undefined],
    ['one piece', [big]],
    // Cut at every odd place, including between the two halves of each 😀.
    ['ragged', (() => {
      const out: string[] = []
      for (let i = 0, n = 1; i < big.length; i += n, n = (n * 7 + 3) % 300_001 + 1) out.push(big.slice(i, i + n))
      return out
    })()],
    ['split pairs', (() => {
      const out: string[] = []
      for (let i = 0; i < big.length; ) {
        let j = Math.min(big.length, i + 1 + Math.floor((i * 31) % 200_000))
        while (j < big.length && big.charCodeAt(j - 1) !== 0xd83d) j++ // end each piece on a high surrogate
        out.push(big.slice(i, j))
        i = j
      }
      return out
    })()],
    ['empty pieces', ['', big.slice(0, 10), '', big.slice(10), '']],
  ]
  let index = 1
  for (const [name, pieces] of cases) {
    if (pieces) assert.is(pieces.join(''), big, name)
    const sn = snap(index++, 1, big)
    const file = await s.save(sn, { dataChunks: pieces })
    assert.ok(fs.readFileSync(file).equals(encodeSnapshotFile(sn)), `${name}: same bytes as encodeSnapshotFile`)
    assert.equal(s.load(file), { ...sn, data: Buffer.from(big).toString() }, name)
  }
  // Small data and empty data.
  for (const data of ['', 'x', '{"a":1}']) {
    const sn = snap(index++, 2, data)
    const file = await s.save(sn, { dataChunks: [data] })
    assert.ok(fs.readFileSync(file).equals(encodeSnapshotFile(sn)))
    assert.equal(s.load(file), sn)
  }
  cleanup(dir)
})

test.run()

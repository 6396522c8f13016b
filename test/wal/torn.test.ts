// Torn writes and corruption: a damaged LAST record (cut at any byte, zeroed, any byte flipped) is a
// write that never finished and is cut off, keeping exactly the records before it; damage anywhere
// else stops recovery with WalCorruptError naming the file and offset of the damaged record.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { Wal } from '../../server/wal/wal.js'
import { WalCorruptError } from '../../server/wal/errors.js'
import { RecordType } from '../../server/wal/record.js'
import { cleanup, copyDir, entries, entry, framesOf, tempDir } from './helpers.js'

const SEG = 8192
const quiet = { segmentSize: SEG, warn: () => {} }

/** A pristine WAL: entries 1..12 in batches (spanning 2+ segments), last record = entry 13. */
async function pristine(): Promise<{ dir: string; tail: string }> {
  const dir = path.join(tempDir('torn-src'), 'wal')
  const w = Wal.create(dir, { memberId: 'm1', clusterId: 'c1' }, quiet)
  for (let i = 1; i <= 12; i += 4) await w.saveAndSync({ term: 1, vote: 'm1', commit: i }, entries(i, i + 3, 1, 1500))
  await w.saveAndSync(undefined, [entry(13, 1, 200)])
  const paths = w.segmentPaths()
  await w.close()
  assert.ok(paths.length >= 2, 'setup spans several segments')
  return { dir, tail: path.basename(paths[paths.length - 1]) }
}

function indexes(dir: string): number[] {
  const w = Wal.open(dir, quiet)
  const r = w.readAll()
  void w.close()
  return r.entries.map((e) => e.index)
}

const ALL = Array.from({ length: 13 }, (_, i) => i + 1)
const PREFIX = ALL.slice(0, 12)

test('pristine WAL reads back entries 1..13', async () => {
  const { dir } = await pristine()
  assert.equal(indexes(dir), ALL)
  cleanup(path.dirname(dir))
})

test('last record cut at every byte offset (file truncated, and zeroed in preallocated space): keeps entries 1..12', async () => {
  const { dir, tail } = await pristine()
  const frames = framesOf(path.join(dir, tail))
  const last = frames[frames.length - 1]
  assert.is(last.type, RecordType.Entry)
  for (let cut = last.offset; cut < last.end; cut++) {
    for (const mode of ['truncate', 'zero'] as const) {
      const d = copyDir(dir, 'torn')
      const file = path.join(d, tail)
      if (mode === 'truncate') fs.truncateSync(file, cut)
      else {
        const fd = fs.openSync(file, 'r+')
        fs.writeSync(fd, Buffer.alloc(last.end - cut), 0, last.end - cut, cut)
        fs.closeSync(fd)
      }
      try {
        // Zeroing only the (already zero) padding leaves the record whole.
        const whole = mode === 'zero' && cut >= last.dataEnd
        assert.equal(indexes(d), whole ? ALL : PREFIX, `${mode} at ${cut}`)
        if (whole || (cut - last.offset) % 7 !== 0) continue
        // Repaired in place: a second recovery sees a clean log, and appending continues at 13.
        const w = Wal.open(d, quiet)
        assert.is(w.repaired, undefined, `${mode} at ${cut}: second open needs no repair`)
        assert.is(w.lastIndex, 12)
        await w.saveAndSync(undefined, [entry(13, 2)])
        await w.close()
        const r = Wal.open(d, quiet)
        assert.equal(r.readAll().entries.map((e) => `${e.index}/${e.term}`).slice(-2), ['12/1', '13/2'])
        await r.close()
      } finally {
        cleanup(d)
      }
    }
  }
  cleanup(path.dirname(dir))
})

test('every byte of the last record flipped: keeps entries 1..12 and reports the repair', async () => {
  const { dir, tail } = await pristine()
  const frames = framesOf(path.join(dir, tail))
  const last = frames[frames.length - 1]
  for (let at = last.offset; at < last.end; at++) {
    const d = copyDir(dir, 'flip')
    const file = path.join(d, tail)
    const buf = fs.readFileSync(file)
    buf[at] ^= 0x5a
    fs.writeFileSync(file, buf)
    try {
      const w = Wal.open(d, quiet)
      assert.equal(w.readAll().entries.map((e) => e.index), PREFIX, `flip at ${at}`)
      assert.ok(w.repaired, `flip at ${at} reported`)
      assert.is(w.repaired!.offset, last.offset)
      assert.is(w.repaired!.file, file)
      await w.close()
    } finally {
      cleanup(d)
    }
  }
  cleanup(path.dirname(dir))
})

test('a flipped byte in any earlier record stops recovery with WalCorruptError naming file and offset', async () => {
  const { dir } = await pristine()
  const segs = fs.readdirSync(dir).sort()
  let checked = 0
  for (const seg of segs) {
    const frames = framesOf(path.join(dir, seg))
    const isTail = seg === segs[segs.length - 1]
    const candidates = isTail ? frames.slice(0, -1) : frames
    for (const f of candidates) {
      // Header bytes (length, type, magic, chain, crc) and a data byte of each record.
      for (const at of [f.offset, f.offset + 4, f.offset + 6, f.offset + 9, f.offset + 13, Math.floor((f.offset + 16 + f.end) / 2)]) {
        if (at >= f.end) continue
        const d = copyDir(dir, 'corrupt')
        const file = path.join(d, seg)
        const buf = fs.readFileSync(file)
        buf[at] ^= 0x01
        fs.writeFileSync(file, buf)
        try {
          Wal.open(d, quiet)
          assert.unreachable(`flip at ${seg}:${at} was accepted`)
        } catch (e) {
          if (!(e instanceof WalCorruptError)) throw e
          assert.is(e.file, file)
          assert.is(e.offset, f.offset, `flip at ${at} reported at record offset`)
          assert.match(e.message, seg)
          assert.match(e.message, `offset ${f.offset}`)
          checked++
        } finally {
          cleanup(d)
        }
      }
    }
  }
  assert.ok(checked > 20, `checked ${checked} flips`)
  cleanup(path.dirname(dir))
})

test('garbage after a zeroed gap in the tail, and records out of order, are corruption', async () => {
  const { dir, tail } = await pristine()
  const frames = framesOf(path.join(dir, tail))
  // Zero the header of the second-to-last record: valid data still follows it.
  {
    const d = copyDir(dir, 'gap')
    const file = path.join(d, tail)
    const buf = fs.readFileSync(file)
    const f = frames[frames.length - 2]
    buf.fill(0, f.offset, f.offset + 16)
    fs.writeFileSync(file, buf)
    assert.throws(() => Wal.open(d, quiet), (e: unknown) => e instanceof WalCorruptError && e.offset === f.offset)
    cleanup(d)
  }
  // Swap the last two records (both valid frames): the crc chain breaks.
  {
    const d = copyDir(dir, 'swap')
    const file = path.join(d, tail)
    const buf = fs.readFileSync(file)
    const a = frames[frames.length - 2]
    const b = frames[frames.length - 1]
    const swapped = Buffer.concat([buf.subarray(b.offset, b.end), buf.subarray(a.offset, a.end)])
    swapped.copy(buf, a.offset)
    fs.writeFileSync(file, buf)
    assert.throws(() => Wal.open(d, quiet), (e: unknown) => e instanceof WalCorruptError && /chain/.test((e as Error).message))
    cleanup(d)
  }
  cleanup(path.dirname(dir))
})

/** One segment: writes of 4 entries, then a last write of 10 entries of 1500 bytes (~30 sectors). */
async function powerLossWal(): Promise<{ dir: string; seg: string; lastWriteStart: number; prevWriteStart: number }> {
  const dir = path.join(tempDir('pl-src'), 'wal')
  const opts = { ...quiet, segmentSize: 1 << 20 }
  const w = Wal.create(dir, { memberId: 'm1', clusterId: 'c1' }, opts)
  let prevWriteStart = 0
  for (let i = 1; i <= 12; i += 4) {
    prevWriteStart = framesOf(w.segmentPaths()[0]).at(-1)!.end
    await w.saveAndSync({ term: 1, vote: 'm1', commit: i }, entries(i, i + 3, 1, 1500))
  }
  const seg = w.segmentPaths()[0]
  const lastWriteStart = framesOf(seg).at(-1)!.end
  await w.saveAndSync(undefined, entries(13, 22, 1, 1500))
  await w.close()
  return { dir, seg: path.basename(seg), lastWriteStart, prevWriteStart }
}

test('power loss: a sector lost inside the last write is a torn tail; the records before it are kept', async () => {
  const { dir, seg, lastWriteStart } = await powerLossWal()
  const frames = framesOf(path.join(dir, seg)).filter((f) => f.offset >= lastWriteStart)
  const end = frames.at(-1)!.end
  let cases = 0
  for (let s0 = Math.ceil((lastWriteStart + 1) / 512) * 512; s0 + 512 <= end; s0 += 512) {
    const d = copyDir(dir, 'pl')
    const file = path.join(d, seg)
    const fd = fs.openSync(file, 'r+')
    fs.writeSync(fd, Buffer.alloc(512), 0, 512, s0)
    fs.closeSync(fd)
    try {
      const w = Wal.open(d, quiet)
      const kept = frames.filter((f) => f.end <= s0).length
      assert.equal(w.readAll().entries.map((e) => e.index), Array.from({ length: 12 + kept }, (_, i) => i + 1), `sector at ${s0}`)
      assert.ok(w.repaired, 'reported')
      await w.close()
      cases++
    } finally {
      cleanup(d)
    }
  }
  assert.ok(cases >= 20, `${cases} sectors`)
  // The sector holding the write's start kept its old content (data of the previous write, zeros after).
  const d = copyDir(dir, 'pl-start')
  const file = path.join(d, seg)
  const next = Math.ceil((lastWriteStart + 1) / 512) * 512
  const fd = fs.openSync(file, 'r+')
  fs.writeSync(fd, Buffer.alloc(next - lastWriteStart), 0, next - lastWriteStart, lastWriteStart)
  fs.closeSync(fd)
  assert.equal(indexes(d), PREFIX)
  cleanup(d)
  cleanup(path.dirname(dir))
})

test('power-loss look-alikes that are corruption: a lost sector in an older write, a flipped byte in the last write', async () => {
  const { dir, seg, lastWriteStart, prevWriteStart } = await powerLossWal()
  const file0 = path.join(dir, seg)
  const frames = framesOf(file0)
  // A zeroed sector inside the previous (acknowledged) write: frames of a later write follow.
  {
    const d = copyDir(dir, 'pl-old')
    const s0 = Math.ceil((prevWriteStart + 600) / 512) * 512
    assert.ok(s0 + 512 <= lastWriteStart)
    const fd = fs.openSync(path.join(d, seg), 'r+')
    fs.writeSync(fd, Buffer.alloc(512), 0, 512, s0)
    fs.closeSync(fd)
    const hit = frames.find((f) => f.end > s0)!
    assert.throws(() => Wal.open(d, quiet), (e: unknown) => e instanceof WalCorruptError && (e as WalCorruptError).offset === hit.offset)
    cleanup(d)
  }
  // A flipped byte (not a lost sector) in an early record of the last write.
  {
    const d = copyDir(dir, 'pl-flip')
    const f = frames.find((x) => x.offset >= lastWriteStart)!
    const buf = fs.readFileSync(path.join(d, seg))
    buf[f.offset + 100] ^= 0x04
    fs.writeFileSync(path.join(d, seg), buf)
    assert.throws(() => Wal.open(d, quiet), (e: unknown) => e instanceof WalCorruptError && (e as WalCorruptError).offset === f.offset)
    cleanup(d)
  }
  cleanup(path.dirname(dir))
})

test('a missing middle segment or a damaged non-tail segment end refuses to start', async () => {
  const dir = path.join(tempDir('mid'), 'wal')
  const w = Wal.create(dir, { memberId: 'm1', clusterId: 'c1' }, quiet)
  for (let i = 1; i <= 40; i += 4) await w.saveAndSync({ term: 1, vote: '', commit: i }, entries(i, i + 3, 1, 1500))
  const segs = w.segmentPaths()
  await w.close()
  assert.ok(segs.length >= 3)
  const d = copyDir(dir, 'missing')
  fs.rmSync(path.join(d, path.basename(segs[1])))
  assert.throws(() => Wal.open(d, quiet), (e: unknown) => e instanceof WalCorruptError && /missing/.test((e as Error).message))
  cleanup(d)
  // Cutting the last record of a non-tail segment is not a torn tail: it was synced before the cut.
  const d2 = copyDir(dir, 'midtrunc')
  const f0 = path.join(d2, path.basename(segs[0]))
  const frames = framesOf(f0)
  fs.truncateSync(f0, frames[frames.length - 1].offset + 5)
  assert.throws(() => Wal.open(d2, quiet), (e: unknown) => e instanceof WalCorruptError && (e as WalCorruptError).file === f0)
  cleanup(d2)
  cleanup(path.dirname(dir))
})

test.run()

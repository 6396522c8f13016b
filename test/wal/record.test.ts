// Record framing and payload codecs: exact round trips (indexes up to 2^53-1, unicode, empty data),
// 8-byte alignment, crc chaining, and rejection of damaged or misplaced frames.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EntryType } from '../../server/raft/types.js'
import {
  RecordType,
  decodeEntry,
  decodeHardState,
  decodeMetadata,
  decodeSnapshotMarker,
  encodeEntry,
  encodeHardState,
  encodeMetadata,
  encodeSnapshotMarker,
  findNextValidFrame,
  frameRecords,
  readFrame,
} from '../../server/wal/record.js'

test('payload codecs round-trip exactly', () => {
  for (const e of [
    { index: 1, term: 1, type: EntryType.Normal, data: '' },
    { index: Number.MAX_SAFE_INTEGER, term: 2 ** 40 + 3, type: EntryType.ConfChange, data: '{"type":"add","id":"ab"}' },
    { index: 4294967296, term: 4294967295, type: EntryType.Normal, data: 'ünïcødé ✓ 𝄞' },
  ]) assert.equal(decodeEntry(encodeEntry(e)), e)
  const hs = { term: 2 ** 33, vote: '8e9e05c52164694d', commit: 12345678901 }
  assert.equal(decodeHardState(encodeHardState(hs)), hs)
  assert.equal(decodeHardState(encodeHardState({ term: 0, vote: '', commit: 0 })), { term: 0, vote: '', commit: 0 })
  assert.equal(decodeSnapshotMarker(encodeSnapshotMarker({ index: 99, term: 7 }, 1)), { snap: { index: 99, term: 7 }, flags: 1 })
  const m = { memberId: 'a', clusterId: 'b', name: 'node1' }
  assert.equal(decodeMetadata(encodeMetadata(m)), m)
  assert.throws(() => decodeMetadata(Buffer.from('{"memberId":1}')))
})

test('frames are 8-aligned, chained, and read back in order', () => {
  const recs = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => ({ type: RecordType.Entry, data: encodeEntry({ index: n, term: 1, type: EntryType.Normal, data: 'x'.repeat(n) }) }))
  const { buf, lastCrc } = frameRecords(recs, 0xdeadbeef)
  assert.is(buf.length % 8, 0)
  let off = 0
  let prev = 0xdeadbeef
  for (let n = 1; n <= 9; n++) {
    const fr = readFrame(buf, off)
    if (fr.kind !== 'ok') throw new Error(`frame ${n}: ${fr.kind}`)
    assert.is(off % 8, 0)
    assert.is(fr.prevCrc, prev)
    assert.is(decodeEntry(fr.data).index, n)
    prev = fr.crc
    off = fr.next
  }
  assert.is(prev, lastCrc)
  assert.equal(readFrame(buf, off), { kind: 'end' })
  assert.equal(readFrame(Buffer.concat([buf, Buffer.alloc(64)]), off), { kind: 'end' })
})

test('damaged frames are rejected; a scan finds the next valid one', () => {
  const recs = [1, 2].map((n) => ({ type: RecordType.HardState, data: encodeHardState({ term: n, vote: 'v', commit: n }) }))
  const { buf } = frameRecords(recs, 0)
  const second = (readFrame(buf, 0) as { next: number }).next
  for (let i = 0; i < second; i++) {
    const b = Buffer.from(buf)
    b[i] ^= 0x80
    assert.is(readFrame(b, 0).kind, 'bad', `flip at ${i}`)
    assert.is(findNextValidFrame(b, 8), second)
  }
  assert.is(readFrame(buf.subarray(0, second - 1), 0).kind, 'bad', 'short')
  assert.is(findNextValidFrame(buf, second + 8), -1)
})

test.run()

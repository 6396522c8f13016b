// WAL record framing and payload codecs: pure functions over Buffers, no I/O.
//
// Frame (little-endian), always 8-byte aligned so a torn tail is found at a frame boundary:
//   0  u32 dataLen     length of data
//   4  u8  type        RecordType (never 0: an all-zero header means "no more records")
//   5  u8  padLen      zero bytes after data up to the next multiple of 8
//   6  u16 magic       0xA55A; lets a scan tell frames from zeroed or random bytes
//   8  u32 batchOff    bytes from the start of the write this frame was part of to the frame
//   12 u32 reserved    0
//   16 u32 prevCrc     crc of the previous record (0 for the very first record of a WAL)
//   20 u32 crc         zlib.crc32 of bytes 0..19 followed by data
//   24 data, then padLen zero bytes
// The crc covers prevCrc, so the checksums form a chain (as etcd's running CRC): a record that is
// moved, dropped or replayed breaks the chain even though each frame is valid on its own. Because
// every frame is also self-checking, recovery can scan past damage to see whether valid records
// follow it (damage in the middle) or not (a torn tail). batchOff tells recovery which write a
// valid frame belongs to, so a sector lost inside the last (never acknowledged) write can be told
// from damage to older, acknowledged data.
// Must not: touch files, allocate per-byte, or know about segments.

import { crc32 } from 'node:zlib'
import type { Entry, EntryType, HardState } from '../raft/types.js'

export enum RecordType {
  /** JSON WalMetadata; the first record of every segment. */
  Metadata = 1,
  Entry = 2,
  HardState = 3,
  /** A snapshot marker: the log may be read starting after (index, term). */
  Snapshot = 4,
}

export const HEADER_SIZE = 24
export const MAGIC = 0xa55a
/** Upper bound on one record's data; larger lengths are treated as damage. */
export const MAX_RECORD_DATA = 512 * 1024 * 1024

/** What the WAL stores about a snapshot: enough to find where to start reading the log. */
export interface WalSnapshot {
  index: number
  term: number
}

/** Identity of the member that owns the WAL, written at the head of every segment. */
export interface WalMetadata {
  memberId: string
  clusterId: string
  /** Free-form extra fields are kept as they are (JSON). */
  [key: string]: unknown
}

/** A record waiting to be framed: its type and encoded payload. */
export interface PendingRecord {
  type: RecordType
  data: Buffer
}

export function padFor(dataLen: number): number {
  return (8 - (dataLen % 8)) % 8
}

export function frameSize(dataLen: number): number {
  return HEADER_SIZE + dataLen + padFor(dataLen)
}

/**
 * Frames records into one contiguous buffer, chaining crcs from prevCrc.
 * Returns the buffer and the crc of the last record (the next record's prevCrc).
 */
export function frameRecords(records: readonly PendingRecord[], prevCrc: number): { buf: Buffer; lastCrc: number } {
  let total = 0
  for (const r of records) total += frameSize(r.data.length)
  const buf = Buffer.allocUnsafe(total)
  let off = 0
  let prev = prevCrc
  for (const r of records) {
    const len = r.data.length
    const pad = padFor(len)
    buf.writeUInt32LE(len, off)
    buf[off + 4] = r.type
    buf[off + 5] = pad
    buf.writeUInt16LE(MAGIC, off + 6)
    buf.writeUInt32LE(off, off + 8)
    buf.writeUInt32LE(0, off + 12)
    buf.writeUInt32LE(prev, off + 16)
    const crc = crc32(r.data, crc32(buf.subarray(off, off + 20)))
    buf.writeUInt32LE(crc, off + 20)
    r.data.copy(buf, off + HEADER_SIZE)
    if (pad) buf.fill(0, off + HEADER_SIZE + len, off + HEADER_SIZE + len + pad)
    off += HEADER_SIZE + len + pad
    prev = crc
  }
  return { buf, lastCrc: prev }
}

export type FrameResult =
  | { kind: 'ok'; type: RecordType; data: Buffer; prevCrc: number; crc: number; next: number; batchOff: number }
  /** An all-zero header (or zero bytes up to the end): nothing was written here. */
  | { kind: 'end' }
  | { kind: 'bad'; reason: string }

/** Reads and checks the frame at `off` (which must be 8-aligned). Never throws. */
export function readFrame(buf: Buffer, off: number): FrameResult {
  const avail = buf.length - off
  if (avail <= 0) return { kind: 'end' }
  if (avail < HEADER_SIZE) {
    return isZero(buf, off, buf.length) ? { kind: 'end' } : { kind: 'bad', reason: 'short header' }
  }
  if (isZero(buf, off, off + HEADER_SIZE)) return { kind: 'end' }
  const len = buf.readUInt32LE(off)
  const type = buf[off + 4]
  const pad = buf[off + 5]
  if (buf.readUInt16LE(off + 6) !== MAGIC) return { kind: 'bad', reason: 'bad frame magic' }
  if (type < RecordType.Metadata || type > RecordType.Snapshot) return { kind: 'bad', reason: `unknown record type ${type}` }
  if (len > MAX_RECORD_DATA || pad !== padFor(len)) return { kind: 'bad', reason: `bad record length ${len}` }
  const next = off + HEADER_SIZE + len + pad
  if (next > buf.length) return { kind: 'bad', reason: `record of ${len} bytes runs past the end of the file` }
  const data = buf.subarray(off + HEADER_SIZE, off + HEADER_SIZE + len)
  const crc = buf.readUInt32LE(off + 20)
  if (crc32(data, crc32(buf.subarray(off, off + 20))) !== crc) return { kind: 'bad', reason: 'crc mismatch' }
  // Padding is not under the crc; require it zero so no byte of a frame can change unnoticed.
  if (!isZero(buf, off + HEADER_SIZE + len, next)) return { kind: 'bad', reason: 'non-zero padding' }
  const batchOff = buf.readUInt32LE(off + 8)
  if (buf.readUInt32LE(off + 12) !== 0 || batchOff > off) return { kind: 'bad', reason: 'bad frame header' }
  return { kind: 'ok', type, data, prevCrc: buf.readUInt32LE(off + 16), crc, next, batchOff }
}

/** Offset of the first self-valid frame at an 8-aligned offset in [from, buf.length), or -1. */
export function findNextValidFrame(buf: Buffer, from: number): number {
  let off = from + ((8 - (from % 8)) % 8)
  for (; off + HEADER_SIZE <= buf.length; off += 8) {
    // Cheap filter before the crc: magic bytes at 6..7.
    if (buf[off + 6] !== (MAGIC & 0xff) || buf[off + 7] !== MAGIC >> 8) continue
    if (readFrame(buf, off).kind === 'ok') return off
  }
  return -1
}

const ZEROS = Buffer.alloc(64 * 1024)

export function isZero(buf: Buffer, from: number, to: number): boolean {
  if (to - from <= 64) {
    for (let i = from; i < to; i++) if (buf[i] !== 0) return false
    return true
  }
  // Native compares in chunks: a preallocated 64 MiB tail is scanned at memcmp speed.
  for (let i = from; i < to; i += ZEROS.length) {
    const n = Math.min(ZEROS.length, to - i)
    if (buf.compare(ZEROS, 0, n, i, i + n) !== 0) return false
  }
  return true
}

// ---- payload codecs ---------------------------------------------------------------------------
// Indexes and terms are integers below 2^53, stored as u64 (two u32 halves).

function writeU64(buf: Buffer, n: number, off: number): void {
  buf.writeUInt32LE(n >>> 0, off)
  buf.writeUInt32LE(Math.floor(n / 0x100000000), off + 4)
}

function readU64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * 0x100000000
}

export function encodeEntry(e: Entry): Buffer {
  const n = Buffer.byteLength(e.data, 'utf8')
  const buf = Buffer.allocUnsafe(17 + n)
  writeU64(buf, e.index, 0)
  writeU64(buf, e.term, 8)
  buf[16] = e.type
  if (n) buf.write(e.data, 17, 'utf8')
  return buf
}

export function decodeEntry(buf: Buffer): Entry {
  return rawEntryData(decodeRawEntry(buf))
}

/** An entry with its payload still in bytes (a view into the record's buffer, not a copy). */
export interface RawEntry {
  index: number
  term: number
  type: EntryType
  raw: Buffer
}

/**
 * Decodes an entry record but its payload: a recovery scan reads every entry of the retained
 * segments, most of them already covered by the snapshot it starts from, so only the entries it
 * returns pay for decoding their data (rawEntryData).
 */
export function decodeRawEntry(buf: Buffer): RawEntry {
  if (buf.length < 17) throw new Error('entry record too short')
  return { index: readU64(buf, 0), term: readU64(buf, 8), type: buf[16] as EntryType, raw: buf.subarray(17) }
}

export function rawEntryData(e: RawEntry): Entry {
  return { index: e.index, term: e.term, type: e.type, data: e.raw.toString('utf8') }
}

export function encodeHardState(hs: HardState): Buffer {
  const n = Buffer.byteLength(hs.vote, 'utf8')
  const buf = Buffer.allocUnsafe(16 + n)
  writeU64(buf, hs.term, 0)
  writeU64(buf, hs.commit, 8)
  if (n) buf.write(hs.vote, 16, 'utf8')
  return buf
}

export function decodeHardState(buf: Buffer): HardState {
  if (buf.length < 16) throw new Error('hard state record too short')
  return { term: readU64(buf, 0), commit: readU64(buf, 8), vote: buf.toString('utf8', 16) }
}

/** Marker flag: entries above index written before this marker are no longer part of the log. */
export const SNAP_RESET_LOG = 1

export function encodeSnapshotMarker(s: WalSnapshot, flags: number): Buffer {
  const buf = Buffer.allocUnsafe(17)
  writeU64(buf, s.index, 0)
  writeU64(buf, s.term, 8)
  buf[16] = flags
  return buf
}

export function decodeSnapshotMarker(buf: Buffer): { snap: WalSnapshot; flags: number } {
  if (buf.length < 17) throw new Error('snapshot record too short')
  return { snap: { index: readU64(buf, 0), term: readU64(buf, 8) }, flags: buf[16] }
}

export function encodeMetadata(m: WalMetadata): Buffer {
  return Buffer.from(JSON.stringify(m), 'utf8')
}

export function decodeMetadata(buf: Buffer): WalMetadata {
  const m = JSON.parse(buf.toString('utf8')) as WalMetadata
  if (typeof m !== 'object' || m === null || typeof m.memberId !== 'string' || typeof m.clusterId !== 'string') {
    throw new Error('metadata record lacks memberId/clusterId')
  }
  return m
}

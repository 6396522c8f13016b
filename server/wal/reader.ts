// Recovery scan of a WAL directory: decodes every segment in order, checks frames and the crc
// chain, resolves entry overwrites, and repairs a torn tail of the last segment.
//
// Torn tail vs corruption: the WAL only ever writes at its end, and every write is followed by an
// fdatasync before anything is acknowledged. So in the last segment:
//  - damage after which no valid frame exists (a short record, zeroed preallocated space, a bad crc
//    in the last record) is a write that never finished: never acknowledged, cut off;
//  - damage that looks like a sector the disk never wrote (zero bytes up to a 512-byte boundary)
//    and is followed only by frames of the same write (their batchOff points at or before the
//    damage) is a power loss during the last write, whose fdatasync never returned: cut off too.
// Anything else (damage followed by frames of a later write, a flipped byte that is not a lost
// sector, damage in a segment that is not the last one, a broken crc chain, a missing segment) is
// corruption of data that may have been acknowledged: WalCorruptError naming the file and offset,
// never a silent drop.
// Must not: keep files open or decide which snapshot to start from (wal.ts does).

import fs from 'node:fs'
import path from 'node:path'
import type { HardState } from '../raft/types.js'
import { WalCorruptError } from './errors.js'
import {
  RecordType,
  SNAP_RESET_LOG,
  decodeRawEntry,
  decodeHardState,
  decodeMetadata,
  decodeSnapshotMarker,
  findNextValidFrame,
  isZero,
  readFrame,
  type RawEntry,
  type WalMetadata,
  type WalSnapshot,
} from './record.js'
import { listSegments } from './segment.js'

export interface SegmentInfo {
  path: string
  seq: number
  /** Index in the file name: first entry index expected in the segment. */
  index: number
  /** Highest entry index written into this segment (0 if none). */
  maxIndex: number
}

export interface TailRepair {
  file: string
  offset: number
  /** Non-zero bytes cut off (0 when the damage was only a short run of zeros / nothing). */
  droppedBytes: number
  reason: string
}

export interface WalScan {
  metadata: WalMetadata
  segments: SegmentInfo[]
  /** Every snapshot marker found, oldest first, without duplicates. */
  markers: WalSnapshot[]
  /** Last hard state recorded, if any. */
  hardState?: HardState
  /**
   * The log as the records describe it: a contiguous run of entries, later records at an index
   * replacing earlier ones from that index on. Entries before a gap are dropped (a gap only follows
   * a reset marker of a snapshot received from the leader). Payloads are not decoded yet (most
   * entries are covered by the snapshot the member starts from): rawEntryData() them.
   */
  entries: RawEntry[]
  /** Index of the last entry written (0 if none): the next segment's name index is this + 1. */
  lastIndex: number
  /** crc of the last valid record: the next record's prevCrc. */
  lastCrc: number
  /** Offset of the end of valid data in the last segment: the next write goes here. */
  tailEnd: number
  /** Set when a torn tail was cut off. */
  repaired?: TailRepair
  /** Older segments were skipped (ScanOptions.fromIndex). */
  partial: boolean
}

export interface ScanOptions {
  /** Called with a one-line description when a torn tail is repaired. */
  warn?: (msg: string) => void
  /**
   * Read only the segments a restart from a snapshot at this index needs: from the last segment
   * whose name index is <= fromIndex + 1 (it holds the entry after the snapshot, or the log never
   * got that far) to the end, as etcd does. Older segments are listed but not read: their entries
   * are all below the next segment's name index, so that bounds their maxIndex. Markers older than
   * the first segment read are only seen where a segment head repeats them.
   */
  fromIndex?: number
}

/** Scans dir (which must hold at least one segment) and repairs a torn tail in place. */
export function scanWal(dir: string, opts: ScanOptions = {}): WalScan {
  const names = listSegments(dir)
  if (names.length === 0) throw new WalCorruptError('no segment files', dir, -1)
  let first = 0
  if (opts.fromIndex !== undefined) {
    while (first + 1 < names.length && names[first + 1].index <= opts.fromIndex + 1) first++
  }
  let metadata: WalMetadata | undefined
  const segments: SegmentInfo[] = []
  const markers: WalSnapshot[] = []
  const markerKeys = new Set<string>()
  let hardState: HardState | undefined
  let ents: RawEntry[] = []
  let lastIndex = 0
  let lastCrc = 0
  let tailEnd = 0
  let repaired: TailRepair | undefined

  const onEntry = (e: RawEntry): void => {
    const n = ents.length
    if (n === 0) ents.push(e)
    else {
      const first = ents[0].index
      const last = ents[n - 1].index
      if (e.index === last + 1) ents.push(e)
      else if (e.index >= first && e.index <= last) {
        ents.length = e.index - first
        ents.push(e)
      } else ents = [e] // before our first entry, or a gap: only what follows is contiguous
    }
    lastIndex = e.index
  }
  const onReset = (s: WalSnapshot): void => {
    // A snapshot from the leader replaced the log: nothing above its index survives.
    if (ents.length && ents[ents.length - 1].index > s.index) {
      const first = ents[0].index
      ents = first > s.index ? [] : ents.slice(0, s.index - first + 1)
    }
    lastIndex = s.index
  }

  for (let si = 0; si < first; si++) {
    const seg = names[si]
    segments.push({ path: path.join(dir, seg.name), seq: seg.seq, index: seg.index, maxIndex: names[si + 1].index - 1 })
  }
  for (let si = first; si < names.length; si++) {
    const seg = names[si]
    const file = path.join(dir, seg.name)
    const isTail = si === names.length - 1
    const buf = fs.readFileSync(file)
    const info: SegmentInfo = { path: file, seq: seg.seq, index: seg.index, maxIndex: 0 }
    let off = 0
    let nrec = 0
    for (;;) {
      const fr = readFrame(buf, off)
      if (fr.kind === 'ok') {
        // The first record read links to a segment released or not read (fromIndex): unchecked.
        const chainOk = nrec === 0 && si === first ? true : fr.prevCrc === lastCrc
        if (!chainOk) throw new WalCorruptError('crc chain broken (a record is out of place)', file, off)
        try {
          switch (fr.type) {
            case RecordType.Metadata: {
              const m = decodeMetadata(fr.data)
              if (metadata === undefined) metadata = m
              else if (m.memberId !== metadata.memberId || m.clusterId !== metadata.clusterId) {
                throw new Error(`metadata ${JSON.stringify(m)} differs from ${JSON.stringify(metadata)}`)
              }
              break
            }
            case RecordType.Entry: {
              const e = decodeRawEntry(fr.data)
              onEntry(e)
              if (e.index > info.maxIndex) info.maxIndex = e.index
              break
            }
            case RecordType.HardState:
              hardState = decodeHardState(fr.data)
              break
            case RecordType.Snapshot: {
              const { snap, flags } = decodeSnapshotMarker(fr.data)
              const key = `${snap.index}/${snap.term}`
              if (!markerKeys.has(key)) {
                markerKeys.add(key)
                markers.push(snap)
              }
              if (flags & SNAP_RESET_LOG) onReset(snap)
              // A snapshot of our own state covers entries up to its index even once the segments
              // holding them were released.
              else if (snap.index > lastIndex) lastIndex = snap.index
              break
            }
          }
        } catch (e) {
          if (e instanceof WalCorruptError) throw e
          throw new WalCorruptError(`undecodable record: ${(e as Error).message}`, file, off)
        }
        if (nrec === 0 && fr.type !== RecordType.Metadata) throw new WalCorruptError('segment does not start with a metadata record', file, off)
        nrec++
        lastCrc = fr.crc
        off = fr.next
        continue
      }
      // Not a valid frame at off: either the clean end of the data or damage.
      let reason = fr.kind === 'bad' ? fr.reason : 'zero header followed by data'
      if (fr.kind === 'end' && isZero(buf, off, buf.length)) break // clean end
      const later = findNextValidFrame(buf, off + 8)
      if (!isTail || (later >= 0 && !isTornLastWrite(buf, off, later))) {
        const detail = later >= 0 ? `; a valid record follows at offset ${later}` : ''
        throw new WalCorruptError(`${reason}${detail}`, file, off)
      }
      // Torn tail: cut it off and zero the rest so it can never be misread later.
      let dropped = 0
      for (let i = off; i < buf.length; i++) if (buf[i] !== 0) dropped++
      if (later >= 0) reason = `${reason}; sector lost in the last write, later records of that write dropped`
      repaired = { file, offset: off, droppedBytes: dropped, reason }
      opts.warn?.(`wal: repaired torn tail of ${file} at offset ${off} (${reason}; ${dropped} non-zero bytes dropped)`)
      const fd = fs.openSync(file, 'r+')
      try {
        fs.ftruncateSync(fd, off)
        fs.ftruncateSync(fd, buf.length)
        fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
      break
    }
    if (nrec === 0) throw new WalCorruptError('segment has no records (missing metadata)', file, 0)
    if (isTail) tailEnd = off
    segments.push(info)
  }
  return { metadata: metadata!, segments, markers, hardState, entries: ents, lastIndex, lastCrc, tailEnd, repaired, partial: first > 0 }
}

const SECTOR = 512

/**
 * True when the damage at off (first valid frame after it at later) is a torn last write: the bytes
 * from off contain a run of zeros reaching a sector boundary before later (a sector that was never
 * written: preallocated space reads as zeros), and every valid frame after off was written by the
 * same write that covers off (its batch start is at or before off), so that write is the last one
 * and its fdatasync cannot have completed.
 */
function isTornLastWrite(buf: Buffer, off: number, later: number): boolean {
  let zeroSector = false
  for (let b = (Math.floor(off / SECTOR) + 1) * SECTOR; b <= later && !zeroSector; b += SECTOR) {
    if (isZero(buf, Math.max(off, b - SECTOR), b)) zeroSector = true
  }
  if (!zeroSector) return false
  let q = later
  while (q >= 0 && q < buf.length) {
    const fr = readFrame(buf, q)
    if (fr.kind === 'ok') {
      if (q - fr.batchOff > off) return false
      q = fr.next
    } else q = findNextValidFrame(buf, q + 8)
  }
  return true
}

// The write-ahead log: append-only segment files with group commit, and the recovery read.
//
// Layout: `<dir>/<seq 16 hex>-<index 16 hex>.wal`, each preallocated to segmentSize (64 MiB; a
// sparse ftruncate, so it costs nothing up front) and starting with a metadata record, the recent
// snapshot markers and the current hard state. Records are framed as described in record.ts.
// Ahead of the tail the file is zero-filled for real, ZERO_AHEAD bytes at a time, inside the same
// write as a batch: writes then overwrite allocated blocks, so an fdatasync flushes only data and
// not an extent change plus a journal commit (which on ext4 made each fsync several times slower).
//
// Write path (group commit): save()/saveSnapshot() only encode records into an in-memory batch and
// never touch the disk. sync() writes everything saved so far with ONE positional write and ONE
// fdatasync, and resolves only after that fdatasync returned. Calls to sync() made while a write is
// in flight are merged into the next write, so under load one fsync covers many saves and throughput
// follows batch size, not fsync count. With the real file system (io = realIo) that write goes
// through a second descriptor opened O_DSYNC, i.e. write and fdatasync are one thread-pool round
// trip instead of two (each of which waited for a busy event loop in between). Nothing is durable (and nothing may be acknowledged) until
// the sync() covering it resolved. A write or fsync error fails the WAL for good (WalFailedError).
//
// Read path: the WAL is read only at boot (Wal.open scans and repairs a torn tail; readAll picks the
// log after a snapshot). At run time the caller keeps its own in-memory copy (MemoryStorage).
// Must not: read records back at run time, retry a failed fsync, or reorder records.

import fs from 'node:fs'
import path from 'node:path'
import type { Entry, HardState } from '../raft/types.js'
import { WalClosedError, WalCorruptError, WalExistsError, WalFailedError, WalNotFoundError, WalSnapshotMismatchError } from './errors.js'
import { realIo, type WalIo } from './io.js'
import { scanWal, type SegmentInfo, type TailRepair, type WalScan } from './reader.js'
import {
  HEADER_SIZE,
  MAX_RECORD_DATA,
  RecordType,
  SNAP_RESET_LOG,
  decodeMetadata,
  encodeEntry,
  encodeHardState,
  encodeMetadata,
  encodeSnapshotMarker,
  frameRecords,
  frameSize,
  rawEntryData,
  readFrame,
  type PendingRecord,
  type WalMetadata,
  type WalSnapshot,
} from './record.js'
import { fsyncDir, hasSegments, listSegments, mkdirDurable, segmentName } from './segment.js'

export type { WalMetadata, WalSnapshot } from './record.js'
export type { TailRepair } from './reader.js'

export const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024
/** How many recent snapshot markers are repeated at the head of each new segment. */
const HEAD_MARKERS = 8
/** Zero-filled bytes kept ahead of the tail (see the header); written once per this many bytes. */
const ZERO_AHEAD = 1024 * 1024
let zeroChunk: Buffer | undefined

export interface WalOptions {
  /** Preallocated size of a segment; a new one starts once a segment reaches it. Default 64 MiB. */
  segmentSize?: number
  /**
   * How sync() does its I/O (--wal-sync). 'blocking' (default): writeSync + fdatasyncSync inside
   * sync(); faster per fsync and no thread hops, but the event loop waits meanwhile. 'async':
   * write + fdatasync on libuv's thread pool, so the event loop keeps serving (and batching)
   * while the disk works. See README.md for the measurements.
   */
  syncMode?: 'async' | 'blocking'
  /** Warnings (torn tail repaired). Default: console.warn. */
  warn?: (msg: string) => void
  /** Called after every completed write+fdatasync (for etcd_disk_wal_fsync_duration_seconds). */
  onSync?: (info: { ms: number; bytes: number; records: number }) => void
  /** File operations of the write path; tests inject failures here. */
  io?: WalIo
}

/** What readAll() returns: everything the caller needs to rebuild Raft's storage. */
export interface WalReadResult {
  metadata: WalMetadata
  /** Last hard state saved, or undefined if none was ever saved. */
  hardState?: HardState
  /** The snapshot marker the entries follow (index 0 / term 0 for "from the beginning"). */
  snapshot: WalSnapshot
  /** Entries with index > snapshot.index, contiguous from snapshot.index + 1. */
  entries: Entry[]
}

interface Pending extends PendingRecord {
  entryIndex?: number
  hardState?: HardState
  marker?: WalSnapshot
  reset?: boolean
}

interface Waiter {
  upto: number
  resolve: () => void
  reject: (e: Error) => void
}

function sameHardState(a: HardState | undefined, b: HardState | undefined): boolean {
  return !!a && !!b && a.term === b.term && a.vote === b.vote && a.commit === b.commit
}

export class Wal {
  /** Member and cluster id this WAL was created with. */
  readonly metadata: WalMetadata
  /** Set when Wal.open() cut off a torn tail. */
  readonly repaired?: TailRepair

  private readonly segmentSize: number
  private readonly syncMode: 'async' | 'blocking'
  private readonly io: WalIo
  private readonly onSync?: WalOptions['onSync']

  private scan: WalScan | undefined
  private segments: SegmentInfo[]
  private fd: number
  /** The tail segment opened O_DSYNC (realIo only): a write on it is durable when it returns. */
  private dsyncFd: number | undefined
  /** The tail segment holds written (allocated) bytes up to here. */
  private zeroedTo: number
  private tailOffset: number
  private lastCrc: number
  private writtenLastIndex: number
  private writtenHardState: HardState | undefined
  private savedHardState: HardState | undefined
  private recentMarkers: WalSnapshot[]
  /** Last index of the log as saved so far (written or pending): the next entry may be at most this + 1. */
  private savedLastIndex: number
  private durableMarkerIndex: number

  private pending: Pending[] = []
  private savedSeq = 0
  private durableSeq = 0
  private waiters: Waiter[] = []
  private flushing: Promise<void> | undefined
  private failure: WalFailedError | undefined
  private closed = false

  private constructor(readonly dir: string, scan: WalScan, opts: WalOptions) {
    this.segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE
    this.syncMode = opts.syncMode ?? 'blocking'
    this.io = opts.io ?? realIo
    this.onSync = opts.onSync
    this.metadata = scan.metadata
    this.repaired = scan.repaired
    this.scan = scan
    this.segments = scan.segments
    this.tailOffset = scan.tailEnd
    this.lastCrc = scan.lastCrc
    this.writtenLastIndex = scan.lastIndex
    this.savedLastIndex = scan.lastIndex
    this.writtenHardState = scan.hardState
    this.savedHardState = scan.hardState
    this.recentMarkers = scan.markers.slice(-HEAD_MARKERS)
    this.durableMarkerIndex = Math.max(0, ...scan.markers.map((m) => m.index))
    this.fd = fs.openSync(this.tailPath, 'r+')
    this.zeroedTo = this.tailOffset
    this.openDsync()
  }

  /** Opens dsyncFd on the tail segment when the real file system is in use (see the header). */
  private openDsync(): void {
    if (this.io !== realIo || this.syncMode !== 'async') return
    this.dsyncFd = fs.openSync(this.tailPath, fs.constants.O_WRONLY | fs.constants.O_DSYNC)
  }

  private closeDsync(): void {
    if (this.dsyncFd === undefined) return
    const fd = this.dsyncFd
    this.dsyncFd = undefined
    fs.closeSync(fd)
  }

  /** True when dir holds a WAL (at least one segment file). */
  static exists(dir: string): boolean {
    return hasSegments(dir)
  }

  /**
   * Creates a new WAL in dir (which must not hold one) with its first segment
   * `0000000000000000-0000000000000000.wal` holding the metadata and a snapshot marker at index 0.
   * Built in `<dir>.tmp` and renamed into place, so a crash leaves either no WAL or a whole one.
   */
  static create(dir: string, metadata: WalMetadata, opts: WalOptions = {}): Wal {
    if (hasSegments(dir)) throw new WalExistsError(dir)
    const abs = path.resolve(dir)
    const parent = path.dirname(abs)
    mkdirDurable(parent)
    const tmp = abs + '.tmp'
    fs.rmSync(tmp, { recursive: true, force: true })
    fs.mkdirSync(tmp)
    const first = path.join(tmp, segmentName(0, 0))
    const fd = fs.openSync(first, 'w+')
    try {
      fs.ftruncateSync(fd, opts.segmentSize ?? DEFAULT_SEGMENT_SIZE)
      const { buf } = frameRecords(
        [
          { type: RecordType.Metadata, data: encodeMetadata(metadata) },
          { type: RecordType.Snapshot, data: encodeSnapshotMarker({ index: 0, term: 0 }, 0) },
        ],
        0,
      )
      realIo.writeSync(fd, buf, 0)
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    fsyncDir(tmp)
    if (fs.existsSync(abs)) fs.rmdirSync(abs) // an empty directory left by someone; hasSegments said no WAL
    fs.renameSync(tmp, abs)
    fsyncDir(parent)
    return Wal.open(abs, opts)
  }

  /**
   * Opens an existing WAL: scans every segment, checks frames and the crc chain, cuts off a torn
   * tail (warning), and positions for appending. Throws WalCorruptError on damage that is not a
   * torn tail, WalNotFoundError if there is no WAL. Call readAll() next, before the first save.
   */
  static open(dir: string, opts: WalOptions & { fromIndex?: number } = {}): Wal {
    if (!hasSegments(dir)) throw new WalNotFoundError(dir)
    const warn = opts.warn ?? ((m: string) => console.warn(m))
    const scan = scanWal(path.resolve(dir), { warn, fromIndex: opts.fromIndex })
    return new Wal(path.resolve(dir), scan, opts)
  }

  /**
   * True when open() read only the segments from opts.fromIndex on: readAll() can then start only
   * from a snapshot at or after that index (snapshotMarkers() may lack older ones).
   */
  get partial(): boolean {
    return this.requireScan().partial
  }

  /** Closes a WAL that was opened but never written to (to open it again differently). */
  abandon(): void {
    if (this.scan === undefined) throw new Error('wal: abandon() is only for a WAL nothing was saved to')
    this.closed = true
    this.closeDsync()
    fs.closeSync(this.fd)
  }

  /**
   * The metadata record at the head of the oldest segment, read without scanning or repairing
   * anything (cheap: for deciding at boot who we are before opening). Throws WalNotFoundError if
   * there is no WAL, WalCorruptError if that head record is damaged.
   */
  static readMetadata(dir: string): WalMetadata {
    const segs = listSegments(dir)
    if (segs.length === 0) throw new WalNotFoundError(dir)
    const file = path.join(dir, segs[0].name)
    const fd = fs.openSync(file, 'r')
    try {
      const head = Buffer.alloc(HEADER_SIZE)
      fs.readSync(fd, head, 0, HEADER_SIZE, 0)
      const len = head.readUInt32LE(0)
      const buf = Buffer.alloc(frameSize(Math.min(len, MAX_RECORD_DATA)))
      fs.readSync(fd, buf, 0, buf.length, 0)
      const fr = readFrame(buf, 0)
      if (fr.kind !== 'ok' || fr.type !== RecordType.Metadata) throw new WalCorruptError('no valid metadata record at the head', file, 0)
      return decodeMetadata(fr.data)
    } finally {
      fs.closeSync(fd)
    }
  }

  /** Every snapshot marker in the WAL, oldest first (give these to Snapshotter.loadNewest). */
  snapshotMarkers(): WalSnapshot[] {
    return this.requireScan().markers.slice()
  }

  /**
   * The log as recovered by open(), starting after `snap` (default: index 0, the start of a WAL
   * that was never compacted). Returns the metadata, the last hard state, and the entries after
   * snap.index with overwrites resolved. Throws WalSnapshotMismatchError when the WAL has no marker
   * for snap or no longer holds the entries right after it. Only valid before the first save().
   */
  readAll(snap: WalSnapshot = { index: 0, term: 0 }): WalReadResult {
    const scan = this.requireScan()
    if (!scan.markers.some((m) => m.index === snap.index && m.term === snap.term)) {
      const have = scan.markers.map((m) => `${m.index}/${m.term}`).join(', ')
      throw new WalSnapshotMismatchError(`wal has no marker for snapshot index ${snap.index} term ${snap.term} (markers: ${have || 'none'})`)
    }
    const ents = scan.entries
    let from = 0
    if (ents.length > 0) {
      if (ents[0].index > snap.index + 1) {
        throw new WalSnapshotMismatchError(
          `wal lacks entries ${snap.index + 1}..${ents[0].index - 1} after snapshot index ${snap.index} (released too early?)`,
        )
      }
      from = Math.max(0, Math.min(ents.length, snap.index + 1 - ents[0].index))
    }
    return { metadata: this.metadata, hardState: scan.hardState && { ...scan.hardState }, snapshot: { ...snap }, entries: ents.slice(from).map(rawEntryData) }
  }

  /** Index of the last entry handed to the disk (written, maybe not yet synced). */
  get lastIndex(): number {
    return this.writtenLastIndex
  }

  /** The error that failed the WAL, if it has failed. */
  get failed(): WalFailedError | undefined {
    return this.failure
  }

  /** Paths of the current segment files, oldest first. */
  segmentPaths(): string[] {
    return this.segments.map((s) => s.path)
  }

  /**
   * Adds entries, then the hard state (skipped when undefined or unchanged), to the next batch.
   * Entries replace any logged suffix from entries[0].index on (a new leader overwriting an
   * uncommitted tail). No I/O happens here: the records are durable once a later sync() resolves.
   * Throws WalFailedError / WalClosedError if the WAL can no longer write, and a plain Error (a
   * caller bug, nothing saved) if the entries are not consecutive or would leave a gap in the log.
   */
  save(hardState: HardState | undefined, entries: readonly Entry[]): void {
    this.checkWritable()
    if (entries.length > 0) {
      if (entries[0].index < 1 || entries[0].index > this.savedLastIndex + 1) {
        throw new Error(`wal: entries start at ${entries[0].index} but the log ends at ${this.savedLastIndex} (a gap)`)
      }
      for (let i = 1; i < entries.length; i++) {
        if (entries[i].index !== entries[i - 1].index + 1) throw new Error(`wal: entries not consecutive at ${entries[i].index}`)
      }
    }
    this.scan = undefined
    for (const e of entries) {
      this.push({ type: RecordType.Entry, data: encodeEntry(e), entryIndex: e.index })
    }
    if (entries.length > 0) this.savedLastIndex = entries[entries.length - 1].index
    if (hardState && !sameHardState(hardState, this.savedHardState)) {
      const hs = { term: hardState.term, vote: hardState.vote, commit: hardState.commit }
      this.push({ type: RecordType.HardState, data: encodeHardState(hs), hardState: hs })
      this.savedHardState = hs
    }
  }

  /**
   * Adds a snapshot marker to the next batch: after it is durable, recovery may start from this
   * snapshot. Save the snapshot file first (Snapshotter.save), then the marker, so a marker never
   * points at a missing file. resetLog: the snapshot came from the leader and replaced the whole
   * log (Ready.snapshot), so logged entries above its index are dropped at recovery; leave it off
   * for a snapshot of our own applied state (entries after it are still valid).
   */
  saveSnapshot(snap: WalSnapshot, opts: { resetLog?: boolean } = {}): void {
    this.checkWritable()
    this.scan = undefined
    const marker = { index: snap.index, term: snap.term }
    if (opts.resetLog) this.savedLastIndex = marker.index
    else if (marker.index > this.savedLastIndex) this.savedLastIndex = marker.index
    this.push({ type: RecordType.Snapshot, data: encodeSnapshotMarker(marker, opts.resetLog ? SNAP_RESET_LOG : 0), marker, reset: !!opts.resetLog })
  }

  /**
   * Makes everything saved so far durable: one write + one fdatasync for all of it (merged with
   * other sync() calls made while a write is in flight). Resolves only when durable; rejects with
   * WalFailedError if the write or fsync failed (and the WAL is failed from then on).
   */
  sync(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure)
    if (this.closed) return Promise.reject(new WalClosedError())
    const upto = this.savedSeq
    if (upto <= this.durableSeq) return Promise.resolve()
    if (this.syncMode === 'blocking' && !this.flushing) {
      try {
        this.flushBlocking()
        return Promise.resolve()
      } catch (e) {
        return Promise.reject(e)
      }
    }
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ upto, resolve, reject })
      if (!this.flushing) this.flushing = this.flushLoop()
    })
  }

  /** save() then sync(): resolves when these entries and hard state are durable. */
  saveAndSync(hardState: HardState | undefined, entries: readonly Entry[]): Promise<void> {
    try {
      this.save(hardState, entries)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.sync()
  }

  /**
   * Deletes the oldest segments whose entries are all <= index (wholly covered by a snapshot at
   * index), never the segment being written. Only releases up to the newest snapshot marker that
   * is already durable, so a crash can never leave a WAL that starts after its newest marker.
   * keep (etcd --max-wals): delete only while more than this many segment files exist (0 or
   * undefined: no minimum). Returns the deleted paths.
   */
  releaseTo(index: number, opts: { keep?: number } = {}): string[] {
    this.checkWritable()
    const limit = Math.min(index, this.durableMarkerIndex)
    const keep = Math.max(1, opts.keep ?? 0)
    const removed: string[] = []
    let op = 'remove'
    let at = this.dir
    try {
      while (this.segments.length > keep && this.segments[0].maxIndex <= limit) {
        const seg = this.segments[0]
        at = seg.path
        fs.rmSync(seg.path, { force: true })
        this.segments.shift()
        removed.push(seg.path)
      }
      op = 'fsync dir'
      at = this.dir
      if (removed.length) fsyncDir(this.dir)
    } catch (e) {
      // Nothing durable is lost, but the disk is failing: name the file for the member's fatal log.
      throw new WalFailedError(e, op, at)
    }
    return removed
  }

  /** Writes and syncs what is pending (unless failed), then closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    // Saves made while we wait are synced too, so nothing saved before close() resolves is dropped.
    while (!this.failure && this.savedSeq > this.durableSeq) {
      try {
        await this.sync()
      } catch {
        // the failure is recorded; closing anyway
      }
    }
    if (this.flushing) await this.flushing
    this.closed = true
    try {
      this.closeDsync()
      fs.closeSync(this.fd)
    } catch {
      // already closed by a failed segment cut
    }
  }

  // ---- internals ------------------------------------------------------------------------------

  private get tailPath(): string {
    return this.segments[this.segments.length - 1].path
  }

  private requireScan(): WalScan {
    if (!this.scan) throw new Error('wal: readAll()/snapshotMarkers() are only available after open() and before the first save')
    return this.scan
  }

  private checkWritable(): void {
    if (this.failure) throw this.failure
    if (this.closed) throw new WalClosedError()
  }

  private push(r: Pending): void {
    this.pending.push(r)
    this.savedSeq++
  }

  /** Takes the pending batch, starts a new segment if the tail is full, frames it. Synchronous. */
  private prepareBatch(): { fd: number; dsync: boolean; buf: Buffer; bytes: number; pos: number; upto: number; records: number; markerIndex: number } {
    const recs = this.pending
    const upto = this.savedSeq
    this.pending = []
    if (this.tailOffset >= this.segmentSize) this.cut()
    const { buf, lastCrc } = frameRecords(recs, this.lastCrc)
    const tail = this.segments[this.segments.length - 1]
    let markerIndex = 0
    for (const r of recs) {
      if (r.entryIndex !== undefined) {
        this.writtenLastIndex = r.entryIndex
        if (r.entryIndex > tail.maxIndex) tail.maxIndex = r.entryIndex
      } else if (r.hardState) this.writtenHardState = r.hardState
      else if (r.marker) {
        this.recentMarkers.push(r.marker)
        if (this.recentMarkers.length > HEAD_MARKERS) this.recentMarkers.shift()
        if (r.reset) this.writtenLastIndex = r.marker.index
        else if (r.marker.index > this.writtenLastIndex) this.writtenLastIndex = r.marker.index
        if (r.marker.index > markerIndex) markerIndex = r.marker.index
      }
    }
    const pos = this.tailOffset
    this.tailOffset += buf.length
    this.lastCrc = lastCrc
    const bytes = buf.length
    let out = buf
    if (this.tailOffset > this.zeroedTo && this.tailOffset < this.segmentSize) {
      // Zero-fill the next stretch in the same write (never past the preallocated size).
      const to = Math.min(this.segmentSize, (Math.floor(this.tailOffset / ZERO_AHEAD) + 1) * ZERO_AHEAD)
      zeroChunk ??= Buffer.alloc(ZERO_AHEAD)
      out = Buffer.concat([buf, zeroChunk.subarray(0, to - this.tailOffset)])
      this.zeroedTo = to
    }
    const dsync = this.dsyncFd !== undefined
    return { fd: dsync ? this.dsyncFd! : this.fd, dsync, buf: out, bytes, pos, upto, records: recs.length, markerIndex }
  }

  private completeBatch(b: { upto: number; bytes: number; records: number; markerIndex: number; started: number }): void {
    this.durableSeq = b.upto
    if (b.markerIndex > this.durableMarkerIndex) this.durableMarkerIndex = b.markerIndex
    try {
      this.onSync?.({ ms: performance.now() - b.started, bytes: b.bytes, records: b.records })
    } catch {
      // a metrics hook must not fail the WAL
    }
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.waiters.length > 0) {
        const started = performance.now()
        let op = 'write'
        try {
          const b = this.prepareBatch()
          if (b.dsync) op = 'write (O_DSYNC)'
          await this.io.write(b.fd, b.buf, b.pos)
          op = 'fdatasync'
          if (!b.dsync) await this.io.fdatasync(b.fd)
          this.completeBatch({ ...b, started })
        } catch (e) {
          this.fail(e, op)
          return
        }
        const still: Waiter[] = []
        for (const w of this.waiters) {
          if (w.upto <= this.durableSeq) w.resolve()
          else still.push(w)
        }
        this.waiters = still
      }
    } finally {
      this.flushing = undefined
    }
  }

  private flushBlocking(): void {
    const started = performance.now()
    let op = 'write'
    try {
      const b = this.prepareBatch()
      this.io.writeSync(b.fd, b.buf, b.pos)
      op = 'fdatasync'
      if (!b.dsync) this.io.fdatasyncSync(b.fd)
      this.completeBatch({ ...b, started })
    } catch (e) {
      this.fail(e, op)
      throw this.failure
    }
  }

  private fail(e: unknown, op: string): void {
    if (!this.failure) this.failure = e instanceof WalFailedError ? e : new WalFailedError(e, op, this.tailPath)
    this.pending = []
    const ws = this.waiters
    this.waiters = []
    for (const w of ws) w.reject(this.failure)
  }

  /**
   * Starts a new segment: trims the full tail to its data, then builds the next segment as
   * `<name>.tmp` (preallocated, head records written and fsynced) and renames it into place, so a
   * segment file never exists without its metadata head. The head repeats the recent snapshot
   * markers and the hard state, so older segments can be deleted without losing either.
   */
  private cut(): void {
    // Which step failed, on which file: named by the WalFailedError (and the member's fatal log).
    let op = 'ftruncate'
    let at = this.tailPath
    try {
      fs.ftruncateSync(this.fd, this.tailOffset)
      op = 'fdatasync'
      this.io.fdatasyncSync(this.fd)
      this.closeDsync()
      fs.closeSync(this.fd)
      const prev = this.segments[this.segments.length - 1]
      const seq = prev.seq + 1
      const index = this.writtenLastIndex + 1
      const file = path.join(this.dir, segmentName(seq, index))
      const tmp = file + '.tmp'
      op = 'create'
      at = tmp
      const fd = fs.openSync(tmp, 'w+')
      this.fd = fd
      op = 'ftruncate'
      fs.ftruncateSync(fd, this.segmentSize)
      const head: PendingRecord[] = [{ type: RecordType.Metadata, data: encodeMetadata(this.metadata) }]
      for (const m of this.recentMarkers) head.push({ type: RecordType.Snapshot, data: encodeSnapshotMarker(m, 0) })
      if (this.writtenHardState) head.push({ type: RecordType.HardState, data: encodeHardState(this.writtenHardState) })
      const { buf, lastCrc } = frameRecords(head, this.lastCrc)
      op = 'write'
      this.io.writeSync(fd, buf, 0)
      op = 'fdatasync'
      this.io.fdatasyncSync(fd)
      op = 'rename'
      fs.renameSync(tmp, file)
      op = 'fsync dir'
      at = this.dir
      fsyncDir(this.dir)
      this.segments.push({ path: file, seq, index, maxIndex: 0 })
      this.tailOffset = buf.length
      this.zeroedTo = buf.length
      this.lastCrc = lastCrc
      this.openDsync()
    } catch (e) {
      throw new WalFailedError(e, `segment cut (${op})`, at)
    }
  }
}

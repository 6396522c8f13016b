// Durable storage for one member, as the server's Ready loop needs it: the WAL and the snapshotter
// in etcd's data-dir layout, opened (or created) in one call, with the boot state to rebuild Raft's
// in-memory storage from.
//
// Contract for the driver (server/cluster/raft-backend.ts):
//   const ds = openDurableStorage(dataDir, { metadata: { memberId, clusterId } })
//   // ds.boot.existing: false -> brand-new member (bootstrap the cluster); true -> restart:
//   //   MemoryStorage.applySnapshot(ds.boot.snapshot) if any, setHardState(ds.boot.hardState) if
//   //   any, append(ds.boot.entries); restore the store from ds.boot.snapshot.data.
//   //   ds.boot.metadata is the member/cluster id stored at creation (CLI-5: flags are ignored).
//   for each Ready rd:
//     await ds.persist(rd)           // snapshot file + marker, entries, hard state; durable on return
//                                    // when rd.mustSync or rd.snapshot (one fdatasync for all of it)
//     then send rd.messages, apply, advance
//   every --snapshot-count applied entries (raftkv default 10000, spec CLI-3):
//     await ds.saveSnapshot({ metadata: { index: applied, term, conf }, data: store.save() })
//     then compact MemoryStorage; old WAL segments and snapshot files are released here.
//     It may run beside the Ready loop: persist() calls made meanwhile do not wait for it.
//   await ds.close() on shutdown.
// Order: records of persist() calls reach the WAL in call order even when the calls overlap (a
// snapshot from the leader has its file written before its reset marker, and every later persist()
// waits for that). A snapshot of our own state (saveSnapshot) is outside that order: its file is
// written while later persist() calls go on, and its marker is appended once the file is durable,
// possibly after entries with higher indexes. That is fine because the reader takes a non-reset
// marker independently of where it sits among the entries (it only says "a durable snapshot file
// at index/term exists"; entries are never dropped for it). Overlapping calls share fsyncs;
// awaiting each in turn is fine too (Raft batches proposals into one Ready per fsync).
// For manual control: ds.wal.save()/saveSnapshot() per Ready in order, then ds.wal.sync() once.
// After a WalFailedError from persist()/saveSnapshot() the member must stop acknowledging writes
// and exit: the disk could not be written, nothing unpersisted was acknowledged.
// Must not: interpret entries or snapshot data, or hold Raft state beyond what is on disk.

import path from 'node:path'
import type { Entry, HardState, Snapshot } from '../raft/types.js'
import { pageOut, Snapshotter, type SaveOptions } from '../snap/snapshotter.js'
import { afterPromiseJobs } from '../promise-jobs.js'
import { WalSnapshotMismatchError } from './errors.js'
import { Wal, type TailRepair, type WalMetadata, type WalOptions, type WalReadResult } from './wal.js'

export interface DurableStorageOptions {
  /** Metadata for a new WAL; required when dataDir has none (ignored otherwise). */
  metadata?: WalMetadata
  /** --wal-dir: a separate WAL directory. Default (undefined or ''): `<dataDir>/member/wal`. */
  walDir?: string
  /** --max-snapshots: snapshot files to keep (0 = all). Default 5. */
  maxSnapshots?: number
  /**
   * --max-wals: WAL segment files to keep even when a snapshot covers them (0 = never delete any).
   * Default 5, as etcd. Segments still needed for recovery are never deleted.
   */
  maxWals?: number
  /** WAL segment size (default 64 MiB; tests use small ones). */
  segmentSize?: number
  syncMode?: WalOptions['syncMode']
  onSync?: WalOptions['onSync']
  /** WAL file operations (fault injection in tests). */
  io?: WalOptions['io']
  /** Snapshot file writes and syncs (fault injection in tests). */
  snapIo?: WalOptions['io']
  warn?: (msg: string) => void
}

/** What the member recovered at boot. */
export interface BootState {
  /** true: an existing WAL was opened (restart); false: a new one was just created. */
  existing: boolean
  metadata: WalMetadata
  /** Last hard state (commit clamped into [snapshot.index, last index]); undefined if none. */
  hardState?: HardState
  /** Newest valid snapshot the WAL has a marker for; undefined if none. Paged out to its file after the first read of its data. */
  snapshot?: Snapshot
  /** Entries after the snapshot (or from index 1), contiguous. */
  entries: Entry[]
  /** Set when a torn WAL tail was cut off during recovery. */
  repaired?: TailRepair
}

/** The durable part of a Raft Ready. */
export interface PersistBatch {
  hardState?: HardState
  entries: readonly Entry[]
  snapshot?: Snapshot
  mustSync: boolean
}

export interface DurableStorage {
  readonly boot: BootState
  readonly wal: Wal
  readonly snapshotter: Snapshotter
  readonly walDir: string
  readonly snapDir: string
  /**
   * Persists a Ready's snapshot (file, then WAL marker that resets the log), entries and hard
   * state. Resolves once they are durable when mustSync or a snapshot is set; otherwise resolves
   * at once and the records ride along with the next sync (only the commit index changed).
   * A snapshot's data is paged out to its file once saved (its first read still gets the text).
   */
  persist(b: PersistBatch): Promise<void>
  /**
   * Saves a snapshot of our own applied state: file, WAL marker, sync; then prunes snapshot files
   * and deletes WAL segments wholly covered by the previous snapshot (so a damaged newest snapshot
   * can still fall back to the one before it). Does not hold up persist() calls made while the
   * file is written (see the header); calls of saveSnapshot() run one after another.
   * opts.dataChunks: snap.data in pieces (see Snapshotter.save). Once the file is durable,
   * snap.data is paged out to it (pageOut): the member does not keep a copy of its state's text.
   */
  saveSnapshot(snap: Snapshot, opts?: SaveOptions): Promise<void>
  /** Waits for a saveSnapshot() in flight, syncs what is pending and closes the WAL. */
  close(): Promise<void>
}

/** `<dataDir>/member/wal` and `<dataDir>/member/snap`, as etcd. */
export function memberDirs(dataDir: string, walDir?: string): { walDir: string; snapDir: string } {
  // '' means "not set", as config.ts's --wal-dir default.
  return { walDir: walDir || path.join(dataDir, 'member', 'wal'), snapDir: path.join(dataDir, 'member', 'snap') }
}

/** True when dataDir (or walDir) already holds a WAL, i.e. this is a restart. */
export function durableStorageExists(dataDir: string, walDir?: string): boolean {
  return Wal.exists(memberDirs(dataDir, walDir).walDir)
}

/**
 * The member and cluster id stored in an existing WAL (undefined if there is none), read from the
 * head of the oldest segment without recovering anything: cheap enough to call before
 * openDurableStorage to decide how to boot. Throws WalCorruptError if that head is damaged.
 */
export function readDurableMetadata(dataDir: string, walDir?: string): WalMetadata | undefined {
  const dir = memberDirs(dataDir, walDir).walDir
  return Wal.exists(dir) ? Wal.readMetadata(dir) : undefined
}

/**
 * Opens the WAL and picks the snapshot to start from: the newest file the WAL has a marker for.
 * Reads only the WAL segments the newest snapshot file needs (as etcd: most of a big WAL is
 * covered by it); when that file cannot be the start after all (no marker, corrupt, or the
 * segments read do not continue it), reads the whole WAL and picks again.
 */
function recoverLog(walDir: string, walOpts: WalOptions, snapshotter: Snapshotter): Recovered {
  const newest = snapshotter.list()[0]
  const wal = Wal.open(walDir, { ...walOpts, fromIndex: newest?.index })
  if (!wal.partial) return pick(wal, snapshotter)
  const loaded = snapshotter.loadNewestFile({ walMarkers: wal.snapshotMarkers() })
  if (loaded !== undefined && loaded.snapshot.metadata.index === newest.index && loaded.snapshot.metadata.term === newest.term) {
    try {
      return { wal, ...loaded, r: wal.readAll({ index: newest.index, term: newest.term }) }
    } catch (e) {
      if (!(e instanceof WalSnapshotMismatchError)) throw e
    }
  }
  wal.abandon()
  return pick(Wal.open(walDir, walOpts), snapshotter)
}

interface Recovered {
  wal: Wal
  snapshot?: Snapshot
  /** The snapshot's file. */
  file?: string
  r: WalReadResult
}

function pick(wal: Wal, snapshotter: Snapshotter): Recovered {
  const loaded = snapshotter.loadNewestFile({ walMarkers: wal.snapshotMarkers() })
  const snapshot = loaded?.snapshot
  return { wal, ...loaded, r: wal.readAll(snapshot ? { index: snapshot.metadata.index, term: snapshot.metadata.term } : undefined) }
}

/**
 * Opens the member's WAL and snapshots, or creates a new WAL (with opts.metadata) if there is none.
 * Throws WalCorruptError (damaged log: refuse to start), WalSnapshotMismatchError (no snapshot the
 * WAL can continue from), or Error when a new WAL is needed but no metadata was given.
 */
export function openDurableStorage(dataDir: string, opts: DurableStorageOptions = {}): DurableStorage {
  const { walDir, snapDir } = memberDirs(dataDir, opts.walDir)
  const warn = opts.warn ?? ((m: string) => console.warn(m))
  const walOpts: WalOptions = { segmentSize: opts.segmentSize, syncMode: opts.syncMode, onSync: opts.onSync, io: opts.io, warn }
  const snapshotter = new Snapshotter(snapDir, { keep: opts.maxSnapshots, warn, io: opts.snapIo })
  let wal: Wal
  let boot: BootState
  if (!Wal.exists(walDir)) {
    if (!opts.metadata) throw new Error(`no WAL in ${walDir} and no metadata to create one`)
    wal = Wal.create(walDir, opts.metadata, walOpts)
    boot = { existing: false, metadata: wal.metadata, entries: [] }
  } else {
    const rec = recoverLog(walDir, walOpts, snapshotter)
    wal = rec.wal
    const { snapshot, r } = rec
    // The restore reads the data once; after that it lives in the file only (see pageOut).
    if (snapshot !== undefined && rec.file !== undefined) pageOut(snapshot, rec.file, snapshot.data)
    let hardState = r.hardState
    if (hardState) {
      const lo = r.snapshot.index
      const hi = r.entries.length ? r.entries[r.entries.length - 1].index : lo
      if (hardState.commit < lo || hardState.commit > hi) {
        const commit = Math.min(Math.max(hardState.commit, lo), hi)
        warn(`wal: hard state commit ${hardState.commit} outside recovered log [${lo}, ${hi}]; using ${commit}`)
        hardState = { ...hardState, commit }
      }
    }
    boot = { existing: true, metadata: r.metadata, hardState, snapshot, entries: r.entries, repaired: wal.repaired }
  }
  return new DurableStorageImpl(boot, wal, snapshotter, walDir, snapDir, opts.maxWals ?? 5)
}

class DurableStorageImpl implements DurableStorage {
  constructor(
    readonly boot: BootState,
    readonly wal: Wal,
    readonly snapshotter: Snapshotter,
    readonly walDir: string,
    readonly snapDir: string,
    private readonly maxWals: number,
  ) {}

  /** Own snapshots being saved, one after another (never rejects; close() waits for it). */
  private local: Promise<void> = Promise.resolve()

  /** Record-appending steps still waiting for a snapshot file write; they run in call order. */
  private queue: Promise<void> = Promise.resolve()
  private queued = 0

  /** Runs fn after every earlier append step (at once when none is waiting). */
  private inOrder(fn: () => void | Promise<void>): Promise<void> {
    if (this.queued === 0) {
      const r = fn()
      if (!(r instanceof Promise)) return Promise.resolve()
      return this.enqueue(r)
    }
    return this.enqueue(this.queue.then(fn))
  }

  private enqueue(p: Promise<void>): Promise<void> {
    this.queued++
    const done = p.finally(() => this.queued--)
    this.queue = done.catch(() => {})
    return done
  }

  async persist(b: PersistBatch): Promise<void> {
    const snap = b.snapshot
    await this.inOrder(
      snap
        ? async () => {
            const file = await this.snapshotter.save(snap)
            // The driver restores from it next; after that it lives in the file only.
            pageOut(snap, file, snap.data)
            this.wal.saveSnapshot(snap.metadata, { resetLog: true })
            this.wal.save(b.hardState, b.entries)
          }
        : () => this.wal.save(b.hardState, b.entries),
    )
    if (b.mustSync || snap) {
      // The caller may have settled requests just before this call (a leader answers entries
      // that were durable before this batch first). Their answers are chains of promise jobs;
      // let every one of them reach its socket before a blocking fdatasync holds the thread, or
      // they wait for a write they do not depend on (under load, half of a leader's answers did).
      await afterPromiseJobs()
      await this.wal.sync()
    }
    if (snap) this.release()
  }

  saveSnapshot(snap: Snapshot, opts: SaveOptions = {}): Promise<void> {
    // Not through inOrder(): persist() calls go on while this file is written (see the header).
    // Durability order as before: file (fsynced, renamed, directory fsynced), then the marker,
    // then sync, and only then release segments (releaseTo also never passes a non-durable marker).
    const run = this.local.then(async () => {
      pageOut(snap, await this.snapshotter.save(snap, opts))
      this.wal.saveSnapshot(snap.metadata)
      await this.wal.sync()
      this.release()
    })
    this.local = run.catch(() => {})
    return run
  }

  async close(): Promise<void> {
    await this.local
    return this.wal.close()
  }

  /**
   * Deletes WAL segments covered by the second-newest snapshot (so either snapshot can be recovered
   * from), keeping at least maxWals files as etcd does; maxWals 0 keeps everything.
   */
  private release(): void {
    if (this.maxWals === 0) return
    const snaps = this.snapshotter.list()
    if (snaps.length >= 2) this.wal.releaseTo(snaps[1].index, { keep: this.maxWals })
  }
}

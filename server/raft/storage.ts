// The Storage interface (the core's read-only view of what is already durable) and MemoryStorage,
// an in-memory implementation the driver keeps in sync with its WAL. No I/O here.
import { assert } from './assert.js'
import { CompactedError, SnapshotOutOfDateError, UnavailableError } from './errors.js'
import type { ConfState, Entry, HardState, Snapshot } from './types.js'
import { EntryType } from './types.js'

/** What a node restarts from. */
export interface InitialState {
  hardState: HardState
  /** The configuration at the storage's snapshot (later ConfChange entries are replayed by the caller). */
  confState: ConfState
}

/**
 * Read-only view of durable Raft state. The core calls these synchronously; they must not block.
 * Returned arrays belong to the caller (the core never mutates them, and the storage must not
 * mutate them afterwards either: MemoryStorage hands out fresh slices).
 */
export interface Storage {
  initialState(): InitialState
  /**
   * Entries in [lo, hi), at least one if any exist in range, stopping once their total size would
   * exceed maxBytes. Throws CompactedError if lo <= the snapshot index, UnavailableError if hi > lastIndex()+1.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[]
  /** Term of entry i, for i in [firstIndex()-1, lastIndex()]. Throws CompactedError / UnavailableError outside. */
  term(i: number): number
  /** Index of the first entry available (the snapshot index + 1). */
  firstIndex(): number
  /** Index of the last entry (the snapshot index when the log is empty). */
  lastIndex(): number
  /** The most recent snapshot (may throw SnapshotTemporarilyUnavailableError). */
  snapshot(): Snapshot
}

/** Approximate encoded size of an entry, used for maxBytes limits. */
export function entrySize(e: Entry): number {
  return e.data.length + 24
}

/**
 * The end (exclusive) of the longest run arr[start..end) within maxBytes, at least one entry.
 * Lets callers slice once instead of copying a long range and then trimming it.
 */
export function limitEnd(arr: readonly Entry[], start: number, end: number, maxBytes: number): number {
  if (maxBytes === Infinity || end - start <= 1) return end
  let size = entrySize(arr[start]!)
  let k = start + 1
  for (; k < end; k++) {
    size += entrySize(arr[k]!)
    if (size > maxBytes) break
  }
  return k
}

/** Truncates `ents` so that their total size stays within maxBytes, keeping at least one entry. */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0 || maxBytes === Infinity) return ents
  let size = entrySize(ents[0]!)
  let n = 1
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]!)
    if (size > maxBytes) break
  }
  return n === ents.length ? ents : ents.slice(0, n)
}

const EMPTY_SNAPSHOT: Snapshot = { metadata: { index: 0, term: 0, conf: { voters: [] } }, data: '' }

/** True when the snapshot carries nothing (index 0). */
export function isEmptySnapshot(s: Snapshot | undefined): boolean {
  return s === undefined || s.metadata.index === 0
}

/**
 * In-memory Storage. The driver appends to it only what it has made durable (Ready.entries after
 * the WAL write, Ready.snapshot after saving it), so the core can read it back.
 * Invariant: ents[0] is a dummy entry at the snapshot's (index, term); ents are contiguous.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: '', commit: 0 }
  private snap: Snapshot = EMPTY_SNAPSHOT
  private ents: Entry[] = [{ term: 0, index: 0, type: EntryType.Normal, data: '' }]

  initialState(): InitialState {
    return { hardState: { ...this.hardState }, confState: { voters: [...this.snap.metadata.conf.voters] } }
  }

  /** Records the durable HardState (returned by initialState on restart). */
  setHardState(hs: HardState): void {
    this.hardState = { term: hs.term, vote: hs.vote, commit: hs.commit }
  }

  /** The durable HardState last set. */
  getHardState(): HardState {
    return { ...this.hardState }
  }

  private get offset(): number {
    return this.ents[0]!.index
  }

  firstIndex(): number {
    return this.offset + 1
  }

  lastIndex(): number {
    return this.offset + this.ents.length - 1
  }

  term(i: number): number {
    const off = this.offset
    if (i < off) throw new CompactedError(i)
    if (i - off >= this.ents.length) throw new UnavailableError(i)
    return this.ents[i - off]!.term
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const off = this.offset
    if (lo <= off) throw new CompactedError(lo)
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1)
    if (this.ents.length === 1) throw new UnavailableError(lo) // only the dummy entry
    return this.ents.slice(lo - off, limitEnd(this.ents, lo - off, hi - off, maxBytes))
  }

  snapshot(): Snapshot {
    return this.snap
  }

  /**
   * Replaces the storage's contents with the snapshot (Ready.snapshot after it is durable).
   * Throws SnapshotOutOfDateError if it is older than the current one.
   */
  applySnapshot(s: Snapshot): void {
    const cur = this.snap.metadata.index
    if (s.metadata.index < cur) throw new SnapshotOutOfDateError(s.metadata.index, cur)
    this.snap = s
    this.ents = [{ term: s.metadata.term, index: s.metadata.index, type: EntryType.Normal, data: '' }]
  }

  /**
   * Makes a snapshot of the state at `index` (which must be <= lastIndex and, by the caller's
   * contract, already applied) with the given configuration and state-machine data; returns it.
   * Does not discard entries: call compact() for that.
   */
  createSnapshot(index: number, conf: ConfState, data: string, pieces?: readonly string[]): Snapshot {
    const cur = this.snap.metadata.index
    if (index <= cur) throw new SnapshotOutOfDateError(index, cur)
    assert(index <= this.lastIndex(), () => `snapshot ${index} is out of bound lastindex(${this.lastIndex()})`)
    const s: Snapshot = { metadata: { index, term: this.ents[index - this.offset]!.term, conf: { voters: [...conf.voters] } }, data }
    if (pieces !== undefined) s.pieces = pieces
    this.snap = s
    return s
  }

  /**
   * Discards entries before `index` (which becomes the dummy entry). `index` must be at or below the
   * latest snapshot (createSnapshot first). Throws CompactedError if already compacted.
   */
  compact(index: number): void {
    const off = this.offset
    if (index <= off) throw new CompactedError(index)
    // Entries beyond the snapshot must stay: a follower needing them could get neither the entries
    // nor a snapshot that covers them.
    assert(index <= this.snap.metadata.index, () => `compact ${index} is beyond the latest snapshot ${this.snap.metadata.index}; createSnapshot first`)
    assert(index <= this.lastIndex(), () => `compact ${index} is out of bound lastindex(${this.lastIndex()})`)
    const i = index - off
    const dummy: Entry = { term: this.ents[i]!.term, index, type: EntryType.Normal, data: '' }
    const rest = this.ents.slice(i + 1)
    rest.unshift(dummy)
    this.ents = rest
  }

  /**
   * Appends durable entries (Ready.entries), replacing any existing suffix from entries[0].index.
   * Entries already compacted are skipped. Entries must be contiguous with the existing log.
   */
  append(entries: Entry[]): void {
    if (entries.length === 0) return
    const first = this.firstIndex()
    const last = entries[0]!.index + entries.length - 1
    if (last < first) return
    let ents = entries
    if (first > ents[0]!.index) ents = ents.slice(first - ents[0]!.index)
    const offset = ents[0]!.index - this.offset
    assert(offset <= this.ents.length, () => `missing log entry [last: ${this.lastIndex()}, append at: ${ents[0]!.index}]`)
    if (offset < this.ents.length) this.ents.length = offset
    for (let k = 0; k < ents.length; k++) this.ents.push(ents[k]!)
  }
}

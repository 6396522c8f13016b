// RaftLog: the durable log (Storage) plus the unstable tail, with the commit and applied pointers.
// No I/O here; the storage is only read.
import { assert } from './assert.js'
import { CompactedError, UnavailableError } from './errors.js'
import { Unstable } from './log-unstable.js'
import { entrySize, limitEnd, type Storage } from './storage.js'
import type { Entry, Snapshot } from './types.js'

export class RaftLog {
  readonly storage: Storage
  readonly unstable: Unstable
  /** Highest index known committed. Invariant: applied <= committed <= lastIndex(). */
  committed: number
  /** Highest index handed to the caller for applying (and acknowledged by advance). */
  applied: number
  /** Upper bound on bytes of committed entries returned per Ready. */
  readonly maxCommittedBytes: number

  constructor(storage: Storage, maxCommittedBytes = Infinity) {
    this.storage = storage
    this.maxCommittedBytes = maxCommittedBytes
    const first = storage.firstIndex()
    const last = storage.lastIndex()
    this.unstable = new Unstable(last + 1)
    // Everything up to the snapshot is committed and applied by definition.
    this.committed = first - 1
    this.applied = first - 1
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex()
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex()
  }

  lastTerm(): number {
    return this.term(this.lastIndex())
  }

  /**
   * Term of entry i. Returns 0 for i beyond the last index (and for index 0); throws CompactedError
   * for i below the first index - 1.
   */
  term(i: number): number {
    const t = this.unstable.maybeTerm(i)
    if (t !== undefined) return t
    const dummy = this.firstIndex() - 1
    if (i < dummy) throw new CompactedError(i)
    if (i > this.lastIndex()) return 0
    try {
      return this.storage.term(i)
    } catch (e) {
      if (e instanceof UnavailableError) return 0
      throw e
    }
  }

  /** term(i), with 0 for a compacted index. */
  zeroTerm(i: number): number {
    try {
      return this.term(i)
    } catch (e) {
      if (e instanceof CompactedError) return 0
      throw e
    }
  }

  matchTerm(i: number, t: number): boolean {
    return this.zeroTerm(i) === t
  }

  /** §5.4.1: is a log ending at (lastIndex, term) at least as up to date as ours? */
  isUpToDate(lastIndex: number, term: number): boolean {
    const lt = this.lastTerm()
    return term > lt || (term === lt && lastIndex >= this.lastIndex())
  }

  /**
   * Follower side of AppendEntries: if our entry at `index` has term `logTerm`, appends `ents`
   * (truncating a conflicting suffix) and commits up to min(committed, last new index).
   * Returns the last new index, or -1 on mismatch.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: Entry[]): number {
    if (!this.matchTerm(index, logTerm)) return -1
    const lastNew = index + ents.length
    const ci = this.findConflict(ents)
    if (ci !== 0) {
      assert(ci > this.committed, () => `entry ${ci} conflicts with committed entry [committed(${this.committed})]`)
      const start = ci - (index + 1)
      this.append(start === 0 ? ents : ents.slice(start))
    }
    this.commitTo(Math.min(committed, lastNew))
    return lastNew
  }

  /** Appends entries to the unstable tail; returns the new last index. */
  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex()
    const after = ents[0]!.index - 1
    assert(after >= this.committed, () => `after(${after}) is out of range [committed(${this.committed})]`)
    this.unstable.truncateAndAppend(ents)
    return this.lastIndex()
  }

  /**
   * Index of the first entry in ents whose term differs from ours, or 0 if all match. Entries
   * beyond our last index count as conflicting (new).
   */
  findConflict(ents: Entry[]): number {
    for (let k = 0; k < ents.length; k++) {
      const e = ents[k]!
      if (!this.matchTerm(e.index, e.term)) return e.index
    }
    return 0
  }

  /**
   * Fast backtracking (§5.3 optimisation): the largest index <= `index` whose term is <= `term`,
   * with that term. Stops at a compacted index (term 0 reported).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (; index > 0; index--) {
      let t: number
      try {
        t = this.term(index)
      } catch (e) {
        if (e instanceof CompactedError) return { index, term: 0 }
        throw e
      }
      if (t <= term) return { index, term: t }
    }
    return { index: 0, term: 0 }
  }

  /** Entries not yet durable, for Ready.entries (a fresh array). */
  unstableEntries(): Entry[] {
    const u = this.unstable.entries
    // Always a fresh array: the caller holds it across awaits while new entries arrive.
    return u.length === 0 ? [] : u.slice()
  }

  hasUnstableEntries(): boolean {
    return this.unstable.entries.length > 0
  }

  /** Whether committed-but-unapplied entries can be handed out (not while a snapshot is pending). */
  hasNextCommittedEnts(): boolean {
    if (this.unstable.snapshot) return false
    return this.committed > Math.max(this.applied, this.firstIndex() - 1)
  }

  /** Committed entries not yet applied, bounded by maxCommittedBytes. */
  nextCommittedEnts(): Entry[] {
    if (!this.hasNextCommittedEnts()) return []
    const lo = Math.max(this.applied + 1, this.firstIndex())
    return this.slice(lo, this.committed + 1, this.maxCommittedBytes)
  }

  /** The snapshot to hand out (pending unstable one) or the storage's latest. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot()
  }

  commitTo(tocommit: number): void {
    if (tocommit > this.committed) {
      assert(tocommit <= this.lastIndex(), () => `tocommit(${tocommit}) is out of range [lastIndex(${this.lastIndex()})]. Was the raft log corrupted, truncated, or lost?`)
      this.committed = tocommit
    }
  }

  appliedTo(i: number): void {
    if (i === 0) return
    assert(this.committed >= i && i >= this.applied, () => `applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`)
    this.applied = i
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t)
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i)
  }

  /** §5.4.2: commit maxIndex only if it is an entry of the current term. */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && maxIndex !== Infinity && this.zeroTerm(maxIndex) === term) {
      this.commitTo(maxIndex)
      return true
    }
    return false
  }

  restore(s: Snapshot): void {
    this.committed = s.metadata.index
    this.unstable.restore(s)
  }

  /**
   * Entries from i to the end, at most maxBytes (at least one). Throws CompactedError if i is compacted.
   */
  entries(i: number, maxBytes: number): Entry[] {
    if (i > this.lastIndex()) return []
    return this.slice(i, this.lastIndex() + 1, maxBytes)
  }

  /** Entries in [lo, hi), size-limited (at least one). Throws CompactedError if lo is compacted. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    this.mustCheckOutOfBounds(lo, hi)
    if (lo === hi) return []
    const uoff = this.unstable.offset
    let ents: Entry[] = []
    if (lo < uoff) {
      ents = this.storage.entries(lo, Math.min(hi, uoff), maxBytes)
      // Stopped early for size, or the storage has less than asked: done.
      if (ents.length < Math.min(hi, uoff) - lo) return ents
      if (hi <= uoff) return ents
      // Fill up with unstable entries while the byte budget lasts.
      let size = 0
      for (let k = 0; k < ents.length; k++) size += entrySize(ents[k]!)
      const u = this.unstable.entries
      // Copy: the Storage contract lets it hand out an array it still owns.
      const out = ents.slice()
      for (let i = uoff; i < hi; i++) {
        const e = u[i - uoff]!
        size += entrySize(e)
        if (size > maxBytes && out.length > 0) break
        out.push(e)
      }
      return out
    }
    const u = this.unstable.entries
    return u.slice(lo - uoff, limitEnd(u, lo - uoff, hi - uoff, maxBytes))
  }

  private mustCheckOutOfBounds(lo: number, hi: number): void {
    assert(lo <= hi, () => `invalid slice ${lo} > ${hi}`)
    const fi = this.firstIndex()
    if (lo < fi) throw new CompactedError(lo)
    const length = this.lastIndex() + 1 - fi
    assert(hi <= fi + length, () => `slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`)
  }

  /** Every entry in the log (for tests and checkers; O(n)). */
  allEntries(): Entry[] {
    return this.entries(this.firstIndex(), Infinity)
  }
}

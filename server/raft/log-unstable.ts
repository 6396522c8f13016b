// The unstable tail of the log: entries (and possibly an incoming snapshot) handed out in Ready
// but not yet reported durable via advance(). No I/O here.
import { assert } from './assert.js'
import type { Entry, Snapshot } from './types.js'

/**
 * Invariant: entries[k].index === offset + k. If snapshot is set, offset === snapshot index + 1
 * at the time it was restored.
 */
export class Unstable {
  snapshot: Snapshot | undefined = undefined
  entries: Entry[] = []
  offset: number

  constructor(offset: number) {
    this.offset = offset
  }

  /** First index if a snapshot is pending (otherwise the storage knows). */
  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.metadata.index + 1 : undefined
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1
    return this.snapshot ? this.snapshot.metadata.index : undefined
  }

  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.metadata.index === i) return this.snapshot.metadata.term
      return undefined
    }
    const k = i - this.offset
    if (k >= this.entries.length) {
      return this.entries.length === 0 && this.snapshot?.metadata.index === i ? this.snapshot.metadata.term : undefined
    }
    return this.entries[k]!.term
  }

  /** The entries up to (i, t) are durable: drop them, unless they were replaced meanwhile. */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i)
    if (gt === undefined || i < this.offset) return
    if (gt !== t) return // replaced by a newer leader's entries since the Ready was handed out
    const n = i + 1 - this.offset
    this.entries = n >= this.entries.length ? [] : this.entries.slice(n)
    this.offset = i + 1
  }

  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.metadata.index === i) this.snapshot = undefined
  }

  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1
    this.entries = []
    this.snapshot = s
  }

  /** Appends ents, first truncating any unstable suffix they replace. */
  truncateAndAppend(ents: Entry[]): void {
    const after = ents[0]!.index
    if (after === this.offset + this.entries.length) {
      for (let k = 0; k < ents.length; k++) this.entries.push(ents[k]!)
    } else if (after <= this.offset) {
      // Replaces the whole unstable part (and some durable entries: the storage's append truncates them).
      this.offset = after
      this.entries = ents.slice()
    } else {
      const kept = this.entries.slice(0, after - this.offset)
      for (let k = 0; k < ents.length; k++) kept.push(ents[k]!)
      this.entries = kept
    }
  }

  /** Entries in [lo, hi); a fresh array. */
  slice(lo: number, hi: number): Entry[] {
    assert(lo <= hi && lo >= this.offset && hi <= this.offset + this.entries.length,
      () => `unstable.slice[${lo},${hi}) out of bound [${this.offset},${this.offset + this.entries.length}]`)
    return this.entries.slice(lo - this.offset, hi - this.offset)
  }
}

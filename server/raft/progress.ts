// The leader's view of one follower: match/next, the probe/replicate/snapshot state machine and the
// bounded window of in-flight AppendEntries. Independent of raft.ts. No I/O here.
import { assert } from './assert.js'

export type ProgressState = 'probe' | 'replicate' | 'snapshot'

/**
 * A ring buffer of the last indexes of in-flight append messages. When full, the leader stops
 * sending to that follower until acknowledgements free slots (flow control).
 */
export class Inflights {
  private start = 0
  private count = 0
  private readonly buffer: number[]

  constructor(readonly capacity: number) {
    assert(capacity > 0, 'inflight capacity must be positive')
    this.buffer = new Array(capacity).fill(0)
  }

  /** Records a message whose last entry index is `index`. Indexes must be added in increasing order. */
  add(index: number): void {
    assert(!this.full(), 'cannot add into a full inflights')
    let next = this.start + this.count
    if (next >= this.capacity) next -= this.capacity
    this.buffer[next] = index
    this.count++
  }

  /** Frees every in-flight message whose last index is <= to. */
  freeLE(to: number): void {
    if (this.count === 0 || to < this.buffer[this.start]!) return
    let idx = this.start
    let i = 0
    for (; i < this.count; i++) {
      if (to < this.buffer[idx]!) break
      idx++
      if (idx >= this.capacity) idx -= this.capacity
    }
    this.count -= i
    this.start = idx
    if (this.count === 0) this.start = 0
  }

  /** Frees the oldest in-flight message (a heartbeat answer proves the link works again). */
  freeFirstOne(): void {
    if (this.count === 0) return
    this.freeLE(this.buffer[this.start]!)
  }

  full(): boolean {
    return this.count === this.capacity
  }

  get length(): number {
    return this.count
  }

  reset(): void {
    this.count = 0
    this.start = 0
  }
}

/**
 * Replication progress of one peer, as seen by the leader.
 * Invariant: match < next. In 'snapshot' state, pendingSnapshot > 0.
 */
export class Progress {
  match = 0
  next: number
  state: ProgressState = 'probe'
  /** Index of the snapshot being sent (state 'snapshot'). */
  pendingSnapshot = 0
  /** Heard from since the last check-quorum round. */
  recentActive = false
  /** Probe: one append is outstanding, wait for its answer (or a heartbeat answer) before the next. */
  msgAppFlowPaused = false
  readonly inflights: Inflights

  constructor(next: number, maxInflight: number) {
    this.next = next
    this.inflights = new Inflights(maxInflight)
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false
    this.pendingSnapshot = 0
    this.state = state
    this.inflights.reset()
  }

  /** Back to probing: one append at a time, starting after match (or after a sent snapshot). */
  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot
      this.resetState('probe')
      this.next = Math.max(this.match + 1, pending + 1)
    } else {
      this.resetState('probe')
      this.next = this.match + 1
    }
  }

  /** Optimistic pipelining: send ahead of acknowledgements, bounded by the inflight window. */
  becomeReplicate(): void {
    this.resetState('replicate')
    this.next = this.match + 1
  }

  /** The follower needs snapshot `index`; no appends until it is reported. */
  becomeSnapshot(index: number): void {
    this.resetState('snapshot')
    this.pendingSnapshot = index
  }

  /**
   * Records that entries were sent ending at lastIndex (count entries, bytes unused for now):
   * advances next optimistically in replicate, pauses in probe.
   */
  sentEntries(count: number, lastIndex: number): void {
    switch (this.state) {
      case 'replicate':
        if (count > 0) {
          this.next = lastIndex + 1
          this.inflights.add(lastIndex)
        }
        break
      case 'probe':
        if (count > 0) this.msgAppFlowPaused = true
        break
      default:
        assert(false, `sending append in unhandled state ${this.state}`)
    }
  }

  /** An acknowledgement for index n: returns false if it is stale (n <= match). */
  maybeUpdate(n: number): boolean {
    let updated = false
    if (this.match < n) {
      this.match = n
      updated = true
      this.msgAppFlowPaused = false
    }
    this.next = Math.max(this.next, n + 1)
    return updated
  }

  /**
   * A rejection of the append at index `rejected`, with the follower's hint `matchHint` (the largest
   * index that might match). Returns false if the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      // Stale if it rejects something we know is matched.
      if (rejected <= this.match) return false
      this.next = this.match + 1
      return true
    }
    // Probe: only the answer to the message we sent (at next-1) counts.
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1)
    this.msgAppFlowPaused = false
    return true
  }

  /** Whether sending appends to this peer is throttled now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.msgAppFlowPaused
      case 'replicate':
        return this.inflights.full()
      case 'snapshot':
        return true
    }
  }

  toString(): string {
    return `${this.state} match=${this.match} next=${this.next}` +
      (this.state === 'snapshot' ? ` pendingSnap=${this.pendingSnapshot}` : '') +
      (this.inflights.length ? ` inflight=${this.inflights.length}` : '') +
      (this.msgAppFlowPaused ? ' paused' : '')
  }
}

// The last N (1000) store events in a fixed ring that never copies (WATCH-10), and the waitIndex
// scan with etcd's matching rules (WATCH-2, WATCH-14, WATCH-18, HID-3, WATCH-7). No I/O.

import { StoreError } from './errors.js'
import type { StoreEvent } from './event.js'

/** WATCH-10: how many events the history keeps. */
export const HISTORY_CAPACITY = 1000

export class EventHistory {
  private readonly ring: (StoreEvent | undefined)[]
  /** Slot of the oldest event. */
  private front = 0
  private count = 0
  /** Index of the oldest retained event (0 while empty, like etcd). */
  startIndex = 0
  /** Index of the newest event (0 while empty). */
  lastIndex = 0

  constructor(readonly capacity = HISTORY_CAPACITY) {
    this.ring = new Array(capacity)
  }

  get size(): number {
    return this.count
  }

  /**
   * Appends an event. Invariant: every index-consuming operation adds exactly one event, so
   * retained indexes are consecutive and event i sits at offset i - startIndex.
   */
  add(e: StoreEvent): void {
    if (this.count < this.capacity) {
      this.ring[(this.front + this.count) % this.capacity] = e
      this.count++
    } else {
      this.ring[this.front] = e
      this.front = (this.front + 1) % this.capacity
    }
    this.lastIndex = e.index
    this.startIndex = (this.ring[this.front] as StoreEvent).index
  }

  /** Retained events, oldest first (for snapshots and tests). */
  events(): StoreEvent[] {
    const out: StoreEvent[] = []
    for (let i = 0; i < this.count; i++) out.push(this.ring[(this.front + i) % this.capacity] as StoreEvent)
    return out
  }

  /**
   * Throws the 401 error when `sinceIndex` is older than the history (WATCH-10); `currentIndex`
   * is the error's index.
   */
  checkIndex(sinceIndex: number, currentIndex: number): void {
    if (sinceIndex < this.startIndex) {
      throw new StoreError(401, `the requested history has been cleared [${this.startIndex}/${sinceIndex}]`, currentIndex)
    }
  }

  /**
   * Calls `visit` with each retained event at index >= sinceIndex that matches a watch on `key`
   * (WATCH-3 as the scan applies it: no hidden filter, refresh events skipped, and a
   * delete/expire of a directory D matches any key that starts with D's key as a plain string:
   * WATCH-18). Stops when `visit` returns false. Call checkIndex first.
   */
  scan(key: string, recursive: boolean, sinceIndex: number, visit: (e: StoreEvent) => boolean): void {
    if (this.count === 0 || sinceIndex > this.lastIndex) return
    const prefix = recursive ? (key.endsWith('/') ? key : key + '/') : ''
    const from = Math.max(sinceIndex - this.startIndex, 0)
    for (let off = from; off < this.count; off++) {
      const e = this.ring[(this.front + off) % this.capacity] as StoreEvent
      if (e.refresh) continue
      if (matchesInHistory(e, key, recursive, prefix) && !visit(e)) return
    }
  }
}

function matchesInHistory(e: StoreEvent, key: string, recursive: boolean, prefix: string): boolean {
  if (e.key === key) return true
  if (recursive && e.key.startsWith(prefix)) return true
  if ((e.action === 'delete' || e.action === 'expire') && e.prevNode !== undefined && e.prevNode.dir === true) {
    return key.startsWith(e.key)
  }
  return false
}

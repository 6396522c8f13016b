// Watchers: registration by key, live delivery with etcd's matching and hidden-key rules
// (WATCH-3, WATCH-4, HID-3, DIR-9), the per-watcher 100-event buffer (WATCH-12) and the watcher
// count (WATCH-13). No I/O, no timers: delivery resolves promises the consumer awaits.

import type { StoreEvent } from './event.js'
import type { EventHistory } from './event-history.js'

/** WATCH-12: undelivered events a watcher may hold before it is dropped. */
export const WATCHER_BUFFER = 100

/**
 * A registered watch. Consume events with `next()`; call `remove()` when the client goes away.
 * A one-shot watcher (stream false) yields exactly one event and then null; a stream watcher
 * yields events until removed or until it overflows its 100-event buffer (it then yields what was
 * buffered, then null: the HTTP layer ends the response).
 */
export interface Watcher {
  /** X-Etcd-Index for the watch response: the store index at registration (WATCH-15, HDR-2). */
  readonly etcdIndex: number
  readonly stream: boolean
  /** True once no further events will be queued (removed, one-shot satisfied, or overflowed). */
  readonly closed: boolean
  /** True if it was closed because its buffer overflowed (WATCH-12). */
  readonly overflowed: boolean
  /**
   * Resolves with the next event (immediately if one is buffered), or null once closed and
   * drained. Calling again while a call is pending returns the same promise.
   */
  next(): Promise<StoreEvent | null>
  /** Unregisters (idempotent); a pending next() resolves null once the buffer is drained. */
  remove(): void
}

export class WatcherImpl implements Watcher {
  closed = false
  overflowed = false
  /** Undelivered events: a fixed ring of WATCHER_BUFFER slots, allocated on first use. */
  private ring: (StoreEvent | undefined)[] | undefined
  private head = 0
  private count = 0
  private waiter: ((e: StoreEvent | null) => void) | undefined
  private waiting: Promise<StoreEvent | null> | undefined
  /** True while counted in the hub's map. */
  registered = false

  constructor(
    private readonly hub: WatcherHub,
    readonly key: string,
    readonly recursive: boolean,
    readonly stream: boolean,
    /** Only events with index >= sinceIndex are delivered (WATCH-2). */
    public sinceIndex: number,
    readonly etcdIndex: number,
  ) {}

  /** Queues an event; false when it did not fit (the watcher is then closed as overflowed). */
  push(e: StoreEvent): boolean {
    if (this.closed) return false
    if (this.waiter !== undefined) {
      const w = this.waiter
      this.waiter = undefined
      this.waiting = undefined
      w(e)
    } else {
      if (this.count >= WATCHER_BUFFER) {
        this.overflowed = true
        this.remove()
        return false
      }
      if (this.ring === undefined) this.ring = new Array(WATCHER_BUFFER)
      this.ring[(this.head + this.count) % WATCHER_BUFFER] = e
      this.count++
    }
    if (!this.stream) this.remove()
    return true
  }

  next(): Promise<StoreEvent | null> {
    if (this.count > 0) {
      const ring = this.ring as (StoreEvent | undefined)[]
      const e = ring[this.head] as StoreEvent
      ring[this.head] = undefined
      this.head = (this.head + 1) % WATCHER_BUFFER
      this.count--
      return Promise.resolve(e)
    }
    if (this.closed) return Promise.resolve(null)
    // A second call while one is pending gets the same promise (no event is lost or duplicated).
    if (this.waiting === undefined) {
      this.waiting = new Promise((resolve) => {
        this.waiter = resolve
      })
    }
    return this.waiting
  }

  remove(): void {
    if (this.closed) return
    this.closed = true
    if (this.registered) this.hub.unregister(this)
    if (this.waiter !== undefined && this.count === 0) {
      const w = this.waiter
      this.waiter = undefined
      this.waiting = undefined
      w(null)
    }
  }
}

/** True if `rest` (a key suffix starting with '/') has a segment starting with '_' (HID-3). */
function hasHiddenSegment(rest: string): boolean {
  return rest.includes('/_')
}

export class WatcherHub {
  /** Watchers by cleaned key, in registration order. */
  private readonly byKey = new Map<string, Set<WatcherImpl>>()
  /** Registered watchers (STATS-3 `watchers`). */
  count = 0

  /** Replaced on snapshot recovery (Store.recover). */
  constructor(public history: EventHistory) {}

  /**
   * Creates a watcher. Matching history events from `sinceIndex` are queued first (a one-shot
   * watcher satisfied from history is never registered, like etcd); otherwise it is registered
   * for live events. Throws StoreError 401 when sinceIndex left the history.
   */
  watch(key: string, recursive: boolean, stream: boolean, sinceIndex: number, storeIndex: number): Watcher {
    this.history.checkIndex(sinceIndex, storeIndex)
    const w = new WatcherImpl(this, key, recursive, stream, sinceIndex, storeIndex)
    this.history.scan(key, recursive, sinceIndex, (e) => w.push(e) && stream)
    if (w.closed) return w
    // Stream watchers resume live after the history (etcd would hang after one history event).
    if (sinceIndex <= storeIndex) w.sinceIndex = storeIndex + 1
    let set = this.byKey.get(key)
    if (set === undefined) {
      set = new Set()
      this.byKey.set(key, set)
    }
    set.add(w)
    w.registered = true
    this.count++
    return w
  }

  unregister(w: WatcherImpl): void {
    const set = this.byKey.get(w.key)
    if (set !== undefined && set.delete(w)) {
      w.registered = false
      this.count--
      if (set.size === 0) this.byKey.delete(w.key)
    }
  }

  /**
   * Records `e` in the history and delivers it live to watchers on the event key and its
   * ancestors (WATCH-3, WATCH-4, HID-3). Refresh events are only recorded (WATCH-7).
   */
  notify(e: StoreEvent): void {
    this.history.add(e)
    if (e.refresh || this.count === 0) return
    const key = e.key
    this.notifyPath(e, '/', false)
    for (let i = key.indexOf('/', 1); ; i = key.indexOf('/', i + 1)) {
      const p = i < 0 ? key : key.slice(0, i)
      this.notifyPath(e, p, false)
      if (i < 0) break
    }
  }

  /** True if any watcher is registered exactly at `path` (used to skip work on subtree deletes). */
  hasWatchersAt(path: string): boolean {
    return this.byKey.has(path)
  }

  /**
   * DIR-9: a delete/expire of a directory reaches watchers registered at each removed descendant
   * path, whatever their recursive flag and even below hidden names.
   */
  notifyDeleted(e: StoreEvent, path: string): void {
    this.notifyPath(e, path, true)
  }

  private notifyPath(e: StoreEvent, path: string, deleted: boolean): void {
    const set = this.byKey.get(path)
    if (set === undefined) return
    const original = e.key === path
    // HID-3: skip when the part of the event key below the watched path has a hidden segment.
    if (!original && !deleted && hasHiddenSegment(path === '/' ? e.key : e.key.slice(path.length))) return
    for (const w of set) {
      if ((w.recursive || original || deleted) && e.index >= w.sinceIndex) w.push(e)
    }
  }
}

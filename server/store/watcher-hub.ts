// Watchers: registration by key, live delivery with etcd's matching and hidden-key rules
// (WATCH-3, WATCH-4, HID-3, DIR-9) and the per-watcher 100-event buffer (WATCH-12). No I/O.

import type { StoreEvent } from './event.js'

/**
 * A registered watch. Consume events with `next()`; call `remove()` when the client goes away.
 * A one-shot watcher (stream false) yields exactly one event and then null; a stream watcher
 * yields events until removed or until it overflows its 100-event buffer (then it yields what is
 * buffered, then null).
 */
export interface Watcher {
  /** X-Etcd-Index for the watch response: the store index at registration (WATCH-15, HDR-2). */
  readonly etcdIndex: number
  readonly stream: boolean
  /** True once no further events will come (removed, delivered one-shot, or overflowed). */
  readonly closed: boolean
  /** Resolves with the next event, or null once closed and drained. Only one pending call at a time. */
  next(): Promise<StoreEvent | null>
  /** Unregisters (idempotent); a pending next() resolves null. Decrements the watchers counter. */
  remove(): void
}

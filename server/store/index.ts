// server/store: the etcd v2 key space as a pure, deterministic state machine (no I/O, no clocks,
// no timers, no randomness). It owns the tree, TTLs and expiry order, CAS, in-order and hidden
// keys, watchers, the 1000-event history, the /v2/stats/store counters and store snapshots.
//
// Contract for the HTTP layer / server:
// - Validate request parameters yourself (PARAM-1..11: errors 201, 202, 203, 209, 210, 211, 212,
//   all with index 0; build them as `new StoreError(code, cause, 0)`), derive the key (KEYS-1,
//   GEN-3; the store cleans keys again anyway), then build a Command. The store does the ACT-2
//   dispatch itself (set/create/update/compareAndSwap, delete/compareAndDelete).
// - Writes: propose the Command with the proposer's clock, and on every member call
//   `store.apply(cmd, nowMs)`. It returns a StoreEvent (`status` 200/201, `etcdIndex` for
//   X-Etcd-Index, `body(noValueOnSuccess)` = exact bytes incl. trailing newline) or a StoreError
//   (`status`, `index`, `body()`), or null for `expire`/`internal`. It never throws for user errors.
// - Reads: `store.get(key, {recursive, sorted}, nowMs)` throws StoreError (100/104).
//   `store.list(...)` is the same read for answers that may be big: a directory comes back as a
//   Listing whose next() slices join to get()'s body at the listing's index while the store keeps
//   applying commands; close() it when done or abandoned.
// - Watches: `store.watch(key, {recursive, stream, sinceIndex})` throws StoreError 401 (HTTP 400);
//   X-Etcd-Index = `watcher.etcdIndex`; loop `await watcher.next()` until null; call
//   `watcher.remove()` when the client goes away. `wait=true&quorum=true` is a GET (WATCH-11).
// - Expiry: while `hasTtlKeys()`, the leader proposes `{op:'expire'}` (e.g. every 500 ms, or at
//   `nextExpiryMs()`); applying it removes every node with expiration <= nowMs (TTL-6).
// - Snapshots: `toSnapshot()` / `Store.fromSnapshot()` / `store.recover()` (in place, keeps watchers;
//   `recoverParsed()` takes the parsed JSON). Without stalling: `captureSnapshot()` (a cheap copy),
//   then `new SnapshotEncoder(capture).next()` until `done`; the pieces join to toSnapshot()'s text.

export { Store } from './store.js'
export { SnapshotEncoder, SLICE_ITEMS, SLICE_CHARS, RunCache, encodeCapture, type StoreCapture } from './snapshot.js'
export { StoreEvent } from './event.js'
export { Listing } from './listing.js'
export { StoreError, ErrorCode, ERROR_TABLE } from './errors.js'
export { goJSON, GoJSONEncoder } from './json.js'
export { formatRFC3339Nano, remainingTtlSeconds } from './time.js'
export { HISTORY_CAPACITY } from './event-history.js'
export { WATCHER_BUFFER } from './watcher-hub.js'
export type { Watcher } from './watcher-hub.js'
export type { Command, Action, NodeJSON, GetOptions, WatchOptions, StoreStats } from './types.js'

// server/store: the etcd v2 key space as a pure, deterministic state machine (no I/O, no clocks,
// no timers, no randomness). The HTTP layer validates parameters, builds a Command, proposes it
// through Raft and calls Store.apply(cmd, nowMs) on every member; reads and watches are local.

export { Store } from './store.js'
export { StoreEvent } from './event.js'
export { StoreError, ErrorCode, ERROR_TABLE } from './errors.js'
export { goJSON } from './json.js'
export { formatRFC3339Nano, remainingTtlSeconds } from './time.js'
export { HISTORY_CAPACITY } from './event-history.js'
export { WATCHER_BUFFER } from './watcher-hub.js'
export type { Watcher } from './watcher-hub.js'
export type { Command, Action, NodeJSON, GetOptions, WatchOptions, StoreStats } from './types.js'

// The etcd v2 key space as a pure, deterministic state machine: tree, TTLs, CAS, in-order keys,
// hidden keys, watchers, the 1000-event history and the store counters.
// Must not do I/O, read clocks, use timers or randomness: time arrives as `nowMs` arguments and
// indexes only advance by applying commands, so every replica applying the same log agrees.

import { StoreError } from './errors.js'
import type { StoreEvent } from './event.js'
import type { Command, GetOptions, StoreStats, WatchOptions } from './types.js'
import type { Watcher } from './watcher-hub.js'

/** The v2 store. See server/store/index.ts for the contract summary. */
export class Store {
  /** The etcd index (CONS-1): incremented by every successful write and each expiry. */
  get index(): number {
    throw new Error('not implemented')
  }

  /**
   * Applies one replicated command at time `nowMs` (ms since the epoch; may be fractional).
   * Never throws for user errors: returns the event, or a StoreError (with index = current index).
   * For `expire` returns null (the expire events go to watchers and the history only).
   */
  apply(_cmd: Command, _nowMs: number): StoreEvent | StoreError | null {
    throw new Error('not implemented')
  }

  /** A local read (KEYS-2..6); counts getsSuccess/getsFail. Throws StoreError (100, 104). */
  get(_key: string, _opts: GetOptions, _nowMs: number): StoreEvent {
    throw new StoreError(300, 'not implemented', 0)
  }

  /** Registers a watcher (WATCH-*). Throws StoreError 401 when sinceIndex left the history (WATCH-10). */
  watch(_key: string, _opts: WatchOptions): Watcher {
    throw new Error('not implemented')
  }

  /** Current store counters (STATS-3). */
  stats(): StoreStats {
    throw new Error('not implemented')
  }

  /** True while any node has a TTL: the leader should then propose `expire` sweeps (TTL-6). */
  hasTtlKeys(): boolean {
    throw new Error('not implemented')
  }

  /** Earliest expiration (ms) of any node, or undefined when none has a TTL. */
  nextExpiryMs(): number | undefined {
    throw new Error('not implemented')
  }

  /** Deterministic JSON of tree (with TTLs), index and event history (CONS-4). No counters. */
  toSnapshot(): string {
    throw new Error('not implemented')
  }

  /** Rebuilds a store from toSnapshot() output. Watchers are not part of a snapshot. */
  static fromSnapshot(_s: string): Store {
    throw new Error('not implemented')
  }
}

// Public data types of the etcd v2 store: replicated commands, node/event JSON shapes, options,
// stats and the watcher contract. Pure types only; no behaviour and no I/O here.

/**
 * A replicated mutation. The HTTP layer validates request parameters (PARAM-*) and builds one; it
 * is proposed through Raft as JSON and applied on every member with the same `nowMs`, so replicas
 * agree on TTLs, indexes and in-order names (CONS-3). The store itself does the etcd dispatch of
 * ACT-2 (set / create / update / compareAndSwap, delete / compareAndDelete).
 *
 * Conventions: `key` is the user-visible key as derived by KEYS-1 (leading `/`, no trailing
 * slash; `/` or `''` is the root). `ttlSeconds` null/undefined means "no TTL" (PARAM-5 absent or
 * empty); a number N >= 0 means expiration = nowMs + N*1000 (TTL-1, TTL-2). `prevValue` ''
 * and `prevIndex` 0 mean "no condition" (ACT-2). `noValueOnSuccess` does not change what is stored
 * or delivered to watchers; it only trims the response body (see StoreEvent.body()).
 */
export type Command =
  | {
      op: 'set'
      key: string
      value?: string
      dir?: boolean
      ttlSeconds?: number | null
      refresh?: boolean
      /** undefined = no condition; true = update/CAS; false = create (ACT-2). */
      prevExist?: boolean
      prevValue?: string
      prevIndex?: number
      noValueOnSuccess?: boolean
    }
  | {
      /** POST: in-order child of `key` named by the new index, 20-digit zero padded (ORD-1). */
      op: 'post'
      key: string
      value?: string
      dir?: boolean
      ttlSeconds?: number | null
      noValueOnSuccess?: boolean
    }
  | {
      op: 'delete'
      key: string
      dir?: boolean
      recursive?: boolean
      prevValue?: string
      prevIndex?: number
    }
  | {
      /** SYNC: expire every node whose expiration <= nowMs, earliest first (TTL-6). */
      op: 'expire'
    }
  | {
      /**
       * Internal bookkeeping (member attributes, cluster version): consumes one etcd index as
       * etcd's own internal writes do (CONS-1: a fresh member reports a non-zero index) but is
       * invisible to reads, watches and waitIndex scans.
       */
      op: 'internal'
    }

/** Event actions (ACT-1). */
export type Action =
  | 'get'
  | 'set'
  | 'create'
  | 'update'
  | 'compareAndSwap'
  | 'delete'
  | 'compareAndDelete'
  | 'expire'

/**
 * A node as etcd serialises it (NODE-1). Field insertion order is etcd's order: key, value, dir,
 * expiration, ttl, nodes, modifiedIndex, createdIndex; absent fields are not present at all
 * (never undefined-valued), so JSON.stringify reproduces etcd's bytes (modulo GEN-7 escapes).
 * The root omits key and indexes (KEYS-3).
 */
export interface NodeJSON {
  key?: string
  value?: string
  dir?: true
  expiration?: string
  ttl?: number
  nodes?: NodeJSON[]
  modifiedIndex?: number
  createdIndex?: number
}

/** GET options (KEYS-4, KEYS-5). */
export interface GetOptions {
  recursive?: boolean
  sorted?: boolean
}

/** Watch options (WATCH-2, WATCH-3, WATCH-8). `sinceIndex` 0/undefined = current index + 1. */
export interface WatchOptions {
  recursive?: boolean
  stream?: boolean
  sinceIndex?: number
}

/** `/v2/stats/store` counters, in etcd's field order (STATS-3). */
export interface StoreStats {
  getsSuccess: number
  getsFail: number
  setsSuccess: number
  setsFail: number
  deleteSuccess: number
  deleteFail: number
  updateSuccess: number
  updateFail: number
  createSuccess: number
  createFail: number
  compareAndSwapSuccess: number
  compareAndSwapFail: number
  compareAndDeleteSuccess: number
  compareAndDeleteFail: number
  expireCount: number
  watchers: number
}

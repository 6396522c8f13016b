// Store operation counters of /v2/stats/store (STATS-3), minus `watchers`, which the watcher hub
// counts. Member-local: never replicated or snapshotted.

import type { StoreStats } from './types.js'

export type Counters = Omit<StoreStats, 'watchers'>

/** All counters at zero, in etcd's field order. */
export function emptyCounters(): Counters {
  return {
    getsSuccess: 0,
    getsFail: 0,
    setsSuccess: 0,
    setsFail: 0,
    deleteSuccess: 0,
    deleteFail: 0,
    updateSuccess: 0,
    updateFail: 0,
    createSuccess: 0,
    createFail: 0,
    compareAndSwapSuccess: 0,
    compareAndSwapFail: 0,
    compareAndDeleteSuccess: 0,
    compareAndDeleteFail: 0,
    expireCount: 0,
  }
}

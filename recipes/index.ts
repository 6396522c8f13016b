// Public entry point of the recipes (`import { Lock, Election } from 'raftkv/recipes'`).
// Re-exports only. Everything below uses only the public client API and no Node built-ins.

export { Lock, BaseLock, withLock, type LockOptions, type WithLockOptions, type LockHolder } from './lock.js'
export { LockHandle, type AcquireOptions, type HandleJSON, type HandleEvents } from './lock-core.js'
export { Semaphore, ReadWriteLock, RwSide, type SemaphoreOptions, type ReadWriteLockOptions } from './semaphore.js'
export { FencedResource, guardedSet, compareTokens, formatToken, type FencingToken, type FencedValue } from './fencing.js'
export { Election, Leadership, type ElectionOptions, type ElectionEvents, type LeaderInfo } from './election.js'
export {
  register, discover, Registration, ServiceView,
  type RegisterOptions, type Instance, type ServiceEvent, type DiscoverOptions, type PickStrategy, type RegistrationEvents,
} from './discovery.js'
export { Counter } from './counter.js'
export { WorkQueue, type WorkQueueOptions, type QueueItem } from './queue.js'
export { JsonMap, JsonSet, canonicalJson } from './collections.js'
export { Barrier } from './barrier.js'
export type { HoldState } from './lock-core.js'
export {
  RecipeError, LockLostError, StaleTokenError, StaleReadError, RecipeTimeoutError, RecipeAbortError,
  IndexGuard, guardFor, combineSignals, type RecipeErrorCode,
} from './internal.js'
export { types, WrongTypeError, type Codec, type TypeTag } from './codec.js'
export { TypedValue, TypedMap, TypedSet } from './typed.js'
export { List, type End, type BlockingOptions } from './list.js'
export { Reference, DanglingReferenceError, ReferenceCycleError, type Deref } from './reference.js'
export { Tree, type TreeNode, type TreeWriteOptions } from './tree.js'

// Type tests of the recipes' public API: every recipe takes a v2 Client or a ClientV3 and keeps
// the same signatures on both; anything else is refused; handles and tokens have one shape.

import { expectError, expectType } from 'tsd'
import { Client, ClientV3 } from '../../src/index.js'
import {
  Barrier, Counter, Election, FencedResource, JsonMap, Lock, LockHandle, ReadWriteLock, Semaphore, WorkQueue, discover, register,
  type FencingToken, type HandleJSON, type LeaderInfo, type Leadership, type QueueItem, type Registration, type ServiceView,
} from '../../recipes/index.js'

const v2 = new Client({ endpoints: 'http://127.0.0.1:2379' })
const v3 = new ClientV3({ endpoints: 'http://127.0.0.1:2379' })

for (const c of [v2, v3]) {
  const lock = new Lock(c, 'jobs', { ttl: 10 })
  expectType<Promise<LockHandle>>(lock.acquire())
  expectType<Promise<LockHandle | undefined>>(lock.tryAcquire())
  expectType<Promise<LockHandle>>(Lock.resume(c, {} as HandleJSON))
  expectType<Promise<Leadership>>(new Election(c, 'e').campaign('v'))
  expectType<AsyncGenerator<LeaderInfo | undefined, void, undefined>>(new Election(c, 'e').observe())
  expectType<Promise<Registration>>(register(c, 'api', 'a-1'))
  expectType<ServiceView<{ url: string }>>(discover<{ url: string }>(c, 'api'))
  expectType<Promise<number>>(new Counter(c, 'n').add(1))
  expectType<Promise<void>>(new FencedResource<string>(c, 'r').set({ clusterId: '1', index: 2 }, 'x'))
  expectType<Promise<QueueItem<number>>>(new WorkQueue<number>(c, 'q').pop())
  expectType<Promise<boolean>>(new JsonMap<number>(c, 'm').setIfAbsent('k', 1))
  expectType<Promise<void>>(new Barrier(c, 'b', { parties: 2 }).arrive())
  expectType<Promise<LockHandle>>(new Semaphore(c, 's', { permits: 2 }).acquire())
  expectType<Promise<LockHandle>>(new ReadWriteLock(c, 'rw').read.acquire())
}

declare const h: LockHandle
expectType<FencingToken>(h.token)
expectType<'v2' | 'v3' | undefined>(h.toJSON().api)
expectError(new Lock({ endpoints: [] }, 'jobs'))
expectError(new Election('http://127.0.0.1:2379', 'e'))

// Distributed locks on either API. v2: a fair FIFO lock (default; in-order keys, each waiter
// watches only its predecessor) or a plain mutex key (create-if-absent), kept alive with TTL
// refreshes, released by compare-and-delete on their own nonce. v3: etcd's Go Mutex layout
// (`name/<lease hex>` on a lease kept alive every ttl/3; lowest create revision holds), so Go
// programs and `etcdctl lock` on the same name exclude us and we them. Both detect loss and hand
// out a fencing token per acquisition. No Node built-ins (runs in browsers too).

import { KeyNotFoundError, type Client, type ClientV3 } from '../src/index.js'
import { hexId, isV3, revNumber, type AnyClient } from './api.js'
import { LockHandle, acquireQueued, firstHolds, type AcquireOptions, type HandleInit, type HandleJSON } from './lock-core.js'
import { V2Queue, acquireMutex, resumeV2 } from './lock-v2.js'
import { GoQueue, resumeV3 } from './v3/go-queue.js'
import type { FencingToken } from './fencing.js'
import { RecipeError, checkTtl, decodeOwner, guardFor, abortReason } from './internal.js'

export type { AcquireOptions, HandleJSON } from './lock-core.js'
export { LockHandle } from './lock-core.js'

export interface LockOptions {
  /** Seconds the lock survives its holder's silence (default 10). Refreshed every ttl/3. */
  ttl?: number
  /**
   * v2 only. true (default): FIFO queue of in-order keys under `key` (a directory); fair and
   * herd-free. false: a single mutex key at `key` (a file); whoever creates it first after a
   * release wins. Don't mix both modes on one key. On v3 every lock is Go's Mutex (fair).
   */
  fair?: boolean
  /** A label stored in the key for humans (host, pid, worker name). */
  owner?: string
}

export interface WithLockOptions extends AcquireOptions {
  /**
   * The time (ms) the caller has left, e.g. a serverless invocation's remaining budget. A TTL
   * longer than this is refused: a frozen or killed invocation must not block others for longer
   * than it could have run. Also caps the wait for the lock.
   */
  budgetMs?: number
}

/** The current holder of a lock as others see it. */
export interface LockHolder {
  key: string
  owner?: string
  token: FencingToken
  /** Remaining seconds of the TTL as reported by the server. */
  ttl?: number
}

/** Shared acquire / tryAcquire / withLock on top of one acquisition strategy. */
export abstract class BaseLock {
  readonly ttl: number

  constructor(readonly client: AnyClient, readonly key: string, ttl: number | undefined) {
    this.ttl = checkTtl(ttl ?? 10)
  }

  /** Strategy: acquire once (waiting unless `tryOnly`). */
  protected abstract acquireWith(opts: AcquireOptions & { tryOnly?: boolean }): Promise<LockHandle | undefined>

  /**
   * Waits until held; resolves with a handle (kept alive until released). Use with
   * `await using h = await lock.acquire()`. @throws RecipeTimeoutError, RecipeAbortError.
   */
  async acquire(opts: AcquireOptions = {}): Promise<LockHandle> {
    return (await this.acquireWith(opts))!
  }

  /** One attempt without waiting: a handle, or undefined when someone else holds it. */
  tryAcquire(opts: Pick<AcquireOptions, 'signal'> = {}): Promise<LockHandle | undefined> {
    return this.acquireWith({ ...opts, tryOnly: true })
  }

  /**
   * Runs `fn` while holding the lock and always releases it. `fn` gets a signal that aborts when
   * the lock is lost (stop working: someone else may hold it now) and the handle (for the fencing
   * token). If the lock is lost, withLock rejects with LockLostError after fn settles.
   */
  async withLock<T>(fn: (signal: AbortSignal, handle: LockHandle) => Promise<T> | T, opts: WithLockOptions = {}): Promise<T> {
    let timeout = opts.timeout
    if (opts.budgetMs !== undefined) {
      if (this.ttl * 1000 > opts.budgetMs) {
        throw new RecipeError(`lock ttl ${this.ttl}s is longer than the ${opts.budgetMs} ms budget left; use a shorter ttl`)
      }
      timeout = Math.min(timeout ?? Infinity, opts.budgetMs)
    }
    const handle = await this.acquire({ signal: opts.signal, timeout })
    try {
      const result = await fn(handle.signal, handle)
      if (handle.state === 'lost') throw abortReason(handle.signal)
      return result
    } finally {
      await handle.release()
    }
  }
}

/**
 * A distributed lock. Fair (FIFO) by default; `{ fair: false }` for a single mutex key.
 *
 * ```ts
 * const lock = new Lock(client, '/locks/jobs', { ttl: 10 })
 * await lock.withLock(async (signal, h) => { await store.set(h.token, data) })
 * ```
 */
export class Lock extends BaseLock {
  readonly fair: boolean
  readonly owner: string | undefined

  constructor(client: AnyClient, key: string, opts: LockOptions = {}) {
    super(client, key, opts.ttl)
    this.fair = opts.fair ?? true
    this.owner = opts.owner
  }

  protected acquireWith(opts: AcquireOptions & { tryOnly?: boolean }): Promise<LockHandle | undefined> {
    const make = (i: HandleInit): LockHandle => new LockHandle(this.client, i)
    // Go's Mutex stores an empty value; an owner label there is ignored by Go and etcdctl.
    if (isV3(this.client)) return acquireQueued(new GoQueue(this.client, this.key, this.ttl, this.owner ?? ''), this.ttl, 'lock', firstHolds, opts, make)
    const fields = this.owner === undefined ? {} : { owner: this.owner }
    if (!this.fair) return acquireMutex(this.client, this.key, this.ttl, fields, 'lock', opts)
    return acquireQueued(new V2Queue(this.client, this.key, this.ttl, fields), this.ttl, 'lock', firstHolds, opts, make)
  }

  /** Who holds the lock now (quorum read), or undefined. */
  async holder(opts: { signal?: AbortSignal } = {}): Promise<LockHolder | undefined> {
    if (isV3(this.client)) return holderV3(this.client, this.key, opts.signal)
    const client = this.client
    try {
      const res = await guardFor(client).get(client, this.key, { sorted: true, signal: opts.signal })
      const node = this.fair ? [...(res.node.nodes ?? [])].filter((n) => !n.dir).sort((a, b) => a.createdIndex - b.createdIndex)[0] : res.node
      if (!node || node.dir) return undefined
      const owner = decodeOwner(node.value)?.owner
      return { key: node.key, owner: typeof owner === 'string' ? owner : undefined, token: { clusterId: res.clusterId, index: node.createdIndex }, ttl: node.ttl }
    } catch (err) {
      if (err instanceof KeyNotFoundError) return undefined
      throw err
    }
  }

  /**
   * Picks up a handle serialised with `handle.toJSON()` (e.g. by an earlier serverless
   * invocation): refreshes it and keeps it alive again. @throws LockLostError if it expired.
   */
  static resume(client: AnyClient, json: HandleJSON): Promise<LockHandle> {
    return isV3(client) ? resumeV3(client, json) : resumeV2(client, json)
  }
}

/** The holder of a Go-layout lock: the key with the lowest create revision under `name/`. */
async function holderV3(client: ClientV3, name: string, signal?: AbortSignal): Promise<LockHolder | undefined> {
  const res = await client.range(name + '/', { prefix: true, sortOrder: 'ascend', sortTarget: 'create', limit: 1, signal })
  const kv = res.kvs[0]
  if (!kv) return undefined
  const ttl = kv.lease === 0n ? undefined : (await client.leaseTimeToLive(kv.lease, { signal }).catch(() => undefined))?.ttl
  const owner = kv.valueString || undefined
  return { key: kv.keyString, owner, token: { clusterId: hexId(res.header.clusterId), index: revNumber(kv.createRevision) }, ...(ttl === undefined || ttl < 0 ? {} : { ttl }) }
}

/** `new Lock(client, key, opts).withLock(fn, opts)`. */
export function withLock<T>(client: AnyClient, key: string, fn: (signal: AbortSignal, handle: LockHandle) => Promise<T> | T, opts: LockOptions & WithLockOptions = {}): Promise<T> {
  return new Lock(client, key, opts).withLock(fn, opts)
}


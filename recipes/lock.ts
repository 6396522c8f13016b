// Distributed locks over the etcd v2 API: a fair FIFO lock (default; in-order keys, each waiter
// watches only its predecessor) and a plain mutex key (create-if-absent). Both keep the key alive
// with TTL refreshes while held, detect loss, hand out a fencing token per acquisition and release
// with compare-and-delete on their own nonce. No Node built-ins (runs in browsers too).

import { KeyNotFoundError, type Client } from '../src/index.js'
import { LockHandle, acquireQueued, firstHolds, type AcquireOptions, type HandleJSON } from './lock-core.js'
import { V2Queue, acquireMutex, resumeV2 } from './lock-v2.js'
import type { FencingToken } from './fencing.js'
import { RecipeError, checkTtl, decodeOwner, guardFor, abortReason } from './internal.js'

export type { AcquireOptions, HandleJSON } from './lock-core.js'
export { LockHandle } from './lock-core.js'

export interface LockOptions {
  /** Seconds the lock survives its holder's silence (default 10). Refreshed every ttl/3. */
  ttl?: number
  /**
   * true (default): FIFO queue of in-order keys under `key` (a directory); fair and herd-free.
   * false: a single mutex key at `key` (a file); whoever creates it first after a release wins.
   * Don't mix both modes on one key.
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

  constructor(readonly client: Client, readonly key: string, ttl: number | undefined) {
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

  constructor(client: Client, key: string, opts: LockOptions = {}) {
    super(client, key, opts.ttl)
    this.fair = opts.fair ?? true
    this.owner = opts.owner
  }

  protected acquireWith(opts: AcquireOptions & { tryOnly?: boolean }): Promise<LockHandle | undefined> {
    const fields = this.owner === undefined ? {} : { owner: this.owner }
    if (!this.fair) return acquireMutex(this.client, this.key, this.ttl, fields, 'lock', opts)
    return acquireQueued(new V2Queue(this.client, this.key, this.ttl, fields), this.ttl, 'lock', firstHolds, opts, (i) => new LockHandle(this.client, i))
  }

  /** Who holds the lock now (quorum read), or undefined. */
  async holder(opts: { signal?: AbortSignal } = {}): Promise<LockHolder | undefined> {
    try {
      const res = await guardFor(this.client).get(this.client, this.key, { sorted: true, signal: opts.signal })
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
  static resume(client: Client, json: HandleJSON): Promise<LockHandle> {
    return resumeV2(client, json)
  }
}

/** `new Lock(client, key, opts).withLock(fn, opts)`. */
export function withLock<T>(client: Client, key: string, fn: (signal: AbortSignal, handle: LockHandle) => Promise<T> | T, opts: LockOptions & WithLockOptions = {}): Promise<T> {
  return new Lock(client, key, opts).withLock(fn, opts)
}


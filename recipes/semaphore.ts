// A counting semaphore and a read-write lock, built like the fair lock on the same queue core: on
// v2 in-order TTL'd entries under a directory, on v3 `name/<lease hex>` keys on their own leases
// (Go's Mutex layout with another decision); kept alive while queued and held. Waiters whose turn depends on several predecessors watch the directory for removals
// (one event per release, no polling). Fencing tokens here identify a hold; they only order
// writers of the read-write lock (readers and permits hold concurrently).

import { isV3, type AnyClient } from './api.js'
import { LockHandle, acquireQueued, type AcquireOptions, type QueueBackend, type QueueDecision, type QueueEntry } from './lock-core.js'
import { V2Queue } from './lock-v2.js'
import { GoQueue } from './v3/go-queue.js'
import { encodeOwner } from './internal.js'
import { BaseLock } from './lock.js'
import { RecipeError, decodeOwner } from './internal.js'

export interface SemaphoreOptions {
  /** How many holders at once (>= 1). */
  permits: number
  /** Seconds (default 10). */
  ttl?: number
  owner?: string
}

/** Up to `permits` holders at once, granted in FIFO order. */
export class Semaphore extends BaseLock {
  readonly permits: number
  readonly owner: string | undefined

  constructor(client: AnyClient, key: string, opts: SemaphoreOptions) {
    super(client, key, opts.ttl)
    if (!Number.isInteger(opts.permits) || opts.permits < 1) throw new RecipeError(`permits must be an integer >= 1, got ${opts.permits}`)
    this.permits = opts.permits
    this.owner = opts.owner
  }

  protected acquireWith(opts: AcquireOptions & { tryOnly?: boolean }): Promise<LockHandle | undefined> {
    const fields = this.owner === undefined ? {} : { owner: this.owner }
    return acquireQueued(queueFor(this.client, this.key, this.ttl, fields), this.ttl, 'semaphore',
      (_q, pos): QueueDecision => (pos < this.permits ? { hold: true } : { hold: false, watchDir: true }), opts, (i) => new LockHandle(this.client, i))
  }
}

export interface ReadWriteLockOptions {
  ttl?: number
  owner?: string
}

/** One side (read or write) of a {@link ReadWriteLock}. */
export class RwSide extends BaseLock {
  constructor(client: AnyClient, key: string, ttl: number | undefined, readonly mode: 'read' | 'write', private readonly owner?: string) {
    super(client, key, ttl)
  }

  protected acquireWith(opts: AcquireOptions & { tryOnly?: boolean }): Promise<LockHandle | undefined> {
    const fields = { mode: this.mode, ...(this.owner === undefined ? {} : { owner: this.owner }) }
    return acquireQueued(queueFor(this.client, this.key, this.ttl, fields), this.ttl, this.mode, (q, pos) => decideRw(q, pos, this.mode), opts, (i) => new LockHandle(this.client, i))
  }
}

/**
 * Many readers or one writer, FIFO: a reader holds when no writer is queued before it (it waits
 * on the nearest one); a writer holds when first (it waits on its predecessor). Readers arriving
 * after a queued writer wait for it, so writers are not starved.
 */
export class ReadWriteLock {
  readonly read: RwSide
  readonly write: RwSide

  constructor(readonly client: AnyClient, readonly key: string, opts: ReadWriteLockOptions = {}) {
    this.read = new RwSide(client, key, opts.ttl, 'read', opts.owner)
    this.write = new RwSide(client, key, opts.ttl, 'write', opts.owner)
  }
}

/** The queue of either API; on v3 the entry's value is the fields as JSON (with a nonce, as on v2). */
function queueFor(client: AnyClient, key: string, ttl: number, fields: Record<string, unknown>): QueueBackend {
  return isV3(client) ? new GoQueue(client, key, ttl, encodeOwner({ nonce: '', ...fields })) : new V2Queue(client, key, ttl, fields)
}

function decideRw(q: QueueEntry[], pos: number, mode: 'read' | 'write'): QueueDecision {
  if (mode === 'write') return pos === 0 ? { hold: true } : { hold: false, watch: q[pos - 1]!.key }
  for (let i = pos - 1; i >= 0; i--) {
    if (decodeOwner(q[i]!.value)?.mode !== 'read') return { hold: false, watch: q[i]!.key }
  }
  return { hold: true }
}

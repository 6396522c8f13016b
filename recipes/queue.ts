// A FIFO work queue with at-least-once delivery, on either API. v2: items are in-order keys under
// <dir>/items; a consumer claims the oldest unclaimed item by creating <dir>/claims/<item>
// (create-if-absent, TTL = visibility timeout, kept alive while the consumer works), checks the
// item still exists, and acks by deleting both. v3: see v3/work-queue.ts (one txn per claim). A
// crashed consumer's claim expires and the item is delivered again. Values carry nonces so a
// push whose reply was lost is recognised instead of duplicated.

import { KeyNotFoundError, NodeExistsError, OutcomeUnknownError, type Client, type Node } from '../src/index.js'
import { isV3, type AnyClient } from './api.js'
import { V3WorkQueue } from './v3/work-queue.js'
import { Keeper } from './keepalive.js'
import { rethrow, type AcquireOptions } from './lock-core.js'
import { removeOwned } from './lock-v2.js'
import { checkTtl, combineSignals, decodeOwner, encodeOwner, guardFor, joinKey, nonce, now, waitForEvent } from './internal.js'

export interface WorkQueueOptions {
  /** Seconds a claimed item stays invisible after its consumer stops (default 30). */
  visibilityTimeout?: number
}

/** A claimed item; call ack() when done (or nack() to hand it back at once). */
export interface QueueItem<T> {
  /** The item's key (its name is the in-order index). */
  key: string
  data: T
  /** Removes the item for good: once it resolves, no consumer receives this item again. */
  ack(): Promise<void>
  /** Releases the claim: the item is delivered again. */
  nack(): Promise<void>
}

/**
 * ```ts
 * const q = new WorkQueue<Job>(client, '/queues/jobs')
 * await q.push({ id: 1 })
 * const item = await q.pop({ timeout: 5000 }); await handle(item.data); await item.ack()
 * ```
 */
export class WorkQueue<T = unknown> {
  readonly visibilityTimeout: number
  private readonly items: string
  private readonly claims: string
  private readonly v3: V3WorkQueue<T> | undefined

  constructor(readonly client: AnyClient, readonly dir: string, opts: WorkQueueOptions = {}) {
    this.visibilityTimeout = checkTtl(opts.visibilityTimeout ?? 30, 'visibilityTimeout')
    this.items = joinKey(dir, 'items')
    this.claims = joinKey(dir, 'claims')
    this.v3 = isV3(client) ? new V3WorkQueue<T>(client, dir, this.visibilityTimeout) : undefined
  }

  /** The v2 client (only called on the v2 paths). */
  private get v2(): Client {
    return this.client as Client
  }

  /** Appends an item; returns its key. */
  async push(data: T, opts: { signal?: AbortSignal } = {}): Promise<string> {
    if (this.v3) return this.v3.push(data, opts)
    const value = encodeOwner({ nonce: nonce(), data })
    const guard = guardFor(this.v2)
    for (let attempt = 0; ; attempt++) {
      try {
        return guard.saw(await this.v2.post(this.items, value, opts)).node.key
      } catch (err) {
        if (!(err instanceof OutcomeUnknownError) || attempt >= 3) throw err
        const list = await guard.get(this.v2, this.items, opts).catch(() => undefined)
        const found = list?.node.nodes?.find((n) => n.value === value)
        if (found) return found.key
      }
    }
  }

  /** Number of items not yet acked (claimed ones included). */
  async size(): Promise<number> {
    if (this.v3) return this.v3.size()
    return (await this.read()).items.length
  }

  /** Claims the oldest unclaimed item, or undefined when there is none. */
  async tryPop(opts: { signal?: AbortSignal } = {}): Promise<QueueItem<T> | undefined> {
    if (this.v3) return (await this.v3.claimNext(opts.signal)).item
    return (await this.claimNext(opts.signal)).item
  }

  /** Waits for an item and claims it. @throws RecipeTimeoutError / RecipeAbortError. */
  async pop(opts: AcquireOptions = {}): Promise<QueueItem<T>> {
    if (this.v3) return this.v3.pop(opts)
    const { signal, dispose } = combineSignals([opts.signal], opts.timeout)
    try {
      for (;;) {
        const { item, index } = await this.claimNext(signal)
        if (item) return item
        // A new item, or a claim that went away (expired/nacked), may make one available.
        await waitForEvent(this.v2.watch(this.dir, { recursive: true, waitIndex: index + 1, signal }), (ev) =>
          ev.type === 'resync' ||
          (ev.node.key.startsWith(this.items + '/') && ev.action === 'create') ||
          (ev.node.key.startsWith(this.claims + '/') && (ev.action === 'expire' || ev.action === 'delete' || ev.action === 'compareAndDelete')))
      }
    } catch (err) {
      rethrow(err, signal)
    } finally {
      dispose()
    }
  }

  private async read(signal?: AbortSignal): Promise<{ items: Node[]; claimed: Set<string>; index: number }> {
    try {
      const res = await guardFor(this.v2).get(this.v2, this.dir, { recursive: true, sorted: true, signal })
      const sub = (name: string): Node[] => res.node.nodes?.find((n) => n.key === joinKey(this.dir, name))?.nodes ?? []
      const items = sub('items').filter((n) => !n.dir).sort((a, b) => a.createdIndex - b.createdIndex)
      const claimed = new Set(sub('claims').map((n) => n.key.slice(n.key.lastIndexOf('/') + 1)))
      return { items, claimed, index: res.etcdIndex }
    } catch (err) {
      if (err instanceof KeyNotFoundError) return { items: [], claimed: new Set(), index: err.index }
      throw err
    }
  }

  private async claimNext(signal?: AbortSignal): Promise<{ item?: QueueItem<T>; index: number }> {
    const { items, claimed, index } = await this.read(signal)
    for (const it of items) {
      const name = it.key.slice(it.key.lastIndexOf('/') + 1)
      if (claimed.has(name)) continue
      const claimKey = joinKey(this.claims, name)
      const value = encodeOwner({ nonce: nonce() })
      const sent = now()
      let created: number
      try {
        created = guardFor(this.v2).saw(await this.v2.create(claimKey, value, { ttl: this.visibilityTimeout, signal })).node.createdIndex
      } catch (err) {
        if (err instanceof NodeExistsError) continue
        throw err
      }
      // The listing may predate another consumer's claim and ack of this item (ack deletes the
      // item, then the claim, so our create could succeed on a freed name). The item must still
      // exist after our claim is in place; otherwise it was acked: drop the claim, move on.
      let there: boolean
      try {
        there = await this.stillThere(it, signal)
      } catch (err) {
        await removeOwned(this.v2, claimKey, value)
        throw err
      }
      if (!there) {
        await removeOwned(this.v2, claimKey, value)
        continue
      }
      return { item: this.makeItem(it, claimKey, value, created, sent), index }
    }
    return { index }
  }

  /** Quorum read of a listed item after claiming it: true if it is still the same item. */
  private async stillThere(it: Node, signal?: AbortSignal): Promise<boolean> {
    try {
      const res = await guardFor(this.v2).get(this.v2, it.key, { signal })
      return res.node.createdIndex === it.createdIndex
    } catch (err) {
      if (err instanceof KeyNotFoundError) return false
      throw err
    }
  }

  private makeItem(it: Node, claimKey: string, claimValue: string, createdIndex: number, sent: number): QueueItem<T> {
    // Keep the claim alive while the consumer works; a crash lets it expire.
    const keeper = new Keeper({ client: this.v2, key: claimKey, ttl: this.visibilityTimeout, value: claimValue, createdIndex, confirmedAt: sent })
    const client = this.v2
    return {
      key: it.key,
      data: decodeOwner(it.value)?.data as T,
      async ack() {
        keeper.stop()
        await client.compareAndDelete(it.key, { prevIndex: it.modifiedIndex }).catch((err) => {
          if (!(err instanceof KeyNotFoundError)) throw err
        })
        await removeOwned(client, claimKey, claimValue)
      },
      async nack() {
        keeper.stop()
        await removeOwned(client, claimKey, claimValue)
      },
    }
  }
}

// WorkQueue on v3: items are keys under <dir>/items/ (FIFO by create revision); a consumer claims
// an item by a txn that writes <dir>/claims/<item> on a lease of its own (TTL = visibility
// timeout, renewed while it works) only if the item is unchanged (its mod revision, 0 once it is
// gone) and unclaimed. So a claim can never be made on an item already acked, whatever listing it
// came from. ack deletes the item, then revokes the claim's lease.

import { OutcomeUnknownError, type ClientV3, type KeyValue } from '../../src/index.js'
import { combineSignals, decodeOwner, encodeOwner, joinKey, nonce, now, waitForEvent } from '../internal.js'
import { rethrow, type AcquireOptions } from '../lock-core.js'
import type { QueueItem } from '../queue.js'
import { LeaseHold } from './lease-hold.js'

export class V3WorkQueue<T> {
  private readonly items: string
  private readonly claims: string
  private readonly root: string

  constructor(private readonly client: ClientV3, dir: string, private readonly visibilityTimeout: number) {
    this.root = joinKey(dir) + '/'
    this.items = joinKey(dir, 'items') + '/'
    this.claims = joinKey(dir, 'claims') + '/'
  }

  async push(data: T, opts: { signal?: AbortSignal } = {}): Promise<string> {
    // Names only need to be unique; the order is the create revision.
    const key = this.items + Date.now().toString().padStart(15, '0') + '-' + nonce().slice(0, 12)
    const value = encodeOwner({ nonce: nonce(), data })
    for (let attempt = 0; ; attempt++) {
      try {
        // Create-only: a retry after a lost answer finds our own item and writes nothing.
        await this.client.txn({ compare: [{ key, target: 'create', op: '==', createRevision: 0 }], success: [{ put: { key, value } }] }, opts)
        return key
      } catch (err) {
        if (!(err instanceof OutcomeUnknownError) || attempt >= 3) throw err
      }
    }
  }

  async size(): Promise<number> {
    return (await this.client.range(this.items, { prefix: true, countOnly: true })).count
  }

  /** One listing of items and claims (one revision), then a claim txn per candidate item. */
  async claimNext(signal?: AbortSignal): Promise<{ item?: QueueItem<T>; rev: bigint }> {
    const res = await this.client.range(this.root, { prefix: true, sortOrder: 'ascend', sortTarget: 'create', signal })
    const claimed = new Set<string>()
    const items: KeyValue[] = []
    for (const kv of res.kvs) {
      const k = kv.keyString
      if (k.startsWith(this.claims)) claimed.add(k.slice(this.claims.length))
      else if (k.startsWith(this.items)) items.push(kv)
    }
    for (const it of items) {
      const name = it.keyString.slice(this.items.length)
      if (claimed.has(name)) continue
      const item = await this.claim(it, this.claims + name, signal)
      if (item) return { item, rev: res.header.revision }
    }
    return { rev: res.header.revision }
  }

  private async claim(it: KeyValue, claimKey: string, signal?: AbortSignal): Promise<QueueItem<T> | undefined> {
    const sent = now()
    const grant = await this.client.grantLease(this.visibilityTimeout, { signal })
    let kv: KeyValue | undefined
    try {
      const res = await this.client.txn({
        compare: [
          { key: it.key, target: 'mod', op: '==', modRevision: it.modRevision },
          { key: claimKey, target: 'create', op: '==', createRevision: 0 },
        ],
        success: [{ put: { key: claimKey, value: '', lease: grant.id } }, { range: { key: claimKey } }],
      }, { signal })
      const last = res.responses[res.responses.length - 1]
      kv = res.succeeded && last?.type === 'range' ? last.range.kvs[0] : undefined
    } catch (err) {
      await this.client.revokeLease(grant.id).catch(() => {})
      throw err
    }
    if (!kv) {
      await this.client.revokeLease(grant.id).catch(() => {})
      return undefined
    }
    const client = this.client
    const hold = new LeaseHold({ client, lease: grant.id, ttl: this.visibilityTimeout, key: claimKey, createRevision: kv.createRevision, confirmedAt: sent })
    const itemKey = it.keyString
    return {
      key: itemKey,
      data: decodeOwner(it.valueString)?.data as T,
      async ack() {
        hold.stop()
        // The item first: from then on no claim txn can succeed on it (its mod revision is gone).
        await client.delete(itemKey, { idempotent: true })
        await client.revokeLease(grant.id).catch(() => {})
      },
      async nack() {
        hold.stop()
        await client.revokeLease(grant.id).catch(() => {})
      },
    }
  }

  async pop(opts: AcquireOptions): Promise<QueueItem<T>> {
    const { signal, dispose } = combineSignals([opts.signal], opts.timeout)
    try {
      for (;;) {
        const { item, rev } = await this.claimNext(signal)
        if (item) return item
        // A new item, or a claim that went away (expired/nacked), may make one available.
        await waitForEvent(this.client.watch(this.root, { prefix: true, startRevision: rev + 1n, signal }), (ev) => {
          if (ev.type === 'progress') return false
          if (ev.type === 'resync') return true
          const k = ev.kv.keyString
          return (k.startsWith(this.items) && ev.type === 'put' && ev.kv.version === 1) || (k.startsWith(this.claims) && ev.type === 'delete')
        })
      }
    } catch (err) {
      rethrow(err, signal)
    } finally {
      dispose()
    }
  }
}


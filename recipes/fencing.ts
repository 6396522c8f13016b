// Fencing tokens and the resource-side guard that rejects stale ones. A TTL lock alone cannot stop
// a holder that was paused past its TTL from writing after someone else took over; fencing can:
// every acquisition gets a token (the lock key's createdIndex, paired with the cluster ID) that
// grows with each new holder, and the resource refuses writes carrying a token older than the
// newest it has seen. Must not depend on any lock internals: any token source works.

import { CompareFailedError, KeyNotFoundError, NodeExistsError, OutcomeUnknownError, type Client } from '../src/index.js'
import { StaleTokenError, guardFor, nonce } from './internal.js'

/**
 * Identifies one acquisition (one lock hold, one leadership term). `index` is the createdIndex of
 * the holder's key: later acquisitions of the same lock always get larger ones. A TTL refresh
 * moves modifiedIndex, never createdIndex, so a token stays the same for the whole hold.
 */
export interface FencingToken {
  /** X-Etcd-Cluster-Id of the cluster that issued it (tokens of different clusters don't compare). */
  clusterId: string
  /** createdIndex of the holder's key. */
  index: number
}

/** `<clusterId>:<index>`, e.g. for logs or an HTTP header towards the resource. */
export function formatToken(t: FencingToken): string {
  return `${t.clusterId}:${t.index}`
}

/** Negative if a is older than b, 0 if equal, positive if newer. @throws StaleTokenError across clusters. */
export function compareTokens(a: FencingToken, b: FencingToken): number {
  if (a.clusterId && b.clusterId && a.clusterId !== b.clusterId) {
    throw new StaleTokenError(`fencing tokens from different clusters (${a.clusterId} vs ${b.clusterId})`)
  }
  return a.index - b.index
}

/** What a fenced key stores: the newest token seen, the data, and a nonce per write. */
export interface FencedValue<T> {
  token: FencingToken
  data: T | undefined
  nonce: string
}

/**
 * A key guarded by fencing tokens. Every write is a CAS (prevIndex) that first checks the stored
 * token: a write with an older token fails with {@link StaleTokenError}, so a holder that lost its
 * lock while paused cannot overwrite the work of the one that took over.
 *
 * Pattern: right after acquiring, the new holder calls {@link claim} (stamps its token); from then
 * on every write of an older holder is rejected. Keep the guarded data in this key (or in keys
 * only ever written through it); a plain `client.set` elsewhere bypasses the guard.
 */
export class FencedResource<T = unknown> {
  constructor(readonly client: Client, readonly key: string) {}

  /** The current data and newest token (both undefined if the key does not exist yet). */
  async read(opts: { signal?: AbortSignal } = {}): Promise<{ data: T | undefined; token: FencingToken | undefined; modifiedIndex: number }> {
    try {
      const res = await guardFor(this.client).get(this.client, this.key, { signal: opts.signal })
      const v = parse<T>(res.node.value)
      return { data: v?.data, token: v?.token, modifiedIndex: res.node.modifiedIndex }
    } catch (err) {
      if (err instanceof KeyNotFoundError) return { data: undefined, token: undefined, modifiedIndex: 0 }
      throw err
    }
  }

  /** Stamps `token` without changing the data. @throws StaleTokenError if a newer token was seen. */
  async claim(token: FencingToken, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.update(token, (cur) => cur, opts)
  }

  /** Writes `data` under `token`. @throws StaleTokenError if a newer token was seen. */
  async set(token: FencingToken, data: T, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.update(token, () => data, opts)
  }

  /**
   * Read-modify-write under `token`: retried on concurrent writes, never applied over a newer
   * token. @throws StaleTokenError.
   */
  async update(token: FencingToken, fn: (cur: T | undefined) => T | undefined, opts: { signal?: AbortSignal } = {}): Promise<T | undefined> {
    const guard = guardFor(this.client)
    for (;;) {
      const cur = await this.read(opts)
      if (cur.token && compareTokens(token, cur.token) < 0) {
        throw new StaleTokenError(`${this.key}: token ${formatToken(token)} is older than ${formatToken(cur.token)}`)
      }
      const next: FencedValue<T> = { token, data: fn(cur.data), nonce: nonce() }
      const text = JSON.stringify(next)
      try {
        const res = cur.token === undefined && cur.modifiedIndex === 0
          ? await this.client.create(this.key, text, { signal: opts.signal })
          : await this.client.compareAndSwap(this.key, text, { prevIndex: cur.modifiedIndex, signal: opts.signal })
        guard.saw(res)
        return next.data
      } catch (err) {
        if (err instanceof CompareFailedError || err instanceof NodeExistsError || err instanceof KeyNotFoundError) continue
        if (err instanceof OutcomeUnknownError) {
          // The reply was lost: our nonce in the stored value tells whether the write landed.
          const raw = await guard.get(this.client, this.key, { signal: opts.signal }).catch(() => undefined)
          if (parse<T>(raw?.node.value)?.nonce === next.nonce) return next.data
          continue
        }
        throw err
      }
    }
  }
}

/** One guarded write: `new FencedResource(client, key).set(token, data)`. @throws StaleTokenError. */
export function guardedSet<T>(client: Client, key: string, token: FencingToken, data: T, opts: { signal?: AbortSignal } = {}): Promise<void> {
  return new FencedResource<T>(client, key).set(token, data, opts)
}

function parse<T>(text: string | undefined): FencedValue<T> | undefined {
  if (text === undefined) return undefined
  try {
    const v = JSON.parse(text) as FencedValue<T>
    return v && typeof v === 'object' && v.token && typeof v.token.index === 'number' ? v : undefined
  } catch {
    return undefined
  }
}

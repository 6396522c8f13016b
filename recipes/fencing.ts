// Fencing tokens and the resource-side guard that rejects stale ones. A TTL lock alone cannot stop
// a holder that was paused past its TTL from writing after someone else took over; fencing can:
// every acquisition gets a token (the lock key's createdIndex, paired with the cluster ID) that
// grows with each new holder, and the resource refuses writes carrying a token older than the
// newest it has seen. Must not depend on any lock internals: any token source works.

import { OutcomeUnknownError } from '../src/index.js'
import type { AnyClient } from './api.js'
import { kvFor } from './kv.js'
import { StaleTokenError, nonce } from './internal.js'

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
  constructor(readonly client: AnyClient, readonly key: string) {}

  /** The current data and newest token (both undefined if the key does not exist yet). */
  async read(opts: { signal?: AbortSignal } = {}): Promise<{ data: T | undefined; token: FencingToken | undefined; modifiedIndex: number }> {
    const cur = await kvFor(this.client).read(this.key, opts.signal)
    if (!cur) return { data: undefined, token: undefined, modifiedIndex: 0 }
    const v = parse<T>(cur.value)
    return { data: v?.data, token: v?.token, modifiedIndex: cur.version }
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
   * Read-modify-write under `token`: the write is a compare-and-swap on the version read (v2
   * prevIndex, v3 a txn comparing mod_revision), retried on concurrent writes, never applied over
   * a newer token. @throws StaleTokenError.
   */
  async update(token: FencingToken, fn: (cur: T | undefined) => T | undefined, opts: { signal?: AbortSignal } = {}): Promise<T | undefined> {
    const kv = kvFor(this.client)
    for (;;) {
      const cur = await this.read(opts)
      if (cur.token && compareTokens(token, cur.token) < 0) {
        throw new StaleTokenError(`${this.key}: token ${formatToken(token)} is older than ${formatToken(cur.token)}`)
      }
      const next: FencedValue<T> = { token, data: fn(cur.data), nonce: nonce() }
      try {
        if (await kv.swap(this.key, JSON.stringify(next), cur.modifiedIndex, opts.signal)) return next.data
      } catch (err) {
        if (!(err instanceof OutcomeUnknownError)) throw err
        // The reply was lost: our nonce in the stored value tells whether the write landed.
        const raw = await kv.read(this.key, opts.signal).catch(() => undefined)
        if (parse<T>(raw?.value)?.nonce === next.nonce) return next.data
      }
    }
  }
}

/** One guarded write: `new FencedResource(client, key).set(token, data)`. @throws StaleTokenError. */
export function guardedSet<T>(client: AnyClient, key: string, token: FencingToken, data: T, opts: { signal?: AbortSignal } = {}): Promise<void> {
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

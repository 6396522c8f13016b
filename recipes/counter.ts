// An atomic counter: a JSON value updated by compare-and-swap on its version (v2 modifiedIndex,
// v3 mod revision). Each write carries a nonce, so an add whose reply was lost (OutcomeUnknown)
// is recognised instead of applied twice.

import { OutcomeUnknownError } from '../src/index.js'
import type { AnyClient } from './api.js'
import { kvFor } from './kv.js'
import { nonce } from './internal.js'

interface Stored { value: number; nonce: string }

/**
 * ```ts
 * const hits = new Counter(client, '/counters/hits')   // a v2 Client or a ClientV3
 * await hits.add(1)          // -> new value
 * ```
 */
export class Counter {
  constructor(readonly client: AnyClient, readonly key: string) {}

  /** The current value (0 when the key does not exist). */
  async get(opts: { signal?: AbortSignal } = {}): Promise<number> {
    return (await this.read(opts)).value
  }

  /** Adds `delta` atomically and returns the new value. Applied exactly once per call. */
  async add(delta = 1, opts: { signal?: AbortSignal } = {}): Promise<number> {
    if (!Number.isFinite(delta)) throw new TypeError('delta must be a finite number')
    const kv = kvFor(this.client)
    for (;;) {
      const cur = await this.read(opts)
      const next: Stored = { value: cur.value + delta, nonce: nonce() }
      try {
        if (await kv.swap(this.key, JSON.stringify(next), cur.version, opts.signal)) return next.value
      } catch (err) {
        if (!(err instanceof OutcomeUnknownError)) throw err
        // The reply was lost: our nonce in the stored value tells whether the write landed.
        if ((await this.read(opts).catch(() => undefined))?.nonce === next.nonce) return next.value
      }
    }
  }

  private async read(opts: { signal?: AbortSignal }): Promise<{ value: number; nonce?: string; version: number }> {
    const cur = await kvFor(this.client).read(this.key, opts.signal)
    if (!cur) return { value: 0, version: 0 }
    let v: Stored | number | null = null
    try { v = JSON.parse(cur.value) as Stored | number | null } catch { /* not a counter: starts from 0 */ }
    const value = typeof v === 'number' ? v : typeof v?.value === 'number' ? v.value : 0
    return { value, nonce: typeof v === 'object' && v ? v.nonce : undefined, version: cur.version }
  }
}

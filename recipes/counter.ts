// An atomic counter: a JSON value updated by compare-and-swap on modifiedIndex. Each write carries
// a nonce, so an add whose reply was lost (OutcomeUnknown) is recognised instead of applied twice.

import { CompareFailedError, KeyNotFoundError, NodeExistsError, OutcomeUnknownError, type Client } from '../src/index.js'
import { guardFor, nonce } from './internal.js'

interface Stored { value: number; nonce: string }

/**
 * ```ts
 * const hits = new Counter(client, '/counters/hits')
 * await hits.add(1)          // -> new value
 * ```
 */
export class Counter {
  constructor(readonly client: Client, readonly key: string) {}

  /** The current value (0 when the key does not exist). */
  async get(opts: { signal?: AbortSignal } = {}): Promise<number> {
    return (await this.read(opts)).value
  }

  /** Adds `delta` atomically and returns the new value. Applied exactly once per call. */
  async add(delta = 1, opts: { signal?: AbortSignal } = {}): Promise<number> {
    if (!Number.isFinite(delta)) throw new TypeError('delta must be a finite number')
    for (;;) {
      const cur = await this.read(opts)
      const next: Stored = { value: cur.value + delta, nonce: nonce() }
      const text = JSON.stringify(next)
      try {
        const res = cur.index === 0
          ? await this.client.create(this.key, text, opts)
          : await this.client.compareAndSwap(this.key, text, { prevIndex: cur.index, signal: opts.signal })
        guardFor(this.client).saw(res)
        return next.value
      } catch (err) {
        if (err instanceof CompareFailedError || err instanceof NodeExistsError || err instanceof KeyNotFoundError) continue
        if (err instanceof OutcomeUnknownError && (await this.read(opts).catch(() => undefined))?.nonce === next.nonce) return next.value
        if (err instanceof OutcomeUnknownError) continue
        throw err
      }
    }
  }

  private async read(opts: { signal?: AbortSignal }): Promise<{ value: number; nonce?: string; index: number }> {
    try {
      const res = await guardFor(this.client).get(this.client, this.key, opts)
      const v = JSON.parse(res.node.value ?? 'null') as Stored | number | null
      const value = typeof v === 'number' ? v : typeof v?.value === 'number' ? v.value : 0
      return { value, nonce: typeof v === 'object' && v ? v.nonce : undefined, index: res.node.modifiedIndex }
    } catch (err) {
      if (err instanceof KeyNotFoundError) return { value: 0, index: 0 }
      throw err
    }
  }
}

// A one-shot barrier for a fixed number of parties: each arrival is an in-order key under the
// barrier's directory; arrive() resolves once `parties` arrivals exist. Waiters watch the
// directory (one event per arrival) from the index of their listing, so no arrival is missed.

import { OutcomeUnknownError, KeyNotFoundError, type Client } from '../src/index.js'
import type { AcquireOptions } from './lock-core.js'
import { RecipeError, abortReason, combineSignals, encodeOwner, guardFor, nonce } from './internal.js'

/**
 * ```ts
 * const b = new Barrier(client, '/barriers/start', { parties: 3 })
 * await b.arrive({ timeout: 10_000 })   // resolves when all three have arrived
 * ```
 */
export class Barrier {
  readonly parties: number

  constructor(readonly client: Client, readonly key: string, opts: { parties: number }) {
    if (!Number.isInteger(opts.parties) || opts.parties < 1) throw new RecipeError(`parties must be an integer >= 1, got ${opts.parties}`)
    this.parties = opts.parties
  }

  /** How many parties have arrived so far. */
  async arrived(): Promise<number> {
    try {
      const res = await guardFor(this.client).get(this.client, this.key)
      return (res.node.nodes ?? []).filter((n) => !n.dir).length
    } catch (err) {
      if (err instanceof KeyNotFoundError) return 0
      throw err
    }
  }

  /** Registers this party and waits for the others. @throws RecipeTimeoutError / RecipeAbortError. */
  async arrive(opts: AcquireOptions = {}): Promise<void> {
    const guard = guardFor(this.client)
    const { signal, dispose } = combineSignals([opts.signal], opts.timeout)
    const value = encodeOwner({ nonce: nonce() })
    try {
      try {
        guard.saw(await this.client.post(this.key, value, { signal }))
      } catch (err) {
        if (!(err instanceof OutcomeUnknownError)) throw err
        // A lost reply: our nonce tells whether the arrival landed; post again only if it did not.
        const res = await guard.get(this.client, this.key, { signal })
        if (!(res.node.nodes ?? []).some((n) => n.value === value)) guard.saw(await this.client.post(this.key, value, { signal }))
      }
      for (;;) {
        const res = await guard.get(this.client, this.key, { signal })
        if ((res.node.nodes ?? []).filter((n) => !n.dir).length >= this.parties) return
        const w = this.client.watch(this.key, { recursive: true, waitIndex: res.etcdIndex + 1, signal })
        try {
          for await (const ev of w) if (ev.type === 'resync' || ev.action === 'create') break
        } finally {
          w.close()
        }
      }
    } catch (err) {
      if (signal.aborted) throw abortReason(signal)
      throw err
    } finally {
      dispose()
    }
  }

  /** Removes all arrivals so the barrier can be used again. */
  async reset(): Promise<void> {
    try {
      guardFor(this.client).saw(await this.client.rmdir(this.key, { recursive: true }))
    } catch (err) {
      if (!(err instanceof KeyNotFoundError)) throw err
    }
  }
}

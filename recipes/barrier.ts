// A one-shot barrier for a fixed number of parties: each arrival is a key under the barrier's
// directory (v2: an in-order key; v3: `key/<nonce>`); arrive() resolves once `parties` arrivals
// exist. Waiters watch the directory / prefix (one event per arrival) from the index / revision of
// their count, so no arrival is missed.

import { OutcomeUnknownError, KeyNotFoundError, type ClientV3 } from '../src/index.js'
import { isV3, type AnyClient } from './api.js'
import { rethrow, type AcquireOptions } from './lock-core.js'
import { RecipeError, combineSignals, encodeOwner, guardFor, nonce, waitForEvent } from './internal.js'

/**
 * ```ts
 * const b = new Barrier(client, '/barriers/start', { parties: 3 })
 * await b.arrive({ timeout: 10_000 })   // resolves when all three have arrived
 * ```
 */
export class Barrier {
  readonly parties: number

  constructor(readonly client: AnyClient, readonly key: string, opts: { parties: number }) {
    if (!Number.isInteger(opts.parties) || opts.parties < 1) throw new RecipeError(`parties must be an integer >= 1, got ${opts.parties}`)
    this.parties = opts.parties
  }

  /** How many parties have arrived so far. */
  async arrived(): Promise<number> {
    const client = this.client
    if (isV3(client)) return (await client.range(this.prefix, { prefix: true, countOnly: true })).count
    try {
      const res = await guardFor(client).get(client, this.key)
      return (res.node.nodes ?? []).filter((n) => !n.dir).length
    } catch (err) {
      if (err instanceof KeyNotFoundError) return 0
      throw err
    }
  }

  /** Registers this party and waits for the others. @throws RecipeTimeoutError / RecipeAbortError. */
  async arrive(opts: AcquireOptions = {}): Promise<void> {
    const client = this.client
    const { signal, dispose } = combineSignals([opts.signal], opts.timeout)
    if (isV3(client)) return this.arriveV3(client, signal).catch((err) => rethrow(err, signal)).finally(dispose)
    const guard = guardFor(client)
    const value = encodeOwner({ nonce: nonce() })
    try {
      try {
        guard.saw(await client.post(this.key, value, { signal }))
      } catch (err) {
        if (!(err instanceof OutcomeUnknownError)) throw err
        // A lost reply: our nonce tells whether the arrival landed; post again only if it did not.
        const res = await guard.get(client, this.key, { signal })
        if (!(res.node.nodes ?? []).some((n) => n.value === value)) guard.saw(await client.post(this.key, value, { signal }))
      }
      for (;;) {
        const res = await guard.get(client, this.key, { signal })
        if ((res.node.nodes ?? []).filter((n) => !n.dir).length >= this.parties) return
        await waitForEvent(client.watch(this.key, { recursive: true, waitIndex: res.etcdIndex + 1, signal }), (ev) => ev.type === 'resync' || ev.action === 'create')
      }
    } catch (err) {
      rethrow(err, signal)
    } finally {
      dispose()
    }
  }

  /** v3: arrivals are `key/<nonce>` (a put of a fresh key is harmless to repeat). */
  private async arriveV3(client: ClientV3, signal: AbortSignal): Promise<void> {
    await client.put(this.prefix + nonce(), '', { signal, idempotent: true })
    for (;;) {
      const res = await client.range(this.prefix, { prefix: true, countOnly: true, signal })
      if (res.count >= this.parties) return
      await waitForEvent(client.watch(this.prefix, { prefix: true, startRevision: res.header.revision + 1n, filters: ['noDelete'], signal }), (ev) => ev.type !== 'progress')
    }
  }

  private get prefix(): string {
    return this.key.replace(/\/+$/, '') + '/'
  }

  /** Removes all arrivals so the barrier can be used again. */
  async reset(): Promise<void> {
    const client = this.client
    if (isV3(client)) {
      await client.delete(this.prefix, { prefix: true })
      return
    }
    try {
      guardFor(client).saw(await client.rmdir(this.key, { recursive: true }))
    } catch (err) {
      if (!(err instanceof KeyNotFoundError)) throw err
    }
  }
}

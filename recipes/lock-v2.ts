// The v2 half of the lock-like recipes: queue entries are in-order TTL'd keys under the lock's
// directory (POST), kept alive by TTL refreshes; the single-key mutex (create-if-absent); removal
// by compare-and-delete on our own value (which carries a nonce), so a recipe never deletes a key
// it did not create; resume of a serialised handle.

import {
  CompareFailedError, KeyNotFoundError, NodeExistsError, OutcomeUnknownError, isRetryable,
  type Client, type Node,
} from '../src/index.js'
import { Keeper } from './keepalive.js'
import {
  LockHandle, rethrow, type AcquireOptions, type HandleFactory, type HandleJSON, type HandleOps, type QueueBackend,
  type QueueEntry, type QueueTicket,
} from './lock-core.js'
import {
  LockLostError, RecipeAbortError, abortReason, combineSignals, encodeOwner, guardFor, nonce, now, sleep, type OwnerValue,
} from './internal.js'

/** compare-and-delete of a key we own; "already gone / not ours" counts as done. Best effort. */
export async function removeOwned(client: Client, key: string, value: string): Promise<void> {
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      guardFor(client).saw(await client.compareAndDelete(key, { prevValue: value }))
      return
    } catch (err) {
      if (err instanceof KeyNotFoundError || err instanceof CompareFailedError) return
      if (!(err instanceof OutcomeUnknownError) && !isRetryable(err)) return
      await sleep(100 * (attempt + 1))
    }
  }
}

/** Handle operations of a v2 key: compare-and-delete / compare-and-swap on our value. */
export function v2Ops(client: Client): HandleOps {
  return {
    remove: (key, value) => removeOwned(client, key, value),
    json: () => ({ seen: guardFor(client).highest }),
    replace: (key, old, next, ttl) => replaceOwned(client, key, old, next, ttl),
  }
}

/**
 * CAS of our own key from `old` to `next`; resends the TTL, since a CAS without one would make
 * the key permanent (spec TTL-4). A lost reply is settled by reading the key. @throws LockLostError.
 */
async function replaceOwned(client: Client, key: string, old: string, next: string, ttl: number): Promise<void> {
  const guard = guardFor(client)
  for (let attempt = 0; ; attempt++) {
    try {
      guard.saw(await client.compareAndSwap(key, next, { prevValue: old, ttl }))
      return
    } catch (err) {
      if (!(err instanceof OutcomeUnknownError) && !(err instanceof CompareFailedError) && !(err instanceof KeyNotFoundError)) throw err
      // A lost reply (or a retried CAS that already landed): read what the key holds now.
      const cur = await guard.get(client, key).catch(() => undefined)
      if (cur?.node.value === next) return
      if (cur?.node.value !== old || attempt >= 3) throw new LockLostError(`${key}: no longer held (value changed during the update)`, err)
    }
  }
}

/** Rebuilds a v2 handle from {@link LockHandle.toJSON}: refreshes the key if it is still ours. @throws LockLostError. */
export async function resumeV2(client: Client, json: HandleJSON, make: HandleFactory = (i) => new LockHandle(client, i)): Promise<LockHandle> {
  if (json?.v !== 1 || typeof json.key !== 'string' || typeof json.value !== 'string') throw new LockLostError('not a serialised lock handle')
  if (json.api === 'v3') throw new LockLostError('a v3 handle cannot be resumed with a v2 client')
  const guard = guardFor(client)
  guard.see(json.seen)
  const sent = now()
  try {
    const res = guard.saw(await client.set(json.key, '', { refresh: true, prevExist: true, prevValue: json.value, ttl: json.ttl }))
    if (res.node.createdIndex !== json.token.index) throw new LockLostError(`${json.key} was re-created since`)
  } catch (err) {
    if (err instanceof KeyNotFoundError || err instanceof CompareFailedError) throw new LockLostError(`${json.key} is no longer held`, err)
    throw err
  }
  const hold = new Keeper({ client, key: json.key, ttl: json.ttl, value: json.value, createdIndex: json.token.index, confirmedAt: sent })
  return make({ key: json.key, value: json.value, ttl: json.ttl, kind: json.kind, token: json.token, hold, ops: v2Ops(client) })
}

const GONE = new Set(['delete', 'expire', 'compareAndDelete'])

/**
 * Waits until `key` is deleted/expired (or, with `recursive`, anything below it is), watching from
 * `fromIndex` so nothing between the listing and the watch is missed. Refreshes do not wake it.
 */
export async function waitGone(client: Client, key: string, fromIndex: number, recursive: boolean, signal: AbortSignal): Promise<void> {
  const w = client.watch(key, { waitIndex: fromIndex, recursive, signal })
  try {
    for await (const ev of w) {
      if (ev.type === 'resync') {
        // History was cleared (spec WATCH-10): the SDK re-read the key; decide on the current state.
        if (recursive || ev.node === undefined) return
        continue
      }
      guardFor(client).see(ev.index)
      if (GONE.has(ev.action)) return
    }
  } finally {
    w.close()
  }
  if (signal.aborted) throw abortReason(signal)
}

/**
 * Mutex acquisition: create-if-absent (prevExist=false) of `key` with a TTL; on "exists", wait for
 * the holder's key to go and try again. `tryOnly` returns undefined instead of waiting.
 */
export async function acquireMutex(
  client: Client, key: string, ttl: number, fields: Omit<OwnerValue, 'nonce'>, kind: string,
  opts: AcquireOptions & { tryOnly?: boolean }, make: HandleFactory = (i) => new LockHandle(client, i),
): Promise<LockHandle | undefined> {
  const guard = guardFor(client)
  const value = encodeOwner({ nonce: nonce(), ...fields })
  const { signal, dispose } = combineSignals([opts.signal], opts.timeout)
  const held = (node: Node, clusterId: string, sent: number): LockHandle => {
    const hold = new Keeper({ client, key, ttl, value, createdIndex: node.createdIndex, confirmedAt: sent })
    return make({ key, value, ttl, kind, token: { clusterId, index: node.createdIndex }, hold, ops: v2Ops(client) })
  }
  // Expiry counts from when the server applied the create; the first attempt with this value is
  // the earliest that can be (a later NodeExists may find the key an earlier attempt created).
  const firstSent = now()
  try {
    for (;;) {
      const sent = now()
      let waitFrom: number
      try {
        const res = guard.saw(await client.create(key, value, { ttl, signal }))
        return held(res.node, res.clusterId, sent)
      } catch (err) {
        if (!(err instanceof NodeExistsError) && !(err instanceof OutcomeUnknownError)) throw err
        // Exists, or unknown outcome: a lost reply may mean the key is ours; our nonce tells.
        let cur
        try {
          cur = await guard.get(client, key, { signal })
        } catch (e2) {
          if (e2 instanceof KeyNotFoundError) continue
          throw e2
        }
        if (cur.node.value === value) return held(cur.node, cur.clusterId, firstSent)
        if (opts.tryOnly) return undefined
        waitFrom = cur.etcdIndex + 1
      }
      await waitGone(client, key, waitFrom, false, signal)
    }
  } catch (err) {
    // We may have created the key with a reply we never saw: never leave it behind (harmless
    // otherwise: the delete compares against our own nonce).
    await removeOwned(client, key, value)
    rethrow(err, signal)
  } finally {
    dispose()
  }
}

/** A v2 acquisition queue: in-order TTL'd keys under `dir`, FIFO by createdIndex. */
export class V2Queue implements QueueBackend {
  constructor(private readonly client: Client, private readonly dir: string, private readonly ttl: number, private readonly fields: Omit<OwnerValue, 'nonce'>) {}

  /** POSTs an entry; after a lost reply, finds it by nonce or posts again with the same value. */
  async join(signal: AbortSignal): Promise<QueueTicket> {
    const { client, dir, ttl } = this
    const guard = guardFor(client)
    const value = encodeOwner({ nonce: nonce(), ...this.fields })
    const firstSent = now() // see acquireMutex: an adopted entry may come from the first attempt
    const ticket = (n: Node, sent: number): QueueTicket => ({
      entry: { key: n.key, rev: n.createdIndex, value },
      hold: new Keeper({ client, key: n.key, ttl, value, createdIndex: n.createdIndex, confirmedAt: sent }),
    })
    for (let attempt = 0; ; attempt++) {
      const sent = now()
      try {
        // If this POST is aborted after it was sent, an entry nobody refreshes may remain: it
        // expires within the TTL (waiters behind it wait at most that long).
        return ticket(guard.saw(await client.post(dir, value, { ttl, signal })).node, sent)
      } catch (err) {
        if (!(err instanceof OutcomeUnknownError) || attempt >= 3) throw err
        const list = await guard.get(client, dir, { sorted: true, signal }).catch(() => undefined)
        const found = list?.node.nodes?.find((n) => n.value === value)
        if (found) return ticket(found, firstSent)
        if (signal.aborted) throw new RecipeAbortError('aborted')
      }
    }
  }

  async list(mine: QueueTicket, signal: AbortSignal): Promise<{ entries: QueueEntry[]; rev: number; clusterId: string }> {
    const res = await guardFor(this.client).get(this.client, this.dir, { sorted: true, signal })
    const entries: QueueEntry[] = []
    for (const n of res.node.nodes ?? []) {
      if (n.dir) continue
      // A duplicate of our own entry (a POST retried after a lost reply) is removed, not waited on.
      if (n.value === mine.entry.value && n.key !== mine.entry.key) { void removeOwned(this.client, n.key, mine.entry.value); continue }
      entries.push({ key: n.key, rev: n.createdIndex, value: n.value ?? '' })
    }
    entries.sort((a, b) => a.rev - b.rev)
    return { entries, rev: res.etcdIndex, clusterId: res.clusterId }
  }

  waitGone(key: string | undefined, fromRev: number, signal: AbortSignal): Promise<void> {
    return key === undefined ? waitGone(this.client, this.dir, fromRev, true, signal) : waitGone(this.client, key, fromRev, false, signal)
  }

  async leave(t: QueueTicket): Promise<void> {
    t.hold.stop()
    await removeOwned(this.client, t.entry.key, t.entry.value)
  }

  ops(): HandleOps {
    return v2Ops(this.client)
  }
}

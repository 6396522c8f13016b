// The machinery shared by every lock-like recipe (mutex, fair lock, semaphore, read-write lock,
// election): the held-key handle, acquisition by create-if-absent (mutex) and by in-order keys
// with ordered waiting (fair queue). Uses only the public client. It must never delete a key it
// did not create: every removal is a compare-and-delete on our own value (which carries a nonce).

import {
  CompareFailedError, KeyNotFoundError, NodeExistsError, OutcomeUnknownError, isRetryable,
  type Client, type Node,
} from '../src/index.js'
import type { FencingToken } from './fencing.js'
import { Keeper, type HoldState } from './keepalive.js'
import {
  Emitter, LockLostError, RecipeAbortError, abortReason, combineSignals, encodeOwner, guardFor, nonce, now,
  sleep, type OwnerValue,
} from './internal.js'

/** Serialised form of a held lock/leadership, for {@link resumeHandle} in a later invocation. */
export interface HandleJSON {
  v: 1
  kind: string
  key: string
  value: string
  ttl: number
  token: FencingToken
  /** Highest store index the client had seen; a resumed handle never accepts older reads. */
  seen: number
}

export interface HandleEvents extends Record<string, unknown[]> {
  /** The hold ended without release (expired, deleted, taken, or unverifiable in time). */
  lost: [LockLostError]
  /** Local timers ran late past the safety margin (frozen process?); being re-checked. */
  doubtful: []
  /** A doubtful hold was confirmed by the server. */
  confirmed: []
  /** release() finished. */
  released: []
}

/**
 * A held key: a lock, a semaphore permit, a leadership. Kept alive automatically until
 * {@link release}. `signal` aborts when it stops being held (lost or released).
 */
export class LockHandle extends Emitter<HandleEvents> {
  readonly key: string
  readonly ttl: number
  readonly kind: string
  /** Fencing token of this acquisition; pass it to {@link FencedResource} writes. */
  readonly token: FencingToken
  protected currentValue: string
  private readonly keeper: Keeper
  private releasing: Promise<void> | undefined

  constructor(readonly client: Client, init: { key: string; value: string; ttl: number; kind: string; token: FencingToken; keeper: Keeper }) {
    super()
    this.key = init.key
    this.ttl = init.ttl
    this.kind = init.kind
    this.token = init.token
    this.currentValue = init.value
    this.keeper = init.keeper
    this.keeper.on('lost', (e) => this.emit('lost', e))
    this.keeper.on('doubtful', () => this.emit('doubtful'))
    this.keeper.on('confirmed', () => this.emit('confirmed'))
  }

  /** The exact value stored in the key (JSON with our nonce). */
  get value(): string {
    return this.currentValue
  }

  /** Aborts when the hold ends; the reason is a LockLostError. */
  get signal(): AbortSignal {
    return this.keeper.signal
  }

  /** `held`, `doubtful` (timers ran late: re-check with {@link check}), `lost` or `released`. */
  get state(): HoldState {
    return this.keeper.state
  }

  /** True only while the hold is certain (state `held`). */
  isHeld(): boolean {
    return this.keeper.state === 'held'
  }

  /** Asks the server (a refresh) whether the key is still ours; marks it lost if not. */
  check(): Promise<boolean> {
    return this.keeper.confirm()
  }

  /** Resolves if still held (re-checking with the server when doubtful). @throws LockLostError. */
  async assertHeld(): Promise<void> {
    if (this.keeper.state === 'held') return
    if (this.keeper.state === 'doubtful' && (await this.keeper.confirm())) return
    throw new LockLostError(`${this.key} is not held (${this.keeper.state})`)
  }

  /**
   * Stops the keepalive and deletes the key with compare-and-delete on our own value, so it can
   * never remove another holder's key. Idempotent; never throws for "already gone".
   */
  release(): Promise<void> {
    this.releasing ??= this.doRelease()
    return this.releasing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release()
  }

  /** A plain object a later process can pass to `resume()` (e.g. serverless invocations). */
  toJSON(): HandleJSON {
    return { v: 1, kind: this.kind, key: this.key, value: this.currentValue, ttl: this.ttl, token: this.token, seen: guardFor(this.client).highest }
  }

  /**
   * Stops the keepalive WITHOUT deleting the key and returns {@link toJSON}: for handing the hold
   * to a later invocation (`Lock.resume`) that must pick it up before the TTL runs out. This
   * handle is unusable afterwards (state `released`, signal aborted).
   */
  detach(): HandleJSON {
    const json = this.toJSON()
    this.releasing ??= Promise.resolve()
    this.keeper.stop()
    return json
  }

  /** For subclasses that change the stored value (election proclaim). */
  protected setValue(v: string): void {
    this.currentValue = v
    this.keeper.setValue(v)
  }

  private async doRelease(): Promise<void> {
    this.keeper.stop()
    await removeOwned(this.client, this.key, this.currentValue)
    this.emit('released')
  }
}

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

/** Rebuilds a handle from {@link LockHandle.toJSON}: refreshes the key if it is still ours. @throws LockLostError. */
export async function resumeHandle(client: Client, json: HandleJSON, make: HandleFactory = (i) => new LockHandle(client, i)): Promise<LockHandle> {
  if (json?.v !== 1 || typeof json.key !== 'string' || typeof json.value !== 'string') throw new LockLostError('not a serialised lock handle')
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
  const keeper = new Keeper({ client, key: json.key, ttl: json.ttl, value: json.value, createdIndex: json.token.index, confirmedAt: sent })
  return make({ key: json.key, value: json.value, ttl: json.ttl, kind: json.kind, token: json.token, keeper })
}

export interface AcquireOptions {
  /** Gives up waiting (RecipeAbortError or the signal's reason). */
  signal?: AbortSignal
  /** Gives up after this many ms (RecipeTimeoutError). */
  timeout?: number
}

export type HandleFactory = (init: ConstructorParameters<typeof LockHandle>[1]) => LockHandle

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

/** Maps errors after an aborted wait to the abort reason (timeout or the caller's signal). */
function rethrow(err: unknown, signal: AbortSignal): never {
  if (signal.aborted) throw abortReason(signal)
  throw err
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
    const keeper = new Keeper({ client, key, ttl, value, createdIndex: node.createdIndex, confirmedAt: sent })
    return make({ key, value, ttl, kind, token: { clusterId, index: node.createdIndex }, keeper })
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

/** What a queued waiter does given the sorted queue and its own position. */
export type QueueDecision = { hold: true } | { hold: false; watch: string } | { hold: false; watchDir: true }

/**
 * Fair acquisition with in-order keys: POST a TTL'd entry under `dir`, list the queue sorted (FIFO
 * by createdIndex) and ask `decide`; waiters watch only what `decide` names (usually their
 * predecessor, so a release wakes one waiter, not all). The entry is kept alive while waiting.
 */
export async function acquireQueued(
  client: Client, dir: string, ttl: number, fields: Omit<OwnerValue, 'nonce'>, kind: string,
  decide: (queue: Node[], pos: number) => QueueDecision,
  opts: AcquireOptions & { tryOnly?: boolean }, make: HandleFactory = (i) => new LockHandle(client, i),
): Promise<LockHandle | undefined> {
  const guard = guardFor(client)
  const { signal, dispose } = combineSignals([opts.signal], opts.timeout)
  let entry: { key: string; value: string; createdIndex: number; keeper: Keeper } | undefined
  let handed = false
  try {
    for (;;) {
      if (entry?.keeper.state === 'lost') void removeOwned(client, entry.key, entry.value) // may still exist: don't queue behind it
      if (!entry || entry.keeper.state === 'lost') entry = await enqueue(client, dir, ttl, fields, signal)
      const list = await guard.get(client, dir, { sorted: true, signal })
      const mine = entry
      const queue: Node[] = []
      for (const n of list.node.nodes ?? []) {
        if (n.dir) continue
        // A duplicate of our own entry (a POST retried after a lost reply) is removed, not waited on.
        if (n.value === mine.value && n.key !== mine.key) { void removeOwned(client, n.key, mine.value); continue }
        queue.push(n)
      }
      queue.sort((a, b) => a.createdIndex - b.createdIndex)
      const pos = queue.findIndex((n) => n.key === mine.key)
      if (pos < 0) {
        // Our entry expired while we waited (e.g. the process was frozen): queue again at the back.
        mine.keeper.markLost('queue entry vanished')
        entry = undefined
        continue
      }
      const d = decide(queue, pos)
      if (d.hold) {
        // Never hand out a hold we are not sure of (the process may have been frozen meanwhile).
        if (mine.keeper.state !== 'held' && !(await mine.keeper.confirm())) continue
        handed = true
        return make({ key: mine.key, value: mine.value, ttl, kind, token: { clusterId: list.clusterId, index: mine.createdIndex }, keeper: mine.keeper })
      }
      if (opts.tryOnly) return undefined
      const waitSig = combineSignals([signal, mine.keeper.signal])
      try {
        if ('watch' in d) await waitGone(client, d.watch, list.etcdIndex + 1, false, waitSig.signal)
        else await waitGone(client, dir, list.etcdIndex + 1, true, waitSig.signal)
      } catch (err) {
        if (signal.aborted) throw err
        if (mine.keeper.state !== 'lost') throw err
        // Our entry was lost while waiting: loop and queue again.
      } finally {
        waitSig.dispose()
      }
    }
  } catch (err) {
    rethrow(err, signal)
  } finally {
    dispose()
    if (entry && !handed) {
      entry.keeper.stop()
      await removeOwned(client, entry.key, entry.value)
    }
  }
}

/** POSTs a queue entry; after a lost reply, finds it by nonce or posts again with the same value. */
async function enqueue(client: Client, dir: string, ttl: number, fields: Omit<OwnerValue, 'nonce'>, signal: AbortSignal) {
  const guard = guardFor(client)
  const value = encodeOwner({ nonce: nonce(), ...fields })
  const firstSent = now() // see acquireMutex: an adopted entry may come from the first attempt
  for (let attempt = 0; ; attempt++) {
    const sent = now()
    try {
      // If this POST is aborted after it was sent, an entry nobody refreshes may remain: it
      // expires within the TTL (waiters behind it wait at most that long).
      const res = guard.saw(await client.post(dir, value, { ttl, signal }))
      const keeper = new Keeper({ client, key: res.node.key, ttl, value, createdIndex: res.node.createdIndex, confirmedAt: sent })
      return { key: res.node.key, value, createdIndex: res.node.createdIndex, keeper }
    } catch (err) {
      if (!(err instanceof OutcomeUnknownError) || attempt >= 3) throw err
      const list = await guard.get(client, dir, { sorted: true, signal }).catch(() => undefined)
      const found = list?.node.nodes?.find((n) => n.value === value)
      if (found) {
        const keeper = new Keeper({ client, key: found.key, ttl, value, createdIndex: found.createdIndex, confirmedAt: firstSent })
        return { key: found.key, value, createdIndex: found.createdIndex, keeper }
      }
      if (signal.aborted) throw new RecipeAbortError('aborted')
    }
  }
}

// The machinery shared by every lock-like recipe (fair lock, semaphore, read-write lock, election)
// on both APIs: the held-key handle and acquisition by an ordered queue of keys in which each
// waiter watches only what a pluggable decision names (usually its predecessor). What a queue
// entry is (v2: an in-order TTL'd key; v3: `prefix/<lease hex>` on its own lease, as etcd's Go
// concurrency package writes it) and how it is kept alive is a QueueBackend's business.

import type { FencingToken } from './fencing.js'
import { Emitter, LockLostError, abortReason, combineSignals } from './internal.js'

/** Serialised form of a held lock/leadership, for `resume()` in a later invocation. */
export interface HandleJSON {
  v: 1
  /** Which API holds it (absent: v2, the only one of older versions). */
  api?: 'v2' | 'v3'
  kind: string
  key: string
  value: string
  ttl: number
  token: FencingToken
  /** Highest store index (v2) / revision (v3) the client had seen; a resumed handle never accepts older reads. */
  seen: number
  /** v3: the lease holding the key, lowercase hex (as in the key name). */
  lease?: string
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
 * `held`: kept alive recently enough that the server cannot have expired it;
 * `doubtful`: local time says it may have run out (e.g. the process was frozen) and no renewal has
 * confirmed it since; treat as not held until confirmed; `lost`: gone or unverifiable;
 * `released`: given up by its owner.
 */
export type HoldState = 'held' | 'doubtful' | 'lost' | 'released'

export interface HoldEvents extends Record<string, unknown[]> {
  /** The key is no longer ours (or could not be kept alive before its TTL ran out). */
  lost: [LockLostError]
  /** Timers ran late past the safety margin; a renewal is on its way to confirm. */
  doubtful: []
  /** A renewal confirmed the key after a doubtful period. */
  confirmed: []
}

/** The keepalive of one held key (v2: TTL refreshes of the key; v3: renewals of its lease). */
export interface Hold {
  /** Aborts (with a LockLostError) when the key stops being held. */
  readonly signal: AbortSignal
  readonly state: HoldState
  /** Asks the server now whether the key is still ours; marks it lost if not. */
  confirm(): Promise<boolean>
  /** Stops the keepalive (the owner gives the key up or hands it on). */
  stop(): void
  markLost(reason: string, cause?: unknown): void
  on<K extends keyof HoldEvents>(event: K, fn: (...args: HoldEvents[K]) => void): () => void
}

/** What a handle needs from its API: removing its key, and the API's part of the serialised form. */
export interface HandleOps {
  /** Deletes the held key only if it is still ours (value / create revision), and frees its lease. Best effort. */
  remove(key: string, value: string): Promise<void>
  /** Fields of {@link HandleJSON} only this API knows (api, seen, lease). */
  json(): Pick<HandleJSON, 'seen'> & Partial<HandleJSON>
  /**
   * Replaces the held key's value while it is still ours (election proclaim), keeping its TTL or
   * lease. @throws LockLostError when the key is no longer ours.
   */
  replace(key: string, old: string, next: string, ttl: number): Promise<void>
}

export interface HandleInit {
  key: string
  value: string
  ttl: number
  kind: string
  token: FencingToken
  hold: Hold
  ops: HandleOps
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
  protected readonly hold: Hold
  protected readonly ops: HandleOps
  private releasing: Promise<void> | undefined

  constructor(readonly client: object, init: HandleInit) {
    super()
    this.key = init.key
    this.ttl = init.ttl
    this.kind = init.kind
    this.token = init.token
    this.currentValue = init.value
    this.hold = init.hold
    this.ops = init.ops
    this.hold.on('lost', (e) => this.emit('lost', e))
    this.hold.on('doubtful', () => this.emit('doubtful'))
    this.hold.on('confirmed', () => this.emit('confirmed'))
  }

  /** The exact value stored in the key. */
  get value(): string {
    return this.currentValue
  }

  /** Aborts when the hold ends; the reason is a LockLostError. */
  get signal(): AbortSignal {
    return this.hold.signal
  }

  /** `held`, `doubtful` (timers ran late: re-check with {@link check}), `lost` or `released`. */
  get state(): HoldState {
    return this.hold.state
  }

  /** True only while the hold is certain (state `held`). */
  isHeld(): boolean {
    return this.hold.state === 'held'
  }

  /** Asks the server whether the key is still ours; marks it lost if not. */
  check(): Promise<boolean> {
    return this.hold.confirm()
  }

  /** Resolves if still held (re-checking with the server when doubtful). @throws LockLostError. */
  async assertHeld(): Promise<void> {
    if (this.hold.state === 'held') return
    if (this.hold.state === 'doubtful' && (await this.hold.confirm())) return
    throw new LockLostError(`${this.key} is not held (${this.hold.state})`)
  }

  /**
   * Stops the keepalive and deletes the key only if it is still ours (v2: compare-and-delete on
   * our own value; v3: a txn on our create revision, then the lease is revoked), so it can never
   * remove another holder's key. Idempotent; never throws for "already gone".
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
    return { v: 1, kind: this.kind, key: this.key, value: this.currentValue, ttl: this.ttl, token: this.token, ...this.ops.json() }
  }

  /**
   * Stops the keepalive WITHOUT deleting the key and returns {@link toJSON}: for handing the hold
   * to a later invocation (`resume`) that must pick it up before the TTL runs out. This handle is
   * unusable afterwards (state `released`, signal aborted).
   */
  detach(): HandleJSON {
    const json = this.toJSON()
    this.releasing ??= Promise.resolve()
    this.hold.stop()
    return json
  }

  /** For subclasses that change the stored value (election proclaim). */
  protected setValue(v: string): void {
    this.currentValue = v
    ;(this.hold as { setValue?(v: string): void }).setValue?.(v)
  }

  private async doRelease(): Promise<void> {
    this.hold.stop()
    await this.ops.remove(this.key, this.currentValue)
    this.emit('released')
  }
}

export interface AcquireOptions {
  /** Gives up waiting (RecipeAbortError or the signal's reason). */
  signal?: AbortSignal
  /** Gives up after this many ms (RecipeTimeoutError). */
  timeout?: number
}

export type HandleFactory = (init: HandleInit) => LockHandle

/** Maps errors after an aborted wait to the abort reason (timeout or the caller's signal). */
export function rethrow(err: unknown, signal: AbortSignal): never {
  if (signal.aborted) throw abortReason(signal)
  throw err
}

/** One entry of an acquisition queue: `rev` orders the queue (v2 createdIndex, v3 create revision). */
export interface QueueEntry {
  key: string
  rev: number
  value: string
}

/** Our own entry while it waits or holds. */
export interface QueueTicket {
  entry: QueueEntry
  hold: Hold
}

/** What a queued waiter does given the queue (oldest first) and its own position. */
export type QueueDecision = { hold: true } | { hold: false; watch: string } | { hold: false; watchDir: true }

/** The API-specific half of a queue: how entries are written, listed, watched and removed. */
export interface QueueBackend {
  /** Adds our entry at the back (kept alive while it waits and holds). */
  join(signal: AbortSignal): Promise<QueueTicket>
  /** The queue, oldest first, the revision it was read at, and the cluster id for tokens. */
  list(mine: QueueTicket, signal: AbortSignal): Promise<{ entries: QueueEntry[]; rev: number; clusterId: string }>
  /** Resolves when `key` is deleted (or, with undefined, any entry is), watching from `fromRev`. */
  waitGone(key: string | undefined, fromRev: number, signal: AbortSignal): Promise<void>
  /** Removes our entry (never another's) and stops its keepalive. Best effort. */
  leave(t: QueueTicket): Promise<void>
  /** The handle operations of a granted entry. */
  ops(t: QueueTicket): HandleOps
}

/**
 * Fair acquisition (Curator's lock internals, etcd's Go Mutex): join the queue, list it and ask
 * `decide`; a waiter watches only what `decide` names (its predecessor for a mutex, so a release
 * wakes one waiter), then lists again. An entry that vanished while waiting (frozen process,
 * expired lease) queues again at the back. `tryOnly` returns undefined instead of waiting.
 */
export async function acquireQueued(
  backend: QueueBackend, ttl: number, kind: string,
  decide: (queue: QueueEntry[], pos: number) => QueueDecision,
  opts: AcquireOptions & { tryOnly?: boolean }, make: HandleFactory,
): Promise<LockHandle | undefined> {
  const { signal, dispose } = combineSignals([opts.signal], opts.timeout)
  let mine: QueueTicket | undefined
  let handed = false
  try {
    for (;;) {
      if (mine?.hold.state === 'lost') { void backend.leave(mine); mine = undefined } // may still exist: don't queue behind it
      mine ??= await backend.join(signal)
      const ticket = mine
      const list = await backend.list(ticket, signal)
      const pos = list.entries.findIndex((e) => e.key === ticket.entry.key)
      if (pos < 0) {
        // Our entry expired while we waited (e.g. the process was frozen): queue again at the back.
        ticket.hold.markLost('queue entry vanished')
        continue
      }
      const d = decide(list.entries, pos)
      if (d.hold) {
        // Never hand out a hold we are not sure of (the process may have been frozen meanwhile).
        if (ticket.hold.state !== 'held' && !(await ticket.hold.confirm())) continue
        handed = true
        const e = ticket.entry
        return make({ key: e.key, value: e.value, ttl, kind, token: { clusterId: list.clusterId, index: e.rev }, hold: ticket.hold, ops: backend.ops(ticket) })
      }
      if (opts.tryOnly) return undefined
      const waitSig = combineSignals([signal, ticket.hold.signal])
      try {
        await backend.waitGone('watch' in d ? d.watch : undefined, list.rev + 1, waitSig.signal)
      } catch (err) {
        if (signal.aborted) throw err
        if (ticket.hold.state !== 'lost') throw err
        // Our entry was lost while waiting: loop and queue again.
      } finally {
        waitSig.dispose()
      }
    }
  } catch (err) {
    rethrow(err, signal)
  } finally {
    dispose()
    if (mine && !handed) await backend.leave(mine)
  }
}

/** The usual decision of a mutex / election: the first holds, every other watches its predecessor. */
export function firstHolds(queue: QueueEntry[], pos: number): QueueDecision {
  return pos === 0 ? { hold: true } : { hold: false, watch: queue[pos - 1]!.key }
}

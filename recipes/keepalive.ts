// Keeps one recipe-owned TTL key alive and decides, conservatively, whether it is still held.
// Refreshes at ttl/3 with refresh=true&prevExist=true&prevValue=<our value> and always resends the
// ttl (spec TTL-4/TTL-5: a refresh without prevExist would re-create the key, an update without
// ttl would make it permanent). Refreshes do not wake watchers. It never deletes or re-creates
// the key itself; the owner (lock, election, registration) decides what "lost" means.

import { CompareFailedError, KeyNotFoundError, type Client } from '../src/index.js'
import type { Hold, HoldEvents, HoldState } from './lock-core.js'
import { Emitter, LockLostError, combineSignals, decodeOwner, guardFor, now } from './internal.js'

export type { HoldState } from './lock-core.js'

export type KeeperEvents = HoldEvents

export interface KeeperOptions {
  client: Client
  key: string
  /** TTL in seconds, resent on every refresh. */
  ttl: number
  /** The value the key holds (our nonce inside); see {@link Keeper.setValue}. */
  value: string
  /** createdIndex of the key; a different one means the key was re-created by someone else. */
  createdIndex: number
  /** When the request that created or last refreshed the key was sent (ms, from `now()`). */
  confirmedAt: number
  /** Safety margin subtracted from the TTL, ms (default ttl/4, at least 250 ms). */
  marginMs?: number
}

/** The keepalive loop of one held key. */
export class Keeper extends Emitter<KeeperEvents> implements Hold {
  private readonly lostCtl = new AbortController()
  private readonly stopCtl = new AbortController()
  private timer: ReturnType<typeof setTimeout> | undefined
  private final: 'lost' | 'released' | undefined
  private lastSent: number
  private wasDoubtful = false
  private inFlight: Promise<boolean> | undefined
  private value: string
  readonly intervalMs: number
  readonly marginMs: number

  constructor(private readonly o: KeeperOptions) {
    super()
    this.lastSent = o.confirmedAt
    this.value = o.value
    this.intervalMs = Math.max(100, (o.ttl * 1000) / 3)
    this.marginMs = o.marginMs ?? Math.max(250, (o.ttl * 1000) / 4)
    this.schedule(this.intervalMs)
  }

  /** Aborts (with a LockLostError, or a 'released' reason) when the key stops being held. */
  get signal(): AbortSignal {
    return this.lostCtl.signal
  }

  /** Local deadline (ms, `now()` clock) until which the key is certainly still ours. */
  get validUntil(): number {
    return this.lastSent + this.o.ttl * 1000 - this.marginMs
  }

  get state(): HoldState {
    if (this.final) return this.final
    return now() > this.validUntil ? 'doubtful' : 'held'
  }

  /**
   * Refreshes now and reports whether the key is still ours. A successful refresh of a key that
   * still carries our nonce proves it never expired (nobody else can have held it meanwhile).
   */
  confirm(): Promise<boolean> {
    if (this.final) return Promise.resolve(false)
    this.inFlight ??= this.refreshOnce().finally(() => { this.inFlight = undefined })
    return this.inFlight
  }

  /** The owner changed the key's value (e.g. election proclaim); refresh against the new one. */
  setValue(v: string): void {
    this.value = v
  }

  /** Stops refreshing; the owner is giving the key up. */
  stop(): void {
    if (this.final) return
    this.final = 'released'
    this.clear()
    this.stopCtl.abort()
    this.lostCtl.abort(new LockLostError(`${this.o.key} was released`))
  }

  /** Marks the key lost (fires `signal` and the `lost` event once). */
  markLost(reason: string, cause?: unknown): void {
    if (this.final) return
    this.final = 'lost'
    this.clear()
    this.stopCtl.abort()
    const err = new LockLostError(`${this.o.key}: ${reason}`, cause)
    this.lostCtl.abort(err)
    this.emit('lost', err)
  }

  private clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  private schedule(ms: number): void {
    this.clear()
    if (this.final) return
    const t = setTimeout(() => { this.timer = undefined; void this.tick() }, ms)
    ;(t as { unref?: () => void }).unref?.()
    this.timer = t
  }

  private async tick(): Promise<void> {
    const ok = await this.confirm()
    if (this.final) return
    // After a failed attempt that did not lose the key yet (network trouble), retry soon.
    this.schedule(ok ? this.intervalMs : Math.min(250, this.intervalMs))
  }

  private async refreshOnce(): Promise<boolean> {
    if (now() > this.validUntil && !this.wasDoubtful) {
      this.wasDoubtful = true
      this.emit('doubtful')
    }
    const sent = now()
    // Never wait past the point where the lease may have run out: an answer after that is moot.
    const budget = Math.max(300, this.lastSent + this.o.ttl * 1000 - sent)
    const { signal, dispose } = combineSignals([this.stopCtl.signal], budget)
    const guard = guardFor(this.o.client)
    try {
      const res = await this.o.client.set(this.o.key, '', {
        refresh: true, prevExist: true, prevValue: this.value, ttl: this.o.ttl, signal,
      })
      guard.saw(res)
      if (this.final) return false
      if (res.node.createdIndex !== this.o.createdIndex) {
        this.markLost(`re-created by someone else (createdIndex ${res.node.createdIndex}, ours ${this.o.createdIndex})`)
        return false
      }
      this.lastSent = sent
      if (this.wasDoubtful) {
        this.wasDoubtful = false
        this.emit('confirmed')
      }
      return true
    } catch (err) {
      if (this.final) return false
      if (err instanceof KeyNotFoundError) {
        this.markLost('the key expired or was deleted', err)
        return false
      }
      if (err instanceof CompareFailedError) {
        // Our own value may have changed under the refresh (e.g. proclaim); re-check ownership.
        try {
          const cur = await guard.get(this.o.client, this.o.key, { signal })
          const mine = decodeOwner(this.value)?.nonce
          if (cur.node.createdIndex === this.o.createdIndex && decodeOwner(cur.node.value)?.nonce === mine) return false
        } catch (e2) {
          if (!(e2 instanceof KeyNotFoundError) && now() <= this.validUntil) return false
        }
        this.markLost('the key now belongs to someone else', err)
        return false
      }
      if (now() > this.lastSent + this.o.ttl * 1000 - this.marginMs) {
        this.markLost('could not refresh before the TTL ran out', err)
      }
      return false
    } finally {
      dispose()
    }
  }
}

// The part of a hold that does not depend on the API: renew every ttl/3, retry soon after a failed
// attempt, and judge conservatively from the local clock whether the TTL may have run out. A
// renewal counts from when its request was sent, never from when the answer came, and an answer
// arriving after the TTL may have expired is not awaited. Subclasses say how to renew (v2 TTL
// refresh, v3 lease keepalive) and which failures mean the hold is certainly gone.

import type { Hold, HoldEvents, HoldState } from './lock-core.js'
import { Emitter, LockLostError, combineSignals, now } from './internal.js'

export interface TtlHoldTiming {
  /** TTL in seconds. */
  ttl: number
  /** When the request that created or last renewed the hold was sent (ms, `now()` clock). */
  confirmedAt: number
  /** Safety margin subtracted from the TTL, ms (default ttl/4, at least 250 ms). */
  marginMs?: number
}

export abstract class TtlHold extends Emitter<HoldEvents> implements Hold {
  private readonly lostCtl = new AbortController()
  private readonly stopCtl = new AbortController()
  private timer: ReturnType<typeof setTimeout> | undefined
  private final: 'lost' | 'released' | undefined
  private lastSent: number
  private wasDoubtful = false
  private inFlight: Promise<boolean> | undefined
  private readonly ttlMs: number
  readonly intervalMs: number
  readonly marginMs: number

  /**
   * @param label names the hold in LockLostError messages
   * @param expiredReason why the hold is lost when no renewal succeeded within the TTL
   */
  constructor(t: TtlHoldTiming, private readonly label: string, private readonly expiredReason: string) {
    super()
    this.ttlMs = t.ttl * 1000
    this.lastSent = t.confirmedAt
    this.intervalMs = Math.max(100, this.ttlMs / 3)
    this.marginMs = t.marginMs ?? Math.max(250, this.ttlMs / 4)
    // The first renewal runs from a timer, after the subclass has finished constructing.
    this.schedule(this.intervalMs)
  }

  /**
   * Sends one renewal; resolves true when the hold is confirmed ours, false when it is not (after
   * calling markLost). Throws what the request threw; {@link lostBy} sorts that out.
   */
  protected abstract renew(signal: AbortSignal, budgetMs: number): Promise<boolean>

  /**
   * A renewal failed with `err`: returns true when that settles the attempt (the subclass marked
   * the hold lost, or knows it is still ours), false to fall back on the TTL deadline.
   */
  protected abstract lostBy(err: unknown, signal: AbortSignal): Promise<boolean>

  /** Aborts (with a LockLostError) when the hold is lost or released. */
  get signal(): AbortSignal {
    return this.lostCtl.signal
  }

  /** Local deadline (ms, `now()` clock) until which the hold is certainly still ours. */
  get validUntil(): number {
    return this.lastSent + this.ttlMs - this.marginMs
  }

  get state(): HoldState {
    if (this.final) return this.final
    return now() > this.validUntil ? 'doubtful' : 'held'
  }

  /** Renews now and reports whether the hold is still ours. */
  confirm(): Promise<boolean> {
    if (this.final) return Promise.resolve(false)
    this.inFlight ??= this.attempt().finally(() => { this.inFlight = undefined })
    return this.inFlight
  }

  /** Stops renewing; the owner is giving the hold up. */
  stop(): void {
    if (this.final) return
    this.final = 'released'
    this.clear()
    this.stopCtl.abort()
    this.lostCtl.abort(new LockLostError(`${this.label} was released`))
  }

  /** Marks the hold lost (fires `signal` and the `lost` event once). */
  markLost(reason: string, cause?: unknown): void {
    if (this.final) return
    this.final = 'lost'
    this.clear()
    this.stopCtl.abort()
    const err = new LockLostError(`${this.label}: ${reason}`, cause)
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
    // After a failed attempt that did not lose the hold yet (network trouble), retry soon.
    this.schedule(ok ? this.intervalMs : Math.min(250, this.intervalMs))
  }

  private async attempt(): Promise<boolean> {
    if (now() > this.validUntil && !this.wasDoubtful) {
      this.wasDoubtful = true
      this.emit('doubtful')
    }
    const sent = now()
    // Never wait past the point where the TTL may have run out: an answer after that is moot.
    const budget = Math.max(300, this.lastSent + this.ttlMs - sent)
    const { signal, dispose } = combineSignals([this.stopCtl.signal], budget)
    try {
      const ours = await this.renew(signal, budget)
      if (this.final || !ours) return false
      this.lastSent = sent
      if (this.wasDoubtful) {
        this.wasDoubtful = false
        this.emit('confirmed')
      }
      return true
    } catch (err) {
      if (this.final) return false
      if (await this.lostBy(err, signal)) return false
      if (now() > this.validUntil) this.markLost(this.expiredReason, err)
      return false
    } finally {
      dispose()
    }
  }
}

// Keeps one v3 lease (a "session" in etcd's Go concurrency package) alive every ttl/3 and decides,
// conservatively, whether the key attached to it is still held: the lease was renewed recently
// enough that it cannot have expired, and the key still exists with the create revision it had
// when we wrote it (someone may have deleted it, e.g. `etcdctl del`). Never re-creates anything;
// the owner (lock, election, registration) decides what "lost" means.

import { LeaseNotFoundError, type ClientV3 } from '../../src/index.js'
import type { Hold, HoldEvents, HoldState } from '../lock-core.js'
import { Emitter, LockLostError, combineSignals, now } from '../internal.js'

export interface LeaseHoldOptions {
  client: ClientV3
  lease: bigint
  ttl: number
  /** The key attached to the lease, and its create revision (undefined: only the lease counts). */
  key?: string
  createRevision?: bigint
  /** When the request that granted or last renewed the lease was sent (ms, `now()` clock). */
  confirmedAt: number
  /** Safety margin subtracted from the TTL, ms (default ttl/4, at least 250 ms). */
  marginMs?: number
}

export class LeaseHold extends Emitter<HoldEvents> implements Hold {
  private readonly lostCtl = new AbortController()
  private readonly stopCtl = new AbortController()
  private timer: ReturnType<typeof setTimeout> | undefined
  private final: 'lost' | 'released' | undefined
  private lastSent: number
  private wasDoubtful = false
  private inFlight: Promise<boolean> | undefined
  readonly intervalMs: number
  readonly marginMs: number

  constructor(private readonly o: LeaseHoldOptions) {
    super()
    this.lastSent = o.confirmedAt
    this.intervalMs = Math.max(100, (o.ttl * 1000) / 3)
    this.marginMs = o.marginMs ?? Math.max(250, (o.ttl * 1000) / 4)
    this.schedule(this.intervalMs)
  }

  get lease(): bigint {
    return this.o.lease
  }

  get signal(): AbortSignal {
    return this.lostCtl.signal
  }

  /** Local deadline (ms, `now()` clock) until which the lease is certainly alive. */
  get validUntil(): number {
    return this.lastSent + this.o.ttl * 1000 - this.marginMs
  }

  get state(): HoldState {
    if (this.final) return this.final
    return now() > this.validUntil ? 'doubtful' : 'held'
  }

  /** Renews the lease now and checks the key; reports whether both are still ours. */
  confirm(): Promise<boolean> {
    if (this.final) return Promise.resolve(false)
    this.inFlight ??= this.renewOnce().finally(() => { this.inFlight = undefined })
    return this.inFlight
  }

  stop(): void {
    if (this.final) return
    this.final = 'released'
    this.clear()
    this.stopCtl.abort()
    this.lostCtl.abort(new LockLostError(`${this.o.key ?? `lease ${this.o.lease.toString(16)}`} was released`))
  }

  markLost(reason: string, cause?: unknown): void {
    if (this.final) return
    this.final = 'lost'
    this.clear()
    this.stopCtl.abort()
    const err = new LockLostError(`${this.o.key ?? `lease ${this.o.lease.toString(16)}`}: ${reason}`, cause)
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
    // After a failed attempt that did not lose the lease yet (network trouble), retry soon.
    this.schedule(ok ? this.intervalMs : Math.min(250, this.intervalMs))
  }

  private async renewOnce(): Promise<boolean> {
    if (now() > this.validUntil && !this.wasDoubtful) {
      this.wasDoubtful = true
      this.emit('doubtful')
    }
    const sent = now()
    // Never wait past the point where the lease may have run out: an answer after that is moot.
    const budget = Math.max(300, this.lastSent + this.o.ttl * 1000 - sent)
    const { signal, dispose } = combineSignals([this.stopCtl.signal], budget)
    const { client, key } = this.o
    try {
      const [, kv] = await Promise.all([
        client.keepAliveOnce(this.o.lease, { signal, timeout: budget }),
        key === undefined ? undefined : client.get(key, { signal, timeout: budget, keysOnly: true }),
      ])
      if (this.final) return false
      if (key !== undefined && (kv === undefined || kv.createRevision !== this.o.createRevision || kv.lease !== this.o.lease)) {
        this.markLost('the key was deleted or re-created by someone else')
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
      if (err instanceof LeaseNotFoundError) {
        this.markLost('the lease expired or was revoked', err)
        return false
      }
      if (now() > this.lastSent + this.o.ttl * 1000 - this.marginMs) {
        this.markLost('could not renew the lease before its TTL ran out', err)
      }
      return false
    } finally {
      dispose()
    }
  }
}

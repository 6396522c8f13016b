// Keeps one recipe-owned TTL key alive and decides, conservatively, whether it is still held.
// Refreshes at ttl/3 with refresh=true&prevExist=true&prevValue=<our value> and always resends the
// ttl (spec TTL-4/TTL-5: a refresh without prevExist would re-create the key, an update without
// ttl would make it permanent). Refreshes do not wake watchers. It never deletes or re-creates
// the key itself; the owner (lock, election, registration) decides what "lost" means.

import { CompareFailedError, KeyNotFoundError, type Client } from '../src/index.js'
import type { HoldEvents } from './lock-core.js'
import { decodeOwner, guardFor, now } from './internal.js'
import { TtlHold, type TtlHoldTiming } from './ttl-hold.js'

export type { HoldState } from './lock-core.js'

export type KeeperEvents = HoldEvents

export interface KeeperOptions extends TtlHoldTiming {
  client: Client
  key: string
  /** TTL in seconds, resent on every refresh. */
  ttl: number
  /** The value the key holds (our nonce inside); see {@link Keeper.setValue}. */
  value: string
  /** createdIndex of the key; a different one means the key was re-created by someone else. */
  createdIndex: number
}

/** The keepalive loop of one held key. */
export class Keeper extends TtlHold {
  private value: string

  constructor(private readonly o: KeeperOptions) {
    super(o, o.key, 'could not refresh before the TTL ran out')
    this.value = o.value
  }

  /** The owner changed the key's value (e.g. election proclaim); refresh against the new one. */
  setValue(v: string): void {
    this.value = v
  }

  // A successful refresh of a key that still carries our nonce proves it never expired (nobody
  // else can have held it meanwhile).
  protected async renew(signal: AbortSignal): Promise<boolean> {
    const res = await this.o.client.set(this.o.key, '', {
      refresh: true, prevExist: true, prevValue: this.value, ttl: this.o.ttl, signal,
    })
    guardFor(this.o.client).saw(res)
    if (res.node.createdIndex !== this.o.createdIndex) {
      this.markLost(`re-created by someone else (createdIndex ${res.node.createdIndex}, ours ${this.o.createdIndex})`)
      return false
    }
    return true
  }

  protected async lostBy(err: unknown, signal: AbortSignal): Promise<boolean> {
    if (err instanceof KeyNotFoundError) {
      this.markLost('the key expired or was deleted', err)
      return true
    }
    if (!(err instanceof CompareFailedError)) return false
    // Our own value may have changed under the refresh (e.g. proclaim); re-check ownership.
    try {
      const cur = await guardFor(this.o.client).get(this.o.client, this.o.key, { signal })
      const mine = decodeOwner(this.value)?.nonce
      if (cur.node.createdIndex === this.o.createdIndex && decodeOwner(cur.node.value)?.nonce === mine) return true
    } catch (e2) {
      if (!(e2 instanceof KeyNotFoundError) && now() <= this.validUntil) return true
    }
    this.markLost('the key now belongs to someone else', err)
    return true
  }
}

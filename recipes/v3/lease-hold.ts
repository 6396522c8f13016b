// Keeps one v3 lease (a "session" in etcd's Go concurrency package) alive every ttl/3 and decides,
// conservatively, whether the key attached to it is still held: the lease was renewed recently
// enough that it cannot have expired, and the key still exists with the create revision it had
// when we wrote it (someone may have deleted it, e.g. `etcdctl del`). Never re-creates anything;
// the owner (lock, election, registration) decides what "lost" means.

import { LeaseNotFoundError, type ClientV3 } from '../../src/index.js'
import { TtlHold, type TtlHoldTiming } from '../ttl-hold.js'

export interface LeaseHoldOptions extends TtlHoldTiming {
  client: ClientV3
  lease: bigint
  /** The key attached to the lease, and its create revision (undefined: only the lease counts). */
  key?: string
  createRevision?: bigint
}

export class LeaseHold extends TtlHold {
  constructor(private readonly o: LeaseHoldOptions) {
    super(o, o.key ?? `lease ${o.lease.toString(16)}`, 'could not renew the lease before its TTL ran out')
  }

  get lease(): bigint {
    return this.o.lease
  }

  protected async renew(signal: AbortSignal, budget: number): Promise<boolean> {
    const { client, key } = this.o
    const [, kv] = await Promise.all([
      client.keepAliveOnce(this.o.lease, { signal, timeout: budget }),
      key === undefined ? undefined : client.get(key, { signal, timeout: budget, keysOnly: true }),
    ])
    if (key !== undefined && (kv === undefined || kv.createRevision !== this.o.createRevision || kv.lease !== this.o.lease)) {
      this.markLost('the key was deleted or re-created by someone else')
      return false
    }
    return true
  }

  protected async lostBy(err: unknown): Promise<boolean> {
    if (!(err instanceof LeaseNotFoundError)) return false
    this.markLost('the lease expired or was revoked', err)
    return true
  }
}

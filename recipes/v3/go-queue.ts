// The v3 half of the lock-like recipes, in the layout and algorithm of etcd's Go package
// client/v3/concurrency (Mutex, Election, Session), so that Go programs, `etcdctl lock` /
// `etcdctl elect` and these recipes exclude each other on the same name:
//   - a session is a lease kept alive every ttl/3 (here: one lease per acquisition);
//   - the candidate key is `name + "/" + <lease id in lowercase hex>`, attached to the lease,
//     written by a txn "if create_revision(key) == 0 then put(key, value, lease) else get(key)";
//   - the holder is the key with the lowest create revision under `name/`; every other waiter
//     watches the deletion of the key with the greatest create revision below its own, then looks
//     again (Go's waitDeletes);
//   - the create revision is the fencing token; release revokes the lease, which deletes the key.

import { LeaseNotFoundError, OutcomeUnknownError, leaseIdHex, type ClientV3, type KeyValue, type RangeResponse } from '../../src/index.js'
import { hexId, revNumber } from '../api.js'
import {
  LockHandle, type HandleFactory, type HandleJSON, type HandleOps, type QueueBackend, type QueueEntry, type QueueTicket,
} from '../lock-core.js'
import { LockLostError, abortReason, now } from '../internal.js'
import { LeaseHold } from './lease-hold.js'

/** Highest revision each v3 client has seen (serialised with handles, like v2's index guard). */
const seenRevs = new WeakMap<ClientV3, bigint>()
export function sawRev(client: ClientV3, rev: bigint): void {
  if (rev > (seenRevs.get(client) ?? 0n)) seenRevs.set(client, rev)
}

/** A Go-layout queue under `name/` whose entries hold `value`. */
export class GoQueue implements QueueBackend {
  private readonly pfx: string

  constructor(private readonly client: ClientV3, name: string, private readonly ttl: number, private readonly value: string) {
    this.pfx = name + '/'
  }

  /** The queue as the join txn read it (Go reads the owner in the same txn): the first list() uses it. */
  private joined: Listing | undefined

  async join(signal: AbortSignal): Promise<QueueTicket> {
    const sent = now()
    const grant = await this.client.grantLease(this.ttl, { signal })
    const key = this.pfx + leaseIdHex(grant.id)
    try {
      const { kv, queue } = await writeCandidate(this.client, key, this.pfx, this.value, grant.id, signal)
      this.joined = queue
      const hold = new LeaseHold({ client: this.client, lease: grant.id, ttl: this.ttl, key, createRevision: kv.createRevision, confirmedAt: sent })
      return { entry: { key, rev: revNumber(kv.createRevision), value: kv.valueString }, hold, lease: grant.id } as V3Ticket
    } catch (err) {
      // Nothing may outlive a failed join: the revoke deletes the key if it was written.
      await this.client.revokeLease(grant.id).catch(() => {})
      throw err
    }
  }

  async list(_mine: QueueTicket, signal: AbortSignal): Promise<Listing> {
    const first = this.joined
    this.joined = undefined
    if (first) return first
    const res = await this.client.range(this.pfx, { prefix: true, sortOrder: 'ascend', sortTarget: 'create', signal })
    sawRev(this.client, res.header.revision)
    return listing(res)
  }

  async waitGone(key: string | undefined, fromRev: number, signal: AbortSignal): Promise<void> {
    const w = this.client.watch(key ?? this.pfx, { prefix: key === undefined, startRevision: fromRev, filters: ['noPut'], signal })
    try {
      for await (const ev of w) {
        if (ev.type === 'progress') continue
        if (ev.type === 'resync') {
          // History was compacted: decide on the current state (gone, or anything changed).
          if (key === undefined || ev.kvs.length === 0) return
          continue
        }
        sawRev(this.client, ev.revision)
        if (ev.type === 'delete') return
      }
    } finally {
      w.close()
    }
    if (signal.aborted) throw abortReason(signal)
  }

  async leave(t: QueueTicket): Promise<void> {
    t.hold.stop()
    await removeCandidate(this.client, t.entry.key, BigInt(t.entry.rev), (t as V3Ticket).lease)
  }

  ops(t: QueueTicket): HandleOps {
    return goOps(this.client, BigInt(t.entry.rev), (t as V3Ticket).lease)
  }
}

interface V3Ticket extends QueueTicket {
  lease: bigint
}

type Listing = { entries: QueueEntry[]; rev: number; clusterId: string }

function listing(res: RangeResponse): Listing {
  const entries = res.kvs.map((kv: KeyValue) => ({ key: kv.keyString, rev: revNumber(kv.createRevision), value: kv.valueString }))
  return { entries, rev: revNumber(res.header.revision), clusterId: hexId(res.header.clusterId) }
}

/**
 * Go's candidate txn: put the key on the lease if it does not exist, else read it; in the same txn
 * read the queue (Go reads the owner there). Retried after a lost answer (the compare makes a
 * second attempt harmless: it then reads what the first wrote).
 */
async function writeCandidate(client: ClientV3, key: string, pfx: string, value: string, lease: bigint, signal: AbortSignal): Promise<{ kv: KeyValue; queue: Listing }> {
  const reads = [{ range: { key } }, { range: { key: pfx, prefix: true, sortOrder: 'ascend' as const, sortTarget: 'create' as const } }]
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await client.txn({
        compare: [{ key, target: 'create', op: '==', createRevision: 0 }],
        success: [{ put: { key, value, lease } }, ...reads],
        failure: reads,
      }, { signal })
      sawRev(client, res.header.revision)
      const [mine, all] = res.responses.slice(-2)
      const kv = mine?.type === 'range' ? mine.range.kvs[0] : undefined
      if (!kv || all?.type !== 'range') throw new LockLostError(`${key}: the candidate key vanished at once (lease expired?)`)
      return { kv, queue: listing({ ...all.range, header: res.header }) }
    } catch (err) {
      if (!(err instanceof OutcomeUnknownError) || attempt >= 3 || signal.aborted) throw err
    }
  }
}

/**
 * Removes our key: revoking its lease deletes it (the key was written on that lease and never
 * moved to another, so this can only delete our own key), one request where Go's Unlock + session
 * close take two. If the revoke fails, a txn deletes the key while it still has our create
 * revision; failing that too, the lease expires within its TTL. Best effort.
 */
async function removeCandidate(client: ClientV3, key: string, createRevision: bigint, lease: bigint): Promise<void> {
  try {
    await client.revokeLease(lease)
  } catch (err) {
    if (err instanceof LeaseNotFoundError) return // expired already: the key went with it
    await client.txn({ compare: [{ key, target: 'create', op: '==', createRevision }], success: [{ delete: { key } }] }).catch(() => {})
  }
}

/** Handle operations of a Go-layout key. */
export function goOps(client: ClientV3, createRevision: bigint, lease: bigint): HandleOps {
  return {
    remove: (key) => removeCandidate(client, key, createRevision, lease),
    json: () => ({ api: 'v3', seen: revNumber(seenRevs.get(client) ?? 0n), lease: leaseIdHex(lease) }),
    // Go's Election.Proclaim: put the new value on the same lease while the key is still ours.
    replace: async (key, _old, next) => {
      for (let attempt = 0; ; attempt++) {
        try {
          const res = await client.txn({ compare: [{ key, target: 'create', op: '==', createRevision }], success: [{ put: { key, value: next, lease } }] })
          sawRev(client, res.header.revision)
          if (!res.succeeded) throw new LockLostError(`${key}: no longer held (the key is gone)`)
          return
        } catch (err) {
          if (!(err instanceof OutcomeUnknownError) || attempt >= 3) throw err
          // The same put again is harmless: it compares the create revision again.
        }
      }
    },
  }
}

/**
 * Rebuilds a v3 handle from {@link LockHandle.toJSON}: renews its lease and checks its key. Must
 * happen within the TTL of the last renewal. @throws LockLostError.
 */
export async function resumeV3(client: ClientV3, json: HandleJSON, make: HandleFactory = (i) => new LockHandle(client, i)): Promise<LockHandle> {
  if (json?.v !== 1 || json.api !== 'v3' || typeof json.key !== 'string' || typeof json.lease !== 'string') {
    throw new LockLostError('not a serialised v3 lock handle')
  }
  const lease = BigInt('0x' + json.lease)
  const createRevision = BigInt(json.token.index)
  const sent = now()
  const hold = new LeaseHold({ client, lease, ttl: json.ttl, key: json.key, createRevision, confirmedAt: sent - json.ttl * 1000 })
  if (!(await hold.confirm())) {
    hold.stop()
    throw new LockLostError(`${json.key} is no longer held`)
  }
  return make({ key: json.key, value: json.value, ttl: json.ttl, kind: json.kind, token: json.token, hold, ops: goOps(client, createRevision, lease) })
}

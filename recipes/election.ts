// Leader election on either API. Candidates queue fairly on the lock core: the lowest created
// index / create revision leads, each candidate watches only its predecessor, and a crashed
// leader's key goes within its TTL, then the next candidate takes over. The leader key's created
// index / create revision is the term: it identifies one reign and works as a fencing token.
// v2: in-order TTL'd keys kept alive with refreshes (no watch noise). v3: etcd's Go Election
// layout (`name/<lease hex>`, the value is the proposal), so `etcdctl elect` and Go programs
// campaign in the same election. No Node built-ins.

import { KeyNotFoundError, type Client, type ClientV3, type KeyValue, type Node } from '../src/index.js'
import { hexId, isV3, revNumber, type AnyClient } from './api.js'
import type { FencingToken } from './fencing.js'
import { LockHandle, acquireQueued, firstHolds, type AcquireOptions, type HandleInit, type HandleJSON } from './lock-core.js'
import { V2Queue, resumeV2 } from './lock-v2.js'
import { GoQueue, resumeV3, sawRev } from './v3/go-queue.js'
import { Emitter, LockLostError, checkTtl, decodeOwner, encodeOwner, guardFor, type OwnerValue } from './internal.js'

export interface ElectionOptions {
  /** Seconds a silent leader keeps the lead (default 10); a crashed leader is replaced within it. */
  ttl?: number
  /** Label stored with the candidacy, for humans (v2 only: on v3 the key holds the proposal alone, as in Go). */
  owner?: string
}

/** The current leader as every observer sees it. */
export interface LeaderInfo {
  /** The leader's candidacy key. */
  key: string
  /** createdIndex of that key: one number per reign, larger for later reigns. */
  term: number
  token: FencingToken
  /** The value the leader campaigned with or last proclaimed. */
  value: unknown
  owner?: string
}

export interface ElectionEvents extends Record<string, unknown[]> {
  /** This instance became leader. */
  elected: [Leadership]
  /** The observed leader changed (emitted while an {@link Election.observe} iterator runs). */
  leader: [LeaderInfo | undefined]
  /** This instance's leadership ended without resign() (expired, deleted, unverifiable). */
  lost: [LockLostError]
}

/** How an API stores a candidate's value in its key. */
export interface ElectionCodec {
  encode(data: unknown, old: string): string
  decode(value: string): unknown
}

/** v2: the value is our owner JSON (nonce, owner label) with the data inside. */
const v2Codec: ElectionCodec = {
  encode: (data, old) => encodeOwner({ ...(decodeOwner(old) as OwnerValue), data }),
  decode: (value) => decodeOwner(value)?.data,
}

/**
 * v3: the value is the proposal itself, as Go and `etcdctl elect` write it: a string as is,
 * anything else as JSON. Reading parses JSON and falls back to the text (so a string that is
 * valid JSON, like "42", reads back parsed); an empty value reads as null.
 */
const v3Codec: ElectionCodec = {
  encode: (data) => (typeof data === 'string' ? data : data === undefined || data === null ? '' : JSON.stringify(data)),
  decode: (value) => {
    if (value === '') return null
    try { return JSON.parse(value) as unknown } catch { return value }
  },
}

/** A held leadership: a lock handle plus the term and proclaim(). */
export class Leadership extends LockHandle {
  /** The reign's number (the candidacy key's createdIndex). */
  get term(): number {
    return this.token.index
  }

  constructor(client: object, init: HandleInit, private readonly codec: ElectionCodec) {
    super(client, init)
  }

  /** The value currently published by this leader. */
  get data(): unknown {
    return this.codec.decode(this.value)
  }

  /**
   * Publishes a new value while leading (observers see it), keeping the TTL / lease.
   * @throws LockLostError if no longer leading.
   */
  async proclaim(value: unknown): Promise<void> {
    if (this.state === 'lost' || this.state === 'released') throw new LockLostError(`${this.key}: not leading (${this.state})`)
    const next = this.codec.encode(value, this.value)
    try {
      await this.ops.replace(this.key, this.value, next, this.ttl)
    } catch (err) {
      if (err instanceof LockLostError) await this.check()
      throw err
    }
    this.setValue(next)
  }

  /** Gives up the lead (compare-and-delete); the next candidate takes over at once. */
  resign(): Promise<void> {
    return this.release()
  }
}

/**
 * One election, identified by its key (v2: a directory of candidacies; v3: the prefix `key/`).
 *
 * ```ts
 * const e = new Election(client, '/elections/scheduler', { ttl: 5 })   // a v2 Client or a ClientV3
 * const lead = await e.campaign({ url: myUrl })      // resolves when leading
 * lead.signal.addEventListener('abort', stopWork)     // lost or resigned
 * for await (const l of e.observe()) console.log('leader is', l?.value)
 * ```
 */
export class Election extends Emitter<ElectionEvents> {
  readonly ttl: number
  private current: Leadership | undefined

  constructor(readonly client: AnyClient, readonly key: string, private readonly opts: ElectionOptions = {}) {
    super()
    this.ttl = checkTtl(opts.ttl ?? 10)
  }

  /** This instance's leadership, if it holds one right now. */
  get leadership(): Leadership | undefined {
    return this.current && (this.current.state === 'held' || this.current.state === 'doubtful') ? this.current : undefined
  }

  /**
   * Joins the election and resolves when this candidate leads. Candidates are served in arrival
   * order. @throws RecipeTimeoutError / RecipeAbortError (the candidacy is withdrawn).
   */
  async campaign(value?: unknown, opts: AcquireOptions = {}): Promise<Leadership> {
    const client = this.client
    let lead: Leadership
    if (isV3(client)) {
      lead = (await acquireQueued(new GoQueue(client, this.key, this.ttl, v3Codec.encode(value, '')), this.ttl, 'leader', firstHolds, opts,
        (init) => new Leadership(client, init, v3Codec))) as Leadership
    } else {
      const fields = { ...(this.opts.owner === undefined ? {} : { owner: this.opts.owner }), data: value ?? null }
      lead = (await acquireQueued(new V2Queue(client, this.key, this.ttl, fields), this.ttl, 'leader', firstHolds, opts,
        (init) => new Leadership(client, init, v2Codec))) as Leadership
    }
    this.adopt(lead)
    return lead
  }

  /** Resigns this instance's leadership, if any. */
  async resign(): Promise<void> {
    await this.current?.resign()
  }

  /** The current leader (quorum read), or undefined when nobody leads. */
  async leader(opts: { signal?: AbortSignal } = {}): Promise<LeaderInfo | undefined> {
    const client = this.client
    if (isV3(client)) {
      const res = await client.range(this.key + '/', { prefix: true, sortOrder: 'ascend', sortTarget: 'create', limit: 1, signal: opts.signal })
      return leaderOfV3(res.kvs, hexId(res.header.clusterId))
    }
    try {
      const res = await guardFor(client).get(client, this.key, { sorted: true, signal: opts.signal })
      return leaderOf(res.node.nodes ?? [], res.clusterId)
    } catch (err) {
      if (err instanceof KeyNotFoundError) return undefined
      throw err
    }
  }

  /**
   * Leader changes as an async iterable: first the current leader, then every change (new reign,
   * proclaimed value, no leader). Kept current by a watch of the candidacies that resumes without
   * gaps and re-reads after history loss. Also emits `leader` events. Ends when `signal` aborts
   * or the loop breaks.
   */
  async *observe(opts: { signal?: AbortSignal } = {}): AsyncGenerator<LeaderInfo | undefined, void, undefined> {
    const client = this.client
    const states = isV3(client) ? statesV3(client, this.key, opts.signal) : statesV2(client, this.key, opts.signal)
    const signature = (l: LeaderInfo | undefined): string => (l ? `${l.key}\n${JSON.stringify(l.value)}` : '')
    let last: string | undefined
    for await (const cur of states) {
      const sig = signature(cur)
      if (sig === last) continue // the first state always passes
      last = sig
      this.emit('leader', cur)
      yield cur
    }
  }

  /** Picks up a serialised leadership (`lead.toJSON()`) in a later invocation. @throws LockLostError. */
  async resume(json: HandleJSON): Promise<Leadership> {
    const client = this.client
    const lead = (isV3(client)
      ? await resumeV3(client, json, (init) => new Leadership(client, init, v3Codec))
      : await resumeV2(client, json, (init) => new Leadership(client, init, v2Codec))) as Leadership
    this.adopt(lead)
    return lead
  }

  private adopt(lead: Leadership): void {
    this.current = lead
    lead.on('lost', (e) => this.emit('lost', e))
    this.emit('elected', lead)
  }
}

/** v2: the leader after the listing and after every event of a recursive watch of the directory. */
async function* statesV2(client: Client, key: string, signal?: AbortSignal): AsyncGenerator<LeaderInfo | undefined> {
  const guard = guardFor(client)
  const members = new Map<string, Node>()
  let clusterId = ''
  let from: number
  try {
    const res = await guard.get(client, key, { sorted: true, signal })
    clusterId = res.clusterId
    for (const n of res.node.nodes ?? []) if (!n.dir) members.set(n.key, n)
    from = res.etcdIndex + 1
  } catch (err) {
    if (!(err instanceof KeyNotFoundError)) throw err
    from = err.index + 1
  }
  yield leaderOf([...members.values()], clusterId)
  const w = client.watch(key, { recursive: true, waitIndex: from, signal })
  try {
    for await (const ev of w) {
      if (ev.type === 'resync') {
        members.clear()
        for (const n of ev.node?.nodes ?? []) if (!n.dir) members.set(n.key, n)
      } else {
        guard.see(ev.index)
        const gone = ev.action === 'delete' || ev.action === 'expire' || ev.action === 'compareAndDelete'
        if (ev.node.key === trimKey(key)) { if (gone) members.clear() }
        else if (gone) members.delete(ev.node.key)
        else if (!ev.node.dir) members.set(ev.node.key, ev.node)
      }
      yield leaderOf([...members.values()], clusterId)
    }
  } finally {
    w.close()
  }
}

/** v3: the leader after the listing of `key/` and after every event of a prefix watch (Go's Observe sees the same). */
async function* statesV3(client: ClientV3, key: string, signal?: AbortSignal): AsyncGenerator<LeaderInfo | undefined> {
  const pfx = key + '/'
  const res = await client.range(pfx, { prefix: true, sortOrder: 'ascend', sortTarget: 'create', signal })
  sawRev(client, res.header.revision)
  const clusterId = hexId(res.header.clusterId)
  const members = new Map<string, KeyValue>()
  for (const kv of res.kvs) members.set(kv.keyString, kv)
  yield leaderOfV3([...members.values()], clusterId)
  const w = client.watch(pfx, { prefix: true, startRevision: res.header.revision + 1n, signal })
  try {
    for await (const ev of w) {
      if (ev.type === 'progress') continue
      if (ev.type === 'resync') {
        members.clear()
        for (const kv of ev.kvs) members.set(kv.keyString, kv)
      } else if (ev.type === 'delete') {
        members.delete(ev.kv.keyString)
      } else {
        members.set(ev.kv.keyString, ev.kv)
      }
      yield leaderOfV3([...members.values()], clusterId)
    }
  } finally {
    w.close()
  }
}

function trimKey(k: string): string {
  return '/' + k.replace(/^\/+|\/+$/g, '')
}

function leaderOf(nodes: Node[], clusterId: string): LeaderInfo | undefined {
  let best: Node | undefined
  for (const n of nodes) if (!n.dir && (!best || n.createdIndex < best.createdIndex)) best = n
  if (!best) return undefined
  const v = decodeOwner(best.value)
  const owner = typeof v?.owner === 'string' ? v.owner : undefined
  return { key: best.key, term: best.createdIndex, token: { clusterId, index: best.createdIndex }, value: v?.data, ...(owner === undefined ? {} : { owner }) }
}

function leaderOfV3(kvs: KeyValue[], clusterId: string): LeaderInfo | undefined {
  let best: KeyValue | undefined
  for (const kv of kvs) if (!best || kv.createRevision < best.createRevision) best = kv
  if (!best) return undefined
  const term = revNumber(best.createRevision)
  return { key: best.keyString, term, token: { clusterId, index: term }, value: v3Codec.decode(best.valueString) }
}

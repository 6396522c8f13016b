// Leader election over the etcd v2 API. Candidates queue fairly as in-order TTL'd keys under the
// election key; the lowest createdIndex leads, each candidate watches only its predecessor, and
// the leader keeps its key alive with TTL refreshes (no watch noise). A crashed leader's key
// expires within its TTL and the next candidate takes over. The leader's key createdIndex is the
// term: it identifies one reign and works as a fencing token. No Node built-ins.

import { KeyNotFoundError, type Client, type Node } from '../src/index.js'
import type { FencingToken } from './fencing.js'
import { LockHandle, acquireQueued, firstHolds, type AcquireOptions, type HandleInit, type HandleJSON } from './lock-core.js'
import { V2Queue, resumeV2 } from './lock-v2.js'
import { Emitter, LockLostError, checkTtl, decodeOwner, encodeOwner, guardFor, type OwnerValue } from './internal.js'

export interface ElectionOptions {
  /** Seconds a silent leader keeps the lead (default 10); a crashed leader is replaced within it. */
  ttl?: number
  /** Label stored with the candidacy, for humans. */
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
 * One election, identified by its key (a directory of candidacies).
 *
 * ```ts
 * const e = new Election(client, '/elections/scheduler', { ttl: 5 })
 * const lead = await e.campaign({ url: myUrl })      // resolves when leading
 * lead.signal.addEventListener('abort', stopWork)     // lost or resigned
 * for await (const l of e.observe()) console.log('leader is', l?.value)
 * ```
 */
export class Election extends Emitter<ElectionEvents> {
  readonly ttl: number
  private current: Leadership | undefined

  constructor(readonly client: Client, readonly key: string, private readonly opts: ElectionOptions = {}) {
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
    const fields = { ...(this.opts.owner === undefined ? {} : { owner: this.opts.owner }), data: value ?? null }
    const lead = (await acquireQueued(new V2Queue(this.client, this.key, this.ttl, fields), this.ttl, 'leader', firstHolds, opts,
      (init) => new Leadership(this.client, init, v2Codec))) as Leadership
    this.adopt(lead)
    return lead
  }

  /** Resigns this instance's leadership, if any. */
  async resign(): Promise<void> {
    await this.current?.resign()
  }

  /** The current leader (quorum read), or undefined when nobody leads. */
  async leader(opts: { signal?: AbortSignal } = {}): Promise<LeaderInfo | undefined> {
    try {
      const res = await guardFor(this.client).get(this.client, this.key, { sorted: true, signal: opts.signal })
      return leaderOf(res.node.nodes ?? [], res.clusterId)
    } catch (err) {
      if (err instanceof KeyNotFoundError) return undefined
      throw err
    }
  }

  /**
   * Leader changes as an async iterable: first the current leader, then every change (new reign,
   * proclaimed value, no leader). Kept current by a recursive watch that resumes without gaps and
   * re-reads after history loss (401). Also emits `leader` events. Ends when `signal` aborts or
   * the loop breaks.
   */
  async *observe(opts: { signal?: AbortSignal } = {}): AsyncGenerator<LeaderInfo | undefined, void, undefined> {
    const guard = guardFor(this.client)
    const members = new Map<string, Node>()
    let clusterId = ''
    let from: number
    try {
      const res = await guard.get(this.client, this.key, { sorted: true, signal: opts.signal })
      clusterId = res.clusterId
      for (const n of res.node.nodes ?? []) if (!n.dir) members.set(n.key, n)
      from = res.etcdIndex + 1
    } catch (err) {
      if (!(err instanceof KeyNotFoundError)) throw err
      from = err.index + 1
    }
    const signature = (l: LeaderInfo | undefined): string => (l ? `${l.key}\n${JSON.stringify(l.value)}` : '')
    let cur = leaderOf([...members.values()], clusterId)
    let last = signature(cur)
    this.emit('leader', cur)
    yield cur // the initial state, always
    const changed = (l: LeaderInfo | undefined): boolean => {
      const sig = signature(l)
      if (sig === last) return false
      last = sig
      return true
    }
    const w = this.client.watch(this.key, { recursive: true, waitIndex: from, signal: opts.signal })
    try {
      for await (const ev of w) {
        if (ev.type === 'resync') {
          members.clear()
          for (const n of ev.node?.nodes ?? []) if (!n.dir) members.set(n.key, n)
        } else {
          guard.see(ev.index)
          const gone = ev.action === 'delete' || ev.action === 'expire' || ev.action === 'compareAndDelete'
          if (ev.node.key === trimKey(this.key)) { if (gone) members.clear() }
          else if (gone) members.delete(ev.node.key)
          else if (!ev.node.dir) members.set(ev.node.key, ev.node)
        }
        cur = leaderOf([...members.values()], clusterId)
        if (changed(cur)) { this.emit('leader', cur); yield cur }
      }
    } finally {
      w.close()
    }
  }

  /** Picks up a serialised leadership (`lead.toJSON()`) in a later invocation. @throws LockLostError. */
  async resume(json: HandleJSON): Promise<Leadership> {
    const lead = (await resumeV2(this.client, json, (init) => new Leadership(this.client, init, v2Codec))) as Leadership
    this.adopt(lead)
    return lead
  }

  private adopt(lead: Leadership): void {
    this.current = lead
    lead.on('lost', (e) => this.emit('lost', e))
    this.emit('elected', lead)
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
